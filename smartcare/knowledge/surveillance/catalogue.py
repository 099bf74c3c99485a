"""What each outbreak detector is: its description, its source (paper and R function) and its parameters with types,
defaults and allowed ranges, plus the checks that involve more than one parameter."""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from smartcare.knowledge.surveillance.cusum import TRANSFORMATIONS
from smartcare.knowledge.surveillance.ears import C3_VARIANTS
from smartcare.knowledge.surveillance.farrington import POWER_TRANSFORMATIONS, THRESHOLD_METHODS
from smartcare.knowledge.surveillance.parameters import Parameter

EARS_SOURCE = ("Hutwagner L. et al., The bioterrorism preparedness and response Early Aberration Reporting System "
               "(EARS), J Urban Health 2003;80(2 Suppl 1):i89-96; Fricker R.D. et al., Stat Med 2008;27:3407-29")
CUSUM_SOURCE = ("Rossi G., Lampugnani L., Marchi M., An approximate CUSUM procedure for surveillance of health "
                "events, Stat Med 1999;18:2111-22")
FARRINGTON_SOURCE = ("Farrington C.P., Andrews N.J., Beale A.D., Catchpole M.A., A statistical algorithm for the early "
                     "detection of outbreaks of infectious disease, J R Stat Soc A 1996;159:547-63")
NOUFAILY_SOURCE = ("Noufaily A., Enki D.G., Farrington P., Garthwaite P., Andrews N., Charlett A., An improved "
                   "algorithm for outbreak detection in multiple surveillance systems, Stat Med 2013;32:1206-22")


@dataclass(frozen=True, slots=True)
class MethodInfo:
    """A detector's catalogue entry."""

    name: str
    title: str
    description: str
    source: str
    r_function: str
    parameters: tuple[Parameter, ...]
    combined: Callable[[Mapping[str, Any], int], dict[str, str]] = field(default=lambda values, frequency: {})

    def combined_problems(self, values: Mapping[str, Any], frequency: int) -> dict[str, str]:
        """Problems that involve more than one parameter or the series' frequency."""
        return self.combined(values, frequency)

    def describe(self) -> dict[str, Any]:
        """The entry as plain data."""
        return {"name": self.name, "title": self.title, "description": self.description, "source": self.source,
                "r_function": self.r_function, "parameters": [p.describe() for p in self.parameters]}


def _alpha(default: float, meaning: str) -> Parameter:
    return Parameter("alpha", "number", default, meaning, "alpha", minimum=1e-6, maximum=0.5)


def _ears_parameters(alpha: float) -> tuple[Parameter, ...]:
    return (
        Parameter("baseline", "integer", 7, "How many earlier periods form the reference.", "baseline",
                  minimum=3, maximum=365),
        _alpha(alpha, "The bound is the reference mean plus the standard normal 1 - alpha quantile times the "
                      "reference standard deviation."),
        Parameter("min_sigma", "number", 0.0, "The smallest standard deviation used, so that a flat reference does "
                                              "not alarm on any rise.", "minSigma", minimum=0.0, maximum=1e6),
    )


def _window_problems(values: Mapping[str, Any], frequency: int) -> dict[str, str]:
    problems = {}
    if 2 * values["w"] + 1 > frequency:
        problems["w"] = f"the window 2w + 1 must fit in a year of {frequency} periods"
    elif values["b"] * (2 * values["w"] + 1) < 3:
        problems["w"] = "b years of 2w + 1 periods must give at least 3 reference values"
    if values["limit54_period"] > frequency:
        problems["limit54_period"] = f"must be at most the {frequency} periods of a year"
    return problems


def _noufaily_problems(values: Mapping[str, Any], frequency: int) -> dict[str, str]:
    problems = _window_problems(values, frequency)
    if not problems and values["no_periods"] > frequency - 2 * values["w"]:
        problems["no_periods"] = f"must be at most frequency - 2w ({frequency - 2 * values['w']} here)"
    if not problems and values["past_weeks_not_included"] > frequency - values["w"] - 1:
        problems["past_weeks_not_included"] = (f"must be at most frequency - w - 1 "
                                               f"({frequency - values['w'] - 1} here)")
    return problems


def _cusum_problems(values: Mapping[str, Any], frequency: int) -> dict[str, str]:
    if values["m"] == "glm" and values["training"] < 3:
        return {"training": "the seasonal model (m=glm) needs at least 3 training periods"}
    if values["m"] in ("mean", "glm") and values["training"] < 1:
        return {"training": "estimating m needs at least 1 training period"}
    return {}


def _farrington_parameters(*, alpha_meaning: str, limit_meaning: str) -> tuple[Parameter, ...]:
    return (
        Parameter("b", "integer", 5, "How many years back the reference values come from.", "b",
                  minimum=1, maximum=20),
        Parameter("w", "integer", 3, "Half-width of the window around the same period in each reference year.", "w",
                  minimum=0, maximum=183),
        Parameter("reweight", "boolean", True, "Down-weight past outbreaks by their Anscombe residuals.", "reweight"),
        _alpha(0.05, alpha_meaning),
        Parameter("trend", "boolean", True, "Fit a time trend, kept only where significant, b >= 3 and it does not "
                                            "extrapolate beyond the reference counts.", "trend"),
        Parameter("limit54_cases", "integer", 5, limit_meaning, "limit54[1]", minimum=0, maximum=1_000_000),
        Parameter("limit54_period", "integer", 4, "The number of recent periods (the current one included) "
                                                  "limit54_cases counts over.", "limit54[2]", minimum=1, maximum=366),
        Parameter("powertrans", "choice", "2/3", "Power transformation for the delta-method bound: 2/3 (skewness), "
                                                 "1/2 (variance stabilising) or none.", "powertrans",
                  choices=tuple(POWER_TRANSFORMATIONS)),
    )


