"""The doctor's today list (the workstation home): their queue, today's bookings, their in-patients, and results
waiting for them with new, critical and overdue badges until they open the patient's chart."""

import re
from datetime import timedelta

import pytest

from smartcare.hospital.queue.views import kiosk_code
from tests.hospital.queue.conftest import BASE, NOW, appointment, patient
from tests.web_support import browser, make_user, sign_in

FHIR_JSON = {"Content-Type": "application/fhir+json"}
TERMINOLOGY = "http://terminology.hl7.org/CodeSystem/"


def _instant(delta: timedelta) -> str:
    return (NOW + delta).isoformat().replace("+00:00", "Z")


WORLD = [
    *BASE, patient("p1"), patient("p2"), patient("p3"), patient("p4"),
    appointment("a1", "p1", 10), appointment("a2", "p2", 30),
    {"resourceType": "Observation", "id": "k-p2", "status": "final",
     "category": [{"coding": [{"system": TERMINOLOGY + "observation-category", "code": "laboratory"}]}],
     "code": {"coding": [{"system": "http://loinc.org", "code": "2823-3", "display": "Potassium"}]},
     "subject": {"reference": "Patient/p2"}, "effectiveDateTime": _instant(timedelta(hours=-2)),
     "issued": _instant(timedelta(hours=-1)), "valueQuantity": {"value": 6.9, "unit": "mmol/L"},
     "interpretation": [{"coding": [{"system": TERMINOLOGY + "v3-ObservationInterpretation", "code": "HH"}]}]},
    {"resourceType": "Observation", "id": "old-p4", "status": "final",
     "category": [{"coding": [{"system": TERMINOLOGY + "observation-category", "code": "laboratory"}]}],
     "code": {"coding": [{"system": "http://loinc.org", "code": "2823-3", "display": "Potassium"}]},
     "subject": {"reference": "Patient/p4"}, "effectiveDateTime": _instant(timedelta(days=-200)),
     "valueQuantity": {"value": 4.1, "unit": "mmol/L"}},
    {"resourceType": "Task", "id": "t-p3", "status": "requested", "intent": "order",
     "for": {"reference": "Patient/p3"}, "description": "Repeat potassium",
     "restriction": {"period": {"end": _instant(timedelta(days=-1))}}},
    {"resourceType": "Encounter", "id": "adm-p3", "status": "in-progress",
     "class": {"system": TERMINOLOGY + "v3-ActCode", "code": "IMP", "display": "inpatient encounter"},
     "subject": {"reference": "Patient/p3"}, "serviceProvider": {"reference": "Organization/org-a"},
     "participant": [{"individual": {"reference": "Practitioner/doc-a"}}],
     "period": {"start": _instant(timedelta(days=-3))},
     "reasonCode": [{"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": "J18.9",
                                 "display": "Pneumonia, unspecified"}]}]},
]


@pytest.fixture
def day(client, anonymous, now):
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": r, "request": {"method": "PUT", "url": f"{r['resourceType']}/{r['id']}"}} for r in WORLD]}
    done = client.post("/fhir", json=bundle, headers=FHIR_JSON)
    assert done.status_code == 200, done.text[:500]
    # p1 checks in at the kiosk, so they wait in doc-a's afternoon queue; p2 is booked and not yet here.
    assert anonymous.post("/kiosk", data={"code": kiosk_code("a1")}).status_code == 200


@pytest.fixture
def doctor(engine, day):
    make_user(engine, "doctor", fhir_ref="Practitioner/doc-a")
    with browser() as web:
        sign_in(web, "doctor.test")
        yield web


def _row(page: str, patient_id: str) -> str:
    """The table row or list item of the results panel that links to the patient's chart."""
    panel = page.split('id="results-title"', 1)[1].split("</section>", 1)[0]
    match = re.search(rf'<tr>\s*<td class="nowrap"><a href="/workstation/patients/{patient_id}">.*?</tr>', panel, re.S)
    return match.group(0) if match else ""


def test_the_queue_shows_the_checked_in_patient_and_todays_bookings(doctor):
    page = doctor.get("/workstation")
    assert page.status_code == 200
    queue = page.text.split('id="queue-title"', 1)[1].split("</section>", 1)[0]
    afternoon = queue.split("today-session--now", 1)[1].split("</article>", 1)[0]
    assert "Waiting: <strong>1</strong>" in afternoon
    assert re.search(r'today-number">1</strong>\s*<a href="/workstation/patients/p1">p1 Test</a>', afternoon)
    assert "Appointment 16:10" in afternoon and 'href="/workstation/queue"' in queue
    booked = queue.split('id="booked-title"', 1)[1]
    for time, pid, status in (("16:10", "p1", "Arrived"), ("16:30", "p2", "Booked")):
        link = f'<a href="/workstation/patients/{pid}">{pid} Test</a>'
        assert re.search(rf"{time}</td>\s*<td[^>]*>{link}</td>\s*<td>{status}", booked)


def test_a_new_critical_result_and_an_overdue_task_wait_until_the_chart_is_opened(doctor):
    page = doctor.get("/workstation").text
    critical = _row(page, "p2")
    assert "Critical values: 1" in critical and "New results: 1" in critical and "never" in critical
    overdue = _row(page, "p3")
    assert "Overdue tasks: 1" in overdue and "Critical values" not in overdue
    assert _row(page, "p4") == ""  # its result is older than the period shown
    # Opening the chart is the acknowledgement: the result came before it, so it no longer waits.
    assert doctor.get("/workstation/patients/p2").status_code == 200
    after = doctor.get("/workstation").text
    assert _row(after, "p2") == "" and "Overdue tasks: 1" in _row(after, "p3")


def test_the_in_patients_panel_lists_the_doctors_admitted_patient(doctor):
    page = doctor.get("/workstation").text
    ward = page.split('id="ward-title"', 1)[1].split("</section>", 1)[0]
    assert 'href="/workstation/patients/p3">p3 Test</a>' in ward and "You attend" in ward
    assert "Pneumonia, unspecified" in ward and "Admitted 2026-02-27" in ward


def test_the_today_list_keeps_the_patient_search_and_emergency_access(doctor):
    page = doctor.get("/workstation", params={"q": "p2"}).text
    assert 'id="patient-query"' in page and 'action="/workstation/break-glass"' in page
    search = page.split('id="patients-title"', 1)[1]
    assert 'href="/workstation/patients/p2">p2 Test</a>' in search.split("</table>", 1)[0]


def test_a_clinician_without_a_practitioner_record_sees_honest_empty_panels(engine, day):
    make_user(engine, "nurse", fhir_ref=None)
    with browser() as web:
        sign_in(web, "nurse.test")
        page = web.get("/workstation")
    assert page.status_code == 200
    assert "not linked to a practitioner record" in page.text
