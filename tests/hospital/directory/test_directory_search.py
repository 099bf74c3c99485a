"""Doctor search over the store: names in hanzi, pinyin, initials and Latin, departments, symptoms, hospitals, free slots."""

from datetime import UTC, datetime

import pytest

from smartcare.hospital.directory import service
from smartcare.hospital.directory.search_index import DoctorQuery, departments_for_symptom, symptom_table
from tests.hospital.directory.conftest import store_resources


def _ids(**query) -> list[str]:
    return [r.doctor.practitioner_id for r in service.find_doctors(query=DoctorQuery(**query))]


@pytest.mark.parametrize("text", ["张伟", "zhangwei", "ZhangWei", "Zhang Wei", "zw"])
def test_a_doctor_is_found_by_hanzi_pinyin_initials_and_latin_name(directory, text):
    assert _ids(text=text, organization="org-hosp-1")[0] == "t-zhangwei"


def test_a_latin_only_name_is_found_by_either_part(directory):
    assert "t-anna" in _ids(text="schmidt")
    assert "t-anna" in _ids(text="Anna Schmidt")


def test_department_specialty_hospital_and_symptom_filters(directory):
    cardiology = service.find_doctors(query=DoctorQuery(department="cardiology", organization="org-hosp-1"))
    assert cardiology and {r.doctor.department for r in cardiology} == {"cardiology"}
    assert {r.doctor.organization_id for r in cardiology} == {"org-hosp-1"}
    assert cardiology[0].doctor.practitioner_id == "t-zhangwei"  # chief physicians first
    assert "t-zhangwei" in _ids(specialty="394579002")
    headache = service.find_doctors(query=DoctorQuery(symptom="头痛"))
    assert headache and {r.doctor.department for r in headache} == {"neurology"}
    assert {r.doctor.department for r in service.find_doctors(query=DoctorQuery(text="toothache"))} == {"stomatology"}
    assert _ids(text="心血管", organization="org-hosp-2")
    assert "t-zhangwei" not in _ids(department="cardiology", organization="org-hosp-2")
    assert _ids(text="nobody-like-this") == []


def test_the_fee_of_the_doctors_visit_type_is_shown(directory):
    zhang = service.find_doctors(query=DoctorQuery(text="张伟", organization="org-hosp-1"))[0].doctor
    assert zhang.visit_type == "expert" and zhang.fee == 80
    assert zhang.title["zh"] == "主任医师" and "en" in zhang.languages and zhang.photo.startswith("data:image/svg")


def _schedule_and_slots(starts: list[str], status: str = "free") -> None:
    store_resources([
        {"resourceType": "Schedule", "id": "sched-zw", "active": True,
         "actor": [{"reference": "PractitionerRole/role-t-zhangwei"}]},
        *({"resourceType": "Slot", "id": f"slot-zw-{n}", "schedule": {"reference": "Schedule/sched-zw"},
           "status": status, "start": start, "end": start.replace(":00:00", ":15:00")}
          for n, start in enumerate(starts)),
    ])


def test_next_free_slot_and_the_date_filter_follow_free_slots(directory, now):
    now[0] = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)
    _schedule_and_slots(["2026-03-01T09:00:00+08:00", "2026-03-04T10:00:00+08:00", "2026-03-03T14:00:00+08:00"])
    zhang = service.find_doctors(query=DoctorQuery(text="张伟", organization="org-hosp-1"))[0]
    assert zhang.next_free == datetime(2026, 3, 3, 6, 0, tzinfo=UTC)  # the past slot does not count
    on_day = service.find_doctors(query=DoctorQuery(department="cardiology"), on=datetime(2026, 3, 4).date())
    assert [r.doctor.practitioner_id for r in on_day] == ["t-zhangwei"]
    assert service.find_doctors(query=DoctorQuery(department="cardiology"), on=datetime(2026, 3, 5).date()) == []


def test_busy_slots_are_not_free(directory, now):
    now[0] = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)
    _schedule_and_slots(["2026-03-03T09:00:00+08:00"], status="busy")
    assert service.find_doctors(query=DoctorQuery(text="张伟", organization="org-hosp-1"))[0].next_free is None


def test_the_symptom_table_cites_a_source_and_names_real_departments():
    from smartcare.demo.reference import load

    known = {row["key"] for row in load("facilities")["departments"]}
    table = symptom_table()
    assert len(table["source"]) > 40
    assert all(set(row["departments"]) <= known for row in table["symptoms"])
    assert departments_for_symptom("chest pain") == (["emergency", "cardiology"], True)


def test_the_api_answers_strangers_with_documented_shapes(directory, anonymous):
    found = anonymous.get("/api/v1/doctors", params={"q": "zhangwei", "organization": "org-hosp-1"})
    assert found.status_code == 200
    body = found.json()
    assert body["count"] >= 1 and body["red_flag"] is False
    first = body["doctors"][0]
    assert first["id"] == "t-zhangwei" and first["fee"] == {"value": 80.0, "currency": "CNY"}
    assert first["title"]["name_zh"] == "主任医师" and first["department"] == "cardiology"
    assert anonymous.get("/api/v1/doctors", params={"q": "胸痛"}).json()["red_flag"] is True
    depts = anonymous.get("/api/v1/departments", params={"organization": "org-hosp-1"}).json()["departments"]
    keys = {d["key"] for d in depts}
    assert {"tcm", "ent", "stomatology", "rehabilitation", "ophthalmology", "dermatology"} <= keys
    cardio = next(d for d in depts if d["key"] == "cardiology")
    assert [f["price"]["value"] for f in cardio["fees"]] == [50, 60, 80] and cardio["opening_hours"]
    orgs = anonymous.get("/api/v1/organizations").json()["organizations"]
    assert {o["id"] for o in orgs} == {"org-hosp-1", "org-hosp-2", "org-chc-1", "org-chc-2", "org-chc-3"}
    assert anonymous.get("/api/v1/doctors", params={"q": "x" * 61}).status_code == 422
    assert anonymous.get("/api/v1/doctors", params={"date": "not-a-date"}).status_code == 422
    schema = anonymous.get("/openapi.json").json()
    assert "DoctorSearch" in schema["components"]["schemas"] and "/api/v1/doctors" in schema["paths"]


def test_the_public_pages_show_results_in_both_languages(directory, anonymous):
    page = anonymous.get("/doctors", params={"q": "张伟", "organization": "org-hosp-1", "lang": "zh-Hans"})
    assert page.status_code == 200 and "主任医师" in page.text and "¥80" in page.text
    english = anonymous.get("/doctors", params={"q": "zhangwei", "lang": "en"})
    assert "Chief physician" in english.text and "Zhang Wei" in english.text
    profile = anonymous.get("/doctors/t-zhangwei", params={"lang": "en"})
    assert profile.status_code == 200 and "Heart doctor." in profile.text and "08:00" in profile.text
    assert anonymous.get("/doctors/no-such-doctor", headers={"Accept": "text/html"}).status_code == 404


def test_searches_over_many_doctors_split_their_slot_lookups_to_fit_a_search_value():
    from smartcare.hospital.directory.service import _MAX_JOINED, _chunks

    ids = [f"PractitionerRole/role-hosp-1-internal-medicine-{n:04d}" for n in range(120)]
    groups = _chunks(ids, 50)
    assert [i for g in groups for i in g] == ids
    assert all(len(",".join(g)) <= _MAX_JOINED and len(g) <= 50 for g in groups)
    assert _chunks([], 50) == []
