"""The resident's basic public-health record: the national data set read live from every institution's records, its
completeness, and the community doctor's form that checks everything before writing anything."""

from datetime import date

import pytest

from smartcare.fhir import store
from smartcare.fhir.http import FhirRequest
from smartcare.fhir.interactions import dispatch
from smartcare.platform.db import unit_of_work
from smartcare.platform.security.context import SYSTEM
from smartcare.regional.records import basic_form, basic_record
from tests.regional.records.conftest import ORG_A, ORG_C, RESIDENT_ID, sent
from tests.web_support import browser, form_token, make_user, sign_in

FORM = "/workstation/patients/rr-c/health-record"


def written_by_form(engine) -> list[dict]:
    """Every record the form wrote, whoever may see it."""
    system = basic_record.data()["identifier_system"]
    found = []
    with unit_of_work(engine) as conn:
        for res_type in basic_record.BASIC_TYPES[1:]:
            body = dispatch(conn, SYSTEM, FhirRequest(method="GET", path=res_type, query=[
                ("identifier", f"{system}|"), ("_count", "100")])).body
            found += [e["resource"] for e in body.get("entry", []) if e.get("search", {}).get("mode") == "match"]
    return found


def test_the_data_set_file_cites_its_source_and_its_codes_are_consistent():
    spec = basic_record.data()
    assert "国家基本公共卫生服务规范" in spec["source"] and "72166-2" in spec["source"]
    assert spec["smoking"]["loinc"] == "72166-2"
    keys = [d["key"] for d in spec["diseases"]]
    assert len(keys) == len(set(keys)) and all(d["en"] and d["zh"] and d["prefixes"] for d in spec["diseases"])
    for item in ("smoking", "drinking", "exercise", "diet", "disability"):
        answers = [a["key"] for a in spec[item]["answers"]]
        assert len(answers) == len(set(answers)) and all(a["zh"] for a in spec[item]["answers"])


@pytest.mark.parametrize(("value", "problem"), [
    ("2020-05-17", None), ("2020-05", None), ("1999", None),
    ("2020-13-01", "There is no such date."), ("2021-02-30", "There is no such date."),
    ("17/05/2020", "Enter the date as YYYY-MM-DD, YYYY-MM or YYYY."), ("2026-03-03", "The date cannot be in the future."),
    ("1974-12", "The date cannot be before the date of birth."), ("1975-02", None),
])
def test_dates_on_the_form_are_checked(value, problem):
    assert basic_form.check_date(value, today=date(2026, 3, 2), birth="1975-02-03") == problem


def test_none_together_with_listed_items_is_refused_and_long_text_is_limited():
    with pytest.raises(basic_form.BasicRecordInvalid) as refused:
        basic_form.read_form({"surgery.none": "on", "surgery.1.name": "Appendectomy", "allergy.other": "x" * 201,
                              "disability.none": "on", "disability.visual": "on", "smoking": "cigars"},
                             today=date(2026, 3, 2), birth="1975-02-03")
    assert {p.field for p in refused.value.problems} == {"surgery.none", "allergy.other", "disability", "smoking"}


@pytest.fixture
def community_doctor(engine, resident, now):
    """A doctor of the community health centre that has Wang Fang on its books as rr-c."""
    make_user(engine, "doctor", "cdoc.test", organization=f"Organization/{ORG_C}", fhir_ref="Practitioner/cdoc")
    with browser() as web:
        sign_in(web, "cdoc.test")
        yield web


def test_the_record_shows_what_is_missing_before_the_doctor_completes_it(community_doctor):
    page = community_doctor.get(FORM, params={"lang": "en"})
    assert page.status_code == 200 and 'action="/workstation/patients/rr-c/health-record"' in page.text
    # Nothing any institution sent covers these (what the others sent may fill more, as the policy allows).
    for missing in ("Operations", "Blood transfusions", "Family history", "Smoking", "Dietary habits", "Disability"):
        assert f">{missing}</li>" in page.text
    assert "••••••••••••••0421" in page.text and RESIDENT_ID not in page.text


def test_a_bad_date_gives_a_message_in_the_doctors_language_and_writes_nothing(engine, community_doctor):
    token = form_token(community_doctor.get(FORM))
    fields = {"csrf_token": token, "disease.hypertension": "on", "disease.hypertension.date": "2020/05",
              "smoking": "never", "allergy.penicillin": "on"}
    refused = community_doctor.post(FORM, data=fields, params={"lang": "en"})
    assert refused.status_code == 400
    assert "Enter the date as YYYY-MM-DD, YYYY-MM or YYYY." in refused.text and 'value="2020/05"' in refused.text
    refused_zh = community_doctor.post(FORM, data=fields, params={"lang": "zh-Hans"})
    assert refused_zh.status_code == 400 and "请按 YYYY-MM-DD、YYYY-MM 或 YYYY 的格式填写日期。" in refused_zh.text
    assert "未保存任何内容" in refused_zh.text
    assert written_by_form(engine) == []


