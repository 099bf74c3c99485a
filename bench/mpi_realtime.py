"""Real-time MPI matching at region scale: p50/p95 of match_record against 100k identities on PostgreSQL.

Loads --identities synthetic residents of a Chinese city (smartcare.regional.mpi.synthetic), 10% of them
with a second record at another institution already linked, straight into the MPI tables (bulk insert of
what match_record would have written), then matches --incoming new records one by one through
match_record, each in its own transaction as the worker's job does: half are further records of known
residents (pinyin, typos, missing fields), half are new people. The issue's bar: p95 <= 50 ms at 100k.

    .venv/bin/python bench/mpi_realtime.py [--identities 100000] [--incoming 1000] [--db postgresql|sqlite]
"""

import argparse
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from fhir_store import fresh_engine  # noqa: E402  (beside this file)

from smartcare.platform.db import unit_of_work  # noqa: E402
from smartcare.platform.security.context import SYSTEM  # noqa: E402
from smartcare.regional.mpi import service, synthetic  # noqa: E402
from smartcare.regional.mpi.patients import person_of  # noqa: E402
from smartcare.regional.mpi.stored import block_keys, person_json  # noqa: E402
from smartcare.regional.mpi.tables import mpi_block, mpi_identity, mpi_link  # noqa: E402

STAMP = "2026-03-02T08:00:00.000Z"


def load(engine, residents: list[synthetic.Resident], rng: random.Random, duplicates: float) -> int:
    """Bulk-load one identity per resident with its first record, plus a linked second record for a share."""
    records = []
    for n, who in enumerate(residents):
        identity = uuid.uuid4().hex
        records.append((identity, synthetic.patient(who, f"a{n}", with_id=rng.random() < 0.7)))
        if rng.random() < duplicates:
            records.append((identity, synthetic.variant(rng, who, f"b{n}")))
    batch, seen = 5_000, set()
    for start in range(0, len(records), batch):
        chunk = records[start:start + batch]
        identities, links, blocks = [], [], []
        for identity, resource in chunk:
            source = f"Patient/{resource['id']}"
            record = person_of(resource)
            if identity not in seen:
                seen.add(identity)
                identities.append({"identity_id": identity, "status": "active", "merged_into": None,
                                   "created": STAMP, "updated": STAMP})
            links.append({"source": source, "identity_id": identity, "method": "new", "probability": None,
                          "person": person_json(record), "source_version": 1, "updated": STAMP})
            blocks += [{"block_key": key, "source": source} for key in set(block_keys(record))]
        with unit_of_work(engine) as conn:
            conn.execute(mpi_identity.insert(), identities)
            conn.execute(mpi_link.insert(), links)
            conn.execute(mpi_block.insert(), blocks)
    return len(records)


def main() -> None:
    """Load the region, then time match_record on incoming records and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--identities", type=int, default=100_000)
    parser.add_argument("--incoming", type=int, default=1_000)
    parser.add_argument("--db", choices=("postgresql", "sqlite"), default="postgresql")
    options = parser.parse_args()
    rng = random.Random(5)
    residents = [synthetic.resident(rng, f"r{n}") for n in range(options.identities)]
    with tempfile.TemporaryDirectory() as directory:
        engine = fresh_engine(options.db, Path(directory), "mpi_realtime")
        started = time.perf_counter()
        records = load(engine, residents, rng, 0.1)
        with engine.begin() as conn:
            if engine.dialect.name == "postgresql":
                conn.exec_driver_sql("ANALYZE")
        print(f"{options.db}: loaded {options.identities:,} identities ({records:,} source records) in "
              f"{time.perf_counter() - started:.1f} s")
        service.model()
        latencies, decisions, right = [], Counter(), 0
        for n in range(options.incoming):
            known = n % 2 == 0
            who = residents[rng.randrange(len(residents))] if known else synthetic.resident(rng, f"new{n}")
            resource = synthetic.variant(rng, who, f"c{n}") if known else synthetic.patient(who, f"c{n}")
            began = time.perf_counter()
            with unit_of_work(engine) as conn:
                result = service.match_record(conn, SYSTEM, resource)
            latencies.append((time.perf_counter() - began) * 1000)
            decisions[result.decision] += 1
            if known:
                index = int(who.key[1:])
                with unit_of_work(engine) as conn:
                    right += service.identity_of(conn, f"Patient/a{index}") == result.identity_id
        latencies.sort()
        print(f"match_record x {options.incoming:,}: p50 {statistics.median(latencies):.1f} ms, "
              f"p95 {latencies[int(len(latencies) * 0.95)]:.1f} ms, max {latencies[-1]:.1f} ms")
        print(f"decisions: {dict(decisions)}; known residents linked to their identity: {right} of "
              f"{(options.incoming + 1) // 2}")
        engine.dispose()


if __name__ == "__main__":
    main()
