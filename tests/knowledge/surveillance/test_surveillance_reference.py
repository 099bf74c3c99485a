"""Every detector gives R surveillance's upper bounds, expected values and scores (to 1e-6) and its alarms (exactly)
on the project's own series, across parameter choices. The reference CSVs were made once by make_reference.R."""

import csv
from pathlib import Path

import pytest

from smartcare.knowledge.surveillance import METHODS, detect

REFERENCE = Path(__file__).parent / "reference"
CASES = list(csv.DictReader((REFERENCE / "cases.csv").open()))


def _series(name: str) -> tuple[list[str], list[int]]:
    rows = list(csv.DictReader((REFERENCE / "series" / f"{name}.csv").open()))
    return [r["period"] for r in rows], [int(r["count"]) for r in rows]


def _params(case: dict[str, str]) -> dict[str, object]:
    method = METHODS[case["method"]]
    kinds = {p.name: p for p in method.parameters}
    pairs = [item.split("=", 1) for item in case["params"].split(";") if item]
    return {name: kinds[name].from_text(value) for name, value in pairs}


def _r_number(text: str) -> float | None:
    return None if text == "NA" else float(text)


def _close(ours: float | None, theirs: float) -> bool:
    return ours is not None and abs(ours - theirs) <= 1e-6 * max(1.0, abs(theirs))


@pytest.mark.parametrize("case", CASES, ids=[c["case"] for c in CASES])
def test_bounds_alarms_expected_and_scores_match_r_surveillance(case):
    periods, counts = _series(case["series"])
    rows = detect(case["method"], counts, periods=periods, frequency=int(case["frequency"]), **_params(case))
    reference = {int(r["index"]) - 1: r for r in csv.DictReader((REFERENCE / "results" / f"{case['case']}.csv").open())}
    assert [r.period for r in rows] == periods
    first = min(reference)
    assert all(r.upper is None and r.expected is None and not r.alarm for r in rows[:first])
    assert sorted(reference) == list(range(first, len(counts)))
    mismatches = []
    for i, theirs in reference.items():
        ours, upper = rows[i], _r_number(theirs["upper"])
        if case["method"] == "farrington" and upper == 0:
            upper = None  # algo.farrington writes 0 where too few recent cases leave the period without a bound
        if (upper is None) != (ours.upper is None) or (upper is not None and not _close(ours.upper, upper)):
            mismatches.append((rows[i].period, "upper", ours.upper, upper))
        if ours.alarm != (theirs["alarm"] == "1"):
            mismatches.append((rows[i].period, "alarm", ours.alarm, theirs["alarm"]))
        for column in ("expected", "score"):
            value = _r_number(theirs[column])
            # R's scores where there is no bound (too few recent cases) are not reported by us.
            if value is not None and upper is not None and not _close(getattr(ours, column), value):
                mismatches.append((rows[i].period, column, getattr(ours, column), value))
    assert mismatches == []


def test_the_reference_cases_cover_every_method_and_raise_alarms():
    assert {c["method"] for c in CASES} == set(METHODS)
    for method in METHODS:
        alarms = sum(r["alarm"] == "1" for c in CASES if c["method"] == method
                     for r in csv.DictReader((REFERENCE / "results" / f"{c['case']}.csv").open()))
        assert alarms > 0, method
