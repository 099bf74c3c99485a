"""The few distribution functions the detectors need: normal quantile, Student t tail, Poisson and negative binomial
quantiles, written with numpy and the standard library so the platform needs no scipy."""

import math
from collections.abc import Callable
from statistics import NormalDist

import numpy as np

_STANDARD_NORMAL = NormalDist()
# R's discrete quantile search allows for rounding in the distribution function just below a step.
_LEFT_FUZZ = 1 - 64 * np.finfo(float).eps


def normal_quantile(p: float) -> float:
    """The standard normal quantile (Wichura's AS 241, as R's qnorm)."""
    return _STANDARD_NORMAL.inv_cdf(p)


def _beta_fraction(x: float, a: float, b: float) -> float:
    """The continued fraction of the regularized incomplete beta function (modified Lentz)."""
    tiny, c, d = 1e-300, 1.0, 1.0 - (a + b) * x / (a + 1)
    d = 1 / (d if abs(d) > tiny else tiny)
    result = d
    for m in range(1, 1000):
        for numerator in (m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
                          -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))):
            d = 1 + numerator * d
            d = 1 / (d if abs(d) > tiny else tiny)
            c = 1 + numerator / c
            c = c if abs(c) > tiny else tiny
            result *= c * d
        if abs(c * d - 1) < 1e-16:
            break
    return result


def incomplete_beta(x: float, a: float, b: float) -> float:
    """The regularized incomplete beta function I_x(a, b) for 0 <= x <= 1."""
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    log_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    if x < (a + 1) / (a + b + 2):
        return math.exp(log_front) * _beta_fraction(x, a, b) / a
    return 1 - math.exp(log_front) * _beta_fraction(1 - x, b, a) / b


def t_two_sided_p(t: float, df: float) -> float:
    """The two-sided p-value of a t statistic with df degrees of freedom, 2 * P(T > |t|)."""
    if math.isnan(t) or not df > 0:
        return math.nan
    if math.isinf(t):
        return 0.0
    return incomplete_beta(df / (df + t * t), df / 2, 0.5)


def _discrete_quantile(p: float, log_pmf_at: Callable[[int], float], log_ratio: Callable[[np.ndarray], np.ndarray],
                       mean: float, sd: float) -> int:
    """The smallest count whose distribution function reaches p. The probabilities are summed from ten standard
    deviations below the mean (the mass below is negligible), by the ratio of each to the one before, in chunks."""
    target = p * _LEFT_FUZZ
    start = max(0, math.floor(mean - 10 * sd))
    log_first, total, chunk = log_pmf_at(start), 0.0, 4096
    while True:
        steps = log_ratio(np.arange(start + 1, start + chunk + 1, dtype=float))
        logs = log_first + np.concatenate([[0.0], np.cumsum(steps)])
        cdf = total + np.cumsum(np.exp(logs[:-1]))
        reached = np.flatnonzero(cdf >= target)
        if reached.size:
            return start + int(reached[0])
        if not np.isfinite(cdf[-1]) or (cdf[-1] == total and logs[-1] < log_first):
            raise ArithmeticError("the distribution function does not reach the quantile")
        total, log_first, start, chunk = float(cdf[-1]), float(logs[-1]), start + chunk, min(chunk * 2, 1 << 20)


def poisson_quantile(p: float, mean: float) -> int:
    """The Poisson quantile, as R's qpois(p, mean) for 0 < p < 1."""
    if mean <= 0:
        return 0
    log_mean = math.log(mean)
    return _discrete_quantile(p, lambda x: x * log_mean - mean - math.lgamma(x + 1),
                              lambda x: log_mean - np.log(x), mean, math.sqrt(mean))


def negative_binomial_quantile(p: float, size: float, prob: float) -> int:
    """The negative binomial quantile (failures before `size` successes of probability `prob`), as R's qnbinom."""
    mean = size * (1 - prob) / prob
    if mean <= 0:
        return 0
    log_fail = math.log1p(-prob)

    def log_pmf_at(x: int) -> float:
        # log Gamma(x + size) - log Gamma(size) summed term by term: the difference of two lgammas loses every digit
        # when size is huge (a dispersion just above 1).
        rising = float(np.sum(np.log(size + np.arange(x)))) if x <= 1_000_000 else math.lgamma(x + size) - math.lgamma(
            size)
        return rising - math.lgamma(x + 1) + size * math.log(prob) + x * log_fail

    return _discrete_quantile(p, log_pmf_at, lambda x: np.log((x - 1 + size) / x) + log_fail, mean,
                              math.sqrt(mean / prob))
