"""Chronic-disease follow-up in a health centre: registries from the record, due lists, recording a visit, indicators.

The test centre org-chc-t (Hedong District) manages these residents; the clock stands at 2 March 2026 (local day
2026-03-02). Dr Gao (prac-gp1) is the family doctor of all of them but p-other (Dr Hu, prac-gp2):

    p-htn      born 1958, I10 recorded 2025-06-01, no visit yet: first visit due 2025-06-15, overdue 260 days
    p-dm       born 1970, metformin (A10BA02) only, ordered 2025-12-01: diabetes, due 2025-12-15, overdue 77 days
    p-new      born 1975, I10.x00x002 recorded 2026-02-25: first visit due 2026-03-11, in the due window
    p-seen     born 1962, I11.9 recorded 2024-03-01, follow-up 2026-02-01 controlled: due 2026-05-02, not due
    p-confirm  born 1966, metoprolol (C07AB02) only: hypertension to confirm, not registered
    p-young    born 2000, I10: under the specification's 35, not registered
    p-resolved born 1950, I10 entered in error: not registered
    p-other    born 1955, I10 recorded 2025-01-10 (Dr Hu's patient)
plus p-away (I10) managed by another centre, whom the centre's doctors do not reach.
"""

from datetime import date
from typing import Any

import pytest

from smartcare.fhir import bundles, gateway
from smartcare.platform.db import unit_of_work
from smartcare.platform.security import users
from smartcare.platform.security.context import SYSTEM
from smartcare.regional.chronic import indicators, service
from smartcare.regional.chronic.form import FollowUpInvalid
from smartcare.regional.chronic.resources import CLASS_SYSTEM, FOLLOW_UP, QUESTIONNAIRE, REGISTRY_SYSTEM
from tests.web_support import make_user

CENTRE = "Organization/org-chc-t"
GP = "Practitioner/prac-gp1"
ICD10 = "http://hl7.org/fhir/sid/icd-10"
ATC = "http://www.whocc.no/atc"
TODAY = date(2026, 3, 2)
GOOD_VISIT = {"registry": "hypertension", "systolic": "128", "diastolic": "78", "heart_rate": "72", "weight": "70",
              "height": "170", "cigarettes": "0", "alcohol": "0", "exercise_sessions": "3", "exercise_minutes": "30",
              "salt": "light", "psychology": "good", "adherence": "regular", "adverse_reaction": "no"}


def _patient(pid: str, birth: str, gp: str = "prac-gp1", org: str = "org-chc-t") -> dict[str, Any]:
    return {"resourceType": "Patient", "id": pid, "name": [{"use": "official", "family": pid.title(), "given": ["Test"]}],
            "gender": "female", "birthDate": birth, "generalPractitioner": [{"reference": f"Practitioner/{gp}"}],
            "managingOrganization": {"reference": f"Organization/{org}"}}


def _condition(cid: str, pid: str, code: str, recorded: str, verification: str = "confirmed") -> dict[str, Any]:
    return {"resourceType": "Condition", "id": cid,
            "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                           "code": "active"}]},
            "verificationStatus": {"coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/condition-ver-status", "code": verification}]},
            "code": {"coding": [{"system": ICD10, "code": code}]}, "subject": {"reference": f"Patient/{pid}"},
            "recordedDate": recorded}


def _medicine(mid: str, pid: str, atc: str, authored: str) -> dict[str, Any]:
    return {"resourceType": "MedicationRequest", "id": mid, "status": "active", "intent": "order",
            "medicationCodeableConcept": {"coding": [{"system": ATC, "code": atc}]},
            "subject": {"reference": f"Patient/{pid}"}, "authoredOn": authored}


def _earlier_visit(pid: str, day: str, classification: str, at_target: bool) -> dict[str, Any]:
    return {"resourceType": "QuestionnaireResponse", "id": f"qr-{pid}-{day}", "questionnaire": QUESTIONNAIRE,
            "status": "completed", "subject": {"reference": f"Patient/{pid}"}, "authored": f"{day}T02:00:00.000Z",
            "item": [{"linkId": "registry", "answer": [{"valueCoding": {"system": REGISTRY_SYSTEM,
                                                                        "code": "hypertension"}}]},
                     {"linkId": "classification", "answer": [{"valueCoding": {"system": CLASS_SYSTEM,
                                                                              "code": classification}}]},
                     {"linkId": "at_target", "answer": [{"valueBoolean": at_target}]}]}


