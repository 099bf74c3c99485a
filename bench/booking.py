"""Bookings per second from 50 concurrent clients against one SmartCare server on PostgreSQL, and the overbooking check.

Starts uvicorn on a fresh PostgreSQL schema, makes slots with capacity for one day, then fires
bookings through POST /api/v1/appointments from 50 client threads (each its own HTTP connection,
each booking for a different patient with that patient's token). More bookings are asked for
than there are places, so the end of the run also races for the last places. Prints bookings/s,
p50/p95 latency, the refusals by kind, and whether any slot holds more bookings than places.

    .venv/bin/python bench/booking.py [--bookings 3000] [--clients 50] [--workers 2]

--workers is the server's process count (uvicorn --workers), each running SMARTCARE_REQUEST_THREADS
(default 4) request threads.
"""

import argparse
import contextlib
import http.client
import json
import os
import queue
import random
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import datetime, timedelta
from datetime import time as clock_time
from pathlib import Path

import httpx
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("SMARTCARE_TOKEN_KEY", "5c" * 32)
os.environ.setdefault("SMARTCARE_FIELD_KEY", "3a" * 32)

from smartcare.fhir import store  # noqa: E402
from smartcare.hospital.scheduling import schedules  # noqa: E402
from smartcare.hospital.scheduling.models import booking, booking_slot  # noqa: E402
from smartcare.hospital.scheduling.rules import ScheduleTemplate, Session  # noqa: E402
from smartcare.platform import migrate  # noqa: E402
from smartcare.platform.db import make_engine, unit_of_work  # noqa: E402
from smartcare.platform.security.context import SYSTEM  # noqa: E402
from smartcare.platform.security.scopes import parse_scopes  # noqa: E402
from smartcare.platform.security.tokens import issue_access_token  # noqa: E402

