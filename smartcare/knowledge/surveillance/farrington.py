"""The Farrington detector (1996) and its improved form by Noufaily et al. (2013), as R surveillance's
algo.farrington and farringtonFlexible compute them.

For each period a quasi-Poisson regression (intercept, a time trend where it is significant, and for Noufaily a
ten-level seasonal factor) is fitted to the same season in the `b` previous years; past outbreaks are down-weighted
by their Anscombe residuals; the bound is a quantile of the predicted count. Periods are found by position
(`frequency` periods back is one year back), as R does for series without dates, so a 53-week year shifts the
window by a week. Sources: Farrington C.P., Andrews N.J., Beale A.D., Catchpole M.A., "A statistical algorithm for
the early detection of outbreaks of infectious disease", J R Stat Soc A 1996; 159: 547-63; Noufaily A. et al., "An
improved algorithm for outbreak detection in multiple surveillance systems", Stat Med 2013; 32: 1206-22; R package
surveillance, functions algo.farrington and farringtonFlexible.
"""

import math
from dataclasses import dataclass

import numpy as np

from smartcare.knowledge.surveillance.glm import PoissonFit, fit_poisson
from smartcare.knowledge.surveillance.results import Bounds
from smartcare.knowledge.surveillance.stats import (
    negative_binomial_quantile,
    normal_quantile,
    poisson_quantile,
)

POWER_TRANSFORMATIONS = {"2/3": 2 / 3, "1/2": 1 / 2, "none": 1.0}
THRESHOLD_METHODS = ("delta", "nbPlugin", "muan")
# Far above any count the detectors accept (a million a period): a negative binomial quantile beyond it is not sought.
MAX_MEAN = 1e9


@dataclass(frozen=True, slots=True)
class Model:
    """A quasi-Poisson fit with its dispersion floored at 1 (phi), as both R functions keep it; `dispersion` is the
    one R's summary and predict then see; `trend` says whether the design's second column (the time) is in it."""

    fit: PoissonFit
    phi: float
    dispersion: float
    trend: bool


def anscombe_residuals(fit: PoissonFit, phi: float) -> np.ndarray:
    """Standardised Anscombe residuals of a Poisson fit under dispersion phi."""
    y, mu = fit.counts, fit.fitted
    with np.errstate(divide="ignore", invalid="ignore"):
        return 1.5 * (y ** (2 / 3) * mu ** (-1 / 6) - mu**0.5) / np.sqrt(phi * (1 - fit.hat_values()))


def outbreak_weights(residuals: np.ndarray, threshold: float) -> np.ndarray:
    """Weights that shrink periods with a residual above the threshold by its inverse square, scaled to sum to n."""
    with np.errstate(divide="ignore"):
        inverse_square = residuals ** -2.0
    high = residuals > threshold
    gamma = residuals.size / np.sum(np.where(high, inverse_square, 1.0))
    return np.where(high, gamma * inverse_square, gamma)


def _fit(design: np.ndarray, counts: np.ndarray, *, trend: bool, reweight: bool, threshold: float,
         flexible: bool) -> Model | None:
    """Fit, drop the trend (column 1) if that fit fails to converge, then refit with outbreak weights. With flexible
    (R's farringtonFlexible) a model that still does not converge is None, where algo.farrington carries on."""
    fit = fit_poisson(design, counts)
    if not fit.converged and trend:
        design, trend = np.delete(design, 1, axis=1), False
        fit = fit_poisson(design, counts)
    if flexible and not fit.converged:
        return None
    phi = max(fit.dispersion(), 1.0)
    if not reweight:
        return Model(fit, phi, fit.dispersion(), trend)
    weights = outbreak_weights(anscombe_residuals(fit, phi), threshold)
    fit = fit_poisson(design, counts, weights)
    dispersion = fit.dispersion()
    if flexible:
        # farringtonFlexible stores the outbreak weights in place of the fit's working weights, so R's summary and
        # predict compute the dispersion from them: sum(weight * ((y - mu) / mu)^2) / df.
        dispersion = float(np.sum(weights * ((counts - fit.fitted) / fit.fitted) ** 2) / fit.residual_df)
    return Model(fit, max(fit.dispersion(), 1.0), dispersion, trend)


