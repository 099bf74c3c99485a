"""The person's own entries: checked forms (limits, plausible values, hostile text), written as patient-reported
FHIR resources, and shown in the record as reported by them."""

import re

import pytest

from smartcare.fhir import gateway
from smartcare.patient.record import entries
from smartcare.patient.record.shape import ORIGIN_SYSTEM
from smartcare.platform.security.context import SYSTEM
from tests.web_support import form_token


def _post(web, kind: str, **fields):
    token = form_token(web.get("/app/record/mine"))
    return web.post(f"/app/record/mine/{kind}", data={"csrf_token": token, **fields})


def _text(page) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page.text))


def test_a_blood_pressure_reading_is_stored_as_a_patient_reported_observation(li_na):
    done = _post(li_na, "reading", measure="bp", systolic="150", diastolic="95", when="2026-01-20T07:30")
    assert done.status_code == 303 and "saved=reading" in done.headers["location"]
    text = _text(li_na.get("/app/record?kind=result&institution=you"))
    assert "150/95" in text.replace(".0", "") and "1 item" in text and "Reported by you" in text
    stored = gateway.search(SYSTEM, "Observation", [("patient", "Patient/ph-a"), ("code", "85354-9")])
    assert len(stored) == 1 and stored[0]["performer"] == [{"reference": "Patient/ph-a"}]
    assert stored[0]["meta"]["tag"][0]["code"] == "patient-reported"
    assert [c["valueQuantity"]["value"] for c in stored[0]["component"]] == [150, 95]


def test_reading_resource_is_marked_and_names_its_reporter():
    obs = entries.reading({"measure": "glucose", "value": "5,6", "when": ""}, patient="Patient/p", author="Patient/p")
    assert obs["valueQuantity"]["value"] == 5.6 and obs["performer"] == [{"reference": "Patient/p"}]
    assert obs["meta"]["tag"][0]["system"] == ORIGIN_SYSTEM and obs["meta"]["tag"][0]["code"] == "patient-reported"


@pytest.mark.parametrize(("fields", "field"), [
    ({"measure": "temperature", "value": "52"}, "value"),
    ({"measure": "weight", "value": "abc"}, "value"),
    ({"measure": "weight", "value": "nan"}, "value"),
    ({"measure": "bp", "systolic": "120", "diastolic": "130"}, "diastolic"),
    ({"measure": "bp", "systolic": "9" * 40, "diastolic": "80"}, "systolic"),
    ({"measure": "glucose", "value": "5", "when": "2999-01-01T00:00"}, "when"),
    ({"measure": "glucose", "value": "5", "when": "yesterday"}, "when"),
    ({"measure": "<script>", "value": "5"}, "measure"),
])
def test_implausible_readings_are_refused_with_the_field_to_fix(fields, field):
    with pytest.raises(entries.EntryInvalid) as caught:
        entries.reading(fields, patient="Patient/p", author="Patient/p")
    assert field in caught.value.problems


def test_a_wrong_form_comes_back_in_chinese_and_writes_nothing(li_na):
    page = li_na.post("/app/record/mine/reading?lang=zh-Hans", data={
        "csrf_token": form_token(li_na.get("/app/record/mine")), "measure": "temperature", "value": "99"})
    assert page.status_code == 400 and "请输入" in page.text and 'aria-invalid="true"' in page.text
    assert "Nothing matches." in _text(li_na.get("/app/record?lang=en&institution=you"))


def test_hostile_text_is_stored_as_typed_and_shown_escaped(li_na):
    hostile = "<img src=x onerror=alert(1)>'; DROP TABLE resource; --"
    assert _post(li_na, "medicine", name=hostile, how="<b>twice</b>").status_code == 303
    assert _post(li_na, "allergy", substance=hostile, reaction="rash", criticality="high").status_code == 303
    assert _post(li_na, "symptom", what=hostile, severity="mild").status_code == 303
    lists = li_na.get("/app/record/lists")
    assert "<img src=x" not in lists.text and "&lt;img src=x onerror=alert(1)&gt;" in lists.text
    assert _text(lists).count("Reported by you") >= 2


def test_length_limits_are_enforced(li_na):
    page = _post(li_na, "medicine", name="x" * 121)
    assert page.status_code == 400 and "At most 120 characters." in page.text
    assert _post(li_na, "symptom", what="y" * 1001).status_code == 400
    assert _post(li_na, "allergy", substance="").status_code == 400


def test_a_form_without_its_csrf_token_is_refused(li_na):
    assert li_na.post("/app/record/mine/medicine", data={"name": "Aspirin"}).status_code == 403


def test_a_caregivers_entry_names_them_and_reads_as_reported_by_you(carer):
    token = form_token(carer.get("/app/record/mine"))
    assert carer.post("/app/record/mine/allergy", data={"csrf_token": token, "substance": "Peanuts"}).status_code == 303
    text = _text(carer.get("/app/record/lists"))
    assert "Peanuts" in text and "Reported by you" in text
