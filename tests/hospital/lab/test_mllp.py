"""MLLP over a real TCP socket to the asyncio listener: round trips, concurrency, limits and bad framing."""

import asyncio

import sqlalchemy as sa

from smartcare.fhir.tables import resource
from smartcare.hospital.lab.interface import internal_error_ack, receive
from smartcare.hospital.lab.mllp import (
    END,
    START,
    ListenerSettings,
    frame,
    safe_receiver,
    send_all,
    start_listener,
)
from smartcare.platform.db import unit_of_work
from tests.support import run_coroutine

A04 = ("MSH|^~\\&|HIS|HOSP|SMARTCARE|LIS|20261126080000||ADT^A04^ADT_A01|{cid}|P|2.5\r"
       "PID|1||{mrn}^^^HOSP^MR||Wang^Li||19750304|M\r")


def _count(res_type: str) -> int:
    with unit_of_work() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(resource)
                            .where(resource.c.res_type == res_type)).scalar()


async def _listener(**limits) -> asyncio.Server:
    receiver = safe_receiver(lambda text: receive(text).ack, internal_error_ack)
    return await start_listener(receiver, ListenerSettings(port=0, **limits))


def _port(server: asyncio.Server) -> int:
    return server.sockets[0].getsockname()[1]


def test_messages_over_several_connections_are_each_acked_and_stored_once(engine):
    async def scenario() -> list[list[str]]:
        server = await _listener()
        async with server:
            batches = [[A04.format(cid=f"K{c}-{i}", mrn=f"M{c}-{i}") for i in range(5)] for c in range(4)]
            # The first connection sends its messages twice: the second time they are duplicates.
            batches[0] += batches[0]
            return await asyncio.gather(*(send_all("127.0.0.1", _port(server), b) for b in batches))

    answers = run_coroutine(scenario())
    assert all("MSA|AA|" in ack for acks in answers for ack in acks)
    assert answers[0][:5] == answers[0][5:]  # the same ACK again for a resent message
    assert _count("Patient") == 20


def test_oversized_frame_is_answered_ar_and_the_connection_closed(engine):
    async def scenario() -> tuple[bytes, bytes]:
        server = await _listener(max_frame=2000)
        async with server:
            reader, writer = await asyncio.open_connection("127.0.0.1", _port(server))
            big = A04.format(cid="BIG-1", mrn="M-BIG") + "NTE|1||" + "x" * 5000 + "\r"
            writer.write(frame(big))
            await writer.drain()
            answer = await asyncio.wait_for(reader.readuntil(END), 10)
            rest = await asyncio.wait_for(reader.read(), 10)
            writer.close()
            return answer, rest

    answer, rest = run_coroutine(scenario())
    text = answer.decode()
    assert text.startswith("\x0bMSH") and "MSA|AR|BIG-1" in text and "|102^Data type error^HL70357|" in text
    assert rest == b""  # closed
    assert _count("Patient") == 0


def test_data_outside_a_frame_closes_the_connection_without_storing(engine):
    async def scenario() -> bytes:
        server = await _listener()
        async with server:
            reader, writer = await asyncio.open_connection("127.0.0.1", _port(server))
            writer.write(A04.format(cid="RAW", mrn="M-RAW").encode() + END)
            await writer.drain()
            closed = await asyncio.wait_for(reader.read(), 10)
            writer.close()
            return closed

    assert run_coroutine(scenario()) == b""
    assert _count("Patient") == 0


def test_malformed_message_over_the_wire_gets_ar_naming_the_problem(engine):
    async def scenario() -> list[str]:
        server = await _listener()
        async with server:
            return await send_all("127.0.0.1", _port(server), ["PID|1||X\r", A04.format(cid="V1", mrn="M-V")
                                                               .replace("|2.5\r", "|9.9\r")])

    missing_msh, bad_version = run_coroutine(scenario())
    assert "MSA|AR|" in missing_msh and "|100^Segment sequence error^HL70357|" in missing_msh
    assert "MSA|AR|V1" in bad_version and "|203^" in bad_version


def test_idle_connection_is_closed_after_the_timeout(engine):
    async def scenario() -> bytes:
        server = await _listener(idle_timeout=0.2, frame_timeout=0.2)
        async with server:
            reader, writer = await asyncio.open_connection("127.0.0.1", _port(server))
            writer.write(START)  # a frame begun and never finished
            await writer.drain()
            got = await asyncio.wait_for(reader.read(), 40)
            writer.close()
            return got

    assert run_coroutine(scenario()) == b""
