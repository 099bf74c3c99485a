"""Benchmark what the access policy costs: the same searches as the platform and as people of each kind.

Loads the demo region (about 100k resources at 2,400 residents) and times searches through the
same dispatch the REST API uses, as the platform (no limit), a family doctor (their health
centre's patients and those they cared for, with the regional-sharing rule), a patient (their
own compartment) and a caregiver (a proxy Consent). Prints p50 and p95 in milliseconds.

    .venv/bin/python bench/access_policy.py --databases sqlite --residents 2400
"""

import argparse
import random
import statistics
import tempfile
import time
from pathlib import Path
from urllib.parse import parse_qsl

import sqlalchemy as sa
from rich.console import Console
from rich.table import Table

from smartcare.demo.accounts import ensure_demo_accounts
from smartcare.demo.loader import load_region
from smartcare.fhir import tables
from smartcare.fhir.errors import FhirError
from smartcare.fhir.http import FhirRequest
from smartcare.fhir.interactions import dispatch
from smartcare.platform.db import refresh_statistics, unit_of_work, use_engine
from smartcare.platform.security import users
from smartcare.platform.security.context import SYSTEM, AccessContext

RUNS = 60
FAMILIES = ["王", "李", "张", "刘", "陈"]


def searches(patient_ids: list[str], rng: random.Random) -> dict[str, callable]:
    """The searches measured, each a function giving one query string."""
    return {
        "Patient page": lambda: "Patient?_count=20",
        "Patient by name": lambda: f"Patient?family={rng.choice(FAMILIES)}&_count=20",
        "Observation by code": lambda: "Observation?code=http://loinc.org|8867-4&_count=20",
        "a patient's results": lambda: f"Observation?subject=Patient/{rng.choice(patient_ids)}&_count=20",
        "$everything": lambda: f"Patient/{rng.choice(patient_ids)}/$everything?_count=50",
    }


def measure(engine: sa.Engine, ctx: AccessContext, query: callable) -> tuple[float, float, int]:
    """p50 and p95 latency in milliseconds of RUNS requests, and how many were refused.

    Refusals (404 for a patient out of reach) are answers too, and are timed with the rest.
    """
    times, refused = [], 0
    for _ in range(RUNS):
        path, _, qs = query().partition("?")
        req = FhirRequest(method="GET", path=path, query=parse_qsl(qs), base_url="http://bench/fhir")
        start = time.perf_counter()
        try:
            with unit_of_work(engine) as conn:
                dispatch(conn, ctx, req)
        except FhirError:
            refused += 1
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95) - 1], refused


def _visible_patients(engine: sa.Engine, ctx: AccessContext) -> list[str]:
    """Up to 300 ids of patients ctx may see."""
    req = FhirRequest(method="GET", path="Patient", query=[("_count", "300"), ("_elements", "id")],
                      base_url="http://bench/fhir")
    with unit_of_work(engine) as conn:
        bundle = dispatch(conn, ctx, req).body or {}
    return [e["resource"]["id"] for e in bundle.get("entry", [])] or ["none"]


def callers(engine: sa.Engine) -> dict[str, AccessContext]:
    """The platform and the demo's family doctor, patient and caregiver."""
    ensure_demo_accounts(engine)
    found = {"platform": SYSTEM}
    with unit_of_work(engine) as conn:
        for label, username in (("family doctor", "gp.demo"), ("patient", "patient.demo"),
                                ("caregiver", "carer.demo")):
            user = users.get_by_username(conn, username=username)
            if user is not None:
                found[label] = users.context_for(user)
    return found


def run(kind: str, residents: int, workdir: Path, console: Console) -> list[tuple]:
    from fhir_store import fresh_engine  # beside this file (bench/ is on sys.path when run as a script)

    engine = fresh_engine(kind, workdir)
    use_engine(engine)
    with console.status(f"Loading {residents} residents into {kind}"):
        stats = load_region(engine=engine, residents=residents, seed=7)
    refresh_statistics(engine)
    with engine.connect() as conn:
        patient_ids = conn.execute(sa.select(tables.resource.c.res_id).where(
            tables.resource.c.res_type == "Patient").limit(300)).scalars().all()
    rows = []
    for label, ctx in callers(engine).items():
        # Each caller asks about patients they may see, so the figures time answers, not refusals.
        mine = _visible_patients(engine, ctx) if label != "platform" else list(patient_ids)
        rng = random.Random(11)
        for name, query in searches(mine, rng).items():
            p50, p95, refused = measure(engine, ctx, query)
            rows.append((kind, f"{stats.resources:,}", name, label, p50, p95, refused))
    use_engine(None)
    engine.dispose()
    return rows


def main() -> None:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--residents", type=int, default=2400, help="Demo residents (about 42 resources each).")
    args = parser.parse_args()
    console = Console()
    table = Table("database", "resources", "search", "as", "p50 ms", "p95 ms", "refused")
    with tempfile.TemporaryDirectory() as tmp:
        for kind in args.databases.split(","):
            for db, size, name, label, p50, p95, refused in run(kind, args.residents, Path(tmp), console):
                table.add_row(db, size, name, label, f"{p50:.1f}", f"{p95:.1f}", f"{refused}/{RUNS}")
    console.print(table)


if __name__ == "__main__":
    main()
