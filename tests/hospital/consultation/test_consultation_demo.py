"""The demo's online consultations on a small generated region: every hospital department has a doctor on duty
round the clock, and the demo patient and doctor accounts find consultations waiting, under way and closed."""

from datetime import timedelta

import pytest

from smartcare.demo.accounts import DEMO_PASSWORD, ensure_demo_accounts
from smartcare.demo.loader import load_region
from smartcare.hospital.consultation import duty, service
from smartcare.hospital.consultation.demo import hospital_departments, load_consultation_demo
from smartcare.platform import clock
from smartcare.platform.db import unit_of_work
from smartcare.platform.security import users
from smartcare.platform.security.context import SYSTEM
from tests.web_support import browser, sign_in


# scripts/run plays the demo on SQLite; the loader's PostgreSQL run is tests/demo's.
@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_the_demo_has_rosters_and_the_demo_patient_sees_their_consultations(engine):
    load_region(engine=engine, residents=20, seed=5)  # the loader plays the consultation demo
    assert load_consultation_demo(engine) == 0  # once
    ensure_demo_accounts(engine)
    with unit_of_work(engine) as conn:
        departments = hospital_departments(conn)
        hospitals = {h for h, _d in departments}
        assert hospitals and all(h.startswith("org-hosp-") for h in hospitals)
        assert not duty.on_duty(conn, department_ids=sorted(hospitals), at=clock.now() + timedelta(days=8))
        # A demo opened days later: the roster job has repeated the week's pattern.
        assert duty.roll_rosters(conn, now=clock.now() + timedelta(days=3)) > 0
        for hours in (0, 9, 17, 23, 24 * 6 + 23, 24 * 9 + 5):
            for (hospital, department), doctors in departments.items():
                on = duty.on_duty(conn, department_ids=[hospital], at=clock.now() + timedelta(hours=hours))
                assert set(on) & set(doctors), (department, hours)  # every department has a doctor on duty
        patient = users.get_by_username(conn, username="patient.demo")
        mine = service.my_consultations(conn, SYSTEM, patient_id=patient.fhir_ref.removeprefix("Patient/"))
    assert sorted(c["status"] for c in mine) == ["closed", "in_progress", "waiting"]
    assert next(c for c in mine if c["status"] == "closed")["rating"] == 5
    web = browser()
    sign_in(web, "patient.demo", DEMO_PASSWORD)
    listing = web.get("/app/consultations")
    assert listing.status_code == 200 and listing.text.count('class="consult-card"') == 3
    waiting = next(c for c in mine if c["status"] == "waiting")
    assert "itchy red rash" in web.get(f"/app/consultations/{waiting['id']}").text
    doctor = browser()
    sign_in(doctor, "doctor.demo", DEMO_PASSWORD)
    under_way = next(c for c in mine if c["status"] == "in_progress")
    inbox = doctor.get("/workstation/consultations")
    assert inbox.status_code == 200 and under_way["id"] in inbox.text
    desk = doctor.get(f"/workstation/consultations/{under_way['id']}")
    assert "Start video visit" in desk.text and "about three weeks" in desk.text
    assert "Amlodipine 5 mg daily" in desk.text  # the department's questions, answered on opening
