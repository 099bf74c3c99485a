"""The internet-hospital rules on plain data: follow-ups need an in-person diagnosis, no controlled drugs online."""

import pytest

from smartcare.hospital.consultation import rules
from smartcare.knowledge.drugs import formulary

MEMBERS = {"org-a": "org-a", "dept-cardio": "org-a"}
ACTIVE = {"coding": [{"code": "active"}]}


def _visit(vid: str, cls: str = "AMB", org: str = "dept-cardio", status: str = "finished") -> dict:
    return {"id": vid, "class": {"code": cls}, "status": status, "serviceProvider": {"reference": f"Organization/{org}"}}


def _condition(cid: str, visit: str | None, **extra) -> dict:
    found = {"id": cid, "clinicalStatus": ACTIVE, "code": {"coding": [{"code": "I10"}]}, **extra}
    if visit:
        found["encounter"] = {"reference": f"Encounter/{visit}"}
    return found


def test_follow_up_rests_on_a_diagnosis_made_in_person_at_a_member_institution():
    basis = rules.follow_up_basis(conditions=[_condition("c1", "v1")], encounters=[_visit("v1")], members=MEMBERS)
    assert (basis.condition_id, basis.organization_id) == ("c1", "org-a")


@pytest.mark.parametrize("conditions, encounters", [
    ([], []),
    ([_condition("c1", None)], []),  # self-reported, never seen
    ([_condition("c1", "v1")], [_visit("v1", cls="VR")]),  # diagnosed online: still a first visit
    ([_condition("c1", "v1")], [_visit("v1", org="elsewhere")]),  # outside the member institutions
    ([_condition("c1", "v1")], [_visit("v1", status="planned")]),
    ([_condition("c1", "v1", verificationStatus={"coding": [{"code": "refuted"}]})], [_visit("v1")]),
    ([_condition("c1", "v1", clinicalStatus={"coding": [{"code": "resolved"}]})], [_visit("v1")]),
])
def test_follow_up_without_an_in_person_diagnosis_is_refused_as_a_first_visit(conditions, encounters):
    with pytest.raises(rules.RuleRefused) as refused:
        rules.follow_up_basis(conditions=conditions, encounters=encounters, members=MEMBERS)
    assert refused.value.code == "first-visit"
    assert "国卫医发〔2018〕25号" in str(refused.value)


def test_follow_up_for_a_named_condition_must_be_that_condition():
    with pytest.raises(rules.RuleRefused):
        rules.follow_up_basis(conditions=[_condition("c1", "v1")], encounters=[_visit("v1")], members=MEMBERS,
                              condition_id="other")


def _atc(name: str) -> tuple[str, ...] | None:
    drug = formulary.default().find(name)
    return drug.atc if drug else None


@pytest.mark.parametrize("medicine", ["morphine", "oxycodone", "fentanyl", "codeine", "tramadol", "diazepam",
                                      "alprazolam", "zolpidem", "lorazepam"])
def test_narcotic_and_psychotropic_drugs_are_never_prescribed_online(medicine):
    with pytest.raises(rules.RuleRefused) as refused:
        rules.check_online_prescription(rules.FOLLOW_UP, [(medicine, _atc(medicine))])
    assert refused.value.code == "controlled-drug"


def test_ordinary_medicines_are_prescribed_online_in_a_follow_up():
    rules.check_online_prescription(rules.FOLLOW_UP, [("amlodipine", _atc("amlodipine")),
                                                      ("metformin", _atc("metformin"))])


def test_an_advice_consultation_carries_no_prescription_and_no_diagnosis():
    with pytest.raises(rules.RuleRefused) as refused:
        rules.check_online_prescription(rules.ADVICE, [("amlodipine", _atc("amlodipine"))])
    assert refused.value.code == "not-follow-up"
    with pytest.raises(rules.RuleRefused):
        rules.check_online_diagnosis(rules.ADVICE)
    rules.check_online_diagnosis(rules.FOLLOW_UP)


def test_a_medicine_the_formulary_does_not_know_is_not_prescribed_online():
    with pytest.raises(rules.RuleRefused) as refused:
        rules.check_online_prescription(rules.FOLLOW_UP, [("mystery tonic", None)])
    assert refused.value.code == "unknown-medicine"


def test_every_controlled_drug_the_formulary_stocks_is_on_the_list():
    listed = rules.controlled_drugs()
    for name in ("morphine", "oxycodone", "fentanyl", "tramadol", "codeine", "diazepam", "alprazolam",
                 "lorazepam", "zolpidem", "dextromethorphan"):
        assert set(_atc(name) or ()) & listed.keys(), name
