"""The demo's family health on a small generated region: the GP's monitored residents on the care team's dashboard
with open alerts of every severity, a fall told to the nurse and to the designated daughter, and the demo patient's
medicines with today's doses, past adherence and one running out."""

import random
import re

import pytest
import sqlalchemy as sa

from smartcare.demo.accounts import DEMO_PASSWORD, ensure_demo_accounts
from smartcare.demo.family import MONITORED, load_family
from smartcare.demo.loader import load_region
from smartcare.family.devices import credentials
from smartcare.family.devices.registry import list_devices
from smartcare.family.devices.service import ingest_frame
from smartcare.family.devices.simulator import demo_region_homes, next_frame
from smartcare.family.devices.tables import device_registry
from smartcare.family.medication import service as medication
from smartcare.family.monitoring import service as monitoring
from smartcare.fhir import tables
from smartcare.platform import clock
from smartcare.platform.db import unit_of_work
from smartcare.platform.notifications.service import inbox
from smartcare.platform.security import users
from tests.web_support import browser, sign_in

# scripts/run plays the demo on SQLite; test_demo_accounts shows the loader works on PostgreSQL too.
pytestmark = pytest.mark.parametrize("engine", ["sqlite"], indirect=True)


def _user(conn, username: str) -> users.User:
    found = users.get_by_username(conn, username=username)
    assert found is not None, username
    return found


def _resources(conn) -> int:
    return conn.execute(sa.select(sa.func.count()).select_from(tables.resource)).scalar_one()


def test_the_demo_monitors_the_gps_residents_and_the_demo_patient_has_medicines_due(engine, tmp_path):
    load_region(engine=engine, residents=60, seed=5)  # the loader plays the family demo once
    ensure_demo_accounts(engine)
    with unit_of_work(engine) as conn:
        before, devices = _resources(conn), len(list_devices(conn))
    assert load_family(engine) == 0  # a second run adds nothing
    with unit_of_work(engine) as conn:
        assert (_resources(conn), len(list_devices(conn))) == (before, devices)
        gp, nurse = _user(conn, "gp.demo"), _user(conn, "cnurse.demo")
        daughter, patient = _user(conn, "family.demo"), _user(conn, "patient.demo")
        assert nurse.role == "nurse" and nurse.organization == gp.organization == "Organization/org-chc-1"
        assert daughter.role == "caregiver" and daughter.fhir_ref.startswith("RelatedPerson/")
        told = {u.username: [n["title"] for n in inbox(conn, user_id=u.id)] for u in (gp, nurse, daughter)}
    alerts = monitoring.list_alerts(users.context_for(gp), state="open")
    assert {a["severity"] for a in alerts} == {"stat", "asap", "urgent", "routine"}
    assert len({a["patient"] for a in alerts}) == 6
    acknowledged = [a for a in alerts if a["state"] == "acknowledged"]
    assert [a["patient"] for a in acknowledged] == [patient.fhir_ref]
    assert acknowledged[0]["owner"] == gp.fhir_ref and acknowledged[0]["rule"] == "bp-crisis"
    # The fall was told to the whole care team at once and to the daughter the care team designated.
    fall = next(a for a in alerts if a["rule"] == "fall")
    assert fall["state"] == "new" and not fall["escalated"]
    assert "Home monitoring alert" in told["cnurse.demo"] and told["family.demo"] == ["Home monitoring alert"]
    assert told["gp.demo"].count("Home monitoring alert") >= 1

    doctor = browser()
    sign_in(doctor, "gp.demo", DEMO_PASSWORD)
    page = doctor.get("/workstation/monitoring")
    assert page.status_code == 200
    rows = re.findall(r'<tr>\s*<th scope="row"><a href="/workstation/monitoring/patients/([^"]+)">.*?</tr>', page.text,
                      re.S)
    assert len(rows) == MONITORED
    severities = re.findall(r'monitoring-severity-(\w+)', page.text)
    assert severities[:2] == ["stat", "asap"] and severities[-1] == "urgent" and len(severities) == 6
    assert rows[0] == fall["patient"].removeprefix("Patient/")  # the fall comes first
    assert "Elderly living alone" in page.text and "Heart failure" in page.text and "COPD" in page.text
    chart = doctor.get(f"/workstation/monitoring/patients/{rows[0]}")
    assert chart.status_code == 200 and "Fall detected" in chart.text
    community_nurse = browser()
    sign_in(community_nurse, "cnurse.demo", DEMO_PASSWORD)
    assert community_nurse.get("/workstation/monitoring").text.count('<th scope="row">') == MONITORED

    carer = browser()
    sign_in(carer, "family.demo", DEMO_PASSWORD)
    notices = carer.get("/inbox")
    assert notices.status_code == 200 and "Fall detected" in notices.text

    with unit_of_work(engine) as conn:
        shown = medication.overview(conn, users.context_for(patient), patient_id=patient.fhir_ref[8:])
    assert len(shown["today"]) == 2 and {d["time"] for d in shown["today"]} == {"08:00", "21:30"}
    low = [s for s in shown["supply"] if s["refill_due"]]
    assert [s["medicine"] for s in low] == ["阿托伐他汀钙片"] and low[0]["days_left"] == 3
    overall = shown["adherence"]["overall"]
    assert overall["taken"] > overall["skipped"] > 0 and overall["due"] > 30
    app = browser()
    sign_in(app, "patient.demo", DEMO_PASSWORD)
    mine = app.get("/app/medication")
    assert mine.status_code == 200
    assert "苯磺酸氨氯地平片" in mine.text and "21:30" in mine.text
    assert 'class="med-supply--low">阿托伐他汀钙片' in mine.text and "3 days left" in mine.text

    # The simulator publishes for the same homes: each device gets a login it can use, kept for the next run.
    logins = tmp_path / "homes.json"
    homes = demo_region_homes(engine, seed=1, logins=logins, first_seq=10**9)
    assert len({id(d.patient) for d in homes}) == MONITORED and len(homes) == devices  # one body per home
    again = demo_region_homes(engine, seed=1, logins=logins, first_seq=10**9)
    assert [(d.device_id, d.password) for d in again] == [(d.device_id, d.password) for d in homes]
    with unit_of_work(engine) as conn:
        stored = conn.execute(sa.select(device_registry.c.mqtt_hash).where(
            device_registry.c.device_id == homes[0].device_id)).scalar_one()
    assert credentials.check_mosquitto_hash(homes[0].password, stored)
    frame = next(f for f in (next_frame(homes[0], clock.now(), random.Random(3)) for _ in range(5)) if f)
    assert ingest_frame(engine, device_id=homes[0].device_id, payload=frame).status == "accepted"
