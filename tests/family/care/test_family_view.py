"""The caregiver's family view (/app/family): the people they look after, with alerts, readings and medicines."""

import re

import pytest

from smartcare.family.medication import records, reminders
from smartcare.family.monitoring import plans, service
from smartcare.fhir import store
from smartcare.platform import audit
from smartcare.platform.db import unit_of_work
from smartcare.platform.security import policy
from smartcare.platform.security.context import SYSTEM
from tests.family.monitoring.monitoring_record import blood_pressure, fall, stored, write_record
from tests.web_support import browser, form_token, make_user, sign_in

ATC = "http://www.whocc.no/atc"
AMLODIPINE = {
    "resourceType": "MedicationRequest", "id": "rx-aml", "status": "active", "intent": "order",
    "subject": {"reference": "Patient/p-chen"}, "requester": {"reference": "Practitioner/gp-gao"},
    "authoredOn": "2026-02-01",
    "medicationCodeableConcept": {"coding": [{"system": ATC, "code": "C08CA01"}], "text": "Amlodipine 5 mg"},
    "dosageInstruction": [{"timing": {"repeat": {"frequency": 1, "period": 1, "periodUnit": "d",
                                                 "timeOfDay": ["20:00:00"]}},
                           "doseAndRate": [{"doseQuantity": {"value": 1, "unit": "tablet"}}]}]}
DISPENSE = {"resourceType": "MedicationDispense", "id": "disp-aml", "status": "completed",
            "subject": {"reference": "Patient/p-chen"},
            "authorizingPrescription": [{"reference": "MedicationRequest/rx-aml"}],
            "medicationCodeableConcept": AMLODIPINE["medicationCodeableConcept"],
            "quantity": {"value": 30, "unit": "tablet"}, "whenHandedOver": "2026-03-01T02:00:00Z"}
NEIGHBOUR = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-RoleCode", "code": "NBOR"}]}


def _proxy(patient: str, related: str) -> dict:
    return {"resourceType": "Consent", "id": f"consent-{related}", "status": "active",
            "scope": {"coding": [{"system": policy.CONSENT_SCOPE_SYSTEM, "code": policy.CONSENT_SCOPE_PRIVACY}]},
            "category": [{"coding": [{"system": policy.CONSENT_CATEGORY_SYSTEM, "code": policy.PROXY_ACCESS}]}],
            "patient": {"reference": f"Patient/{patient}"},
            "provision": {"type": "permit", "actor": [{"role": NEIGHBOUR, "reference": {"reference": f"RelatedPerson/{related}"}}]}}


def _write(engine, *resources: dict) -> None:
    with unit_of_work(engine) as conn:
        store.write_batch(conn, SYSTEM, [store.Write("PUT", r["resourceType"], r["id"], r) for r in resources])


@pytest.fixture
def family(engine, now):
    """Mr Chen on a hypertension plan with a crisis reading (an urgent alert) and amlodipine at 20:00; his son looks
    after him. Mrs Lin is looked after by a neighbour, who has nothing to do with Mr Chen; Mrs Lin has no plan and no
    medicines."""
    people = write_record(engine)
    _write(engine,
           {"resourceType": "Patient", "id": "p-lin", "name": [{"text": "Lin Xiu"}]},
           {"resourceType": "RelatedPerson", "id": "rp-neighbour", "active": True,
            "patient": {"reference": "Patient/p-lin"}, "name": [{"text": "Zhou Fang"}]},
           _proxy("p-lin", "rp-neighbour"), AMLODIPINE, DISPENSE)
    make_user(engine, "caregiver", username="lin.neighbour", fhir_ref="RelatedPerson/rp-neighbour")
    make_user(engine, "patient", username="chen.himself", fhir_ref="Patient/p-chen")
    plans.assign_plan(people["nurse"], patient_id="p-chen", template_name="hypertension")
    refs = stored(engine, blood_pressure(184, 112))
    with unit_of_work(engine) as conn:
        service.evaluate_readings(conn, patient="Patient/p-chen", observations=refs)
    return people


def _signed_in(username: str):
    web = browser()
    sign_in(web, username)
    return web


def test_the_son_sees_his_fathers_open_alert_latest_reading_and_medicines(family):
    web = _signed_in("chen.son")
    home = web.get("/app")
    assert 'href="/app/family"' in home.text
    page = web.get("/app/family")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    card = page.text[page.text.index("Chen Guoqiang"):]
    assert "Open alerts" in card and "Blood pressure 180/110 or higher" in card and "Urgent" in card
    assert "New" in card and "Raised" in card and "2026-03-02 16:00" in card  # the region's wall clock
    assert "Blood pressure: <strong>184/112 mmHg</strong>" in card
    assert "20:00</strong> Amlodipine 5 mg 1 tablet" in card and 'class="dose-state">Not taken yet<' in card
    assert "Amlodipine 5 mg: 29 days left" in card  # 30 handed over yesterday, one evening dose since
    assert "call the emergency number 120" not in page.text  # an urgent alert is no emergency
    assert "/acknowledge" not in page.text and "Mark taken for them" not in page.text  # read only


def test_the_family_view_is_in_chinese(family):
    page = _signed_in("chen.son").get("/app/family", params={"lang": "zh-Hans"})
    assert page.status_code == 200
    assert "家人关怀" in page.text and "今日用药" in page.text and "加急" in page.text and "184/112" in page.text


