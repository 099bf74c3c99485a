"""Kill the listener (SIGKILL) while messages are in flight: after a restart every ACKed message is stored once."""

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from collections import Counter

import sqlalchemy as sa

from smartcare.fhir import store
from smartcare.fhir.tables import resource
from smartcare.hospital.lab.hl7_results import PLACER
from smartcare.hospital.lab.mllp import frame, read_frame, send_all
from smartcare.platform.db import unit_of_work
from smartcare.platform.security.context import SYSTEM
from tests.support import run_coroutine

MESSAGES = 40
ORU = ("MSH|^~\\&|ANALYSER|LAB1|SMARTCARE|HOSP|20261126101500||ORU^R01|CRASH-{i}|P|2.5.1\r"
       "PID|1||MRN-C^^^HOSP^MR\rORC|RE|PO-C{i}\rOBR|1|PO-C{i}||2345-7^Glucose^LN\r"
       "OBX|1|NM|2345-7^Glucose^LN||5.{i}|mmol/L^^UCUM|3.9-6.1||||F\r"
       "OBX|2|ST|2345-7^Comment^LN||message {i}||||||F\r")


def _orders() -> None:
    with unit_of_work() as conn:
        patient = store.create(conn, SYSTEM, {"resourceType": "Patient", "identifier": [
            {"system": "https://smartcare.example/fhir/sid/mrn", "value": "MRN-C"}]})
        for i in range(MESSAGES):
            store.create(conn, SYSTEM, {"resourceType": "ServiceRequest", "status": "active", "intent": "order",
                                        "identifier": [{"system": PLACER, "value": f"PO-C{i}"}],
                                        "code": {"coding": [{"system": "http://loinc.org", "code": "2345-7"}]},
                                        "subject": {"reference": f"Patient/{patient.res_id}"}})


def _start(url: str) -> tuple[subprocess.Popen, int]:
    env = {**os.environ, "SMARTCARE_DATABASE_URL": url}
    proc = subprocess.Popen([sys.executable, "-m", "smartcare", "lis", "--port", "0"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    for line in proc.stdout:
        if "Listening for HL7 on" in line:
            return proc, int(line.rsplit(",", 1)[1].strip(" )\n"))
    raise AssertionError("the listener did not start")


def _acked_number(ack: str) -> int:
    """The message number an AA acknowledgement names (MSA-2 is CRASH-<n>)."""
    return int(ack.split("MSA|AA|CRASH-")[1].split("|")[0].split("\r")[0])


async def _stream_and_kill(port: int, proc: subprocess.Popen) -> set[int]:
    """Send every message pipelined, kill the listener after the 15th ACK; the numbers that were ACKed."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    for i in range(MESSAGES):
        writer.write(frame(ORU.format(i=i)))
    await writer.drain()
    acked: set[int] = set()
    # The killed listener drops the connection: how the read then fails (reset, short read, silence) does not
    # matter, only which ACKs arrived before it.
    with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError, TimeoutError):
        while len(acked) < 15:
            payload = await read_frame(reader, max_frame=1 << 20, idle_timeout=30, frame_timeout=30)
            if "MSA|AA|CRASH-" in payload.decode():
                acked.add(_acked_number(payload.decode()))
        proc.send_signal(signal.SIGKILL)
        while True:  # ACKs already on the wire when the process died still count as ACKed
            payload = await read_frame(reader, max_frame=1 << 20, idle_timeout=5, frame_timeout=5)
            if payload is None:
                break
            acked.add(_acked_number(payload.decode()))
    writer.close()
    return acked


def test_acked_messages_survive_a_killed_listener_exactly_once(engine):
    _orders()
    url = engine.url.render_as_string(hide_password=False)
    proc, port = _start(url)
    try:
        acked = run_coroutine(_stream_and_kill(port, proc))
    finally:
        proc.kill()
        proc.wait()
    assert 15 <= len(acked) < MESSAGES
    proc, port = _start(url)
    try:
        # The sender resends everything it has no ACK for, and (being unsure) a few it has.
        resend = [i for i in range(MESSAGES) if i not in acked] + sorted(acked)[:5]
        acks = run_coroutine(send_all("127.0.0.1", port, [ORU.format(i=i) for i in resend]))
    finally:
        proc.kill()
        proc.wait()
    assert all("MSA|AA|" in a for a in acks)
    with unit_of_work() as conn:
        reports = [r[0] for r in conn.execute(sa.select(resource.c.content).where(
            resource.c.res_type == "DiagnosticReport"))]
        observations = conn.execute(sa.select(sa.func.count()).select_from(resource).where(
            resource.c.res_type == "Observation")).scalar()
    per_order = Counter(r["basedOn"][0]["reference"] for r in reports)
    assert len(per_order) == MESSAGES and set(per_order.values()) == {1}
    assert all(len(r["result"]) == 2 for r in reports) and observations == 2 * MESSAGES
