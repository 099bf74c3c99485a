"""Trend charts with their reference bands and table fallback, and the lists with where each item came from."""

import json
import re

from smartcare.patient.record import trends


def test_a_lab_result_chart_carries_its_reference_band_and_a_table(li_na):
    page = li_na.get("/app/record/trends")
    assert page.status_code == 200
    data = json.loads(re.search(r'id="record-trends-data">(.*?)</script>', page.text, re.S).group(1))
    glucose = data["vitals"]["glucose"]
    assert glucose["low"] == 3.9 and glucose["high"] == 6.1 and not glucose.get("usual")
    assert data["labs"]["718-7"]["low"] == 115
    assert "<table>" in page.text and "6.9" in page.text and "/app/record/trends.js" in page.text


def test_blood_pressure_components_become_two_series_with_the_usual_band():
    obs = [{"resourceType": "Observation", "status": "final", "effectiveDateTime": "2026-01-01T08:00:00Z",
            "code": {"coding": [{"system": "http://loinc.org", "code": "85354-9"}]},
            "component": [{"code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
                           "valueQuantity": {"value": 150}},
                          {"code": {"coding": [{"system": "http://loinc.org", "code": "8462-4"}]},
                           "valueQuantity": {"value": 95}}]}]
    chart = trends.series(obs, zh=False)["vitals"]["bp"]
    assert set(chart["series"]) == {"Systolic", "Diastolic"} and chart["usual"] is True
    assert chart["rows"][0][1:] == ["150", "95"]


def test_the_readings_data_cites_a_source_for_every_reading():
    data = trends.readings()
    assert all(spec["source"] and spec["checked"] for spec in data["readings"].values())


def test_the_lists_show_problems_medicines_and_allergies_with_their_institution(li_na):
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", li_na.get("/app/record/lists").text))
    assert "Essential hypertension" in text and "Amlodipine" in text and "Penicillin" in text
    assert "Hillside Test Clinic" in text and "Riverside Test Hospital" in text


def test_the_trends_and_lists_in_chinese(li_na):
    assert "生命体征" in li_na.get("/app/record/trends?lang=zh-Hans").text
    lists = li_na.get("/app/record/lists?lang=zh-Hans").text
    assert "原发性高血压" in lists and "氨氯地平片" in lists and "青霉素类" in lists
