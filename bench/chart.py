"""How fast the patient chart opens at the demo's size, through the real HTTP page as a signed-in doctor.

Loads the demo region (about 100k resources at 2,400 residents) into a fresh SQLite database (and
PostgreSQL too with --pg), makes one doctor account for each organisation that manages the chosen
patients (a doctor with a PractitionerRole there), starts the server (uvicorn, one process, as
`smartcare serve` runs it), signs each doctor in through the login form, opens 20 other charts to
warm up, then times GET /workstation/patients/<id> for the patients with the most records. Prints
p50/p95 in milliseconds and checks that every chart opened left its audit entry.

    .venv/bin/python bench/chart.py [--residents 2400] [--charts 100] [--pg]
"""

import argparse
import contextlib
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import sqlalchemy as sa
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
KEYS = {"SMARTCARE_TOKEN_KEY": "5c" * 32, "SMARTCARE_FIELD_KEY": "3a" * 32, "SMARTCARE_VERIFICATION_KEY": "7e" * 32,
        "SMARTCARE_KIOSK_KEY": "4d" * 32}
for _name, _value in KEYS.items():
    os.environ.setdefault(_name, _value)

from smartcare.demo.loader import load_region  # noqa: E402
from smartcare.fhir import tables  # noqa: E402
from smartcare.platform import migrate  # noqa: E402
from smartcare.platform.audit.tables import audit_journal, audit_log  # noqa: E402
from smartcare.platform.db import make_engine, unit_of_work, use_engine  # noqa: E402
from smartcare.platform.security import users  # noqa: E402

PG_URL = os.environ.get("SMARTCARE_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
PASSWORD = "Bench-Chart-Lantern-42"
WARM_UP = 20


def fresh_database(kind: str, workdir: Path) -> tuple[sa.Engine, str, str | None]:
    """An empty, migrated database: (engine, its URL, the PostgreSQL schema to drop afterwards)."""
    if kind == "sqlite":
        url = f"sqlite:///{workdir / 'chart.db'}"
        schema = None
    else:
        schema = f"sc_bench_chart_{os.getpid()}"
        admin = make_engine(PG_URL)
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
            conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
        admin.dispose()
        url = f"{PG_URL}?options=-csearch_path%3D{schema}"
    engine = make_engine(url)
    migrate.upgrade(engine)
    return engine, url, schema


def rich_patients(engine: sa.Engine, count: int) -> list[tuple[str, str]]:
    """(patient id, managing organisation id) of the patients with the most records, most first."""
    ref = tables.idx_reference
    records = sa.select(ref.c.target_id, sa.func.count().label("n")).where(
        ref.c.target_type == "Patient", ref.c.param.in_(("patient", "subject"))).group_by(ref.c.target_id).subquery()
    managed = ref.alias()
    query = (sa.select(records.c.target_id, managed.c.target_id)
             .join(tables.resource, sa.and_(tables.resource.c.res_type == "Patient",
                                            tables.resource.c.res_id == records.c.target_id))
             .join(managed, sa.and_(managed.c.res_pk == tables.resource.c.pk, managed.c.param == "organization",
                                    managed.c.target_type == "Organization"))
             .order_by(records.c.n.desc(), records.c.target_id).limit(count))
    with engine.connect() as conn:
        return [(patient, organization) for patient, organization in conn.execute(query)]


def doctors_of(engine: sa.Engine, organizations: set[str]) -> dict[str, str]:
    """One doctor account per organisation (a practitioner with a doctor's role there): org id -> username."""
    ref, token = tables.idx_reference, tables.idx_token
    accounts = {}
    with unit_of_work(engine) as conn:
        for organization in sorted(organizations):
            roles = sa.select(ref.c.res_pk).where(
                ref.c.res_type == "PractitionerRole", ref.c.param == "organization",
                ref.c.target_id == organization,
                ref.c.res_pk.in_(sa.select(token.c.res_pk).where(token.c.res_type == "PractitionerRole",
                                                                 token.c.param == "role", token.c.code == "doctor")))
            practitioner = conn.execute(sa.select(ref.c.target_id).where(
                ref.c.res_pk.in_(roles), ref.c.param == "practitioner").order_by(ref.c.target_id).limit(1)).scalar()
            if practitioner is None:
                continue
            username = f"bench.{organization}"
            users.create_user(conn, username=username, password=PASSWORD, role="doctor",
                              fhir_ref=f"Practitioner/{practitioner}", organization=f"Organization/{organization}")
            accounts[organization] = username
    return accounts


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(url: str, workdir: Path) -> tuple[subprocess.Popen, str]:
    """The SmartCare server on a free port, on the given database; returns it and its base URL."""
    port = free_port()
    env = {**os.environ, "SMARTCARE_DATABASE_URL": url, "SMARTCARE_DATA_DIR": str(workdir)}
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "smartcare.platform.web.app:create_app", "--host", "127.0.0.1",
         "--port", str(port), "--log-level", "warning", "--no-access-log"], cwd=ROOT, env=env)
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        if server.poll() is not None:
            raise SystemExit("the server stopped while starting")
        with contextlib.suppress(httpx.HTTPError):  # not listening yet: try again shortly
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return server, base
        time.sleep(0.1)
    raise SystemExit("the server did not start")


