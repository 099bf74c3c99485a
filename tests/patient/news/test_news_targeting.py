"""Targeting: a patient sees the public articles and those for their district, age and conditions, no others."""

import re
from datetime import date

import pytest

from smartcare.patient.news import targeting
from smartcare.patient.news.targeting import Reader
from tests.patient.news.conftest import condition, patient, write
from tests.web_support import browser, sign_in


def article(**targets) -> dict:
    return {"districts": "", "age_min": None, "age_max": None, "icd10_prefixes": "", **targets}


@pytest.mark.parametrize(("targets", "reached"), [
    ({}, True),
    ({"districts": "hedong"}, True),
    ({"districts": "hexi xincheng"}, False),
    ({"age_min": 65}, True),
    ({"age_max": 17}, False),
    ({"age_min": 18, "age_max": 64}, False),
    ({"icd10_prefixes": "E11"}, True),
    ({"icd10_prefixes": "E1"}, True),
    ({"icd10_prefixes": "I10 E119"}, True),
    ({"icd10_prefixes": "I10"}, False),
    ({"districts": "hedong", "icd10_prefixes": "J45"}, False),
])
def test_an_article_reaches_a_reader_when_every_target_holds(targets, reached):
    reader = Reader(district="hedong", age=75, conditions=frozenset({"E119"}))
    assert targeting.reaches(article(**targets), reader) is reached


def test_a_visitor_signed_out_and_a_reader_without_a_record_get_public_articles_only():
    for reader in (None, Reader()):
        assert targeting.reaches(article(), reader)
        assert not targeting.reaches(article(districts="hedong"), reader)
        assert not targeting.reaches(article(age_min=0), reader)


def test_the_reader_comes_from_the_address_birth_date_and_current_conditions():
    record = patient("p", district="Hexi District", born="2000-03-03")
    conditions = [condition("a", "p", "J45.909"), condition("b", "p", "I10", status="resolved"),
                  {**condition("c", "p", "E66"), "verificationStatus": {"coding": [{"code": "refuted"}]}}]
    reader = targeting.reader_from(record, conditions, date(2026, 3, 2))
    assert reader == Reader(district="hexi", age=25, conditions=frozenset({"J45909"}))
    chinese = {**record, "address": [{"use": "home", "text": "澜湾市湖滨区湖滨路1号"}]}
    assert targeting.district_of(chinese) == "hubin"
    assert targeting.district_of({**record, "address": [{"postalCode": "339500"}]}) == "shanqian"
    assert targeting.district_of({"address": [{"district": "Elsewhere"}]}) is None


@pytest.mark.parametrize(("born", "age"), [("1950-05-01", 75), ("1950-03-02", 76), ("1950", 76), ("", None),
                                           ("2030-01-01", None), ("19xx", None)])
def test_age_is_counted_in_full_years(born, age):
    assert targeting.age_on(born, date(2026, 3, 2)) == age


def _titles(page) -> set[str]:
    return {t for t in ("Everyone", "Hedong", "Hexi", "Seniors", "Young adults", "Diabetes", "Hypertension")
            if f">{t}</a>" in page.text}


@pytest.fixture
def targeted(region):
    a = region.authority
    write(region.engine, a, title_en="Everyone")
    write(region.engine, a, title_en="Hedong", districts=("hedong",))
    write(region.engine, a, title_en="Hexi", districts=("hexi",))
    write(region.engine, a, title_en="Seniors", age_min=65)
    write(region.engine, a, title_en="Young adults", age_min=18, age_max=40)
    write(region.engine, a, title_en="Diabetes", icd10_prefixes=("E11",))
    write(region.engine, a, title_en="Hypertension", icd10_prefixes=("I10",))
    return region


def test_each_patient_sees_the_public_articles_and_their_own_targets_only(targeted):
    with browser() as web:
        assert _titles(web.get("/app/news")) == {"Everyone"}
        sign_in(web, "patient.test")
        mine = web.get("/app/news")
        assert mine.status_code == 200 and mine.headers["cache-control"] == "no-store"
        assert _titles(mine) == {"Everyone", "Hedong", "Seniors", "Diabetes"}
    with browser() as web:
        sign_in(web, "patient2.test")
        # A resolved hypertension no longer counts.
        assert _titles(web.get("/app/news")) == {"Everyone", "Hexi", "Young adults"}


def test_an_article_not_meant_for_the_reader_is_not_found(targeted):
    with browser() as web:
        sign_in(web, "patient.test")
        listing = web.get("/app/news").text
        hedong = re.search(r'href="/app/news/([0-9a-f-]+)">Hedong</a>', listing)[1]
        assert web.get(f"/app/news/{hedong}").status_code == 200
    with browser() as web:
        assert web.get(f"/app/news/{hedong}").status_code == 404
        sign_in(web, "patient2.test")
        assert web.get(f"/app/news/{hedong}").status_code == 404


def test_reading_the_patients_record_for_targeting_is_audited_as_the_patient(targeted):
    from smartcare.platform import audit
    from smartcare.platform.db import unit_of_work

    with browser() as web:
        sign_in(web, "patient.test")
        web.get("/app/news")
    with unit_of_work(targeted.engine) as conn:
        reads = audit.search(conn, agent="user/patient.test", patient="Patient/pa1")
    assert {e["subtype"] for e in reads} >= {"read", "search"}
