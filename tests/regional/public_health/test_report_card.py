"""The report card's checks, its data (occupations with their source) and its answers as a QuestionnaireResponse."""

from datetime import UTC, date, datetime

import pytest

from smartcare.regional.public_health import case_model as model
from smartcare.regional.public_health import report_card as card
from smartcare.regional.public_health import reporting

NOW = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)  # 16:00 in the region
GOOD = {"name": "王芳", "parent_name": "", "id_number": "339901199005040026", "sex": "female",
        "birth_date": "1990-05-04", "phone": "+86 139 0000 1234", "address": "滨河市河东区解放路12号",
        "district": "339901", "occupation": "teacher", "work_unit": "Jiefang Road School",
        "disease": "viral-hepatitis/hepatitis-b", "classification": "confirmed", "onset": "2026-02-27",
        "diagnosed_at": "2026-03-02T15:10", "death_date": "", "remarks": "HBsAg positive twice"}


def _errors(**changes: str) -> dict[str, str]:
    with pytest.raises(card.ReportCardInvalid) as raised:
        card.parse_card({**GOOD, **changes}, cat=reporting.catalogue(), now=NOW)
    return {key: message for key, (message, _values) in raised.value.errors.items()}


def test_the_occupation_list_is_data_citing_the_2015_card():
    data = card.card_data()
    assert "传染病信息报告管理规范（2015年版）" in data["source"] and "recalled" in data["verification"]
    codes = [o["code"] for o in card.occupations()]
    assert len(codes) == len(set(codes)) == 20 and codes[-2:] == ["other", "unknown"]
    assert all(o["en"] and o["zh"] for o in card.occupations())
    assert {r["code"] for r in card.discard_reasons()} >= {"not-a-case", "reported-elsewhere", "other"}


def test_a_good_card_is_read_in_the_regions_time():
    checked = card.parse_card(GOOD, cat=reporting.catalogue(), now=NOW)
    assert (checked.disease.id, checked.subtype.id, checked.classification) == ("viral-hepatitis", "hepatitis-b",
                                                                                "confirmed")
    assert checked.diagnosed_at == datetime(2026, 3, 2, 7, 10, tzinfo=UTC)
    assert checked.district == {"system": model.DISTRICT_SYSTEM, "code": "339901", "display": "Hedong District"}
    assert card.parse_card({**GOOD, "district": card.OUTSIDE}, cat=reporting.catalogue(), now=NOW).district is None


def test_every_mistake_is_named_at_once_against_its_field():
    errors = _errors(name="", sex="x", birth_date="1990-13-40", onset="2026-03-03", diagnosed_at="2026-03-02T18:00",
                     occupation="astronaut", district="000000", disease="flu", phone="call me", id_number="33-<>",
                     remarks="x" * 501)
    assert errors == {"name": card.REQUIRED, "sex": card.CHOOSE, "birth_date": card.BAD_DATE, "onset": card.IN_FUTURE,
                      "diagnosed_at": card.IN_FUTURE, "occupation": card.CHOOSE, "district": card.CHOOSE,
                      "disease": card.UNKNOWN_DISEASE, "phone": card.BAD_PHONE, "id_number": card.BAD_ID,
                      "remarks": card.TOO_LONG}


def test_the_dates_must_agree_with_each_other():
    assert _errors(onset="2026-03-02", diagnosed_at="2026-03-01T09:00") == {"onset": card.ONSET_AFTER_DIAGNOSIS}
    assert _errors(death_date="2026-02-20") == {"death_date": card.DEATH_BEFORE_ONSET}
    assert _errors(birth_date="2026-02-28") == {"onset": card.BEFORE_BIRTH, "parent_name": card.PARENT_NEEDED}
    assert _errors(birth_date="1850-01-01") == {"birth_date": card.TOO_OLD}
    assert _errors(diagnosed_at="yesterday") == {"diagnosed_at": card.BAD_MOMENT}


def test_a_disease_takes_only_its_own_classifications():
    assert _errors(disease="influenza", classification="carrier") == {"classification": card.NOT_ALLOWED}
    assert _errors(classification="probable") == {"classification": card.CHOOSE}


def test_a_child_under_14_needs_a_parents_name():
    assert _errors(birth_date="2015-06-01") == {"parent_name": card.PARENT_NEEDED}
    child = card.parse_card({**GOOD, "birth_date": "2015-06-01", "parent_name": "王强"}, cat=reporting.catalogue(),
                            now=NOW)
    assert child.parent_name == "王强" and card.age_on(child.birth_date, date(2026, 3, 2)) == 10


def test_the_answers_kept_are_the_answers_shown_again():
    checked = card.parse_card(GOOD, cat=reporting.catalogue(), now=NOW)
    response = card.response_resource(checked, patient="Patient/p1", author="Practitioner/d1", now=NOW)
    assert response["questionnaire"] == model.REPORT_CARD and response["status"] == "completed"
    assert {i["linkId"] for i in response["item"]} >= {"occupation", "classification", "onset", "diagnosed_at"}
    assert card.answers_of(response) == {key: value for key, value in GOOD.items() if value}


def test_a_draft_is_prefilled_from_the_report_and_the_patient():
    report = {"resourceType": "Composition", "id": "r1", "category": [reporting.disease_category(
        reporting.catalogue().disease("cholera"), None)], "extension": [
        {"url": model.ONSET, "valueDate": "2026-03-01"},
        {"url": model.DIAGNOSED_AT, "valueDateTime": "2026-03-02T07:10:00Z"}]}
    patient = {"name": [{"text": "李雷"}], "gender": "male", "birthDate": "1980-01-02",
               "identifier": [{"system": "other", "value": "P123"}, {"system": card.RESIDENT_ID, "value": "3399"}],
               "telecom": [{"system": "email", "value": "a@b"}, {"system": "phone", "value": "139"}],
               "address": [{"use": "home", "line": ["3 Hubin Road"], "city": "Riverside City",
                            "district": "Hubin District"}], "deceasedDateTime": "2026-03-02T01:00:00Z"}
    values = card.prefill(report, patient)
    assert values == {"name": "李雷", "id_number": "3399", "sex": "male", "birth_date": "1980-01-02", "phone": "139",
                      "address": "3 Hubin Road Riverside City", "district": "339904", "disease": "cholera",
                      "classification": "", "onset": "2026-03-01", "diagnosed_at": "2026-03-02T15:10",
                      "death_date": "2026-03-02"}
