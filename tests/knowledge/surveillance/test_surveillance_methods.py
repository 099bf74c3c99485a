"""The detectors' registry and entry point: the catalogue, periods without history, the CDC reading of EARS C3,
and input errors that name every problem."""

import statistics

import pytest

from smartcare.knowledge.surveillance import MAX_PERIODS, METHODS, DetectionInputError, detect
from smartcare.knowledge.surveillance.stats import normal_quantile

FLAT_THEN_SPIKE = [5, 6] * 6 + [40, 6, 5]


def _problems(method="ears-c1", counts=(3,) * 20, **kwargs) -> dict[str, str]:
    kwargs.setdefault("frequency", 52)
    with pytest.raises(DetectionInputError) as caught:
        detect(method, list(counts) if isinstance(counts, tuple) else counts, **kwargs)
    return caught.value.problems


def test_the_catalogue_describes_each_method_with_source_r_function_and_typed_parameters():
    assert list(METHODS) == ["ears-c1", "ears-c2", "ears-c3", "cusum", "farrington", "noufaily"]
    noufaily = METHODS["noufaily"].describe()
    assert "Noufaily" in noufaily["source"] and noufaily["r_function"] == "surveillance::farringtonFlexible"
    threshold = next(p for p in noufaily["parameters"] if p["name"] == "threshold_method")
    assert threshold["default"] == "nbPlugin" and threshold["choices"] == ["delta", "nbPlugin", "muan"]
    alpha = next(p for p in METHODS["ears-c1"].describe()["parameters"] if p["name"] == "alpha")
    assert (alpha["type"], alpha["default"], alpha["minimum"], alpha["maximum"]) == ("number", 0.001, 1e-6, 0.5)
    assert METHODS["ears-c3"].resolve({}, 52)["variant"] == "r"


def test_defaults_that_depend_on_the_frequency_are_filled_in_for_it():
    assert METHODS["cusum"].resolve({}, 12)["training"] == 12
    monthly = METHODS["noufaily"].resolve({}, 12)
    assert (monthly["no_periods"], monthly["past_weeks_not_included"]) == (6, 6)
    assert METHODS["noufaily"].resolve({}, 52)["past_weeks_not_included"] == 26


def test_periods_without_enough_history_come_back_unjudged_not_skipped():
    rows = detect("ears-c2", FLAT_THEN_SPIKE, frequency=365)
    assert len(rows) == len(FLAT_THEN_SPIKE) and [r.period for r in rows[:2]] == ["1", "2"]
    assert all(r.expected is None and r.upper is None and r.alarm is False for r in rows[:9])
    assert rows[9].upper is not None and rows[12].alarm is True


def test_c3_alarms_on_the_spike_itself_only_in_the_cdc_reading():
    r_rows = detect("ears-c3", FLAT_THEN_SPIKE, frequency=365)
    cdc_rows = detect("ears-c3", FLAT_THEN_SPIKE, frequency=365, variant="cdc")
    assert (r_rows[12].alarm, r_rows[13].alarm) == (False, True)
    assert cdc_rows[12].alarm is True

    def c2(t: int) -> float:
        reference = FLAT_THEN_SPIKE[t - 9:t - 2]
        return (FLAT_THEN_SPIKE[t] - statistics.mean(reference)) / statistics.stdev(reference)

    before = max(0.0, c2(10) - 1) + max(0.0, c2(11) - 1)
    reference = FLAT_THEN_SPIKE[3:10]
    mean, sd = statistics.mean(reference), statistics.stdev(reference)
    assert cdc_rows[12].upper == pytest.approx(mean + sd * (1 + normal_quantile(0.975) - before))
    assert cdc_rows[12].score == pytest.approx(before + c2(12) - 1)


def test_a_cdc_c3_after_two_high_periods_alarms_whatever_the_count():
    rows = detect("ears-c3", [5, 6] * 6 + [40, 40, 0], frequency=365, variant="cdc")
    assert rows[14].alarm is True and rows[14].upper == 0.0


def test_every_problem_with_the_input_is_named_at_once():
    problems = _problems("no-such-method", [1, -2, 3.5, "x"], frequency=0)
    assert set(problems) == {"method", "frequency", "counts"}
    assert "negative at position 2" in problems["counts"] and "not a whole number at position 3, 4" in problems["counts"]


def test_unknown_and_out_of_range_parameters_are_each_named():
    problems = _problems("farrington", (3,) * 300, b=0, alpha=0.9, colour="red", reweight="maybe")
    assert problems["b"] == "must be at least 1" and problems["alpha"] == "must be at most 0.5"
    assert "not a parameter of farrington" in problems["colour"] and problems["reweight"] == "must be true or false"
    assert _problems("cusum", h=0)["h"] == "must be above 0"
    assert _problems("cusum", m="median")["m"] == "must be a number or one of mean, glm"


def test_a_series_too_short_for_the_method_says_how_long_it_must_be():
    assert _problems("farrington", (3,) * 100)["counts"] == (
        "farrington with these parameters needs at least 264 periods to judge one; the series has 100")
    assert "needs at least 8 periods" in _problems("ears-c1", (3,) * 7)["counts"]


def test_parameters_that_do_not_fit_together_or_the_frequency_are_refused():
    assert "must fit in a year" in _problems("farrington", (3,) * 400, w=30)["w"]
    assert _problems("noufaily", (3,) * 400, frequency=12, no_periods=10)["no_periods"] == (
        "must be at most frequency - 2w (6 here)")
    assert "3 training periods" in _problems("cusum", m="glm", training=2)["training"]


def test_period_labels_must_match_the_counts_be_short_and_unique():
    assert "20 labels" in _problems(periods=["a"])["periods"]
    assert "repeated at position 3" in _problems(periods=["a", "b", "a", *map(str, range(17))])["periods"]
    assert "1 to 40 characters" in _problems(periods=["x" * 41, *map(str, range(19))])["periods"]


def test_too_long_a_series_or_too_large_a_count_is_refused():
    assert f"at most {MAX_PERIODS}" in _problems(counts=[1] * (MAX_PERIODS + 1))["counts"]
    assert "above 1,000,000 at position 1" in _problems(counts=[10**7] + [1] * 19)["counts"]


@pytest.mark.parametrize("method", list(METHODS))
def test_degenerate_series_get_a_row_for_every_period_and_no_error(method):
    zeros, spike = [0] * 280, [0] * 279 + [1_000_000]
    for counts in (zeros, spike):
        rows = detect(method, counts, frequency=52)
        assert len(rows) == 280 and all(r.upper is None or r.upper >= 0 for r in rows)
    assert not any(r.alarm for r in detect(method, zeros, frequency=52))


def test_a_spike_after_an_all_zero_history_alarms_under_farrington_as_in_r():
    rows = detect("farrington", [0] * 279 + [1_000_000], frequency=52)
    assert rows[-1].alarm is True and rows[-1].upper == pytest.approx(0.002098336103364516)
    # Noufaily's larger all-zero fit does not converge within R's 25 iterations: like R, it gives no bound.
    assert detect("noufaily", [0] * 279 + [1_000_000], frequency=52)[-1].upper is None
