"""MLLP (the Minimal Lower Layer Protocol of HL7 v2) over TCP: framing, the asyncio listener and a client.

A frame is 0x0B, the message, 0x1C 0x0D. The listener answers each frame with the ACK the interface
service returns; the store work runs in a worker thread (the store is synchronous SQLAlchemy), so one
event loop serves many connections. A frame larger than the limit is answered AR and the connection
closed; a connection idle past the timeout is closed.
"""

import asyncio
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from smartcare.hospital.lab.hl7_messages import Header, Hl7Error, build_ack, header_of
from smartcare.platform.ops import metrics

log = logging.getLogger(__name__)
START, END = b"\x0b", b"\x1c\x0d"
MAX_FRAME = 1_048_576
Receiver = Callable[[str], str]


class FrameError(Exception):
    """A stream that breaks MLLP framing (oversized frame, data outside a frame); the connection is closed."""

    def __init__(self, message: str, *, oversized_head: bytes | None = None) -> None:
        super().__init__(message)
        self.oversized_head = oversized_head


@dataclass(frozen=True, slots=True)
class ListenerSettings:
    """How the listener behaves: where it listens, the frame limit, and how long it waits."""

    host: str = "127.0.0.1"
    port: int = 2575
    max_frame: int = MAX_FRAME
    idle_timeout: float = 300.0
    frame_timeout: float = 30.0


def frame(message: str) -> bytes:
    """One message wrapped in MLLP start and end bytes."""
    return START + message.encode("utf-8") + END


def decode(payload: bytes) -> str:
    """The text of a frame: UTF-8, else ISO 8859-1 (the usual v2 default when MSH-18 is empty)."""
    try:
        return payload.decode("utf-8")
    except UnicodeDecodeError:
        return payload.decode("latin-1")


async def read_frame(reader: asyncio.StreamReader, *, max_frame: int, idle_timeout: float,
                     frame_timeout: float) -> bytes | None:
    """The next frame's payload; None at a clean end of stream. FrameError on broken or oversized frames."""
    try:
        first = await asyncio.wait_for(reader.readexactly(1), idle_timeout)
    except asyncio.IncompleteReadError:
        return None
    while first in (b"\r", b"\n"):  # tolerate line ends some senders put between frames
        try:
            first = await asyncio.wait_for(reader.readexactly(1), idle_timeout)
        except asyncio.IncompleteReadError:
            return None
    if first != START:
        raise FrameError("data outside an MLLP frame")
    try:
        payload = await asyncio.wait_for(reader.readuntil(END), frame_timeout)
    except asyncio.LimitOverrunError as exc:
        head = await reader.read(4096)  # still buffered: enough to name the message in the AR
        raise FrameError(f"frame larger than {max_frame} bytes", oversized_head=head) from exc
    except asyncio.IncompleteReadError as exc:
        raise FrameError("connection closed inside a frame") from exc
    if len(payload) - len(END) > max_frame:
        raise FrameError(f"frame larger than {max_frame} bytes", oversized_head=payload[:4096])
    return payload[: -len(END)]


def oversized_ack(head: bytes) -> str:
    """The AR for a frame over the size limit, naming the message's control id when its start shows it."""
    text = decode(head)
    error = Hl7Error("the message is larger than the listener accepts", code=102, ack_code="AR")
    return build_ack(header_of(text) if text.startswith("MSH") else Header(), ack_code="AR", error=error)


async def _serve_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, receiver: Receiver,
                            settings: ListenerSettings) -> None:
    peer = writer.get_extra_info("peername")
    try:
        while True:
            try:
                payload = await read_frame(reader, max_frame=settings.max_frame, idle_timeout=settings.idle_timeout,
                                           frame_timeout=settings.frame_timeout)
            except FrameError as exc:
                log.warning("MLLP %s: %s; closing", peer, exc)
                if exc.oversized_head is not None:
                    ack = oversized_ack(exc.oversized_head)
                    metrics.count_hl7_ack(ack)
                    writer.write(frame(ack))
                    await writer.drain()
                return
            except TimeoutError:
                log.info("MLLP %s: idle, closing", peer)
                return
            if payload is None:
                return
            ack = await asyncio.to_thread(receiver, decode(payload))
            metrics.count_hl7_ack(ack)
            writer.write(frame(ack))
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError):
        log.info("MLLP %s: connection lost", peer)
    finally:
        writer.close()
        try:
            await writer.wait_closed()
        except ConnectionError:
            log.debug("MLLP %s: closed by the peer", peer)


async def start_listener(receiver: Receiver, settings: ListenerSettings) -> asyncio.Server:
    """Start listening; each frame's text goes to receiver (run in a thread) and its return value is the ACK."""
    def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> asyncio.Future:
        return _serve_connection(reader, writer, receiver, settings)
    # The stream limit bounds what one frame may buffer; the end marker may follow the last byte.
    return await asyncio.start_server(handle, settings.host, settings.port, limit=settings.max_frame + 2)


def safe_receiver(receive: Callable[[str], str], internal_error: Callable[[str], str]) -> Receiver:
    """A receiver that answers AE (and logs) when taking a message fails unexpectedly, so the sender resends."""
    def take(text: str) -> str:
        try:
            return receive(text)
        except Exception:
            log.exception("an inbound HL7 message could not be taken")
            return internal_error(text)
    return take


def split_messages(text: str) -> list[str]:
    """The messages of a file: each starts at an MSH segment (CR, LF or CRLF segment ends accepted)."""
    lines = text.replace("\r\n", "\r").replace("\n", "\r").split("\r")
    messages: list[list[str]] = []
    for line in lines:
        if line.startswith("MSH"):
            messages.append([line])
        elif line.strip() and messages:
            messages[-1].append(line)
    return ["\r".join(m) + "\r" for m in messages]


async def send_all(host: str, port: int, messages: Iterable[str], *, timeout: float = 30.0) -> list[str]:
    """Send messages one by one over one connection, waiting for each ACK; the ACK texts in order."""
    reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port, limit=MAX_FRAME + 2), timeout)
    acks = []
    try:
        for message in messages:
            writer.write(frame(message))
            await writer.drain()
            payload = await read_frame(reader, max_frame=MAX_FRAME, idle_timeout=timeout, frame_timeout=timeout)
            if payload is None:
                raise ConnectionError("the listener closed the connection before answering")
            acks.append(decode(payload))
    finally:
        writer.close()
        await writer.wait_closed()
    return acks


def run(settings: ListenerSettings, *, ready: Callable[[str], None] | None = None) -> None:
    """Run the LIS listener with the interface service until interrupted."""
    from smartcare.hospital.lab.interface import internal_error_ack, receive

    def take(text: str) -> str:
        return receive(text).ack

    async def main() -> None:
        server = await start_listener(safe_receiver(take, internal_error_ack), settings)
        where = ", ".join(str(s.getsockname()) for s in server.sockets)
        log.info("HL7 MLLP listener on %s", where)
        if ready:
            ready(where)
        async with server:
            await server.serve_forever()

    asyncio.run(main())