PG_URL = os.environ.get("SMARTCARE_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def seed(engine: sa.Engine, patients: int, doctors: int, capacity: int) -> list[str]:
    """A hospital, doctors with one whole-day session tomorrow, and patients; returns the slot ids."""
    hours = [{"daysOfWeek": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "allDay": True}]
    resources = [{"resourceType": "Organization", "id": "org-b", "name": "Bench Hospital"},
                 {"resourceType": "HealthcareService", "id": "hcs-b", "name": "Outpatients", "availableTime": hours}]
    resources += [{"resourceType": "Practitioner", "id": f"prac-{d}", "name": [{"text": f"Doctor {d}"}]}
                  for d in range(doctors)]
    resources += [{"resourceType": "Patient", "id": f"pat-{n}", "name": [{"text": f"Patient {n}"}]}
                  for n in range(patients)]
    with unit_of_work(engine) as conn:
        for start in range(0, len(resources), 1000):
            store.write_batch(conn, SYSTEM, [store.Write("PUT", r["resourceType"], r["id"], r)
                                             for r in resources[start:start + 1000]])
        tomorrow = datetime.now(schedules.region_zone()).date() + timedelta(days=1)
        for d in range(doctors):
            template = ScheduleTemplate(
                role_id=f"role-{d}", practitioner_id=f"prac-{d}", practitioner_name=f"Doctor {d}",
                service_id="hcs-b", organization_id="org-b", weekdays=frozenset(range(7)),
                sessions=tuple(Session(f"s{h}", clock_time(h), clock_time(h + 2)) for h in range(8, 18, 2)),
                slot_minutes=60, capacity=capacity, fee=1000)
            schedules.generate_slots(conn, template=template, start=tomorrow, days=1)
        return conn.execute(sa.select(booking_slot.c.slot_id)).scalars().all()


def wait_ready(base: str, server: subprocess.Popen) -> None:
    for _ in range(300):
        if server.poll() is not None:
            raise SystemExit("the server stopped while starting")
        with contextlib.suppress(httpx.HTTPError):  # not listening yet: try again shortly
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        time.sleep(0.1)
    raise SystemExit("the server did not start")


def run_clients(base: str, jobs: list[tuple[str, str]], clients: int) -> tuple[list[float], Counter, float]:
    work: queue.Queue = queue.Queue()
    for job in jobs:
        work.put(job)
    latencies: list[float] = []
    outcomes: Counter = Counter()
    lock = threading.Lock()
    tokens = {pid: issue_access_token(
        subject=f"u-{pid}", kind="user", name=pid, roles={"patient"}, fhir_user=f"Patient/{pid}",
        patient=f"Patient/{pid}", scopes=parse_scopes("patient/*.cruds"), audience=f"{base}/fhir")[0]
        for pid, _ in jobs}
    start_gate = threading.Barrier(clients + 1)

    host, port = base.removeprefix("http://").split(":")

    def client() -> None:
        # The standard library's client on a kept-alive connection: the clients share the machine with the
        # server and the database, and httpx took a sixth of a core to send the same requests.
        conn = http.client.HTTPConnection(host, int(port), timeout=60)
        start_gate.wait()
        try:
            while True:
                try:
                    pid, slot = work.get_nowait()
                except queue.Empty:
                    return
                began = time.perf_counter()
                conn.request("POST", "/api/v1/appointments",
                             body=json.dumps({"slot": slot, "patient": f"Patient/{pid}"}),
                             headers={"Authorization": f"Bearer {tokens[pid]}", "Content-Type": "application/json"})
                response = conn.getresponse()
                body = response.read()
                took = time.perf_counter() - began
                kind = "booked" if response.status == 201 else f"{response.status} {json.loads(body).get('error')}"
                with lock:
                    latencies.append(took)
                    outcomes[kind] += 1
        finally:
            conn.close()

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    start_gate.wait()
    began = time.perf_counter()
    for t in threads:
        t.join()
    return latencies, outcomes, time.perf_counter() - began


def overbooked(engine: sa.Engine) -> list[str]:
    """Slots whose standing bookings exceed their places or disagree with their counters."""
    with engine.connect() as conn:
        standing = dict(conn.execute(sa.select(booking.c.slot_id, sa.func.count()).where(
            booking.c.status == "booked").group_by(booking.c.slot_id)).all())
        appointments = conn.execute(sa.text(
            "SELECT count(*) FROM fhir_resource WHERE res_type = 'Appointment' AND NOT deleted")).scalar_one()
        bad = [r.slot_id for r in conn.execute(sa.select(booking_slot))
               if standing.get(r.slot_id, 0) > r.capacity or standing.get(r.slot_id, 0) != r.booked]
        # Each booking writes its confirmation job in its own transaction (the outbox): one per booking.
        confirmations = conn.execute(sa.text(
            "SELECT count(*) FROM job WHERE kind = 'scheduling.booked'")).scalar_one()
        # Every booking is audited: sealed into the chain, or still in the journal when the server stopped.
        audited = conn.execute(sa.text(
            "SELECT (SELECT count(*) FROM audit_log WHERE subtype = 'create') + (SELECT count(*) FROM audit_journal)"
        )).scalar_one()
    if appointments != sum(standing.values()):
        bad.append(f"{appointments} Appointments for {sum(standing.values())} bookings")
    if confirmations != sum(standing.values()):
        bad.append(f"{confirmations} confirmation jobs for {sum(standing.values())} bookings")
    if audited != sum(standing.values()):
        bad.append(f"{audited} audit entries for {sum(standing.values())} bookings")
    return bad


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bookings", type=int, default=3000, help="booking requests to send")
    parser.add_argument("--clients", type=int, default=50, help="concurrent clients")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes of the one server")
    args = parser.parse_args()
    schema = f"bench_booking_{os.getpid()}"
    admin = make_engine(PG_URL)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    url = f"{PG_URL}?options=-csearch_path%3D{schema}"
    engine = make_engine(url)
    server = None
    try:
        migrate.upgrade(engine)
        doctors, capacity = 10, 25  # 10 doctors x 10 hourly slots x 25 places = 2500 places
        places = doctors * 10 * capacity
        print(f"seeding {args.bookings} patients and {places} places ...", flush=True)
        slots = seed(engine, args.bookings, doctors, capacity)
        rng = random.Random(7)
        jobs = [(f"pat-{n}", rng.choice(slots)) for n in range(args.bookings)]
        port = free_port()
        env = {**os.environ, "SMARTCARE_DATABASE_URL": url}
        server = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "--factory", "smartcare.platform.web.app:create_app",
             "--host", "127.0.0.1", "--port", str(port), "--workers", str(args.workers), "--log-level", "warning",
             "--no-access-log"], cwd=ROOT, env=env)
        base = f"http://127.0.0.1:{port}"
        wait_ready(base, server)
        latencies, outcomes, elapsed = run_clients(base, jobs, args.clients)
        latencies.sort()
        booked = outcomes["booked"]
        print(f"requests: {len(latencies)} from {args.clients} clients in {elapsed:.2f} s "
              f"({len(latencies) / elapsed:.0f} requests/s)")
        print(f"bookings: {booked} ({booked / elapsed:.0f} bookings/s); places: {places}")
        print(f"latency: p50 {latencies[len(latencies) // 2] * 1000:.0f} ms, "
              f"p95 {latencies[int(len(latencies) * 0.95)] * 1000:.0f} ms, max {latencies[-1] * 1000:.0f} ms")
        print("outcomes: " + ", ".join(f"{k} {v}" for k, v in outcomes.most_common()))
        bad = overbooked(engine)
        print("overbooking check: " + ("none overbooked, counters match bookings, Appointments, confirmation jobs and "
                                       "audit entries"
                                       if not bad
                                       else f"FAILED for {bad[:5]}"))
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        engine.dispose()
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        admin.dispose()


if __name__ == "__main__":
    main()
