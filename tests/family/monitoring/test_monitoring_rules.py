"""The monitoring rules, by table: thresholds and their edges, trends with gaps, units, and the catalogue itself."""

from datetime import UTC, datetime, timedelta

import pytest

from smartcare.family.monitoring import rules
from smartcare.family.monitoring.rules import Reading

T0 = datetime(2026, 3, 2, 0, 30, tzinfo=UTC)  # 08:30 in Shanghai


def bp(systolic, diastolic, day=0, hour=0):
    return Reading("blood-pressure", T0 + timedelta(days=day, hours=hour),
                   {"systolic": systolic, "diastolic": diastolic}, ref=f"Observation/bp-{day}-{hour}")


def one(kind, value, day=0, hour=0):
    return Reading(kind, T0 + timedelta(days=day, hours=hour), {"value": value}, ref=f"Observation/{kind}-{day}-{hour}")


@pytest.mark.parametrize(("reading", "rule_id", "expected"), [
    (bp(180, 110), "bp-crisis", "urgent"),  # exactly 180/110 is a crisis
    (bp(180, 80), "bp-crisis", "urgent"),
    (bp(150, 110), "bp-crisis", "urgent"),
    (bp(179, 109), "bp-crisis", None),
    (one("glucose", 3.89), "glucose-low", "urgent"),
    (one("glucose", 3.9), "glucose-low", None),
    (one("glucose", 2.9), "glucose-low", "asap"),  # level 2 hypoglycaemia raises the severity
    (one("glucose", 16.7), "glucose-high", None),
    (one("glucose", 16.8), "glucose-high", "urgent"),
    (one("spo2", 89), "spo2-low", "urgent"),
    (one("spo2", 90), "spo2-low", None),
    (one("spo2", 89), "spo2-low-copd", None),  # within the COPD target band
    (one("spo2", 87), "spo2-low-copd", "urgent"),
    (one("spo2", 84), "spo2-low-copd", "asap"),
    (one("body-temperature", 38.0), "fever", "routine"),
    (one("body-temperature", 39.6), "fever", "urgent"),
    (one("heart-rate", 121), "heart-rate-abnormal", "urgent"),
    (one("heart-rate", 39), "heart-rate-abnormal", "urgent"),
    (one("heart-rate", 120), "heart-rate-abnormal", None),
    (one("fall", 1), "fall", "stat"),
    (one("glucose", 2.0), "bp-crisis", None),  # a rule about another reading says nothing
])
def test_threshold_rules(reading, rule_id, expected):
    finding = rules.evaluate(rules.rule(rule_id), reading, [], tz="Asia/Shanghai")
    assert (finding.severity if finding else None) == expected


@pytest.mark.parametrize(("days", "expected"), [
    ({0: (150, 95), 1: (145, 92), 2: (142, 91)}, True),  # three days running
    ({0: (150, 95), 2: (145, 92), 4: (142, 91)}, True),  # three of five, with gaps between
    ({0: (150, 95), 4: (142, 91)}, False),  # only two raised days; the gaps do not count as raised
    ({0: (150, 95), 1: (150, 95), 2: (150, 95), 3: (120, 80), 4: (150, 95)}, True),
    ({0: (150, 95), 1: (150, 95), 2: (150, 95), 4: (120, 80)}, False),  # today is normal: no alert now
    ({0: (150, 95), 1: (150, 95), 3: (150, 95), 5: (150, 95)}, True),  # days 1, 3, 5 in the window 1-5
    ({0: (150, 95), 1: (150, 95), 5: (150, 95)}, False),  # day 0 fell out of the window 1-5
])
def test_raised_on_three_of_five_days(days, expected):
    readings = [bp(*values, day=day) for day, values in sorted(days.items())]
    finding = rules.evaluate(rules.rule("bp-raised-3-of-5"), readings[-1], readings[:-1], tz="Asia/Shanghai")
    assert (finding is not None) == expected


def test_a_day_counts_by_its_average_not_by_one_high_reading():
    readings = [bp(150, 95, day=0), bp(150, 95, day=1), bp(160, 96, day=2, hour=0), bp(118, 76, day=2, hour=10)]
    # day 2 averages 139/86: not raised, so the last reading's day is not raised
    assert rules.evaluate(rules.rule("bp-raised-3-of-5"), readings[-1], readings[:-1], tz="UTC") is None


def test_days_are_the_regions_local_days():
    # 23:30 and 00:30 UTC the next day are the same morning in Shanghai: one day, not two.
    evening, morning = T0.replace(hour=23) - timedelta(days=1), T0
    readings = [Reading("blood-pressure", evening, {"systolic": 150, "diastolic": 95}, ref="a"),
                Reading("blood-pressure", morning, {"systolic": 150, "diastolic": 95}, ref="b"),
                bp(150, 95, day=1)]
    assert rules.evaluate(rules.rule("bp-raised-3-of-5"), readings[-1], readings[:-1], tz="UTC") is not None
    assert rules.evaluate(rules.rule("bp-raised-3-of-5"), readings[-1], readings[:-1], tz="Asia/Shanghai") is None


