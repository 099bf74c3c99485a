"""Lab knowledge: Westgard rules on textbook QC sequences, and delta checks against the previous result."""

import math

import pytest

from smartcare.knowledge import lab

MEAN, SD = 100.0, 2.0


def rules(values):
    return {(v.rule, v.severity, v.points) for v in lab.westgard(values, mean=MEAN, sd=SD)}


def at(*scores):
    return [MEAN + score * SD for score in scores]


def test_in_control_run_breaks_no_rule():
    assert lab.westgard(at(0.5, -0.8, 1.2, -0.3, 0.1), mean=MEAN, sd=SD) == []


def test_one_value_beyond_2sd_only_warns():
    assert rules(at(0.2, -0.5, 2.3)) == {("1-2s", "warning", (2,))}


def test_one_value_beyond_3sd_rejects():
    assert ("1-3s", "reject", (1,)) in rules(at(0.0, -3.2))


def test_two_consecutive_beyond_2sd_same_side_reject():
    assert ("2-2s", "reject", (1, 2)) in rules(at(0.0, 2.1, 2.4))
    assert not any(rule == "2-2s" for rule, _, _ in rules(at(2.1, 0.0, 2.4)))


def test_one_above_plus_2sd_and_next_below_minus_2sd_is_r4s():
    assert ("R-4s", "reject", (1, 2)) in rules(at(0.0, 2.2, -2.3))


def test_four_consecutive_beyond_1sd_same_side_reject():
    assert ("4-1s", "reject", (0, 1, 2, 3)) in rules(at(1.2, 1.5, 1.1, 1.3))
    assert not any(rule == "4-1s" for rule, _, _ in rules(at(1.2, 1.5, 0.9, 1.3)))


def test_ten_on_one_side_of_the_mean_is_10x():
    found = rules(at(0.3, 0.5, 0.2, 0.8, 0.1, 0.4, 0.6, 0.2, 0.3, 0.5))
    assert found == {("10x", "reject", tuple(range(10)))}
    assert rules(at(0.3, 0.5, 0.2, 0.8, -0.1, 0.4, 0.6, 0.2, 0.3, 0.5)) == set()


def test_exactly_2sd_is_not_beyond_2sd():
    assert rules(at(2.0)) == set()


@pytest.mark.parametrize(("values", "sd"), [([1.0, math.nan], 1.0), ([1.0, math.inf], 1.0), ([1.0], 0.0),
                                            ([1.0], -1.0), ("12", 1.0)])
def test_westgard_rejects_hostile_input(values, sd):
    with pytest.raises(ValueError):
        lab.westgard(values, mean=0.0, sd=sd)


def test_potassium_jump_beyond_the_reference_change_value_is_held():
    result = lab.delta_check("2823-3", 5.2, 4.0, hours_between=24)
    assert result is not None
    assert result.change == pytest.approx(1.2)
    assert result.percent_change == pytest.approx(30)
    assert 15 < result.limit_percent < 25
    assert "Ricos" in result.source


def test_small_change_or_old_previous_result_passes():
    assert lab.delta_check("2823-3", 4.2, 4.0, hours_between=24) is None
    assert lab.delta_check("2823-3", 5.2, 4.0, hours_between=24 * 30) is None
    assert lab.delta_check("0000-0", 5.2, 1.0, hours_between=1) is None


def test_hs_troponin_uses_the_absolute_one_hour_delta():
    assert lab.delta_check("67151-1", 12, 5, hours_between=1).limit_absolute == 6
    assert lab.delta_check("67151-1", 9, 5, hours_between=1) is None


@pytest.mark.parametrize(("value", "previous", "hours"), [(math.nan, 4.0, 1), (4.0, math.inf, 1), (4.0, 4.0, -1),
                                                          (4.0, 4.0, math.nan)])
def test_delta_check_rejects_hostile_input(value, previous, hours):
    with pytest.raises(ValueError):
        lab.delta_check("2823-3", value, previous, hours_between=hours)