def centre_resources() -> list[dict[str, Any]]:
    """The test centre's directory, residents and their records."""
    return [
        {"resourceType": "Organization", "id": "org-chc-t", "name": "Test Road Health Centre", "alias": ["测试路社区卫生服务中心"],
         "address": [{"city": "Riverside City", "district": "Hedong District"}]},
        {"resourceType": "Organization", "id": "org-chc-u", "name": "Other Health Centre",
         "address": [{"city": "Riverside City", "district": "Hexi District"}]},
        {"resourceType": "Practitioner", "id": "prac-gp1", "name": [{"family": "Gao", "given": ["Lin"]}]},
        {"resourceType": "Practitioner", "id": "prac-gp2", "name": [{"family": "Hu", "given": ["Jie"]}]},
        _patient("p-htn", "1958-05-10"), _condition("c-htn", "p-htn", "I10", "2025-06-01"),
        _patient("p-dm", "1970-02-01"), _medicine("m-dm", "p-dm", "A10BA02", "2025-12-01T01:00:00Z"),
        _patient("p-new", "1975-07-07"), _condition("c-new", "p-new", "I10.x00x002", "2026-02-25"),
        _patient("p-seen", "1962-03-03"), _condition("c-seen", "p-seen", "I11.9", "2024-03-01"),
        _earlier_visit("p-seen", "2026-02-01", "controlled", True),
        _patient("p-confirm", "1966-01-01"), _medicine("m-confirm", "p-confirm", "C07AB02", "2025-10-01T01:00:00Z"),
        _patient("p-young", "2000-01-01"), _condition("c-young", "p-young", "I10", "2025-06-01"),
        _patient("p-resolved", "1950-01-01"),
        _condition("c-resolved", "p-resolved", "I10", "2025-06-01", verification="entered-in-error"),
        _patient("p-other", "1955-01-01", gp="prac-gp2"), _condition("c-other", "p-other", "I10", "2025-01-10"),
        _patient("p-away", "1955-01-01", org="org-chc-u"), _condition("c-away", "p-away", "I10", "2025-01-10"),
    ]


def load(engine, resources: list[dict[str, Any]]) -> None:
    """Write resources as the platform, as a feed would."""
    entries = [{"resource": r, "request": {"method": "PUT", "url": f"{r['resourceType']}/{r['id']}"}}
               for r in resources]
    with unit_of_work(engine) as conn:
        bundles.transaction(conn, SYSTEM, entries, "")


@pytest.fixture
def centre(engine, now):
    """The test centre loaded; the family doctor's access context."""
    load(engine, centre_resources())
    doctor = make_user(engine, "doctor", username="gao.gp", fhir_ref=GP, organization=CENTRE)
    make_user(engine, "doctor", username="hu.gp", fhir_ref="Practitioner/prac-gp2", organization=CENTRE)
    make_user(engine, "nurse", username="zhao.nurse", fhir_ref="Practitioner/prac-n1", organization=CENTRE)
    make_user(engine, "patient", username="htn.patient", fhir_ref="Patient/p-htn")
    return users.context_for(doctor)


def _by_patient(found) -> dict[tuple[str, str], service.Entry]:
    return {(e.patient_id, e.registry): e for e in found.entries}


def test_registry_from_conditions_and_from_medicines(centre):
    found = service.registry(centre, organization=CENTRE)
    entries = _by_patient(found)
    assert set(entries) == {("p-htn", "hypertension"), ("p-dm", "diabetes"), ("p-new", "hypertension"),
                            ("p-seen", "hypertension"), ("p-other", "hypertension")}
    # Metformin alone registers on the diabetes registry, with the diagnosis to confirm.
    assert "confirm the diagnosis" in entries[("p-dm", "diabetes")].reasons[0].text_en
    assert entries[("p-htn", "hypertension")].practitioner == GP
    # A beta blocker alone only asks a clinician; the young, the entered in error and other centres' residents stay off.
    assert [(c.patient_id, c.registry) for c in found.to_confirm] == [("p-confirm", "hypertension")]


def test_due_overdue_and_not_due_follow_the_clock(centre):
    entries = _by_patient(service.registry(centre, organization=CENTRE))
    htn = entries[("p-htn", "hypertension")]
    assert (htn.due.status, htn.due.next_due, htn.days_overdue) == ("overdue", date(2025, 6, 15), 260)
    assert (entries[("p-dm", "diabetes")].due.status, entries[("p-dm", "diabetes")].days_overdue) == ("overdue", 77)
    new = entries[("p-new", "hypertension")]
    assert (new.due.status, new.due.next_due) == ("due", date(2026, 3, 11))
    seen = entries[("p-seen", "hypertension")]
    # A controlled visit on 1 February: next due 90 days on, 2 May.
    assert (seen.due.status, seen.due.next_due, seen.due.last_classification) == ("not_due", date(2026, 5, 2),
                                                                                   "controlled")
    # On the registry, the yearly check is due until one is done this year.
    assert htn.annual is not None and htn.annual.due


