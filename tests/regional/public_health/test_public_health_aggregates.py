"""Counting conditions by week, district and ICD-10 code: which records count where, and which requests are refused."""

from datetime import date

import pytest

from smartcare.regional.public_health.aggregates import (
    AggregateQuery,
    AggregateRequestInvalid,
    case_day,
    district_of,
    parse_query,
    publish,
    tally,
    week_of,
)
from smartcare.regional.public_health.suppression import disclosure_rule
from tests.regional.conftest import HEDONG, HEXI, condition, patient, region_resources

TODAY = date(2026, 1, 21)  # a Wednesday
JANUARY = AggregateQuery(None, date(2026, 1, 5), date(2026, 1, 18))


def records(resources):
    patients = {f"Patient/{r['id']}": r for r in resources if r["resourceType"] == "Patient"}
    return [(r, patients.get(r["subject"]["reference"])) for r in resources if r["resourceType"] == "Condition"]


@pytest.mark.parametrize(("day", "monday"), [
    (date(2026, 1, 5), date(2026, 1, 5)), (date(2026, 1, 11), date(2026, 1, 5)), (date(2026, 1, 12), date(2026, 1, 12)),
    (date(2021, 1, 3), date(2020, 12, 28)),
])
def test_weeks_are_iso_weeks_starting_on_monday(day, monday):
    assert week_of(day) == monday


@pytest.mark.parametrize(("fields", "expected"), [
    ({"onsetDateTime": "2026-01-06T23:30:00+08:00"}, date(2026, 1, 6)),  # the day as the hospital wrote it
    ({"onsetDateTime": "2026-01", "recordedDate": "2026-01-14"}, date(2026, 1, 14)),  # onset not known to the day
    ({"onsetPeriod": {"start": "2026-01-08"}}, date(2026, 1, 8)),
    ({"onsetString": "last winter", "recordedDate": "2026-01-09T10:00:00Z"}, date(2026, 1, 9)),
    ({"onsetString": "last winter"}, None),
    ({"onsetDateTime": "2026-02-30"}, None),
])
def test_a_condition_counts_on_its_onset_day_else_the_day_it_was_recorded(fields, expected):
    assert case_day({"resourceType": "Condition", **fields}) == expected


@pytest.mark.parametrize(("addresses", "expected"), [
    ([{"use": "home", "district": "Hexi District", "city": "Riverside City"}], "Hexi District"),
    ([{"use": "work", "district": "Hedong District"}, {"use": "home", "district": "Hexi District"}], "Hexi District"),
    ([{"use": "old", "district": "Hedong District"}, {"city": "Riverside City"}], "Riverside City"),
    ([{"use": "home", "line": ["1 Jiefang Road"]}], None),
    ([], None),
])
def test_the_district_is_the_home_addresss_or_its_city(addresses, expected):
    assert district_of({"resourceType": "Patient", "address": addresses}) == expected


def test_the_region_counts_into_the_expected_weeks_and_districts():
    counts = tally(records(region_resources()), JANUARY)
    assert counts.cells == {
        (date(2026, 1, 5), HEDONG): 7, (date(2026, 1, 5), HEXI): 2,
        (date(2026, 1, 12), HEDONG): 6, (date(2026, 1, 12), HEXI): 6,
    }
    assert counts.codes == {"J10.1": 16, "A09": 5}


def test_errors_refutations_other_periods_and_uncoded_conditions_do_not_count():
    pat = patient(1, HEDONG)
    ignored = [
        condition("e", "ph-pat-1", "J10.1", onset="2026-01-07", verification="entered-in-error"),
        condition("r", "ph-pat-1", "J10.1", onset="2026-01-07", verification="refuted"),
        condition("b", "ph-pat-1", "J10.1", onset="2026-01-04"),
        condition("a", "ph-pat-1", "J10.1", onset="2026-01-19"),
        condition("s", "ph-pat-1", "6142004", onset="2026-01-07", system="http://snomed.info/sct"),
    ]
    assert tally([(c, pat) for c in ignored], JANUARY).codes == {}
    counted = condition("p", "ph-pat-1", "J10.1", onset="2026-01-07", verification="provisional")
    assert tally([(counted, pat)], JANUARY).codes == {"J10.1": 1}


