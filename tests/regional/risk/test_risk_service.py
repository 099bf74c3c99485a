"""Risk assessment from a resident's record: RiskAssessments with their provenance, missing inputs reported,
recomputed when an input changes, left alone when nothing did."""

from datetime import timedelta

import pytest

from smartcare.fhir import gateway
from smartcare.fhir.http import FhirRequest
from smartcare.platform.db import unit_of_work
from smartcare.platform.security.context import SYSTEM
from smartcare.regional.risk import service

LOINC = "http://loinc.org"


def _post(body: dict) -> dict:
    return gateway.serve(SYSTEM, FhirRequest(method="POST", path=body["resourceType"], body=body)).body or {}


def _observation(patient: str, code: str, value: float, unit: str, when: str) -> dict:
    return _post({"resourceType": "Observation", "status": "final", "subject": {"reference": f"Patient/{patient}"},
                  "code": {"coding": [{"system": LOINC, "code": code}]}, "effectiveDateTime": when,
                  "valueQuantity": {"value": value, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit}})


def _bp(patient: str, systolic: int, diastolic: int, when: str) -> dict:
    quantity = {"unit": "mmHg", "system": "http://unitsofmeasure.org", "code": "mm[Hg]"}
    return _post({"resourceType": "Observation", "status": "final", "subject": {"reference": f"Patient/{patient}"},
                  "code": {"coding": [{"system": LOINC, "code": "85354-9"}]}, "effectiveDateTime": when,
                  "component": [
                      {"code": {"coding": [{"system": LOINC, "code": "8480-6"}]},
                       "valueQuantity": {"value": systolic, **quantity}},
                      {"code": {"coding": [{"system": LOINC, "code": "8462-4"}]},
                       "valueQuantity": {"value": diastolic, **quantity}}]})


def _smoking(patient: str, snomed: str, when: str) -> dict:
    return _post({"resourceType": "Observation", "status": "final", "subject": {"reference": f"Patient/{patient}"},
                  "code": {"coding": [{"system": LOINC, "code": "72166-2"}]}, "effectiveDateTime": when,
                  "valueCodeableConcept": {"coding": [{"system": "http://snomed.info/sct", "code": snomed}]}})


def _condition(patient: str, icd10: str) -> dict:
    return _post({"resourceType": "Condition", "subject": {"reference": f"Patient/{patient}"},
                  "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                                 "code": "active"}]},
                  "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": icd10}]}})


@pytest.fixture
def man_of_55(engine, now):
    """Goff's worked example as a record: 55, TC 213 and HDL 50 mg/dL (in mmol/L), SBP 120, non-smoker."""
    patient = _post({"resourceType": "Patient", "gender": "male", "birthDate": "1970-06-01"})["id"]
    day = (now[0] - timedelta(days=30)).isoformat()
    records = {
        "tc": _observation(patient, "14647-2", round(213 / 38.67, 4), "mmol/L", day),
        "hdl": _observation(patient, "14646-4", round(50 / 38.67, 4), "mmol/L", day),
        "bp": _bp(patient, 120, 78, day),
        "smoking": _smoking(patient, "266919005", day),
    }
    return patient, records


def test_a_record_with_every_input_gets_a_pce_risk_assessment_citing_its_sources(man_of_55):
    patient, records = man_of_55
    assessment = service.assess(SYSTEM, patient)
    pce = next(o for o in assessment.outcomes if o.calculator == "pce-ascvd")
    assert pce.status == "assessed"
    # Goff's white man (5.4% at full precision); Chinese residents use the white equations, with a warning.
    assert pce.result.value == pytest.approx(5.4, abs=0.1)
    risk = gateway.read(SYSTEM, pce.risk_assessment)
    assert risk["subject"] == {"reference": f"Patient/{patient}"}
    assert risk["method"]["coding"][0]["code"] == "pce-ascvd"
    basis = {b["reference"] for b in risk["basis"]}
    assert {f"Observation/{r['id']}" for r in records.values()} <= basis
    assert risk["prediction"][0]["probabilityDecimal"] == pytest.approx(pce.result.value / 100)
    assert risk["prediction"][0]["qualitativeRisk"]["coding"][0]["code"] == "borderline"
    assert any("East Asian" in n["text"] for n in risk["note"])


def test_missing_inputs_are_named_and_nothing_is_written(man_of_55, now):
    patient = _post({"resourceType": "Patient", "gender": "female", "birthDate": "1960-01-01"})["id"]
    _bp(patient, 150, 90, (now[0] - timedelta(days=3)).isoformat())
    outcomes = {o.calculator: o for o in service.assess(SYSTEM, patient).outcomes}
    assert outcomes["pce-ascvd"].status == "missing"
    assert set(outcomes["pce-ascvd"].missing) == {"total_cholesterol", "hdl_cholesterol", "smoker"}
    assert set(outcomes["cds-diabetes-risk"].missing) == {"bmi", "waist", "family_history"}
    assert outcomes["cha2ds2-vasc"].status == "not_applicable"
    assert gateway.search(SYSTEM, "RiskAssessment", [("patient", f"Patient/{patient}")]) == []


