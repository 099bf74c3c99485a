"""A release's figures: which cases count, in which week and district, and how small counts are hidden."""

from datetime import date, datetime

import pytest

from smartcare.regional.public_health.case_model import CaseFacts
from smartcare.regional.public_health.districts import region_districts
from smartcare.regional.public_health.release_figures import (
    Period,
    ReleaseInvalid,
    count_cases,
    default_period,
    parse_period,
    publish,
)
from smartcare.regional.public_health.suppression import HIDDEN, disclosure_rule

HEDONG, HEXI = "339901", "339902"
CODES = [d.code for d in region_districts()]
EIGHT_WEEKS = Period(date(2026, 1, 5), 8)  # 2026-W02 to 2026-W09
ORDER = ["viral-hepatitis", "influenza"]


def case(n: int, disease: str = "influenza", *, onset: str | None = "2026-02-24", state: str = "submitted",
         district: str | None = HEDONG, diagnosed: str | None = None, outcome: str | None = None) -> CaseFacts:
    return CaseFacts(
        id=f"r{n}", state=state, disease=disease, subtype=None, classification="confirmed", patient=f"Patient/p{n}",
        practitioner=None, organization=None, onset=date.fromisoformat(onset) if onset else None,
        diagnosed_at=datetime.fromisoformat(diagnosed) if diagnosed else None, deadline=None, submitted_at=None,
        escalated_at=None, district=district, duplicate_of=None, outcome=outcome)


def cases(count: int, start: int = 0, **kw) -> list[CaseFacts]:
    return [case(start + n, **kw) for n in range(count)]


def figures_of(facts: list[CaseFacts], period: Period = EIGHT_WEEKS) -> dict:
    return publish(count_cases(facts, period, CODES), period, districts=CODES, order=ORDER, rule=disclosure_rule())


def by_district(table: dict) -> dict:
    return {g["district"]: g["count"] for g in table["districts"]}


def by_week(table: dict) -> dict:
    return {w["week"]: w["count"] for w in table["weeks"]}


def test_only_reports_in_counted_states_count_in_the_week_and_district_of_the_case():
    facts = [
        *cases(6, state="submitted"), *cases(2, 10, state="verified"), *cases(1, 20, state="closed"),
        *cases(1, 30, state="correction-requested"),
        case(40, state="draft"), case(41, state="discarded"), case(42, state="duplicate"),
        case(46, state="closed", outcome="not-a-case"),
        case(43, onset="2025-12-31"),  # before the period
        case(44, onset=None, diagnosed="2026-03-02T09:00:00+08:00"),  # after it
        case(45, onset=None, diagnosed="2026-02-25T09:00:00+08:00", district=HEXI),  # counted on diagnosis day
        *cases(5, 50, district="999999"),  # a district outside the region
    ]
    figures = figures_of(facts)
    influenza = figures["diseases"][0]
    assert influenza["disease"] == "influenza" and len(figures["diseases"]) == 1
    assert influenza["total"] == 16
    assert by_week(influenza)["2026-W09"] == 16 and by_week(influenza)["2026-W08"] == 0
    # Hexi's one case reads "<5"; the 5 from outside the region are hidden too, or 16 - 10 would give it back.
    assert by_district(influenza) == {HEDONG: 10, HEXI: "<5", "339903": 0, "339904": 0, "339905": 0, None: HIDDEN}
    assert figures["districts"] == [*CODES, None]


def test_counts_from_one_to_four_read_less_than_five_and_a_lone_hidden_count_is_covered_by_another():
    # Week 9: Hedong 7 and Hexi 3 cases of influenza; total 10 would give Hexi's 3 back from Hedong's 7.
    figures = figures_of(cases(7) + cases(3, 10, district=HEXI))
    influenza = figures["diseases"][0]
    cells = {(c["week"], c["district"]): c["count"] for c in influenza["cells"]}
    assert cells[("2026-W09", HEXI)] == "<5"
    assert cells[("2026-W09", HEDONG)] == HIDDEN
    assert by_week(influenza)["2026-W09"] == 10 and influenza["total"] == 10
    # The by-district table of the whole period hides the same pair, and zeros stay zeros.
    assert by_district(influenza)[HEXI] == "<5" and by_district(influenza)[HEDONG] == HIDDEN
    assert by_district(influenza)["339903"] == 0 and cells[("2026-W08", HEDONG)] == 0


def test_no_published_line_keeps_exactly_one_hidden_count_beside_its_total():
    facts = (cases(9) + cases(2, 20, district=HEXI) + cases(6, 30, disease="viral-hepatitis", onset="2026-02-10")
             + cases(1, 40, disease="viral-hepatitis", onset="2026-01-20", district="339904"))
    figures = figures_of(facts)
    for table in [figures["all"], *figures["diseases"]]:
        for part in ("weeks", "districts"):
            values = [entry["count"] for entry in table[part]]
            hidden = [v for v in values if isinstance(v, str)]
            assert len(hidden) != 1 or isinstance(table["total"], str), (part, values, table["total"])
    assert figures["all"]["recent_4_weeks"] != 1


def test_trends_compare_the_last_four_weeks_with_the_four_before():
    facts = cases(8, onset="2026-02-17") + cases(6, 20, onset="2026-01-13")
    influenza = figures_of(facts)["diseases"][0]
    assert (influenza["recent_4_weeks"], influenza["previous_4_weeks"]) == (8, 6)
    assert figures_of(facts, Period(date(2026, 2, 2), 4))["all"]["recent_4_weeks"] is None


def test_diseases_follow_the_list_order_and_those_without_cases_are_left_out():
    facts = cases(5) + cases(5, 10, disease="viral-hepatitis")
    assert [d["disease"] for d in figures_of(facts)["diseases"]] == ["viral-hepatitis", "influenza"]
    assert figures_of([])["diseases"] == [] and figures_of([])["all"]["total"] == 0


def test_the_default_period_is_the_last_eight_complete_weeks():
    period = default_period(date(2026, 3, 2))
    assert (period.start, period.end, period.weeks) == (date(2026, 1, 5), date(2026, 3, 1), 8)
    assert parse_period("", "", today=date(2026, 3, 4)) == period
    assert parse_period("2026-W05", "2026-w09", today=date(2026, 3, 4)) == Period(date(2026, 1, 26), 5)


@pytest.mark.parametrize(("first", "last", "field"), [
    ("2026-W09", "2026-W10", "last_week"),  # the current week is not complete
    ("2026-W09", "2026-W05", "first_week"),
    ("2025-W01", "2026-W09", "first_week"),  # longer than 26 weeks
    ("last month", "2026-W09", "first_week"),
    ("2026-W60", "2026-W09", "first_week"),
    ("2026-W05", "<script>", "last_week"),
])
def test_a_period_that_cannot_be_released_names_the_field_to_change(first, last, field):
    with pytest.raises(ReleaseInvalid) as caught:
        parse_period(first, last, today=date(2026, 3, 4))
    assert caught.value.field == field
