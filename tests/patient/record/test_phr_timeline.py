"""The record's timeline: one person's records from every institution, newest first, with filters, search and
pages; nobody else's; and a caregiver sees the person they look after."""

import re

from smartcare.platform import audit
from smartcare.platform.db import unit_of_work


def _text(page) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page.text))


def test_the_timeline_shows_records_from_both_institutions_newest_first_with_their_source(li_na):
    page = li_na.get("/app/record")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    text = _text(page)
    for words in ("Influenza vaccine", "Hypertension follow-up", "Fasting glucose", "Amlodipine", "Headache",
                  "Riverside Test Hospital", "Hillside Test Clinic"):
        assert words in text, words
    assert text.index("Influenza vaccine") < text.index("Headache")  # 2026 before 2025
    assert "Asthma" not in text and "Jun Zhou" not in text


def test_filters_by_kind_institution_and_words(li_na):
    only_vaccines = _text(li_na.get("/app/record?kind=vaccination"))
    assert "Influenza vaccine" in only_vaccines and "Headache" not in only_vaccines
    from_clinic = _text(li_na.get(f"/app/record?institution=Organization/{'org-ph-b'}"))
    assert "Hypertension follow-up" in from_clinic and "Fasting glucose" not in from_clinic
    searched = _text(li_na.get("/app/record?q=GLUCOSE"))
    assert "Fasting glucose" in searched and "Influenza vaccine" not in searched and "1 item" in searched


def test_hostile_filters_are_shown_escaped_and_answer_no_error(li_na):
    page = li_na.get("/app/record", params={"q": "<script>alert(1)</script>' OR 1=1 --", "kind": "x" * 500,
                                            "page": "-3", "institution": "<b>"})
    assert page.status_code == 200
    assert "<script>alert(1)" not in page.text and "&lt;script&gt;alert(1)" in page.text
    assert "Nothing matches." in page.text


def test_pages_hold_twenty_items(engine, li_na):
    from smartcare.fhir import store
    from smartcare.platform.security.context import SYSTEM

    with unit_of_work(engine) as conn:
        for n in range(25):
            store.update(conn, SYSTEM, {"resourceType": "Immunization", "id": f"ph-v{n}", "status": "completed",
                                        "vaccineCode": {"text": f"Vaccine number {n}"},
                                        "patient": {"reference": "Patient/ph-a"},
                                        "occurrenceDateTime": f"2024-01-{n + 1:02d}"},
                         res_type="Immunization", res_id=f"ph-v{n}")
    first, second = _text(li_na.get("/app/record")), _text(li_na.get("/app/record?page=2"))
    assert "Page 1 of 2" in first and "31 items" in first and "Vaccine number 0 " not in first
    assert "Page 2 of 2" in second and "Vaccine number 0" in second and "Influenza vaccine" not in second


def test_a_patient_cannot_open_someone_elses_timeline(engine, li_na):
    page = li_na.get("/app/record?person=ph-x")
    assert page.status_code == 404 and "Asthma" not in page.text
    assert li_na.get("/app/record/lists?person=ph-x").status_code == 404
    assert li_na.get("/app/record/export/summary.json?person=ph-x").status_code == 404


def test_a_caregiver_sees_the_dependants_record_and_not_li_nas(carer):
    text = _text(carer.get("/app/record/lists"))
    assert "Asthma" in text and "Jun Zhou" in text
    assert "Hypertension" not in text
    assert carer.get("/app/record?person=ph-a").status_code == 404


def test_every_read_is_audited_as_the_reader(engine, li_na):
    li_na.get("/app/record")
    with unit_of_work(engine) as conn:
        found = audit.search(conn, agent="user/li.na.test", limit=50)
    assert any(e["patient"] in ("Patient/ph-a", "Patient/ph-b") for e in found)


def test_the_timeline_in_chinese(li_na):
    page = li_na.get("/app/record?lang=zh-Hans")
    text = _text(page)
    assert "我的健康档案" in text and "流感疫苗" in text and "空腹血糖" in text


def test_strangers_are_sent_to_sign_in(anonymous):
    for path in ("/app/record", "/app/record/trends", "/app/record/export/summary.json", "/app/record/trends.js"):
        answer = anonymous.get(path, follow_redirects=False)
        assert answer.status_code == 303 and answer.headers["location"].startswith("/login")
