"""The patient's lab reports explained in the app: each result against their range, panels read together,
trends, urgent advice for critical values, and a paper lab sheet typed in; only released reports."""

from datetime import UTC, datetime, timedelta

import pytest

from smartcare.fhir import store
from smartcare.patient.reports import service
from smartcare.platform.db import unit_of_work
from smartcare.platform.security.context import SYSTEM
from tests.web_support import browser, form_token, make_user, sign_in

LOINC = "http://loinc.org"


def _day(days_ago: int) -> str:
    return (datetime.now(UTC) - timedelta(days=days_ago)).date().isoformat()


def observation(oid: str, code: str, value: float, unit: str, day: str, status: str = "final") -> dict:
    return {"resourceType": "Observation", "id": oid, "status": status, "subject": {"reference": "Patient/pa1"},
            "code": {"coding": [{"system": LOINC, "code": code}]}, "effectiveDateTime": day,
            "valueQuantity": {"value": value, "unit": unit, "code": unit, "system": "http://unitsofmeasure.org"}}


def report(rid: str, status: str, results: list[str], title: str) -> dict:
    found = {"resourceType": "DiagnosticReport", "id": rid, "status": status, "subject": {"reference": "Patient/pa1"},
             "code": {"text": title}, "issued": f"{_day(1)}T08:00:00Z"}
    if results:
        found["result"] = [{"reference": f"Observation/{r}"} for r in results]
    return found


@pytest.fixture
def app(engine):
    hb = "718-7"
    records = [
        {"resourceType": "Patient", "id": "pa1", "gender": "female", "birthDate": "1980-01-01"},
        observation("o-hb-old", hb, 118, "g/L", _day(200)),
        observation("o-hb", hb, 92, "g/L", _day(1)),
        observation("o-k", "2823-3", 6.9, "mmol/L", _day(1)),
        observation("o-draft", "2951-2", 120, "mmol/L", _day(1), status="preliminary"),
        report("r-final", "final", ["o-hb", "o-k"], "Blood test"),
        report("r-draft", "preliminary", ["o-draft"], "Not yet released"),
    ]
    with unit_of_work() as conn:
        store.write_batch(conn, SYSTEM, [store.Write("PUT", r["resourceType"], r["id"], r) for r in records])
    make_user(engine, "patient")
    web = browser()
    sign_in(web, "patient.test")
    return web


def test_only_released_reports_are_listed(app):
    page = app.get("/app/reports")
    assert "/app/reports/r-final" in page.text and "r-draft" not in page.text
    assert app.get("/app/reports/r-draft").status_code == 404


def test_a_report_is_explained_with_levels_trend_and_urgent_advice_for_a_critical_value(app):
    page = app.get("/app/reports/r-final")
    assert page.status_code == 200
    assert "lab-advice--urgent" in page.text and "Critically high" in page.text
    assert "lab-result--low" in page.text
    assert 'role="img"' in page.text and f"{_day(200)} 118" in page.text


def test_the_explanation_is_in_chinese_when_asked(app):
    page = app.get("/app/reports/r-final", params={"lang": "zh-Hans"})
    assert "危急偏高" in page.text and "血红蛋白" in page.text


def test_a_paper_lab_sheet_is_explained_with_unit_conversion(app):
    form = app.get("/app/reports/paper")
    done = app.post("/app/reports/paper", data={"csrf_token": form_token(form), "a1": "14771-0", "v1": "126",
                                                "u1": "mg/dL"})
    assert done.status_code == 200
    assert "7.0" in done.text and "mmol/L" in done.text


@pytest.mark.parametrize(("fields", "words"), [
    ({"a1": "14771-0", "v1": "lots", "u1": "mmol/L"}, "is not a number"),
    ({"a1": "14771-0", "v1": "6", "u1": "furlongs"}, "cannot be converted"),
    ({}, "add at least one result"),
])
def test_bad_paper_values_get_a_clear_message(app, fields, words):
    form = app.get("/app/reports/paper")
    done = app.post("/app/reports/paper", data={"csrf_token": form_token(form), **fields})
    assert done.status_code == 400 and words in done.text


def test_hostile_ids_and_forged_forms_are_refused(app):
    assert app.get("/app/reports/..%2F..%2Fetc").status_code == 404
    assert app.get("/app/reports/" + "x" * 80).status_code == 404
    assert app.post("/app/reports/paper", data={"csrf_token": "forged", "a1": "718-7", "v1": "90"}).status_code == 403


def test_someone_elses_report_is_not_found(engine, app):
    other = {"resourceType": "Patient", "id": "pb1", "gender": "male", "birthDate": "1970-01-01"}
    foreign = {**report("r-other", "final", [], "Other"), "subject": {"reference": "Patient/pb1"}}
    with unit_of_work() as conn:
        store.write_batch(conn, SYSTEM, [store.Write("PUT", r["resourceType"], r["id"], r) for r in (other, foreign)])
    assert app.get("/app/reports/r-other").status_code == 404


def test_sparkline_scales_points_and_the_normal_band():
    from smartcare.platform.web.charts import sparkline
    drawn = sparkline([("2026-01-01", 100.0), ("2026-02-01", 120.0)], 110.0, 150.0)
    assert drawn["band"]["height"] > 0 and drawn["points"].count(",") == 2
    assert sparkline([("2026-01-01", 1.0)], None, None) is None


def test_person_of_gives_sex_and_age_in_days():
    sex, days = service.person_of({"gender": "female", "birthDate": "2026-01-01"}, datetime(2026, 1, 31).date())
    assert (sex, days) == ("female", 30)
