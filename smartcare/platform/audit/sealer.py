"""The background sealer: chains journalled audit entries into audit_log soon after their transactions commit.

One thread per database engine, woken after each commit that journalled entries (db.after_commit);
it seals in batches, so many requests' entries take the chain lock once. It stops after a while
with nothing to do and starts again on the next wake. Reads of the trail seal what is waiting
themselves, so an entry is never missed while the thread is away (or switched off, as in tests).
"""

import logging
import threading
import time

from sqlalchemy.engine import Engine

from smartcare.platform.db import unit_of_work

log = logging.getLogger(__name__)
IDLE_SECONDS = 30.0
# After a wake, wait this long for more entries: sealing one entry at a time cost a transaction and five
# statements per audited request (a tenth of a busy server's time); reads of the trail seal first anyway.
# At 50 ms a busy server still sealed twenty times a second, each time queueing for SQLite's one writer with
# the requests; a fifth of a second gathers a few times more entries per turn.
GATHER_SECONDS = 0.2
_lock = threading.Lock()
_sealers: dict[int, "_Sealer"] = {}
_state = {"enabled": True}


def set_enabled(enabled: bool) -> None:
    """Turn background sealing on or off for this process (tests seal where they read)."""
    _state["enabled"] = enabled


def wake(engine: Engine) -> None:
    """Have engine's sealer seal what is waiting (starting it if it is not running)."""
    if not _state["enabled"]:
        return
    with _lock:
        sealer = _sealers.get(id(engine))
        if sealer is None or not sealer.is_alive():
            sealer = _sealers[id(engine)] = _Sealer(engine)
            sealer.start()
        sealer.done.clear()
        sealer.wanted.set()


def idle(timeout: float = 10.0) -> bool:
    """Wait until no sealer has work waiting (for tests and orderly shutdown); False on timeout."""
    with _lock:
        sealers = list(_sealers.values())
    return all(sealer.done.wait(timeout) for sealer in sealers)


class _Sealer(threading.Thread):
    def __init__(self, engine: Engine) -> None:
        super().__init__(name="audit-sealer", daemon=True)
        self.engine = engine
        self.wanted = threading.Event()
        self.done = threading.Event()

    def run(self) -> None:
        from smartcare.platform.audit.service import PAGE_SIZE, seal

        while True:
            if not self.wanted.wait(IDLE_SECONDS):
                with _lock:
                    if not self.wanted.is_set():
                        _sealers.pop(id(self.engine), None)
                        self.done.set()
                        return
            time.sleep(GATHER_SECONDS)
            self.wanted.clear()
            try:
                while True:
                    with unit_of_work(self.engine) as conn:
                        if seal(conn) < PAGE_SIZE:
                            break
            except Exception:  # the entries stay in the journal; the next wake or read of the trail seals them
                log.exception("Sealing the audit journal failed; the entries wait for the next try")
            if not self.wanted.is_set():
                self.done.set()
