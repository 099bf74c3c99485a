"""k-anonymity and risk measures on hand-made data, with the expected figures worked out by hand."""

from collections import Counter
from datetime import date

import pytest

from smartcare.regional.research import kanon
from smartcare.regional.research.extract import aggregates, shift_days, shifted


def test_risk_figures_on_a_hand_made_release():
    # Released classes: A x3, B x5, C x2 (10 records); population: A 6, B 10, C 2.
    released = [("A",)] * 3 + [("B",)] * 5 + [("C",)] * 2
    population = Counter({("A",): 6, ("B",): 10, ("C",): 2})
    risk = kanon.measure(released, population)
    assert risk.records == 10 and risk.classes == 3 and risk.smallest_class == 2
    assert risk.prosecutor_max == pytest.approx(1 / 2)
    assert risk.prosecutor_average == pytest.approx(3 / 10)  # (3*1/3 + 5*1/5 + 2*1/2) / 10
    assert risk.records_at_risk == 5 and risk.share_at_risk == pytest.approx(0.5)  # A and C: risk 1/3 and 1/2 > 0.2
    assert risk.journalist_max == pytest.approx(1 / 2)  # smallest population class: C, 2
    assert risk.marketer == pytest.approx((3 / 6 + 5 / 10 + 2 / 2) / 10)


def test_an_empty_release_has_no_risk():
    risk = kanon.measure([], Counter())
    assert (risk.records, risk.prosecutor_max, risk.records_at_risk, risk.journalist_max) == (0, 0.0, 0, 0.0)


def person(key: str, age: int | None, sex: str, district: str, city: str = "Riverside") -> kanon.Person:
    return kanon.Person(key, age, sex, district, city)


def test_generalisation_goes_coarser_only_as_far_as_needed_and_suppresses_the_rest():
    people = [person(f"a{n}", 31 + n % 3, "female", "East") for n in range(5)]  # 31-33, one district: k=5 at once
    assert kanon.generalise(people).level == kanon.GENERALISATION[0] and not kanon.generalise(people).suppressed
    # Ages 32 and 38 split 5-year bands (30-34, 35-39) but share the 10-year band.
    people = [person(f"b{n}", 32 if n < 3 else 38, "male", "East") for n in range(6)]
    result = kanon.generalise(people)
    assert result.level == kanon.Level(10, True) and set(result.classes.values()) == {("30-39", "male", "East, Riverside")}
    # Two districts of three each: only the city makes five; one person of 95 is suppressed at every level.
    people = [person(f"c{n}", 40, "female", "East" if n < 3 else "West") for n in range(6)]
    people += [person(f"d{n}", 41, "female", "West") for n in range(14)]  # 20 in West at 40-49
    people.append(person("old", 95, "female", "East"))
    result = kanon.generalise(people)
    assert result.level == kanon.Level(10, False)
    assert result.suppressed == ["old"]
    assert all(size >= 5 for size in Counter(result.classes.values()).values())


def test_age_bands_top_code_at_ninety_and_unknowns_stay_a_class_of_their_own():
    assert kanon.age_band(89, 5) == "85-89" and kanon.age_band(90, 5) == "90+" and kanon.age_band(104, 20) == "90+"
    assert kanon.age_band(84, 20) == "80-89" and kanon.age_band(None, 5) == "unknown"
    assert kanon.age_on("1980-04-17", date(2026, 4, 16)) == 45 and kanon.age_on("1980-04-17", date(2026, 4, 17)) == 46
    assert kanon.age_on("1980", date(2026, 1, 1)) == 46 and kanon.age_on("garbage", date(2026, 1, 1)) is None


def test_each_person_has_their_own_shift_and_every_date_of_theirs_moves_by_it():
    key = b"k" * 32
    offsets = {shift_days(f"p{n}", key=key, max_days=30) for n in range(50)}
    assert 0 not in offsets and all(-30 <= d <= 30 for d in offsets) and len(offsets) > 10
    assert shift_days("p1", key=key, max_days=30) == shift_days("p1", key=key, max_days=30)
    assert shift_days("p1", key=key, max_days=365) != shift_days("p1", key=b"j" * 32, max_days=365)
    assert shifted("2026-01-31T23:00:00+08:00", 1) == "2026-02-01T23:00:00+08:00"
    assert shifted("2026-01", 40) == "2026-02" and shifted("2026", 400) == "2026" and shifted("8867-4", 3) == "8867-4"


def test_aggregates_hide_small_cells_and_what_would_give_them_back():
    def patient(n: int, band: str) -> dict:
        return {"resourceType": "Patient", "id": f"p{n}",
                "extension": [{"url": "https://smartcare.example/fhir/StructureDefinition/age-band", "valueString": band}]}

    def condition(n: int, code: str) -> dict:
        return {"resourceType": "Condition", "subject": {"reference": f"Patient/p{n}"},
                "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": code}]}}

    records = [patient(n, "40-49") for n in range(12)] + [condition(n, "E11.9") for n in range(3)]
    records += [condition(n, "J10.1") for n in range(3, 12)] + [condition(3, "J10.0")]
    table = aggregates(records)
    by_code = {row["key"]: row["count"] for row in table["patients_by_icd10_category"]["rows"]}
    # E11 has 3 patients: shown as <5; J10 (9) would give it back from the total (12), so it is hidden too.
    assert by_code == {"E11": "<5", "J10": "suppressed"}
    assert table["patients_by_icd10_category"]["total"] == 12
    assert table["patients_by_age_band"]["rows"] == [{"key": "40-49", "count": 12}]