def delta_upper(mu0: float, se: float, phi: float, exponent: float, z: float) -> float:
    """Farrington's bound: the normal quantile z of the power-transformed count (delta method), back-transformed."""
    with np.errstate(all="ignore"):
        tau = np.float64(phi) + se**2 / np.float64(mu0)
        if exponent == 1.0:
            spread = np.sqrt(mu0 * tau)
        elif exponent == 0.5:
            spread = np.sqrt(tau / 4)
        else:
            spread = np.sqrt(4 / 9 * mu0 ** (1 / 3) * tau)
        return float((mu0**exponent + z * spread) ** (1 / exponent))


def _exp(value: float) -> float:
    """e to the value, infinite rather than an error where it overflows (a wild fit on degenerate counts)."""
    with np.errstate(over="ignore"):
        return float(np.exp(value))


def _enough_cases(counts: np.ndarray, k: int, cases: int, period: int) -> bool:
    return counts[max(0, k - period + 1): k + 1].sum() >= cases


def farrington(counts: np.ndarray, *, frequency: int, b: int = 5, w: int = 3, reweight: bool = True,
               alpha: float = 0.05, trend: bool = True, limit54_cases: int = 5, limit54_period: int = 4,
               powertrans: str = "2/3") -> Bounds:
    """Farrington et al. (1996) as algo.farrington: reference values are the periods within w of the same period in
    each of the b previous years; the bound is the upper end of a two-sided 1 - alpha interval; with fewer than
    limit54_cases in the last limit54_period periods the period gets no bound and no alarm."""
    counts = np.asarray(counts, dtype=float)
    bounds = Bounds.empty(counts.size)
    exponent = POWER_TRANSFORMATIONS[powertrans]
    z = normal_quantile(1 - alpha / 2)
    for k in range(b * frequency + w, counts.size):
        rows = np.concatenate([np.arange(k - i * frequency - w, k - i * frequency + w + 1) for i in range(b, 0, -1)])
        response = counts[rows]
        design = np.column_stack([np.ones(rows.size), rows + 1.0])
        if not trend:
            design = design[:, :1]
        model = _fit(design, response, trend=trend, reweight=reweight, threshold=1.0, flexible=False)
        now = np.array([1.0, k + 1.0])
        if model.trend:
            keep = (b >= 3 and model.fit.coefficient_p_value(1, model.dispersion) < 0.05
                    and _exp(now @ model.fit.coefficients) <= response.max())
            if not keep:
                model = _fit(design[:, :1], response, trend=False, reweight=reweight, threshold=1.0, flexible=False)
        eta, se_eta = model.fit.predict_link(now[: model.fit.design.shape[1]], model.phi)
        mu0 = _exp(eta)
        bounds.judged[k] = True
        bounds.expected[k] = mu0
        if _enough_cases(counts, k, limit54_cases, limit54_period):
            upper = delta_upper(mu0, se_eta * mu0, model.phi, exponent, z)
            bounds.upper[k] = upper
            bounds.score[k] = (counts[k] - mu0) / (upper - mu0)
            bounds.alarm[k] = bool(bounds.score[k] > 1)
    return bounds


