"""The demo hospitals' staff duties: the demo lab technician may release results, and a department head
is on record for critical values to be escalated to."""

import pytest

from smartcare.demo.accounts import ensure_demo_accounts
from smartcare.demo.loader import load_region
from smartcare.hospital.lab import critical, release
from smartcare.platform.db import unit_of_work
from smartcare.platform.security import users

# scripts/run plays the demo on SQLite; test_demo_accounts shows the loader works on PostgreSQL too.
pytestmark = pytest.mark.parametrize("engine", ["sqlite"], indirect=True)


def test_the_demo_lab_technician_may_release_and_doctors_have_a_head_to_escalate_to(engine):
    load_region(engine=engine, residents=20, seed=5)
    ensure_demo_accounts(engine)
    with unit_of_work(engine) as conn:
        technician = users.context_for(users.get_by_username(conn, username="lab.demo"))
        doctor = users.get_by_username(conn, username="doctor.demo")
    assert release.may_release(technician)
    with unit_of_work(engine) as conn:
        heads = critical.department_heads(conn, doctor.fhir_ref)
    assert heads and doctor.fhir_ref not in heads
