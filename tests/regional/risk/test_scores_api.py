"""The calculators over HTTP and on the command line: a catalogue, a result, and clear refusals in JSON."""

import json

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from smartcare.cli import app as cli_app
from smartcare.platform.web.app import create_app

URL = "/api/v1/scores"
PCE_WHITE_WOMAN = {"age": 55, "sex": "female", "race": "white", "total_cholesterol": 213, "hdl_cholesterol": 50,
                   "systolic_bp": 120, "treated_hypertension": False, "smoker": False, "diabetes": False}


@pytest.fixture
def web(engine):
    with TestClient(create_app(), base_url="http://testserver") as c:
        yield c


def test_the_catalogue_lists_each_calculator_with_inputs_units_ranges_and_source(web):
    r = web.get(URL)
    assert r.status_code == 200
    found = {c["name"]: c for c in r.json()["calculators"]}
    egfr = found["egfr-ckd-epi-2021"]
    creatinine = next(i for i in egfr["inputs"] if i["name"] == "creatinine")
    assert creatinine["units"] == ["mg/dL", "umol/L"] and creatinine["minimum"] == 0.1
    assert "Inker" in egfr["source"]
    assert web.get(f"{URL}/kdigo-ckd").json()["name"] == "kdigo-ckd"


def test_a_calculation_answers_value_unit_category_inputs_warnings_and_source(web):
    r = web.post(f"{URL}/egfr-ckd-epi-2021", json={"creatinine": {"value": 88.4, "unit": "umol/L"}, "age": 50,
                                                   "sex": "female"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["value"], body["unit"], body["category"]) == (69, "mL/min/{1.73_m2}", "G2")
    assert body["inputs"]["creatinine"] == pytest.approx(1.0)
    assert body["category_label"] == "Mildly decreased"
    assert body["warnings"] and "Inker" in body["source"]
    assert r.headers["cache-control"] == "no-store"


def test_the_pooled_cohort_equations_reproduce_goffs_worked_example_over_http(web):
    body = web.post(f"{URL}/pce-ascvd", json=PCE_WHITE_WOMAN).json()
    assert (body["value"], body["unit"], body["category"]) == (2.1, "%", "low")


def test_chinese_readers_get_chinese_warnings_and_labels(web):
    r = web.post(f"{URL}/bp-grade-china?lang=zh-Hans", json={"systolic_bp": 165, "diastolic_bp": 95})
    body = r.json()
    assert body["category"] == "grade_2" and body["category_label"] == "2级高血压（中度）"
    assert "三次" in body["warnings"][0]


def test_bad_input_is_a_json_problem_naming_each_input(web):
    r = web.post(f"{URL}/egfr-ckd-epi-2021", json={"creatinine": -1, "age": "fifty", "colour": "red"})
    assert r.status_code == 422
    body = r.json()
    assert body["error"] == "invalid"
    assert set(body["problems"]) == {"creatinine", "age", "sex", "colour"}
    assert "must be a number" in body["problems"]["age"]


def test_not_json_unknown_and_too_large_are_refused_without_a_crash(web):
    assert web.post(f"{URL}/qsofa", content=b"{nope", headers={"content-type": "application/json"}).status_code == 400
    missing = web.post(f"{URL}/<img src=x onerror=alert(1)>", json={})
    assert missing.status_code == 404 and missing.json()["error"] == "not-found"
    huge = web.post(f"{URL}/qsofa", content=b"[" + b"1," * 20000 + b"1]")
    assert huge.status_code == 413


def test_the_command_line_answers_as_the_api(tmp_path):
    runner = CliRunner()
    file = tmp_path / "pce.json"
    file.write_text(json.dumps(PCE_WHITE_WOMAN))
    result = runner.invoke(cli_app, ["score", "pce-ascvd", "--input", str(file)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["value"] == 2.1
    piped = runner.invoke(cli_app, ["score", "bp-grade-china", "--input", "-"], input='{"systolic_bp": 182, "diastolic_bp": 90}')
    assert json.loads(piped.stdout)["category"] == "grade_3"


def test_the_command_line_prints_each_problem_and_exits_2():
    runner = CliRunner()
    result = runner.invoke(cli_app, ["score", "bmi-chinese-adult", "--input", "-"], input='{"height": 170}')
    assert result.exit_code == 2
    assert "weight" in result.output and "is required" in result.output
    listing = runner.invoke(cli_app, ["score", "--list"])
    assert "kdigo-ckd" in listing.output