def test_work_list_is_the_doctors_patients_most_overdue_first(centre, now):
    work = service.work_list(centre, practitioner=GP)
    assert [(e.patient_id, e.due.status) for e in work.entries] == [
        ("p-htn", "overdue"), ("p-dm", "overdue"), ("p-new", "due")]
    assert (work.overdue, work.due, work.registered) == (2, 1, 4)
    assert [e.patient_id for e in service.work_list(centre, practitioner=GP, registry_key="diabetes").entries] == [
        "p-dm"]
    # Eleven days on, p-new's first visit is overdue too.
    later = service.work_list(centre, practitioner=GP, on=date(2026, 3, 12))
    assert later.overdue == 3


def _resources(res_type: str) -> list[dict[str, Any]]:
    return gateway.search(SYSTEM, res_type, [("_count", "100")])


def test_recording_a_visit_writes_one_transaction_and_moves_the_patient_off_the_list(centre):
    before = {t: len(_resources(t)) for t in ("Encounter", "Observation", "QuestionnaireResponse")}
    done = service.record_follow_up(centre, patient_id="p-htn", form={**GOOD_VISIT, "symptom:palpitations": ""})
    assert done.classification.key == "controlled"
    assert done.next_due == date(2026, 5, 31)  # 2 March + 90 days
    encounter = gateway.read(SYSTEM, f"Encounter/{done.encounter_id}")
    assert encounter["class"]["code"] == "AMB"
    assert encounter["type"][0]["coding"][0]["code"] == FOLLOW_UP
    assert encounter["reasonCode"][0]["coding"][0]["code"] == "I10"
    assert encounter["serviceProvider"]["reference"] == CENTRE
    assert encounter["participant"][0]["individual"]["reference"] == GP
    observations = gateway.search(SYSTEM, "Observation", [("encounter", f"Encounter/{done.encounter_id}")])
    by_code = {o["code"]["coding"][0]["code"]: o for o in observations}
    assert set(by_code) == {"85354-9", "8867-4", "29463-7", "8302-2", "39156-5"}  # no glucose given
    parts = {c["code"]["coding"][0]["code"]: c["valueQuantity"]["value"] for c in by_code["85354-9"]["component"]}
    assert parts == {"8480-6": 128, "8462-4": 78}
    assert by_code["39156-5"]["valueQuantity"]["value"] == 24.2  # 70 / 1.70² = 24.22
    after = {t: len(_resources(t)) for t in ("Encounter", "Observation", "QuestionnaireResponse")}
    assert after == {"Encounter": before["Encounter"] + 1, "Observation": before["Observation"] + 5,
                     "QuestionnaireResponse": before["QuestionnaireResponse"] + 1}
    visit = service.recorded_visit(centre, done.response_id)
    assert visit is not None and (visit.classification, visit.next_due) == ("controlled", date(2026, 5, 31))
    assert visit.answers["salt"] == "light" and visit.answers["bmi"] == 24.2
    assert "p-htn" not in [e.patient_id for e in service.work_list(centre, practitioner=GP).entries]


def test_a_diabetes_visit_records_fasting_glucose_in_mmol_per_litre(centre):
    done = service.record_follow_up(centre, patient_id="p-dm", form={**GOOD_VISIT, "registry": "diabetes",
                                                                      "fasting_glucose": "8.4"})
    # 8.4 mmol/L is not under 7.0: not controlled, seen again within 2 weeks.
    assert (done.classification.key, done.next_due) == ("uncontrolled", date(2026, 3, 16))
    glucose = gateway.search(SYSTEM, "Observation", [("encounter", f"Encounter/{done.encounter_id}"),
                                                     ("code", "http://loinc.org|14771-0")])
    assert glucose[0]["valueQuantity"]["value"] == 8.4 and glucose[0]["valueQuantity"]["code"] == "mmol/L"


def test_two_consecutive_uncontrolled_visits_give_a_referral(centre, now):
    high = {**GOOD_VISIT, "systolic": "156", "diastolic": "96"}
    first = service.record_follow_up(centre, patient_id="p-htn", form=high)
    assert first.classification.key == "uncontrolled"
    now[0] = now[0].replace(day=14)
    second = service.record_follow_up(centre, patient_id="p-htn", form=high)
    assert second.classification.key == "referral"
    assert "refer" in second.classification.actions
    assert any(r.rule == "consecutive" for r in second.classification.reasons)


