"""A community doctor's day: the overdue list, a follow-up visit recorded on the form, and the resident's programme in
the app showing the new blood pressure against its target."""

from datetime import timedelta

import pytest
from playwright.sync_api import expect

from smartcare.fhir import store
from smartcare.platform import clock
from smartcare.platform.db import unit_of_work
from smartcare.platform.security import users
from smartcare.platform.security.context import SYSTEM
from smartcare.regional.risk import plans
from tests.e2e.steps import new_tab, sign_in
from tests.web_support import PASSWORD, make_user

LOINC = "http://loinc.org"
MMHG = {"unit": "mmHg", "system": "http://unitsofmeasure.org", "code": "mm[Hg]"}


@pytest.fixture
def resident(e2e_engine):
    """Mrs Sun, 58, hypertensive since 2024, patient of Dr Ma at the Lakeside health centre, with an active
    programme; her last blood pressure (150/95) was two months ago and no follow-up visit is on record."""
    day = (clock.now() - timedelta(days=60)).isoformat()
    resources = [
        {"resourceType": "Organization", "id": "e2e-chc", "name": "Lakeside Community Health Centre"},
        {"resourceType": "Practitioner", "id": "e2e-gp", "name": [{"family": "Ma", "given": ["Lin"]}]},
        {"resourceType": "Patient", "id": "e2e-sun", "gender": "female", "birthDate": "1968-03-02",
         "name": [{"family": "Sun", "given": ["Hui"]}], "managingOrganization": {"reference": "Organization/e2e-chc"},
         "generalPractitioner": [{"reference": "Practitioner/e2e-gp"}]},
        {"resourceType": "Condition", "id": "e2e-sun-htn", "subject": {"reference": "Patient/e2e-sun"},
         "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                        "code": "active"}]},
         "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": "I10"}]},
         "onsetDateTime": "2024-05-01", "recordedDate": "2024-05-01"},
        {"resourceType": "Observation", "id": "e2e-sun-bp", "status": "final",
         "subject": {"reference": "Patient/e2e-sun"}, "code": {"coding": [{"system": LOINC, "code": "85354-9"}]},
         "effectiveDateTime": day,
         "component": [{"code": {"coding": [{"system": LOINC, "code": "8480-6"}]}, "valueQuantity": {"value": 150, **MMHG}},
                       {"code": {"coding": [{"system": LOINC, "code": "8462-4"}]}, "valueQuantity": {"value": 95, **MMHG}}]},
    ]
    with unit_of_work(e2e_engine) as conn:
        store.write_batch(conn, SYSTEM, [store.Write("PUT", r["resourceType"], r["id"], r) for r in resources])
    doctor = make_user(e2e_engine, "doctor", "ma.gp", fhir_ref="Practitioner/e2e-gp",
                       organization="Organization/e2e-chc")
    make_user(e2e_engine, "patient", "sun.hui", fhir_ref="Patient/e2e-sun")
    gp = users.context_for(doctor)
    drafted = plans.draft(gp, "e2e-sun")
    plans.accept(gp, "e2e-sun", drafted.plan["id"], keep_goals={plans.goal_key(g) for g in drafted.goals},
                 keep_activities=set(), targets={})
    return "e2e-sun"


def test_the_doctor_records_an_overdue_follow_up_and_the_patient_sees_it_in_their_programme(page, browser, base_url,
                                                                                            resident):
    sign_in(page, "ma.gp", PASSWORD)
    page.get_by_role("button", name="Chronic disease follow-up").click()  # a link styled as a button
    row = page.get_by_role("row").filter(has_text="Hui Sun")
    expect(row).to_contain_text("overdue")
    row.get_by_role("link").first.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Hui Sun")

    page.get_by_label("Systolic blood pressure").fill("132")
    page.get_by_label("Diastolic blood pressure").fill("84")
    page.get_by_label("Heart rate").fill("72")
    page.get_by_label("Weight").fill("61")
    page.get_by_label("Height").fill("158")
    for group, answer in (("Salt intake", "Moderate"), ("Psychological adjustment", "Good"),
                          ("Taking the medicines", "Regularly"), ("Adverse drug reaction", "No")):
        page.get_by_role("group", name=group).get_by_label(answer, exact=True).check()
    page.get_by_role("button", name="Record the follow-up").click()
    page.wait_for_load_state()
    notice = page.get_by_role("status")
    expect(notice).to_contain_text("Controlled")
    expect(page.get_by_role("row").filter(has_text="Hui Sun")).to_have_count(0)  # no longer due

    patient = new_tab(browser, base_url, viewport={"width": 390, "height": 844})
    sign_in(patient, "sun.hui", PASSWORD)
    patient.goto("/app/programme")
    goal = patient.locator("article").filter(has_text="Blood pressure")
    expect(goal.get_by_role("row").filter(has_text="systolic")).to_contain_text("132")
    expect(goal.get_by_role("row").filter(has_text="systolic")).to_contain_text("Yes")
    expect(goal.locator("[data-progress-chart] svg").first).to_be_visible()
