"""Benchmark the FHIR store on SQLite and PostgreSQL: ingest rate and search latency at 10k and 100k.

Ingest goes through transaction bundles of 100 entries (the demo region's patient histories);
searches go through the same dispatch the REST API uses, so they include bundle building.
Prints one table; tests never time things, this does.

    .venv/bin/python bench/fhir_store.py                 # both databases, 10k and 100k
    .venv/bin/python bench/fhir_store.py --sizes 10000   # quicker
"""

import argparse
import queue
import random
import statistics
import tempfile
import threading
import time
from pathlib import Path

import sqlalchemy as sa
from rich.console import Console
from rich.table import Table

from smartcare.demo.generator import count_region, generate_region
from smartcare.fhir import bundles, tables
from smartcare.fhir.http import FhirRequest
from smartcare.fhir.interactions import dispatch
from smartcare.platform import migrate
from smartcare.platform.db import make_engine, refresh_statistics, unit_of_work
from smartcare.platform.security.context import SYSTEM

PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
RUNS = 60


def fresh_engine(kind: str, workdir: Path, name: str = "bench") -> sa.Engine:
    """An empty, migrated database of the given kind (a SQLite file or a PostgreSQL schema called sc_<name>)."""
    if kind == "sqlite":
        path = workdir / f"{name}.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        engine = make_engine(f"sqlite:///{path}")
    else:
        admin = make_engine(PG_URL)
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS sc_{name} CASCADE")
            conn.exec_driver_sql(f"CREATE SCHEMA sc_{name}")
        admin.dispose()
        engine = make_engine(f"{PG_URL}?options=-csearch_path%3Dsc_{name}")
    migrate.upgrade(engine)
    return engine


def ingest(engine: sa.Engine, target: int, seed: int, clients: int) -> tuple[int, float]:
    """Load `target` resources of demo-region bundles with `clients` concurrent writers.

    Returns (resources, seconds); generating the bundles happens before the clock starts.
    """
    per_resident = max(
        1.0, (count_region(residents=100, seed=seed) - count_region(residents=50, seed=seed)) / 50
    )
    residents = int(target / per_resident * 1.1) + 10
    work: list[list[dict]] = []
    count = 0
    for bundle in generate_region(residents=residents, seed=seed):
        entries = bundle["entry"][: target - count]
        work.append(entries)
        count += len(entries)
        if count >= target:
            break
    pending: queue.Queue = queue.Queue()
    for entries in work:
        pending.put(entries)
    failures: list[BaseException] = []

    def writer() -> None:
        while not failures:
            try:
                entries = pending.get_nowait()
            except queue.Empty:
                return
            try:
                with unit_of_work(engine) as conn:
                    bundles.transaction(conn, SYSTEM, entries, "")
            except BaseException as exc:  # reported after the threads stop
                failures.append(exc)

    start = time.perf_counter()
    threads = [threading.Thread(target=writer) for _ in range(clients)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    elapsed = time.perf_counter() - start
    if failures:
        raise failures[0]
    # What autovacuum (PostgreSQL) or the loader (both) does after a bulk load.
    refresh_statistics(engine)
    return count, elapsed


def samples(engine: sa.Engine) -> dict[str, list[str]]:
    """Values that exist in the data, to search for."""
    r, tok, s = tables.resource.c, tables.idx_token.c, tables.idx_string.c
    with engine.connect() as conn:
        codes = (
            conn.execute(
                sa.select(tok.code)
                .where(tok.res_type == "Observation", tok.param == "code")
                .distinct()
                .limit(50)
            )
            .scalars()
            .all()
        )
        families = (
            conn.execute(
                sa.select(s.value).where(s.res_type == "Patient", s.param == "family").distinct().limit(50)
            )
            .scalars()
            .all()
        )
        patients = conn.execute(sa.select(r.res_id).where(r.res_type == "Patient").limit(200)).scalars().all()
    return {"codes": list(codes), "families": [f[:2] for f in families], "patients": list(patients)}


def queries(values: dict[str, list[str]], rng: random.Random) -> dict[str, callable]:
    """The searches measured, each a function giving one query string."""
    return {
        "token": lambda: f"Observation?code=http://loinc.org|{rng.choice(values['codes'])}",
        "string": lambda: f"Patient?family={rng.choice(values['families'])}",
        "date": lambda: (
            f"Observation?date=ge2026-{rng.randint(1, 9):02d}-01&date=lt2026-{rng.randint(10, 12):02d}-01&_count=20"
        ),
        "reference+_include": lambda: (
            f"Observation?subject=Patient/{rng.choice(values['patients'])}&_include=Observation:subject"
        ),
        "chained": lambda: f"Observation?subject:Patient.family={rng.choice(values['families'])}&_count=20",
    }


def measure(engine: sa.Engine, query: callable) -> tuple[float, float]:
    """p50 and p95 latency in milliseconds of RUNS searches."""
    times = []
    for _ in range(RUNS):
        path, _, qs = query().partition("?")
        from urllib.parse import parse_qsl

        req = FhirRequest(method="GET", path=path, query=parse_qsl(qs), base_url="http://bench/fhir")
        start = time.perf_counter()
        with unit_of_work(engine) as conn:
            resp = dispatch(conn, SYSTEM, req)
        times.append((time.perf_counter() - start) * 1000)
        assert resp.status == 200
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95) - 1]


def main() -> None:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000", help="Store sizes to measure searches at.")
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument(
        "--clients",
        type=int,
        default=None,
        help="Concurrent writers during ingest (default: 1 on SQLite, which has one writer at a time; 2 on PostgreSQL).",
    )
    args = parser.parse_args()
    sizes = [int(x) for x in args.sizes.split(",")]
    console = Console(width=110)
    table = Table(title="FHIR store benchmark: transaction bundles of 100; 2 cores, noisy machine")
    for col in ("database", "resources", "writers", "ingest res/s", "search", "p50 ms", "p95 ms"):
        table.add_column(col, justify="right" if col not in ("database", "search") else "left")
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as tmp:
        for kind in args.databases.split(","):
            for size in sizes:
                engine = fresh_engine(kind, Path(tmp))
                console.print(f"[bold]{kind}[/]: loading {size:,} resources ...")
                clients = args.clients or (1 if kind == "sqlite" else 2)
                count, seconds = ingest(engine, size, seed=1, clients=clients)
                rate = count / seconds
                values = samples(engine)
                first = True
                for name, q in queries(values, rng).items():
                    p50, p95 = measure(engine, q)
                    table.add_row(
                        kind if first else "",
                        f"{count:,}" if first else "",
                        str(clients) if first else "",
                        f"{rate:,.0f}" if first else "",
                        name,
                        f"{p50:.1f}",
                        f"{p95:.1f}",
                    )
                    first = False
                engine.dispose()
    console.print(table)


if __name__ == "__main__":
    main()
