"""An instrument middleware for the outbound tests: a real MLLP server (asyncio, mllp.py's framing) in its own
thread, answering each order AA, AE, an ACK for another message, by closing the connection, or not at all."""

import asyncio
import dataclasses
import threading
from collections.abc import Iterator

import pytest

from smartcare.hospital.lab.hl7_messages import Hl7Error, build_ack, header_of
from smartcare.hospital.lab.mllp import MAX_FRAME, decode, frame, read_frame
from smartcare.hospital.lab.outbound import outbound_settings


class Peer:
    """The middleware: `answer` is "AA", "AE", "other" (AA for another control id), "close" or "silent"."""

    def __init__(self) -> None:
        self.answer = "AA"
        self.received: list[str] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="mllp-peer", daemon=True)
        self._server: asyncio.Server | None = None

    def _ack(self, text: str) -> str:
        header = header_of(text)
        if self.answer == "AE":
            return build_ack(header, ack_code="AE", error=Hl7Error("test code not set up on the analyzer", code=103))
        if self.answer == "other":
            return build_ack(dataclasses.replace(header, control_id="SOMETHING-ELSE"), ack_code="AA")
        return build_ack(header, ack_code="AA")

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while (payload := await read_frame(reader, max_frame=MAX_FRAME, idle_timeout=5, frame_timeout=5)):
                text = decode(payload)
                self.received.append(text)
                if self.answer == "close":
                    return
                if self.answer == "silent":
                    continue
                writer.write(frame(self._ack(text)))
                await writer.drain()
        finally:
            writer.close()

    def start(self) -> int:
        """Start listening on a free port; the port."""
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._serve, "127.0.0.1", 0), self._loop).result(10)
        return self._server.sockets[0].getsockname()[1]

    def stop(self) -> None:
        """Stop listening and end the thread."""
        async def close() -> None:
            self._server.close()
            await self._server.wait_closed()
        asyncio.run_coroutine_threadsafe(close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()


def point_at(monkeypatch: pytest.MonkeyPatch, endpoint: str, **settings: str) -> None:
    """Send outbound orders to endpoint ("" for off), with other SMARTCARE_LIS_ settings as given."""
    monkeypatch.setenv("SMARTCARE_LIS_OUTBOUND", endpoint)
    monkeypatch.setenv("SMARTCARE_LIS_TIMEOUT", "3")
    for name, value in settings.items():
        monkeypatch.setenv(f"SMARTCARE_LIS_{name.upper()}", value)
    outbound_settings.cache_clear()


def running_peer(monkeypatch: pytest.MonkeyPatch) -> Iterator[Peer]:
    """A running middleware with outbound orders pointed at it (for a fixture to yield from), stopped after."""
    middleware = Peer()
    point_at(monkeypatch, f"127.0.0.1:{middleware.start()}")
    yield middleware
    middleware.stop()
