"""Warnings when a medicine is added or a condition changes, from the workstation's prescription audit and the drug
knowledge: each says why it fired and names the source of its rule."""

import sqlalchemy as sa

from smartcare.family.medication import records, service, warnings
from smartcare.platform.db import unit_of_work
from smartcare.platform.jobs import run_due
from smartcare.platform.jobs.tables import job
from smartcare.platform.notifications import service as inbox
from smartcare.platform.security import users
from smartcare.platform.security.context import SYSTEM
from tests.family.medication.conftest import request, tablets, write

PREGNANT = {"resourceType": "Condition", "id": "c-preg", "subject": {"reference": "Patient/pa1"},
            "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                           "code": "active"}]},
            "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": "Z34.0"}],
                     "text": "Supervision of normal first pregnancy"}}
QD = [{"timing": {"code": {"coding": [{"code": "QD"}]}}, "doseAndRate": tablets()}]


def _issues(patient_id: str = "pa1") -> list[dict]:
    with unit_of_work() as conn:
        return warnings.current(conn, SYSTEM, patient_id=patient_id)


def _reviews_queued(trigger: str) -> int:
    with unit_of_work() as conn:
        payloads = conn.execute(sa.select(job.c.payload).where(job.c.kind == warnings.REVIEW_JOB)).scalars()
        return sum(1 for payload in payloads if payload.get("trigger") == trigger)


def _condition(cid: str, patient: str) -> dict:
    return {**PREGNANT, "id": cid, "subject": {"reference": f"Patient/{patient}"}}


def test_an_ace_inhibitor_prescribed_in_pregnancy_warns_the_patient_and_the_prescriber_with_its_source(
        family, now, engine):
    write(PREGNANT)
    run_due(engine)
    write(request("r-ena", "Enalapril 10 mg", "C09AA02", QD))
    run_due(engine)
    [issue] = [i for i in _issues() if "MedicationRequest/r-ena" in [m["reference"] for m in i["implicated"]]]
    shown = warnings.shown(issue, zh=False)
    assert shown["rule"] == "pregnancy" and shown["severity"] == "high"
    assert "pregnant" in shown["why"] and "category D" in shown["why"]
    assert shown["source"] and shown["source"] in shown["why"]
    assert shown["trigger"] == "MedicationRequest/r-ena"
    zh = warnings.shown(issue, zh=True)
    assert "妊娠" in zh["summary"] and "依据" in zh["why"]
    with unit_of_work() as conn:
        told = [n for n in inbox.inbox(conn, user_id=family["patient"].id) if n["kind"] == "medication.warning"]
        doctor = [n for n in inbox.inbox(conn, user_id=family["doctor"].id) if n["kind"] == "medication.warning"]
    assert any("Enalapril" in n["title"] for n in told) and any("Enalapril" in n["title"] for n in doctor)


def test_the_same_warning_is_recorded_and_told_once(family, now, engine):
    write(PREGNANT, request("r-ena", "Enalapril 10 mg", "C09AA02", QD))
    run_due(engine)
    before = len(_issues())
    with unit_of_work() as conn:
        assert warnings.review(conn, patient_id="pa1", trigger="Patient/pa1") == []
    assert len(_issues()) == before


def test_a_pregnancy_recorded_later_warns_about_medicines_already_taken(family, now, engine):
    write(request("r-ena", "Enalapril 10 mg", "C09AA02", QD))
    run_due(engine)
    assert not [i for i in _issues() if warnings.shown(i, zh=False)["rule"] == "pregnancy"
                and "MedicationRequest/r-ena" in warnings.shown(i, zh=False)["medicines"]]
    write(PREGNANT)
    run_due(engine)
    fired = [warnings.shown(i, zh=False) for i in _issues()]
    assert any(w["rule"] == "pregnancy" and "MedicationRequest/r-ena" in w["medicines"]
               and w["trigger"] == "Condition/c-preg" for w in fired)


