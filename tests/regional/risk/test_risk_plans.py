"""Personalised prevention programmes: drafted from the record, reviewed and adjusted by a doctor, then active."""

from datetime import timedelta

import pytest

from smartcare.fhir import gateway
from smartcare.fhir.http import FhirRequest
from smartcare.platform.security.context import SYSTEM
from smartcare.regional.risk import plans, service

LOINC = "http://loinc.org"


def _post(body: dict) -> dict:
    return gateway.serve(SYSTEM, FhirRequest(method="POST", path=body["resourceType"], body=body)).body or {}


def _quantity(patient: str, code: str, value: float, unit: str, when: str) -> None:
    _post({"resourceType": "Observation", "status": "final", "subject": {"reference": f"Patient/{patient}"},
           "code": {"coding": [{"system": LOINC, "code": code}]}, "effectiveDateTime": when,
           "valueQuantity": {"value": value, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit}})


@pytest.fixture
def smoker_with_diabetes(engine, now):
    """58, type 2 diabetes and hypertension, smokes, BP 150/92, LDL 3.8 mmol/L, HbA1c 8.1%, BMI 26, 70 kg."""
    patient = _post({"resourceType": "Patient", "gender": "male", "birthDate": "1967-05-01"})["id"]
    day = (now[0] - timedelta(days=20)).isoformat()
    mmhg = {"unit": "mmHg", "system": "http://unitsofmeasure.org", "code": "mm[Hg]"}
    _post({"resourceType": "Observation", "status": "final", "subject": {"reference": f"Patient/{patient}"},
           "code": {"coding": [{"system": LOINC, "code": "85354-9"}]}, "effectiveDateTime": day,
           "component": [{"code": {"coding": [{"system": LOINC, "code": "8480-6"}]},
                          "valueQuantity": {"value": 150, **mmhg}},
                         {"code": {"coding": [{"system": LOINC, "code": "8462-4"}]},
                          "valueQuantity": {"value": 92, **mmhg}}]})
    for code, value, unit in (("22748-8", 3.8, "mmol/L"), ("14647-2", 5.9, "mmol/L"), ("14646-4", 1.0, "mmol/L"),
                              ("4548-4", 8.1, "%"), ("39156-5", 26, "kg/m2"), ("29463-7", 70, "kg")):
        _quantity(patient, code, value, unit, day)
    _post({"resourceType": "Observation", "status": "final", "subject": {"reference": f"Patient/{patient}"},
           "code": {"coding": [{"system": LOINC, "code": "72166-2"}]}, "effectiveDateTime": day,
           "valueCodeableConcept": {"coding": [{"system": "http://snomed.info/sct", "code": "449868002"}]}})
    for icd in ("E11.9", "I10"):
        _post({"resourceType": "Condition", "subject": {"reference": f"Patient/{patient}"},
               "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                              "code": "active"}]},
               "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": icd}]}})
    service.assess(SYSTEM, patient)
    return patient


def _targets(programme: plans.Programme) -> dict[str, dict]:
    return {plans.target_key(g, t): t for g in programme.goals for t in g.get("target", [])}


def test_a_draft_sets_guideline_targets_from_the_record_and_cites_the_risk(smoker_with_diabetes):
    drafted = plans.draft(SYSTEM, smoker_with_diabetes)
    assert (drafted.plan["status"], drafted.plan["intent"]) == ("draft", "proposal")
    assert {g["lifecycleStatus"] for g in drafted.goals} == {"proposed"}
    targets = _targets(drafted)
    systolic = next(t for k, t in targets.items() if k.endswith(":8480-6"))
    assert systolic["detailQuantity"]["value"] == 130 and systolic["detailQuantity"]["comparator"] == "<"
    hba1c = next(t for k, t in targets.items() if k.endswith(":4548-4"))
    assert hba1c["detailQuantity"]["value"] == 7.0
    weight = next(t for k, t in targets.items() if k.endswith(":29463-7"))
    assert weight["detailQuantity"]["value"] == pytest.approx(66.5)
    assert any(k.endswith(":72166-2") for k in targets)  # stop smoking
    kinds = {plans.activity_key(a) for a in drafted.plan["activity"]}
    assert plans.REVIEW in kinds and any("medication" in k for k in kinds)
    assert drafted.plan["supportingInfo"][0]["reference"].startswith("RiskAssessment/")
    assert len(drafted.plan["addresses"]) == 2


