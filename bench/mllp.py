"""ORU^R01 messages per second end to end over MLLP: parse, store as DiagnosticReport + Observations, ACK.

Starts the asyncio listener in this process on a fresh SQLite file or PostgreSQL schema, seeds one patient
with one lab order per message, then sends ORU^R01 messages with 10 OBX each over one and over four MLLP
connections, each message waiting for its ACK. Prints messages/s, resources/s and p50/p95 latency.
The issue's target is >= 100 messages/s (over 1,000 resources/s) on both databases.

    .venv/bin/python bench/mllp.py [--messages 600] [--databases sqlite,postgresql]
"""

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from smartcare.fhir import store  # noqa: E402
from smartcare.hospital.lab.hl7_results import PLACER  # noqa: E402
from smartcare.hospital.lab.interface import internal_error_ack, receive  # noqa: E402
from smartcare.hospital.lab.mllp import ListenerSettings, frame, read_frame, safe_receiver, start_listener  # noqa: E402
from smartcare.platform.db import unit_of_work, use_engine  # noqa: E402
from smartcare.platform.security.context import SYSTEM  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fhir_store import fresh_engine  # noqa: E402  (beside this file)

ANALYTES = [("718-7", "Hemoglobin", "g/L", "135"), ("6690-2", "Leukocytes", "10*9/L", "6.1"),
            ("789-8", "Erythrocytes", "10*12/L", "4.6"), ("4544-3", "Hematocrit", "%", "41"),
            ("787-2", "MCV", "fL", "89"), ("777-3", "Platelets", "10*9/L", "250"),
            ("770-8", "Neutrophils/100 leukocytes", "%", "58"), ("736-9", "Lymphocytes/100 leukocytes", "%", "31"),
            ("751-8", "Neutrophils", "10*9/L", "3.5"), ("731-0", "Lymphocytes", "10*9/L", "1.9")]


def seed(engine: sa.Engine, orders: int) -> None:
    """One patient and one active CBC order per message to come."""
    with unit_of_work(engine) as conn:
        patient = store.create(conn, SYSTEM, {"resourceType": "Patient", "identifier": [
            {"system": "https://smartcare.example/fhir/sid/mrn", "value": "BENCH-1"}]})
        for i in range(orders):
            store.create(conn, SYSTEM, {"resourceType": "ServiceRequest", "status": "active", "intent": "order",
                                        "identifier": [{"system": PLACER, "value": f"BO-{i}"}],
                                        "code": {"coding": [{"system": "http://loinc.org", "code": "58410-2"}]},
                                        "subject": {"reference": f"Patient/{patient.res_id}"}})


def message(i: int) -> str:
    """An ORU^R01 for order BO-i with 10 numeric OBX."""
    obx = "".join(f"OBX|{n + 1}|NM|{code}^{name}^LN||{val}|{unit}^^UCUM|||||F\r"
                  for n, (code, name, unit, val) in enumerate(ANALYTES))
    return (f"MSH|^~\\&|BENCH|LAB1|SMARTCARE|HOSP|20261126101500||ORU^R01|B-{i}|P|2.5.1\r"
            f"PID|1||BENCH-1^^^HOSP^MR\rORC|RE|BO-{i}\rOBR|1|BO-{i}||58410-2^CBC panel^LN\r{obx}")


async def run(first: int, count: int, connections: int) -> tuple[float, list[float]]:
    """Send messages first..first+count over `connections` connections; seconds taken and each latency."""
    server = await start_listener(safe_receiver(lambda t: receive(t).ack, internal_error_ack),
                                  ListenerSettings(port=0))
    port = server.sockets[0].getsockname()[1]
    latencies: list[float] = []

    async def client(numbers: list[int]) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for i in numbers:
            began = time.perf_counter()
            writer.write(frame(message(i)))
            await writer.drain()
            ack = (await read_frame(reader, max_frame=1 << 20, idle_timeout=60, frame_timeout=60)).decode()
            if "MSA|AA|" not in ack:
                raise RuntimeError(ack)
            latencies.append(time.perf_counter() - began)
        writer.close()

    numbers = list(range(first, first + count))
    began = time.perf_counter()
    async with server:
        await asyncio.gather(*(client(numbers[c::connections]) for c in range(connections)))
    return time.perf_counter() - began, latencies


def main() -> None:
    """Measure each database over one and four connections and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=600, help="Messages per run.")
    parser.add_argument("--databases", default="sqlite,postgresql")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for kind in args.databases.split(","):
            engine = fresh_engine(kind, Path(tmp), "bench_mllp")
            use_engine(engine)
            seed(engine, 2 * args.messages)
            for n, connections in enumerate((1, 4)):
                seconds, lat = asyncio.run(run(n * args.messages, args.messages, connections))
                rate = args.messages / seconds
                p95 = statistics.quantiles(lat, n=20)[18]
                print(f"{kind:10s} {connections} connection(s): {rate:6.0f} messages/s, {rate * 11:7.0f} resources/s,"
                      f" latency p50 {statistics.median(lat) * 1000:5.1f} ms, p95 {p95 * 1000:5.1f} ms")
            use_engine(None)
            engine.dispose()


if __name__ == "__main__":
    main()