@pytest.mark.parametrize(("weights", "expected"), [
    ({0: 70.0, 1: 71.0, 2: 72.1}, True),
    ({0: 70.0, 2: 72.1}, True),  # a missing day in between
    ({0: 70.0, 3: 72.1}, True),  # exactly 72 hours apart is still within 3 days
    ({0: 70.0, 1: 71.0, 2: 72.0}, False),  # a gain of exactly 2 kg is not more than 2 kg
    ({0: 70.0, 4: 72.5}, False),  # the earlier weight is older than 3 days: nothing to compare
    ({0: 71.0, 1: 69.5, 2: 71.6}, True),  # compared with the lowest weight of the window
    ({2: 75.0}, False),  # a first weight alone says nothing
])
def test_weight_gain_over_three_days(weights, expected):
    readings = [one("body-weight", value, day=day) for day, value in sorted(weights.items())]
    finding = rules.evaluate(rules.rule("weight-gain-hf"), readings[-1], readings[:-1])
    assert (finding is not None) == expected


@pytest.mark.parametrize(("kind", "value", "unit", "expected"), [
    ("glucose", 70, "mg/dL", 3.885),
    ("glucose", 5.5, "mmol/L", 5.5),
    ("body-weight", 154, "[lb_av]", 69.853),
    ("body-temperature", 100.4, "[degF]", 38.0),
])
def test_readings_are_compared_in_the_contracts_units(kind, value, unit, expected):
    assert rules.normalised(kind, {"value": value}, unit)["value"] == pytest.approx(expected, abs=0.001)


def test_mg_dl_glucose_meets_the_mmol_l_threshold():
    low = Reading("glucose", T0, rules.normalised("glucose", {"value": 65}, "mg/dL"))
    assert rules.evaluate(rules.rule("glucose-low"), low, []).severity == "urgent"


def test_an_unknown_unit_is_refused():
    with pytest.raises(rules.RuleError, match="cannot be converted"):
        rules.normalised("glucose", {"value": 5}, "g/L")


def test_a_care_team_adjusts_a_threshold_and_the_rule_follows():
    stricter = rules.adjusted(rules.rule("bp-crisis"), {"systolic": 170})
    assert rules.evaluate(stricter, bp(172, 90), []).severity == "urgent"
    assert rules.evaluate(rules.rule("bp-crisis"), bp(172, 90), []) is None
    glucose = rules.adjusted(rules.rule("glucose-low"), {"value": 4.5})
    assert rules.evaluate(glucose, one("glucose", 4.2), []).severity == "urgent"
    assert rules.evaluate(glucose, one("glucose", 2.9), []).severity == "asap"  # the level 2 condition stays


@pytest.mark.parametrize("changes", [{"systolic": -5}, {"pulse": 100}, {"days": 9}, {"systolic": "high"},
                                     {"systolic": True}])
def test_bad_adjustments_are_refused(changes):
    with pytest.raises(rules.RuleError):
        rules.adjusted(rules.rule("bp-raised-3-of-5" if "days" in changes else "bp-crisis"), changes)


def test_silence_counts_from_the_last_reading_or_the_plan_start():
    rule = rules.rule("no-activity")
    start = T0
    assert not rules.silent(rule, None, start, start + timedelta(hours=11, minutes=59))
    assert rules.silent(rule, None, start, start + timedelta(hours=12))
    assert not rules.silent(rule, start + timedelta(hours=10), start, start + timedelta(hours=21))


def test_the_catalogue_is_consistent_and_every_entry_has_a_source():
    data = rules.catalogue()
    assert data["severities"] == list(rules.SEVERITIES)
    assert data["escalation"]["source"] and set(data["escalation"]["acknowledge_within_minutes"]) == set(
        rules.SEVERITIES)
    for rule_id, rule in data["rules"].items():
        assert rule.get("source"), rule_id
        assert rule["type"] in rules.RULE_TYPES and rule["severity"] in rules.SEVERITIES, rule_id
        assert rule.get("reading", "fall") in data["readings"], rule_id
        assert set(rule.get("readings", [])) <= set(data["readings"]), rule_id
        for condition in rule.get("when", []):
            assert condition["op"] in (">=", ">", "<=", "<") and condition.get("severity", "routine") in \
                rules.SEVERITIES, rule_id
    expected = {"hypertension", "diabetes", "heart-failure", "copd", "post-discharge", "elderly-alone",
                "disability-check-in", "home-isolation"}
    assert set(data["templates"]) == expected
    for name, template in data["templates"].items():
        assert template.get("source") and template["rules"], name
        assert set(template["rules"]) <= set(data["rules"]), name
        assert all(r["type"] in data["readings"] and r["per_day"] > 0 for r in template["readings"]), name


def test_every_rule_and_template_has_its_words_in_the_catalog():
    from smartcare.family.monitoring import texts

    data = rules.catalogue()
    assert {rule_id: rule["label"] for rule_id, rule in data["rules"].items()} == texts.RULE_LABELS
    assert set(data["templates"]) == set(texts.TEMPLATE_LABELS)
    assert set(texts.SEVERITY_LABELS) == set(rules.SEVERITIES)
    assert data["symptoms"]["source"] and all(s["code"].isdigit() for s in data["symptoms"]["codes"].values())


@pytest.mark.parametrize(("reading", "rule_id", "expected"), [
    (bp(180, 110), "bp-crisis", True),
    (bp(179, 109), "bp-crisis", False),
    (bp(140, 80), "bp-raised-3-of-5", True),  # a raised reading is judged against the window
    (bp(139, 89), "bp-raised-3-of-5", False),  # a normal one cannot make its day raised on its own
    (one("glucose", 5.0), "bp-crisis", False),  # another kind of reading
    (one("body-weight", 60.0), "weight-gain-hf", True),  # a rise always needs the history
])
def test_a_reading_is_judged_against_history_only_when_it_could_fire_the_rule(reading, rule_id, expected):
    assert rules.may_fire(rules.rule(rule_id), reading) is expected
