"""Outbreak detection over HTTP: the catalogue, a judged series in JSON, and clear 400s for bad input."""

import csv
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from smartcare.knowledge.surveillance import MAX_PERIODS, detect
from smartcare.platform.db import use_engine
from smartcare.platform.web.app import create_app

URL = "/api/v1/surveillance"
SERIES = Path(__file__).parents[2] / "knowledge" / "surveillance" / "reference" / "series" / "weekly_outbreak.csv"


@pytest.fixture(scope="module")
def web(sqlite_engine):
    # The detector touches no database; one SQLite store is enough for the app to start.
    use_engine(sqlite_engine)
    with TestClient(create_app(), base_url="http://testserver") as client:
        yield client
    use_engine(None)


def _series() -> list[dict[str, object]]:
    return [{"period": r["period"], "count": int(r["count"])} for r in csv.DictReader(SERIES.open())]


def test_the_catalogue_lists_every_method_with_its_parameters_and_source(web):
    answer = web.get(f"{URL}/methods")
    assert answer.status_code == 200
    methods = {m["name"]: m for m in answer.json()["methods"]}
    assert list(methods) == ["ears-c1", "ears-c2", "ears-c3", "cusum", "farrington", "noufaily"]
    b = next(p for p in methods["farrington"]["parameters"] if p["name"] == "b")
    assert (b["type"], b["default"], b["minimum"], b["maximum"]) == ("integer", 5, 1, 20)
    assert "Farrington" in methods["farrington"]["source"]


def test_a_series_is_judged_period_by_period_with_defaults_filled_in(web):
    series = _series()
    answer = web.post(f"{URL}/detect", json={"method": "farrington", "frequency": 52, "parameters": {"b": 4},
                                               "series": series})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["parameters"]["b"] == 4 and body["parameters"]["w"] == 3 and body["parameters"]["reweight"] is True
    assert body["r_function"] == "surveillance::algo.farrington" and "1996" in body["source"]
    results = body["results"]
    assert [r["period"] for r in results] == [p["period"] for p in series]
    assert results[0] == {"period": "2015-W01", "count": series[0]["count"], "expected": None, "upper": None,
                          "alarm": False, "score": None}
    expected = detect("farrington", [p["count"] for p in series], frequency=52, b=4)
    assert [r["upper"] for r in results] == [e.upper for e in expected]
    assert any(r["alarm"] for r in results) and answer.headers["cache-control"] == "no-store"


def test_bad_input_is_a_400_naming_every_field_at_fault(web):
    answer = web.post(f"{URL}/detect", json={"method": "ears-c9", "frequency": "weekly", "parameters": {"alpha": 2},
                                               "series": [{"period": "a", "count": -1}], "colour": "red"})
    assert answer.status_code == 400
    body = answer.json()
    assert body["error"] == "invalid" and set(body["problems"]) == {"colour", "method", "frequency", "series"}
    assert "not a field" in body["problems"]["colour"] and "negative at position 1" in body["problems"]["series"]
    answer = web.post(f"{URL}/detect", json={"method": "ears-c1", "parameters": {"alpha": 2, "q": 1},
                                               "series": [{"period": str(i), "count": 1} for i in range(30)]})
    problems = answer.json()["problems"]
    assert problems["parameters.alpha"] == "must be at most 0.5" and "not a parameter" in problems["parameters.q"]


def test_a_malformed_series_or_body_is_refused_clearly(web):
    def problems(payload):
        answer = web.post(f"{URL}/detect", json=payload)
        assert answer.status_code == 400
        return answer.json()["problems"]

    assert "exactly period and count" in problems({"method": "cusum", "series": [{"count": 3}]})["series"]
    assert "negative at position 2" in problems({"method": "cusum", "series": [
        {"period": "a", "count": 1}, {"period": "b", "count": -4}]})["series"]
    assert "not a whole number" in problems({"method": "cusum", "series": [{"period": "a", "count": 1.5}]})["series"]
    assert "repeated" in problems({"method": "ears-c1", "series": [{"period": "a", "count": 1}] * 9})["series"]
    assert "needs at least 8 periods" in problems({"method": "ears-c1", "series": [
        {"period": str(i), "count": 1} for i in range(5)]})["series"]
    assert problems({"method": "cusum"})["series"].startswith("must be a non-empty list")
    assert web.post(f"{URL}/detect", content=b"{not json").json()["problems"] == {"body": "is not JSON"}
    assert web.post(f"{URL}/detect", json=[1, 2]).status_code == 400


def test_too_many_points_or_too_large_a_body_is_refused(web):
    points = [{"period": "p", "count": 1}] * (MAX_PERIODS + 1)
    answer = web.post(f"{URL}/detect", json={"method": "ears-c1", "series": points})
    assert answer.status_code == 400 and f"at most {MAX_PERIODS}" in answer.json()["problems"]["series"]
    answer = web.post(f"{URL}/detect", content=b" " * (1024 * 1024 + 1), headers={"Content-Type": "application/json"})
    assert answer.status_code == 413 and answer.json()["error"] == "too-large"


def test_a_regression_method_judges_at_most_five_hundred_periods_in_one_request(web):
    # 5 years of history (b=4 plus the window) then 600 weeks to judge: too much fitting for one open request.
    points = [{"period": f"w{i}", "count": i % 7} for i in range(4 * 52 + 3 + 600)]
    answer = web.post(f"{URL}/detect", json={"method": "noufaily", "parameters": {"b": 4}, "series": points})
    assert answer.status_code == 400
    assert "would have 600 periods judged by noufaily; at most 500" in answer.json()["problems"]["series"]
    answer = web.post(f"{URL}/detect", json={"method": "ears-c1", "series": points})
    assert answer.status_code == 200
