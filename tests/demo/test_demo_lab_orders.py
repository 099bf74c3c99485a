"""The demo laboratory has work at every step for lab.demo, ordered by doctor.demo, and the analyzer simulator
results only the specimens the laboratory has received."""

import pytest

from smartcare.demo.accounts import ensure_demo_accounts
from smartcare.demo.loader import load_region
from smartcare.hospital.lab import simulator, views
from smartcare.hospital.lab.interface import receive
from smartcare.platform.db import unit_of_work
from smartcare.platform.security import users

# scripts/run plays the demo on SQLite; test_demo_accounts shows the loader works on PostgreSQL too.
pytestmark = pytest.mark.parametrize("engine", ["sqlite"], indirect=True)


def test_the_demo_lab_worklist_has_orders_of_the_demo_doctor_at_each_step(engine):
    load_region(engine=engine, residents=60, seed=5)
    ensure_demo_accounts(engine)
    with unit_of_work(engine) as conn:
        technician = users.context_for(users.get_by_username(conn, username="lab.demo"))
        doctor = users.get_by_username(conn, username="doctor.demo")
    lists = views.worklist(technician)
    assert lists["collect"] and lists["receive"] and lists["result"]
    # Each row names the patient, whom the technician reaches through the order the laboratory performs.
    assert all(not row["patient"].startswith("Patient/") for rows in lists.values() for row in rows if "patient" in row)
    received = len(lists["result"])
    messages = simulator.pending_messages(limit=50, seed=1)
    assert len(messages) == received
    assert all(receive(m).ack_code == "AA" for m in messages)
    after = views.worklist(technician)
    assert not after["result"] and len(after["review"]) == received
    assert doctor.fhir_ref