def test_a_stranger_caregiver_sees_nothing_of_mr_chen(family):
    web = _signed_in("lin.neighbour")
    page = web.get("/app/family")
    assert page.status_code == 200 and "Lin Xiu" in page.text
    assert "Chen Guoqiang" not in page.text and "184/112" not in page.text and "Amlodipine" not in page.text
    assert "Nothing to show yet" in page.text  # Mrs Lin has no plan and no medicines
    other = web.get("/app/family", params={"person": "p-chen"})
    assert other.status_code == 404 and "Chen Guoqiang" not in other.text and "184/112" not in other.text
    hostile = web.get("/app/family", params={"person": "<script>alert(1)</script>" * 10})
    assert hostile.status_code == 404 and "<script>alert(1)" not in hostile.text


def test_the_patient_himself_sees_nobody_to_look_after_and_strangers_are_sent_to_sign_in(family):
    """A resident's own record is not a card of the family view: he looks after nobody until someone gives him
    access, and the page points to family access, where he gives it or is given it."""
    page = _signed_in("chen.himself").get("/app/family")
    assert page.status_code == 200
    assert "Nobody has named you as their caregiver yet" in page.text and 'href="/app/family-access"' in page.text
    assert 'id="person-p-chen"' not in page.text
    assert _signed_in("chen.himself").get("/app/family", params={"person": "p-chen"}).status_code == 404
    assert browser().get("/app/family").status_code == 303  # to the sign-in page
    assert _signed_in("xu.nurse").get("/app/family").status_code == 403


def test_an_emergency_alert_tells_the_family_to_call_120(family, engine):
    plans.assign_plan(family["nurse"], patient_id="p-chen", template_name="elderly-alone")
    refs = stored(engine, fall())
    with unit_of_work(engine) as conn:
        service.evaluate_readings(conn, patient="Patient/p-chen", observations=refs)
    page = _signed_in("chen.son").get("/app/family", params={"person": "p-chen"})
    assert "Emergency alert: call the emergency number 120 now." in page.text and 'href="tel:120"' in page.text
    assert page.text.index("call the emergency number 120") < page.text.index("Open alerts")
    assert "Fall detected" in page.text and "Emergency" in page.text
    zh = _signed_in("chen.son").get("/app/family", params={"lang": "zh-Hans"})
    assert "请立即拨打急救电话 120" in zh.text


def test_the_page_is_audited_as_the_caregivers_reads(family, engine):
    _signed_in("chen.son").get("/app/family")
    with unit_of_work(engine) as conn:
        entries = audit.events_for_patient(conn, "Patient/p-chen")
        lin = audit.events_for_patient(conn, "Patient/p-lin")
    mine = [e for e in entries if e["agent"] == "user/chen.son"]
    assert len(mine) >= 4 and {e["subtype"] for e in mine} <= {"search", "read"}
    assert not [e for e in lin if e["agent"] == "user/chen.son"]


def test_the_designated_reminder_holder_marks_a_dose_taken_for_the_person(family, engine):
    son = {"resourceType": "RelatedPerson", "id": "rp-son", "active": True, "patient": {"reference": "Patient/p-chen"},
           "name": [{"text": "Chen Ming"}], "extension": [{"url": reminders.CAREGIVER_COPY, "valueBoolean": True}]}
    _write(engine, son)
    web = _signed_in("chen.son")
    page = web.get("/app/family")
    dose = re.search(r'name="dose" value="([^"]+)"', page.text).group(1)
    done = web.post("/app/family", data={"csrf_token": form_token(page), "person": "p-chen", "dose": dose})
    assert done.status_code == 303 and done.headers["location"].startswith("/app/family?person=p-chen")
    after = web.get(done.headers["location"]).text
    assert "Saved." in after and 'class="dose-state">Taken<' in after and "Not taken yet" not in after
    with unit_of_work(engine) as conn:
        [given] = records.search(conn, SYSTEM, "MedicationAdministration", [("patient", "Patient/p-chen")])
    assert given["performer"] == [{"actor": {"reference": "RelatedPerson/rp-son"}}]
    neighbour = _signed_in("lin.neighbour")
    token = re.search(r'name="csrf-token" content="([^"]+)"', neighbour.get("/app/family").text).group(1)
    refused = neighbour.post("/app/family", data={"csrf_token": token, "person": "p-chen", "dose": dose})
    assert refused.status_code == 404


def test_a_dose_that_cannot_be_marked_is_explained_in_the_caregivers_language(family, engine):
    son = {"resourceType": "RelatedPerson", "id": "rp-son", "active": True, "patient": {"reference": "Patient/p-chen"},
           "name": [{"text": "Chen Ming"}], "extension": [{"url": reminders.CAREGIVER_COPY, "valueBoolean": True}]}
    _write(engine, son)
    web = _signed_in("chen.son")
    page = web.get("/app/family?lang=zh_Hans")
    refused = web.post("/app/family", data={"csrf_token": form_token(page), "person": "p-chen",
                                            "dose": "not-a-dose-key"})
    assert refused.status_code == 422
    assert '<p role="alert" class="form-error">无法将此剂标记为已服。请刷新页面后重试。</p>' in refused.text
    assert "MedicationRequest id" not in refused.text
    with unit_of_work(engine) as conn:
        assert records.search(conn, SYSTEM, "MedicationAdministration", [("patient", "Patient/p-chen")]) == []