@pytest.mark.parametrize(("prefix", "codes"), [("J10", {"J10.1": 16}), ("J101", {"J10.1": 16}), ("A", {"A09": 5}),
                                               ("J11", {})])
def test_a_code_counts_what_starts_with_it(prefix, codes):
    query = AggregateQuery(prefix, JANUARY.start, JANUARY.end)
    assert dict(tally(records(region_resources()), query).codes) == codes


def test_published_counts_hide_small_cells_and_those_that_would_give_them_away():
    result = publish(tally(records(region_resources()), JANUARY), JANUARY, disclosure_rule())
    cells = {(c["week"], c["district"]): c["count"] for c in result["cells"]}
    assert cells[("2026-01-05", HEXI)] == "<5"
    # The 2 would come back as 9 - 7 and as 8 - 6: the others in its week and district are hidden too.
    assert cells[("2026-01-05", HEDONG)] == "suppressed"
    assert cells[("2026-01-12", HEXI)] == "suppressed" and cells[("2026-01-12", HEDONG)] == "suppressed"
    assert result["weeks"] == [{"week": "2026-01-05", "count": 9}, {"week": "2026-01-12", "count": 12}]
    assert result["districts"] == [{"district": HEDONG, "count": 13}, {"district": HEXI, "count": 8}]
    assert result["total"] == 21
    assert result["codes"] == [{"code": "A09", "display": "Gastroenteritis", "count": 5},
                               {"code": "J10.1", "display": "Influenza", "count": 16}]
    assert (result["threshold"], result["shown_as"]) == (5, "<5") and "re-identification" in result["reason"]


def test_a_single_small_count_hides_its_total_too():
    query = AggregateQuery("A09", JANUARY.start, JANUARY.end)
    resources = [r for r in region_resources() if r["resourceType"] == "Patient" or r["id"] in
                 ("ph-cond-16", "ph-cond-17", "ph-cond-18")]
    result = publish(tally(records(resources), query), query, disclosure_rule())
    assert result["total"] == "<5" and result["codes"] == [{"code": "A09", "display": "Gastroenteritis", "count": "<5"}]
    assert [w["count"] for w in result["weeks"]] == [0, "<5"]


@pytest.mark.parametrize(("params", "expected", "weeks"), [
    ([], AggregateQuery(None, date(2025, 11, 3), date(2026, 1, 25)), 12),
    ([("code", "j10"), ("from", "2026-01-07"), ("to", "2026-01-13")], AggregateQuery("J10", date(2026, 1, 5), date(2026, 1, 18)), 2),
    ([("code", "A09.0")], AggregateQuery("A09.0", date(2025, 11, 3), date(2026, 1, 25)), 12),
])
def test_requests_are_widened_to_whole_weeks(params, expected, weeks):
    query = parse_query(params, today=TODAY)
    assert query == expected
    assert len(query.weeks) == weeks


@pytest.mark.parametrize("params", [
    [("code", "J10%")], [("code", "10")], [("code", "J10.1.2")], [("code", "' OR 1=1 --")], [("code", "J" * 50)],
    [("from", "2026-13-01")], [("from", "20260101")], [("from", "2026-01-01T00:00")], [("to", "x" * 1000)],
    [("from", "2026-02-01"), ("to", "2026-01-01")], [("from", "2024-01-01"), ("to", "2026-01-01")],
    [("district", "Hedong")], [("code", "J10"), ("code", "A09")], [("_include", "Condition:subject")],
])
def test_hostile_or_malformed_requests_are_refused(params):
    with pytest.raises(AggregateRequestInvalid):
        parse_query(params, today=TODAY)