_LIMIT = "No alarm, and no bound, unless at least this many cases fell in the last limit54_period periods."
_FARRINGTON = _farrington_parameters(
    alpha_meaning="The bound is the upper end of a two-sided 1 - alpha prediction interval.", limit_meaning=_LIMIT)
_NOUFAILY_BASE = _farrington_parameters(
    alpha_meaning="The bound is the one-sided 1 - alpha quantile of the predicted count.", limit_meaning=_LIMIT)

CATALOGUE: tuple[MethodInfo, ...] = (
    MethodInfo("ears-c1", "EARS C1", "Alarms when a count exceeds the mean of the previous baseline periods by more "
               "than z(1 - alpha) standard deviations.", EARS_SOURCE, "surveillance::earsC(method = \"C1\")",
               _ears_parameters(0.001)),
    MethodInfo("ears-c2", "EARS C2", "As C1 with a two-period guard band between the reference and the period "
               "judged.", EARS_SOURCE, "surveillance::earsC(method = \"C2\")", _ears_parameters(0.001)),
    MethodInfo("ears-c3", "EARS C3", "Sums C2's excess over 1 across recent periods. The default variant r follows "
               "R's earsC, the reference implementation (the two previous periods); cdc follows the CDC's "
               "description, which also counts the period judged.", EARS_SOURCE,
               "surveillance::earsC(method = \"C3\")",
               (*_ears_parameters(0.025),
                Parameter("variant", "choice", "r", "r: R's earsC (the default, tested against R); cdc: the CDC's "
                                                    "description, counting the current period too.",
                          "none (earsC has variant r only)",
                          choices=C3_VARIANTS))),
    MethodInfo("cusum", "CUSUM", "Cumulative sum of standardised counts above k; alarms when the sum reaches h. The "
               "first training periods give the in-control mean.", CUSUM_SOURCE, "surveillance::algo.cusum", (
                   Parameter("training", "integer", lambda frequency, values: frequency,
                             "How many periods at the start of the series set the in-control mean (not judged).",
                             "range (starts after them)", minimum=0, maximum=20_000,
                             default_text="one year (the frequency)"),
                   Parameter("k", "number", 1.04, "The reference value subtracted at each step.", "k",
                             minimum=0.0, maximum=1e6),
                   Parameter("h", "number", 2.26, "The decision interval: an alarm when the sum reaches it.", "h",
                             minimum=0.0, maximum=1e6, above_minimum=True),
                   Parameter("trans", "choice", "standard", "How counts are standardised before summing.", "trans",
                             choices=TRANSFORMATIONS),
                   Parameter("m", "number-or-choice", "mean", "The in-control mean: mean (of the training periods), "
                             "glm (a Poisson regression with a yearly harmonic on them) or a number.", "m",
                             minimum=0.0, maximum=1e6, above_minimum=True, choices=("mean", "glm")),
                   Parameter("alpha", "number", 0.1, "Dispersion of the negative binomial for trans=pearsonNegBin.",
                             "alpha", minimum=0.0, maximum=100.0)),
               _cusum_problems),
    MethodInfo("farrington", "Farrington", "Quasi-Poisson regression on the same season of the b previous years "
               "with trend test and down-weighting of past outbreaks (Farrington et al. 1996).", FARRINGTON_SOURCE,
               "surveillance::algo.farrington", _FARRINGTON, _window_problems),
    MethodInfo("noufaily", "Noufaily (improved Farrington)", "Farrington's model on all past periods with a "
               "seasonal factor, stronger outbreak down-weighting and the recent half year left out; defaults are the "
               "settings Noufaily et al. (2013) advise, with their negative binomial bound.",
               NOUFAILY_SOURCE, "surveillance::farringtonFlexible", (
                   *_NOUFAILY_BASE,
                   Parameter("weights_threshold", "number", 2.58, "Anscombe residual above which a past period is "
                             "down-weighted (1 in Farrington 1996).", "weightsThreshold", minimum=0.0, maximum=100.0,
                             above_minimum=True),
                   Parameter("p_threshold_trend", "number", 1.0, "Keep the trend when its p-value is below this "
                             "(1: whenever b >= 3 and it does not extrapolate, as Noufaily et al. advise; 0.05 in "
                             "Farrington 1996).", "pThresholdTrend", minimum=0.0, maximum=1.0),
                   Parameter("no_periods", "integer", lambda frequency, values: max(1, min(10, frequency - 2 * values["w"])),
                             "Levels of the seasonal factor (1: no factor, Farrington's reference values only).",
                             "noPeriods", minimum=1, maximum=366, default_text="10 (fewer if a year is too short)"),
                   Parameter("past_weeks_not_included", "integer",
                             lambda frequency, values: round(26 * frequency / 52),
                             "Recent periods left out of the fit, so an ongoing outbreak does not raise the bound.",
                             "pastWeeksNotIncluded", minimum=0, maximum=366, default_text="half a year (26 weeks)"),
                   Parameter("threshold_method", "choice", "nbPlugin", "delta: Farrington's delta-method bound; "
                             "nbPlugin: negative binomial quantile around the fitted mean (Noufaily); muan: the same "
                             "around an upper quantile of the mean.", "thresholdMethod", choices=THRESHOLD_METHODS)),
               _noufaily_problems),
)
