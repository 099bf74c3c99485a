"""Spark mode: a province's NDJSON export run on PySpark (local[1]) gives the same outcomes as the embedded decision."""

import json
from datetime import UTC, datetime, timedelta

import pytest

from smartcare.regional.risk import inputs, service
from smartcare.regional.risk import spark as risk_spark

pytest.importorskip("pyspark", reason="pyspark is a test dependency (requirements-test.lock)")
NOW = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
LOINC = "http://loinc.org"


def _quantity(rid: str, patient: str, code: str, value: float, unit: str) -> dict:
    return {"resourceType": "Observation", "id": rid, "status": "final", "subject": {"reference": f"Patient/{patient}"},
            "code": {"coding": [{"system": LOINC, "code": code}]},
            "effectiveDateTime": (NOW - timedelta(days=30)).isoformat(),
            "valueQuantity": {"value": value, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit}}


def _region() -> list[dict]:
    """Goff's worked example (a man of 55), a woman with only a blood pressure, and a stray line with no resident."""
    when = (NOW - timedelta(days=30)).isoformat()
    return [
        {"resourceType": "Patient", "id": "man", "gender": "male", "birthDate": "1970-06-01"},
        _quantity("tc", "man", "2093-3", 213, "mg/dL"), _quantity("hdl", "man", "2085-9", 50, "mg/dL"),
        {"resourceType": "Observation", "id": "bp", "status": "final", "subject": {"reference": "Patient/man"},
         "code": {"coding": [{"system": LOINC, "code": "85354-9"}]}, "effectiveDateTime": when,
         "component": [{"code": {"coding": [{"system": LOINC, "code": "8480-6"}]},
                        "valueQuantity": {"value": 120, "unit": "mmHg", "code": "mm[Hg]"}}]},
        {"resourceType": "Observation", "id": "smoke", "status": "final", "subject": {"reference": "Patient/man"},
         "code": {"coding": [{"system": LOINC, "code": "72166-2"}]}, "effectiveDateTime": when,
         "valueCodeableConcept": {"coding": [{"system": "http://snomed.info/sct", "code": "266919005"}]}},
        {"resourceType": "Patient", "id": "woman", "gender": "female", "birthDate": "1960-01-01"},
        _quantity("w-bmi", "woman", "39156-5", 27.1, "kg/m2"),
        {"resourceType": "Organization", "id": "org"},
    ]


def _embedded(resources: list[dict]) -> set[tuple[str, str, str]]:
    found = set()
    for patient in (r for r in resources if r["resourceType"] == "Patient"):
        own = [r for r in resources if (r.get("subject") or {}).get("reference") == f"Patient/{patient['id']}"]
        record = inputs.read_record(patient=patient, resources=own, today=NOW.date())
        for outcome, _body in service.decide(patient["id"], record, [], now=NOW):
            found.add((patient["id"], outcome.calculator, outcome.status))
    return found


def test_spark_gives_the_embedded_outcomes_and_the_same_risk_assessment(spark_session):
    session = spark_session
    region = _region()
    lines = session.createDataFrame([(json.dumps(r),) for r in region] + [("not json",)], schema="value string")
    rows = risk_spark.assess(session, lines, now=NOW).collect()
    assert {(r.patient, r.calculator, r.status) for r in rows} == _embedded(region)
    pce = next(r for r in rows if (r.patient, r.calculator) == ("man", "pce-ascvd"))
    assert pce.status == "assessed" and pce.detail.startswith("5.4 ")
    written = json.loads(pce.resource)
    assert written["resourceType"] == "RiskAssessment" and written["subject"] == {"reference": "Patient/man"}
    assert {b["reference"] for b in written["basis"]} >= {"Observation/tc", "Observation/hdl", "Observation/bp"}
    woman = {r.calculator: r for r in rows if r.patient == "woman"}
    assert woman["pce-ascvd"].status == "missing" and "total_cholesterol" in woman["pce-ascvd"].detail
