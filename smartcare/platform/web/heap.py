"""Keep the server's start-up heap out of Python's garbage collector.

A server process holds over a million long-lived objects once it has started (the knowledge base, ICD-10,
the FHIR definitions, compiled templates and statements). Python's cyclic collector walks all of them on
each full collection: in bench/app_cpu.py one took 450 ms, a stall of every request in the process, which is
what the slowest one percent of the app's pages waited for under load. Frozen after start-up (gc.freeze),
they are left alone, and a collection takes a few milliseconds.

Servers started by `smartcare serve` (and `smartcare demo`) do it; tests, which build many apps in one
process, do not (what is frozen is never freed). SMARTCARE_GC_FREEZE=0 turns it off.
"""

import contextlib
import gc
import logging
import os
from collections.abc import AsyncIterator

from fastapi import FastAPI

log = logging.getLogger(__name__)
ENV = "SMARTCARE_GC_FREEZE"


def enable_heap_freeze() -> None:
    """Have the web apps this process (and the server processes it starts) serve freeze their start-up heap."""
    os.environ.setdefault(ENV, "1")


def freeze_now() -> int:
    """Collect what is garbage, then move every object left out of the collector's sight; how many were moved."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


def install_heap_freeze(app: FastAPI) -> None:
    """Freeze the heap once app has started, when enable_heap_freeze was called."""
    inner = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(application: FastAPI) -> AsyncIterator:
        async with inner(application) as state:
            if os.environ.get(ENV) == "1":
                log.info("Start-up heap frozen out of the garbage collector: %d objects", freeze_now())
            yield state

    app.router.lifespan_context = lifespan