def test_a_self_reported_medicine_that_interacts_is_warned_of_at_once_with_the_source(family, now, engine):
    write(request("r-war", "Warfarin 3 mg", "B01AA03", QD))
    ctx = users.context_for(family["patient"])
    with unit_of_work() as conn:
        stored, found = service.add_statement(conn, ctx, patient_id="pa1", medicine="aspirin", dose="100 mg daily")
    assert stored["resourceType"] == "MedicationStatement" and stored["informationSource"] == {
        "reference": "Patient/pa1"}
    [interaction] = [w for w in found if w.rule == "interaction"]
    assert interaction.severity == "high" and "Warfarin" in interaction.summary_en
    assert "Coumadin" in interaction.source and interaction.source in interaction.detail_en
    run_due(engine)  # the review job records it for the page and the doctor
    assert any(warnings.shown(i, zh=False)["rule"] == "interaction" for i in _issues())


def test_a_new_allergy_warns_about_a_medicine_of_that_class(family, now, engine):
    write(request("r-amox", "Amoxicillin 500 mg", "J01CA04", QD))
    run_due(engine)
    write({"resourceType": "AllergyIntolerance", "id": "a-pen", "patient": {"reference": "Patient/pa1"},
           "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical",
                                          "code": "active"}]},
           "code": {"coding": [{"system": "http://snomed.info/sct", "code": "764146007", "display": "Penicillin"}],
                    "text": "Penicillin"}})
    run_due(engine)
    fired = [warnings.shown(i, zh=False) for i in _issues()]
    assert any(w["rule"] == "allergy" and "MedicationRequest/r-amox" in w["medicines"] and w["source"] for w in fired)


def test_a_medicine_name_out_of_bounds_is_refused(family, now):
    ctx = users.context_for(family["patient"])
    for bad in ("", "x" * 101, "aspirin\x00"):
        with unit_of_work() as conn:
            try:
                service.add_statement(conn, ctx, patient_id="pa1", medicine=bad)
                status = None
            except records.MedicationProblem as exc:
                status = exc.status
        assert status == 422


def test_a_condition_of_a_patient_who_takes_no_medicine_queues_no_review(family, now, engine):
    write(request("r-old", "Enalapril 10 mg", "C09AA02", QD, patient="pa2") | {"status": "stopped"})
    write(_condition("c-pa2", "pa2"),
          {"resourceType": "AllergyIntolerance", "id": "a-pa2", "patient": {"reference": "Patient/pa2"},
           "code": {"text": "Penicillin"}})
    assert _reviews_queued("Condition/c-pa2") == 0 and _reviews_queued("AllergyIntolerance/a-pa2") == 0
    assert _reviews_queued("MedicationRequest/r-old") == 1  # a change of medicine is always looked at
    write(_condition("c-pa1", "pa1"))
    assert _reviews_queued("Condition/c-pa1") == 1


def test_a_self_reported_medicine_is_enough_for_a_new_condition_to_be_reviewed(family, now, engine):
    write({"resourceType": "Patient", "id": "pa3", "gender": "female", "birthDate": "1990-03-01"},
          {"resourceType": "MedicationStatement", "id": "s-ena", "status": "active",
           "subject": {"reference": "Patient/pa3"}, "informationSource": {"reference": "Patient/pa3"},
           "medicationCodeableConcept": {"coding": [{"system": "http://www.whocc.no/atc", "code": "C09AA02"}],
                                         "text": "Enalapril 10 mg"}, "dosage": QD})
    run_due(engine)
    write(_condition("c-pa3", "pa3"))
    assert _reviews_queued("Condition/c-pa3") == 1
    run_due(engine)
    fired = [warnings.shown(i, zh=False) for i in _issues("pa3")]
    assert any(w["rule"] == "pregnancy" and "MedicationStatement/s-ena" in w["medicines"]
               and w["trigger"] == "Condition/c-pa3" for w in fired)