def test_the_form_saves_as_fhir_records_and_completes_the_record(engine, community_doctor):
    token = form_token(community_doctor.get(FORM))
    saved = community_doctor.post(FORM, data={
        "csrf_token": token, "disease.hypertension": "on", "disease.hypertension.date": "2020-05",
        "surgery.1.name": "Appendectomy", "surgery.1.date": "1999", "trauma.none": "on", "transfusion.none": "on",
        "family.father.stroke": "on", "smoking": "former", "drinking": "occasional", "exercise": "weekly",
        "diet.salty": "on", "disability.none": "on", "allergy.penicillin": "on"})
    assert saved.status_code == 303 and saved.headers["location"].endswith("/health-record?saved=1")
    page = community_doctor.get(saved.headers["location"] + "&lang=en")
    assert "The basic health record was saved." in page.text
    assert "Past diseases</li>" not in page.text and "Smoking</li>" not in page.text
    written = {r["resourceType"] for r in written_by_form(engine)}
    assert written == {"Condition", "Procedure", "FamilyMemberHistory", "Observation", "AllergyIntolerance",
                       "QuestionnaireResponse"}
    smoking = [r for r in written_by_form(engine) if r["resourceType"] == "Observation"
               and r["code"]["coding"][0]["code"] == "72166-2"]
    assert smoking[0]["valueCodeableConcept"]["coding"][0]["code"] == "8517006"
    assert smoking[0]["meta"]["source"] == f"Organization/{ORG_C}"


def test_saving_again_updates_the_same_records_and_a_cleared_item_is_withdrawn(engine, community_doctor):
    token = form_token(community_doctor.get(FORM))
    community_doctor.post(FORM, data={"csrf_token": token, "disease.diabetes": "on", "smoking": "current"})
    community_doctor.post(FORM, data={"csrf_token": token, "smoking": "never"})
    records = written_by_form(engine)
    assert len([r for r in records if r["resourceType"] == "Observation"]) == 1
    [diabetes] = [r for r in records if r["resourceType"] == "Condition"]
    assert diabetes["verificationStatus"]["coding"][0]["code"] == "entered-in-error"
    page = community_doctor.get(FORM, params={"lang": "en"})
    assert 'name="disease.diabetes" checked' not in page.text and 'value="never" checked' in page.text


def test_what_the_feeds_send_appears_in_the_basic_record_at_once(engine, community_doctor):
    with unit_of_work(engine) as conn:
        store.update(conn, SYSTEM, sent(ORG_C, {
            "resourceType": "Observation", "id": "rr-smoke-feed", "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "72166-2"}]},
            "subject": {"reference": "Patient/rr-c"}, "effectiveDateTime": "2026-01-15",
            # "Current every day smoker", as hospitals and the demo send it: read as smoking like 77176002.
            "valueCodeableConcept": {"coding": [{"system": "http://snomed.info/sct", "code": "449868002"}]}}),
            res_type="Observation", res_id="rr-smoke-feed")
        store.update(conn, SYSTEM, sent(ORG_C, {
            "resourceType": "Condition", "id": "rr-dm-feed", "subject": {"reference": "Patient/rr-c"},
            "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": "E11.9"}]},
            "onsetDateTime": "2019-04-01"}), res_type="Condition", res_id="rr-dm-feed")
    page = community_doctor.get(FORM, params={"lang": "en"})
    assert ">Smoking</li>" not in page.text and ">Past diseases</li>" not in page.text
    assert 'name="smoking" value="current" checked' in page.text
    assert "recorded by Eastbank Community Health Centre" in page.text


def test_hostile_text_is_stored_as_text_and_shown_escaped(engine, community_doctor):
    token = form_token(community_doctor.get(FORM))
    hostile = "<script>alert(1)</script>"
    saved = community_doctor.post(FORM, data={"csrf_token": token, "surgery.1.name": hostile, "surgery.1.date": "2001"})
    assert saved.status_code == 303
    page = community_doctor.get(FORM)
    assert hostile not in page.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    refused = community_doctor.post(FORM, data={"csrf_token": token, "surgery.2.name": "x" * 5000,
                                                "surgery.2.date": "9" * 5000})
    assert refused.status_code == 400 and "At most 200 characters." in refused.text
    assert [r["code"]["text"] for r in written_by_form(engine) if r["resourceType"] == "Procedure"] == [hostile]


def test_only_community_doctors_save_the_form(engine, resident, now):
    make_user(engine, "doctor", "hdoc.test", organization=f"Organization/{ORG_A}", fhir_ref="Practitioner/hdoc")
    with browser() as web:
        sign_in(web, "hdoc.test")
        page = web.get("/workstation/patients/rr-a/health-record")
        assert page.status_code == 200 and "<form method=\"post\"" not in page.text
        refused = web.post("/workstation/patients/rr-a/health-record",
                           data={"csrf_token": form_token(web.get("/workstation")), "smoking": "never"})
        assert refused.status_code == 403
    assert written_by_form(engine) == []