def test_a_danger_sign_is_an_urgent_referral_whatever_the_reading(centre):
    done = service.record_follow_up(centre, patient_id="p-htn", form={**GOOD_VISIT, "symptom:chest_tightness": "on"})
    assert done.classification.key == "urgent_referral"


@pytest.mark.parametrize(("change", "fields"), [
    ({"systolic": "abc"}, {"systolic"}),
    ({"systolic": "120", "diastolic": "130"}, {"diastolic"}),
    ({"registry": "diabetes", "fasting_glucose": "6.0"}, {"registry"}),  # p-htn is not on the diabetes registry
    ({"salt": "none at all"}, {"salt"}),
    ({"adverse_reaction": "yes"}, {"adverse_reaction_text"}),
    ({"adverse_reaction_text": "x" * 501, "adverse_reaction": "yes"}, {"adverse_reaction_text"}),
    ({"symptom:acetone_breath": "on"}, {"symptoms"}),  # a diabetes sign on a hypertension form
    ({"weight": "", "height": "9999"}, {"weight", "height"}),
])
def test_a_bad_form_names_each_field_and_writes_nothing(centre, change, fields):
    with pytest.raises(FollowUpInvalid) as caught:
        service.record_follow_up(centre, patient_id="p-htn", form={**GOOD_VISIT, **change})
    assert set(caught.value.errors) == fields
    assert _resources("Encounter") == [] and _resources("Observation") == []
    assert [r["id"] for r in _resources("QuestionnaireResponse")] == ["qr-p-seen-2026-02-01"]


def test_a_diabetes_form_needs_the_glucose(centre):
    with pytest.raises(FollowUpInvalid) as caught:
        service.record_follow_up(centre, patient_id="p-dm", form={**GOOD_VISIT, "registry": "diabetes"})
    assert set(caught.value.errors) == {"fasting_glucose"}


def test_residents_out_of_reach_are_not_found(centre):
    with pytest.raises(service.ChronicRefused) as caught:
        service.record_follow_up(centre, patient_id="p-away", form=GOOD_VISIT)
    assert caught.value.status == 404
    assert _resources("Encounter") == []


def test_indicators_on_a_small_population(centre, now):
    # Two more visits for p-seen (controlled 1 Feb already): p-seen uncontrolled on 2 March. p-other none.
    service.record_follow_up(centre, patient_id="p-seen", form={**GOOD_VISIT, "systolic": "150"})
    report = indicators.indicators(centre, organizations=[CENTRE], year=2026)
    (centre_row,) = report.centres
    assert (centre_row.name, centre_row.alias) == ("Test Road Health Centre", "测试路社区卫生服务中心")
    # Residents aged 18 and over managed by the centre: every one of the 8 (p-young is 26).
    assert centre_row.adults == 8
    htn = centre_row.by_registry["hypertension"]
    # Registered: p-htn, p-new, p-seen, p-other = 4. Estimated prevalent: round(8 × 0.232) = round(1.856) = 2.
    assert (htn.registered, htn.estimated_prevalent) == (4, 2)
    assert htn.management_rate == pytest.approx(4 / 2)
    # Nobody has 4 visits yet; nobody's latest visit was at target (p-seen's was 150/78, not under 140/90).
    assert (htn.managed_to_standard, htn.controlled) == (0, 0)
    assert htn.control_rate == pytest.approx(0.0)
    # The trend: at the end of February p-seen's latest visit (1 Feb) was at target: 1 of the 4 registered by then.
    trend = dict(centre_row.monthly_control["hypertension"])
    assert list(trend) == ["2026-01", "2026-02", "2026-03"]
    assert trend["2026-01"] == pytest.approx(0.0)
    assert trend["2026-02"] == pytest.approx(1 / 4)
    assert trend["2026-03"] == pytest.approx(0.0)
    dm = centre_row.by_registry["diabetes"]
    # round(8 × 0.128) = round(1.024) = 1 estimated; p-dm registered.
    assert (dm.registered, dm.estimated_prevalent, dm.management_rate) == (1, 1, 1.0)
    (district,) = report.districts
    assert district.key == "Hedong District" and district.by_registry["hypertension"].registered == 4


def test_indicators_refuse_a_year_not_begun(centre):
    with pytest.raises(service.ChronicRefused):
        indicators.indicators(centre, organizations=[CENTRE], year=2027)