def test_an_old_value_is_not_used(man_of_55, now):
    patient = _post({"resourceType": "Patient", "gender": "female", "birthDate": "1960-01-01"})["id"]
    _bp(patient, 150, 90, (now[0] - timedelta(days=400)).isoformat())
    pce = next(o for o in service.assess(SYSTEM, patient).outcomes if o.calculator == "pce-ascvd")
    assert "systolic_bp" in pce.missing


def test_nothing_changed_writes_nothing_and_a_new_reading_writes_a_new_assessment(man_of_55, now):
    patient, _records = man_of_55
    first = next(o for o in service.assess(SYSTEM, patient).outcomes if o.calculator == "pce-ascvd")
    again = next(o for o in service.assess(SYSTEM, patient).outcomes if o.calculator == "pce-ascvd")
    assert again.status == "unchanged" and again.risk_assessment == first.risk_assessment
    now[0] += timedelta(days=1)
    _smoking(patient, "449868002", now[0].isoformat())
    later = next(o for o in service.assess(SYSTEM, patient).outcomes if o.calculator == "pce-ascvd")
    assert later.status == "assessed" and later.result.value > first.result.value
    risks = gateway.search(SYSTEM, "RiskAssessment", [("patient", f"Patient/{patient}")])
    assert len(risks) == 2


def test_established_ascvd_is_not_given_a_primary_prevention_risk(man_of_55):
    patient, _records = man_of_55
    _condition(patient, "I25.1")
    pce = next(o for o in service.assess(SYSTEM, patient).outcomes if o.calculator == "pce-ascvd")
    assert pce.status == "not_applicable" and "primary prevention" in pce.reason


def test_atrial_fibrillation_gets_cha2ds2_vasc_from_coded_conditions(man_of_55):
    patient, _records = man_of_55
    for code in ("I48.0", "I10", "E11.9"):
        _condition(patient, code)
    cha = next(o for o in service.assess(SYSTEM, patient).outcomes if o.calculator == "cha2ds2-vasc")
    assert cha.status == "assessed"
    assert cha.result.value == 2  # hypertension 1 + diabetes 1 (a man of 55)
    assert cha.result.category == "recommended"


def test_the_sweep_finds_residents_whose_inputs_changed(man_of_55, now):
    patient, _records = man_of_55
    with unit_of_work() as conn:
        assert patient in service.changed_patients(conn, since=now[0] - timedelta(minutes=5))
        assert service.all_patients(conn) == [patient]
    now[0] += timedelta(hours=2)
    with unit_of_work() as conn:
        assert service.changed_patients(conn, since=now[0] - timedelta(minutes=5)) == []


def test_the_periodic_sweep_assesses_a_resident_whose_reading_arrived(man_of_55, engine):
    from smartcare.platform.jobs import enqueue, run_due
    from smartcare.regional.risk import jobs

    patient, _records = man_of_55
    with unit_of_work() as conn:
        enqueue(conn, kind=jobs.SWEEP_JOB, payload={})
    assert run_due(engine) >= 1
    risks = gateway.search(SYSTEM, "RiskAssessment", [("patient", f"Patient/{patient}")])
    assert [r["method"]["coding"][0]["code"] for r in risks] == ["pce-ascvd"]


def test_the_command_line_assesses_the_whole_region(man_of_55):
    from typer.testing import CliRunner

    from smartcare.cli import app

    result = CliRunner().invoke(app, ["risk", "assess", "--all"])
    assert result.exit_code == 0, result.output
    assert "assessed" in result.output and "missing" in result.output
    refused = CliRunner().invoke(app, ["risk", "assess"])
    assert refused.exit_code == 2


def test_the_region_run_gives_the_same_result_as_one_resident_and_audits_its_reads(man_of_55, now):
    from smartcare.platform.audit import service as audit
    from smartcare.regional.risk import batch

    patient, records = man_of_55
    bare = _post({"resourceType": "Patient", "gender": "female", "birthDate": "1950-01-01"})["id"]
    counts = batch.assess_region([patient, bare], chunk=1)
    assert counts["assessed"] == 1 and counts["missing"] >= 2
    risk = gateway.search(SYSTEM, "RiskAssessment", [("patient", f"Patient/{patient}")])[0]
    assert {f"Observation/{r['id']}" for r in records.values()} <= {b["reference"] for b in risk["basis"]}
    alone = next(o for o in service.assess(SYSTEM, patient).outcomes if o.calculator == "pce-ascvd")
    assert alone.status == "unchanged" and alone.risk_assessment == f"RiskAssessment/{risk['id']}"
    assert batch.assess_region([patient, bare]).get("assessed", 0) == 0
    with unit_of_work() as conn:
        reads = [e for e in audit.search(conn, patient=f"Patient/{patient}", limit=500)
                 if "risk assessment run" in str(e)]
    assert len(reads) == 2  # each run that read the record says so in the resident's access log


def test_a_points_score_is_stored_without_a_unit_and_shown_without_one(man_of_55):
    patient, _records = man_of_55
    _condition(patient, "I48.0")
    cha = next(o for o in service.assess(SYSTEM, patient).outcomes if o.calculator == "cha2ds2-vasc")
    risk = gateway.read(SYSTEM, cha.risk_assessment)
    score = next(e["valueQuantity"] for e in risk["extension"] if e["url"] == service.SCORE_EXTENSION)
    assert score == {"value": 0, "system": "http://unitsofmeasure.org", "code": "{score}"}
