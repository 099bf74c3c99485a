"""Graded results explained to the patient: a released urine strip shows each pad's grade, normal or abnormal,
what it means, and the strip read together (a likely urinary infection, protein found again), in English and
Chinese; a paper lab sheet takes grades too."""

from datetime import UTC, datetime, timedelta

import pytest

from smartcare.fhir import store
from smartcare.hospital.lab.results import grade_concept
from smartcare.knowledge import lab
from smartcare.patient.reports import service
from smartcare.platform.db import unit_of_work
from smartcare.platform.security.context import SYSTEM
from tests.web_support import browser, form_token, make_user, sign_in

LOINC = "http://loinc.org"
LEUKOCYTES, NITRITE, PROTEIN, GLUCOSE, SG = "5799-2", "5802-4", "20454-5", "25428-4", "5811-5"


def _day(days_ago: int) -> str:
    return (datetime.now(UTC) - timedelta(days=days_ago)).date().isoformat()


def graded(oid: str, code: str, grade: str, day: str) -> dict:
    return {"resourceType": "Observation", "id": oid, "status": "final", "subject": {"reference": "Patient/pa1"},
            "code": {"coding": [{"system": LOINC, "code": code}]}, "effectiveDateTime": day,
            "valueCodeableConcept": grade_concept(lab.analyte(code).answer(grade))}


def strip_report(rid: str, results: list[str], day: str) -> dict:
    return {"resourceType": "DiagnosticReport", "id": rid, "status": "final", "subject": {"reference": "Patient/pa1"},
            "code": {"text": "Urinalysis"}, "issued": f"{day}T08:00:00Z",
            "result": [{"reference": f"Observation/{r}"} for r in results]}


@pytest.fixture
def app(engine):
    records = [
        {"resourceType": "Patient", "id": "pa1", "gender": "female", "birthDate": "1980-01-01"},
        graded("o-pro-old", PROTEIN, "1+", _day(100)),
        strip_report("r-old", ["o-pro-old"], _day(100)),
        graded("o-leu", LEUKOCYTES, "2+", _day(1)), graded("o-nit", NITRITE, "pos", _day(1)),
        graded("o-pro", PROTEIN, "2+", _day(1)), graded("o-glu", GLUCOSE, "neg", _day(1)),
        {"resourceType": "Observation", "id": "o-sg", "status": "final", "subject": {"reference": "Patient/pa1"},
         "code": {"coding": [{"system": LOINC, "code": SG}]}, "effectiveDateTime": _day(1),
         "valueQuantity": {"value": 1.02, "unit": "1", "system": "http://unitsofmeasure.org", "code": "1"}},
        {"resourceType": "Observation", "id": "o-odd", "status": "final", "subject": {"reference": "Patient/pa1"},
         "code": {"coding": [{"system": LOINC, "code": "5770-3"}]}, "effectiveDateTime": _day(1),
         "valueString": "weakly pos?"},
        strip_report("r-strip", ["o-sg", "o-leu", "o-nit", "o-pro", "o-glu", "o-odd"], _day(1)),
    ]
    with unit_of_work() as conn:
        store.write_batch(conn, SYSTEM, [store.Write("PUT", r["resourceType"], r["id"], r) for r in records])
    make_user(engine, "patient")
    web = browser()
    sign_in(web, "patient.test")
    return web


def _result_item(page: str, name: str) -> str:
    start = page.index(f"<h3>{name}")
    return page[start:page.index("</li>", start)]


def test_the_patient_sees_each_grade_with_normal_or_abnormal_and_the_infection_pattern(app):
    page = app.get("/app/reports/r-strip")
    assert page.status_code == 200
    leukocytes = _result_item(page.text, "Leukocyte esterase")
    assert "<strong>2+</strong>" in leukocytes and "— abnormal" in leukocytes and "Negative" in leukocytes
    assert "lab-result--abnormal" in page.text and "urinary tract infection" in leukocytes
    glucose = _result_item(page.text, "Urine glucose")
    assert "<strong>Negative</strong>" in glucose and "— " not in glucose and "This is the usual result." in glucose
    assert "<strong>1.02</strong>" in _result_item(page.text, "Urine specific gravity")
    assert "read together they suggest a urinary tract infection" in page.text
    assert "lab-advice--see-doctor-soon" in page.text
    # Protein 2+ now and 1+ a hundred days ago: a kidney check, not just a repeat test.
    assert "Protein was found in this urine test and in an earlier one" in page.text
    assert "Not recognised, so not explained" in page.text and "Urine bilirubin" in page.text
    # The patterns come first, then the results in the report's order.
    assert page.text.index("Read together") < page.text.index("Urine specific gravity") < page.text.index(
        "Leukocyte esterase")


def test_the_explanation_of_the_strip_is_in_chinese_when_asked(app):
    page = app.get("/app/reports/r-strip", params={"lang": "zh-Hans"}).text
    leukocytes = _result_item(page, "尿白细胞酯酶")
    assert "<strong>2+</strong>" in leukocytes and "— 异常" in leukocytes and "阴性" in leukocytes
    assert "尿路感染" in page and "<strong>阴性</strong>" in _result_item(page, "尿糖")


def test_the_first_protein_finding_asks_for_a_repeat_test():
    explained = service.explain_paper([(PROTEIN, "++", "")], sex="female", age_days=40 * 365, zh=False)
    assert [r.level for r in explained.results] == ["abnormal"]
    assert "repeat the urine test" in explained.patterns[0]["meaning"] and explained.advice == "routine"


def test_a_paper_sheet_takes_grades_picked_or_typed_and_reads_the_strip_together(app):
    form = app.get("/app/reports/paper")
    assert '<datalist id="lab-grades">' in form.text and '<option value="Negative">' in form.text
    assert "Leukocyte esterase</option>" in form.text
    done = app.post("/app/reports/paper", data={"csrf_token": form_token(form), "a1": LEUKOCYTES, "v1": "++",
                                                "a2": NITRITE, "v2": "Positive", "a3": "14771-0", "v3": "5.2",
                                                "u3": "mmol/L"})
    assert done.status_code == 200
    assert "<strong>2+</strong>" in done.text and "— abnormal" in done.text
    assert "urinary tract infection" in done.text and "<strong>5.2</strong>" in done.text


def test_a_paper_sheet_in_chinese_takes_chinese_grades(app):
    form = app.get("/app/reports/paper", params={"lang": "zh-Hans"})
    assert '<option value="阴性">' in form.text
    done = app.post("/app/reports/paper", data={"csrf_token": form_token(form), "a1": NITRITE, "v1": "阳性"})
    assert done.status_code == 200 and "<strong>阳性</strong>" in done.text and "— 异常" in done.text


@pytest.mark.parametrize("value", ["5+", "2+", "<script>alert(1)</script>", "1.5"])
def test_a_paper_sheet_refuses_what_is_no_grade_of_the_test(app, value):
    form = app.get("/app/reports/paper")
    done = app.post("/app/reports/paper", data={"csrf_token": form_token(form), "a1": NITRITE, "v1": value})
    assert done.status_code == 400 and "is not a grade of this test" in done.text
    assert "<script>alert(1)</script>" not in done.text