def signed_in(base: str, username: str) -> httpx.Client:
    """A browser-like client signed in through the login form."""
    client = httpx.Client(base_url=base, timeout=60, follow_redirects=False)
    token = re.search(r'name="csrf_token" value="([^"]*)"', client.get("/login").text).group(1)
    done = client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token})
    if done.status_code != 303:
        raise SystemExit(f"{username} could not sign in: {done.status_code}")
    return client


def audited_opens(engine: sa.Engine) -> int:
    """Chart opens in the audit trail: sealed $everything entries plus whatever still waits in the journal."""
    with engine.connect() as conn:
        sealed = conn.execute(sa.select(sa.func.count()).select_from(audit_log).where(
            audit_log.c.subtype == "operation", audit_log.c.agent.like("user/bench.%"))).scalar_one()
        waiting = conn.execute(sa.select(sa.func.count()).select_from(audit_journal).where(
            audit_journal.c.event.like('%"operation"%'))).scalar_one()
    return sealed + waiting


def run(kind: str, residents: int, charts: int, workdir: Path, console: Console) -> dict:
    """Load, serve and time the charts on one database; returns the figures."""
    engine, url, schema = fresh_database(kind, workdir)
    use_engine(engine)
    server = None
    try:
        stats = load_region(engine=engine, residents=residents, seed=1, progress=True)
        chosen = rich_patients(engine, charts + WARM_UP)
        accounts = doctors_of(engine, {organization for _, organization in chosen})
        chosen = [(p, o) for p, o in chosen if o in accounts]
        warm, timed = chosen[charts:], chosen[:charts]
        console.print(f"{kind}: {stats.resources:,} resources loaded; {len(accounts)} doctors; starting the server")
        server, base = start_server(url, workdir)
        clients = {organization: signed_in(base, username) for organization, username in accounts.items()}
        for patient, organization in warm:
            clients[organization].get(f"/workstation/patients/{patient}")
        times, sizes = [], []
        for patient, organization in timed:
            began = time.perf_counter()
            page = clients[organization].get(f"/workstation/patients/{patient}")
            times.append((time.perf_counter() - began) * 1000)
            if page.status_code != 200:
                raise SystemExit(f"chart of {patient} answered {page.status_code}")
            sizes.append(len(page.content))
        for client in clients.values():
            client.close()
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
    audited = audited_opens(engine)
    with engine.connect() as conn:
        records = conn.execute(sa.select(sa.func.count(sa.distinct(tables.idx_reference.c.res_pk))).where(
            tables.idx_reference.c.target_type == "Patient",
            tables.idx_reference.c.target_id.in_([p for p, _ in timed]),
            tables.idx_reference.c.param.in_(("patient", "subject")))).scalar_one()
    use_engine(None)
    engine.dispose()
    if schema:
        admin = make_engine(PG_URL)
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        admin.dispose()
    times.sort()
    return {"kind": kind, "resources": stats.resources, "charts": len(times), "records": records / len(times),
            "p50": statistics.median(times), "p95": times[int(len(times) * 0.95) - 1], "max": times[-1],
            "kb": statistics.mean(sizes) / 1024, "audited": audited, "opened": len(warm) + len(times)}


def main() -> None:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--residents", type=int, default=2400, help="Demo residents (about 42 resources each).")
    parser.add_argument("--charts", type=int, default=100, help="Charts to time.")
    parser.add_argument("--pg", action="store_true", help="Also run on PostgreSQL (SMARTCARE_BENCH_PG_URL).")
    args = parser.parse_args()
    console = Console(width=max(Console().width, 110))
    table = Table("database", "resources", "charts", "records each", "p50 ms", "p95 ms", "max ms", "page KB",
                  "audited opens")
    for kind in ("sqlite", "postgresql") if args.pg else ("sqlite",):
        with tempfile.TemporaryDirectory() as tmp:
            row = run(kind, args.residents, args.charts, Path(tmp), console)
        table.add_row(row["kind"], f"{row['resources']:,}", str(row["charts"]), f"{row['records']:.0f}",
                      f"{row['p50']:.0f}", f"{row['p95']:.0f}", f"{row['max']:.0f}", f"{row['kb']:.0f}",
                      f"{row['audited']}/{row['opened']}")
    console.print(table)
    # The figures move with whatever else the machine runs (other processes' disk writes delay each commit).
    console.print("load average (1, 5, 15 min) at the end: " + ", ".join(f"{x:.2f}" for x in os.getloadavg()))


if __name__ == "__main__":
    main()