def test_the_doctor_adjusts_a_target_drops_a_goal_and_activates(smoker_with_diabetes):
    drafted = plans.draft(SYSTEM, smoker_with_diabetes)
    keys = {plans.goal_key(g) for g in drafted.goals}
    weight_goal = next(plans.goal_key(g) for g in drafted.goals
                       if any(k.endswith(":29463-7") for k in (plans.target_key(g, t) for t in g["target"])))
    systolic_key = next(k for k in _targets(drafted) if k.endswith(":8480-6"))
    active = plans.accept(SYSTEM, smoker_with_diabetes, drafted.plan["id"], keep_goals=keys - {weight_goal},
                          keep_activities={plans.activity_key(a) for a in drafted.plan["activity"]},
                          targets={systolic_key: "135"})
    assert (active.plan["status"], active.plan["intent"]) == ("active", "plan")
    assert {plans.goal_key(g) for g in active.goals} == keys - {weight_goal}
    assert next(t for k, t in _targets(active).items() if k.endswith(":8480-6"))["detailQuantity"]["value"] == 135
    rejected = gateway.search(SYSTEM, "Goal", [("patient", f"Patient/{smoker_with_diabetes}"),
                                               ("lifecycle-status", "rejected")])
    assert [plans.goal_key(g) for g in rejected] == [weight_goal]


def test_a_target_out_of_range_is_refused_at_its_field_and_nothing_changes(smoker_with_diabetes):
    drafted = plans.draft(SYSTEM, smoker_with_diabetes)
    systolic_key = next(k for k in _targets(drafted) if k.endswith(":8480-6"))
    with pytest.raises(plans.PlanRefused) as refused:
        plans.accept(SYSTEM, smoker_with_diabetes, drafted.plan["id"],
                     keep_goals={plans.goal_key(g) for g in drafted.goals}, keep_activities=set(),
                     targets={systolic_key: "13O"})
    assert refused.value.field == systolic_key
    with pytest.raises(plans.PlanRefused, match="from 60 to 200"):
        plans.accept(SYSTEM, smoker_with_diabetes, drafted.plan["id"],
                     keep_goals={plans.goal_key(g) for g in drafted.goals}, keep_activities=set(),
                     targets={systolic_key: "1300"})
    assert plans.current(SYSTEM, smoker_with_diabetes, status="draft").plan["id"] == drafted.plan["id"]
    assert plans.current(SYSTEM, smoker_with_diabetes, status="active") is None


def test_a_new_programme_replaces_the_active_one(smoker_with_diabetes):
    first = plans.draft(SYSTEM, smoker_with_diabetes)
    keep = {plans.goal_key(g) for g in first.goals}
    plans.accept(SYSTEM, smoker_with_diabetes, first.plan["id"], keep_goals=keep, keep_activities=set(), targets={})
    second = plans.draft(SYSTEM, smoker_with_diabetes)
    active = plans.accept(SYSTEM, smoker_with_diabetes, second.plan["id"], keep_goals=keep, keep_activities=set(),
                          targets={})
    assert active.plan["replaces"] == [{"reference": f"CarePlan/{first.plan['id']}"}]
    old = gateway.read(SYSTEM, f"CarePlan/{first.plan['id']}")
    assert old["status"] == "revoked"
    with pytest.raises(plans.PlanRefused):
        plans.accept(SYSTEM, smoker_with_diabetes, first.plan["id"], keep_goals=keep, keep_activities=set(),
                     targets={})


def test_a_record_never_assessed_still_gets_a_draft_saying_what_is_missing(engine, now):
    patient = _post({"resourceType": "Patient", "gender": "female", "birthDate": "1970-01-01"})["id"]
    drafted = plans.draft(SYSTEM, patient)
    assert "supportingInfo" not in drafted.plan
    assert any("Not known" in n["text"] for n in drafted.plan["note"])