def seasonal_blocks(k: int, *, frequency: int, b: int, w: int, no_periods: int) -> np.ndarray:
    """The seasonal level of each period up to k for farringtonFlexible: no_periods for the window around k and
    around the same period in each of the b previous years, 1 .. no_periods - 1 for the stretches between them
    (split as evenly as possible, longer ones first); NaN before the oldest window."""
    blocks = np.full(k + 1, np.nan)
    blocks[k - w: k + 1] = no_periods
    edges = np.zeros(1, dtype=int)
    if no_periods > 1:
        stretch = frequency - 2 * w - 1
        lengths = np.full(no_periods - 1, stretch // (no_periods - 1))
        lengths[: stretch % (no_periods - 1)] += 1
        edges = np.concatenate([[0], np.cumsum(lengths)])
    for i in range(1, b + 1):
        centre = k - i * frequency
        blocks[centre - w: centre + w + 1] = no_periods
        for level in range(1, no_periods):
            blocks[centre + w + 1 + edges[level - 1]: centre + w + 1 + edges[level]] = level
    return blocks


@dataclass(frozen=True, slots=True)
class FlexibleSettings:
    """farringtonFlexible's control values (R's names in brackets in the registry)."""

    frequency: int
    b: int = 5
    w: int = 3
    reweight: bool = True
    weights_threshold: float = 2.58
    alpha: float = 0.05
    trend: bool = True
    p_threshold_trend: float = 0.05
    limit54_cases: int = 5
    limit54_period: int = 4
    powertrans: str = "2/3"
    no_periods: int = 1
    past_weeks_not_included: int = 3
    threshold_method: str = "delta"


def _flexible_design(rows: np.ndarray, levels: np.ndarray, present: np.ndarray) -> np.ndarray:
    """Intercept, time (R counts periods from 1) and an indicator for each seasonal level but the first present."""
    columns = [np.ones(rows.size), rows + 1.0] + [(levels == level).astype(float) for level in present[1:]]
    return np.column_stack(columns)


def _flexible_model(counts: np.ndarray, k: int, s: "FlexibleSettings") -> tuple[Model, np.ndarray] | None:
    """The final model for period k and its design row for k, or None where the fit did not converge."""
    blocks = seasonal_blocks(k, frequency=s.frequency, b=s.b, w=s.w, no_periods=s.no_periods)
    blocks[k - s.past_weeks_not_included: k + 1] = np.nan
    rows = np.flatnonzero(~np.isnan(blocks))
    response, levels = counts[rows], blocks[rows]
    present = np.unique(levels) if s.no_periods > 1 else np.zeros(0)
    full = _flexible_design(rows, levels, present)
    now = _flexible_design(np.array([k]), np.array([float(s.no_periods)]), present)[0]
    fit_args = {"reweight": s.reweight, "threshold": s.weights_threshold, "flexible": True}
    model = _fit(full if s.trend else np.delete(full, 1, axis=1), response, trend=s.trend, **fit_args)
    if model is not None and model.trend:
        keep = (s.b >= 3 and model.fit.coefficient_p_value(1, model.dispersion) < s.p_threshold_trend
                and _exp(now @ model.fit.coefficients) <= response.max())
        if not keep:
            model = _fit(np.delete(full, 1, axis=1), response, trend=False, **fit_args)
    if model is None:
        return None
    return model, (now if model.trend else np.delete(now, 1))


def _nb_upper(eta0: float, se_eta0: float, phi: float, s: FlexibleSettings) -> float:
    """Noufaily's bound: the 1 - alpha quantile of a negative binomial with the GLM's dispersion around exp(eta0)
    (nbPlugin) or around the 1 - alpha quantile of the estimated mean (muan). NaN where that mean overflows, as in
    R, and also where it is undefined or beyond MAX_MEAN (only a wild fit on degenerate counts gets there)."""
    mean = _exp(eta0 if s.threshold_method == "nbPlugin" else eta0 + normal_quantile(1 - s.alpha) * se_eta0)
    if not 0 <= mean <= MAX_MEAN or math.isnan(phi):
        return math.nan
    if phi > 1:
        return float(negative_binomial_quantile(1 - s.alpha, mean / (phi - 1), 1 / phi))
    return float(poisson_quantile(1 - s.alpha, mean))


def farrington_flexible(counts: np.ndarray, settings: FlexibleSettings) -> Bounds:
    """farringtonFlexible: Farrington's model with a seasonal factor of no_periods levels, the last
    past_weeks_not_included periods left out of the fit, a one-sided bound, and a choice of threshold: "delta"
    (Farrington's), "nbPlugin" (Noufaily's negative binomial quantile) or "muan" (the same around an upper quantile
    of the mean). Alarms need the count above the bound, a non-zero count and limit54_cases in the last
    limit54_period periods; without those cases the period gets no bound."""
    s = settings
    counts = np.asarray(counts, dtype=float)
    bounds = Bounds.empty(counts.size)
    for k in range(s.b * s.frequency + s.w, counts.size):
        bounds.judged[k] = True
        found = _flexible_model(counts, k, s)
        if found is None:
            continue
        model, now = found
        # R's predict.glm here uses the summary's dispersion, not the one floored at 1 (phi).
        eta, se_eta = model.fit.predict_link(now, model.dispersion)
        if s.threshold_method == "delta":
            centre = _exp(eta)
            upper = delta_upper(centre, se_eta * centre, model.phi, POWER_TRANSFORMATIONS[s.powertrans],
                                normal_quantile(1 - s.alpha))
            expected = centre
        else:
            centre, upper, expected = eta, _nb_upper(eta, se_eta, model.phi, s), _exp(eta)
        bounds.expected[k] = expected
        if math.isnan(upper) or not _enough_cases(counts, k, s.limit54_cases, s.limit54_period):
            continue
        bounds.upper[k] = upper
        bounds.score[k] = (counts[k] - centre) / (upper - centre)
        bounds.alarm[k] = bool(bounds.score[k] > 1 and counts[k] != 0)
    return bounds
