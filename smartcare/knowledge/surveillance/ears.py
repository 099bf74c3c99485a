"""The CDC's Early Aberration Reporting System detectors C1, C2 and C3, as R surveillance's earsC computes them.

C1 compares each period with the mean and standard deviation of the `baseline` periods just before it; C2 does
the same with a guard band of two periods between the baseline and the period judged; C3 accumulates C2's excess
over the two periods before. Sources: Hutwagner L. et al., "The bioterrorism preparedness and response Early
Aberration Reporting System (EARS)", J Urban Health 2003; 80(2 Suppl 1): i89-96; Fricker R.D. et al., "Comparing
syndromic surveillance detection methods: EARS' versus a CUSUM-based methodology", Stat Med 2008; 27: 3407-29;
R package surveillance, function earsC.
"""

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from smartcare.knowledge.surveillance.results import Bounds
from smartcare.knowledge.surveillance.stats import normal_quantile

# The two readings of C3: R's earsC (the default) sums C2's excess over the two previous periods only; the CDC's
# description also counts the period being judged.
C3_VARIANTS = ("r", "cdc")


def _reference(counts: np.ndarray, baseline: int, lag: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation (n - 1) of the `baseline` counts ending `lag` periods before each period;
    NaN where the series is too short for that."""
    mean = np.full(counts.size, np.nan)
    sd = np.full(counts.size, np.nan)
    first = baseline + lag - 1
    if counts.size > first:
        windows = sliding_window_view(counts, baseline)[: counts.size - first]
        mean[first:] = windows.mean(axis=1)
        sd[first:] = windows.std(axis=1, ddof=1)
    return mean, sd


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return numerator / denominator


def ears_c1(counts: np.ndarray, *, baseline: int = 7, alpha: float = 0.001, min_sigma: float = 0.0) -> Bounds:
    """C1: the bound is the mean of the previous `baseline` periods plus z(1 - alpha) standard deviations
    (at least `min_sigma`); the score is the count's distance from the mean in standard deviations."""
    return _c1_c2(counts, baseline=baseline, alpha=alpha, min_sigma=min_sigma, lag=1)


def ears_c2(counts: np.ndarray, *, baseline: int = 7, alpha: float = 0.001, min_sigma: float = 0.0) -> Bounds:
    """C2: as C1 with a guard band, the baseline ending three periods before the one judged."""
    return _c1_c2(counts, baseline=baseline, alpha=alpha, min_sigma=min_sigma, lag=3)


def _c1_c2(counts: np.ndarray, *, baseline: int, alpha: float, min_sigma: float, lag: int) -> Bounds:
    counts = np.asarray(counts, dtype=float)
    mean, sd = _reference(counts, baseline, lag)
    sigma = np.maximum(sd, min_sigma)
    bounds = Bounds.empty(counts.size)
    bounds.judged[baseline + lag - 1:] = True
    bounds.expected[:] = mean
    bounds.upper[:] = mean + normal_quantile(1 - alpha) * sigma
    bounds.score[:] = _ratio(counts - mean, sigma)
    bounds.alarm[:] = bounds.judged & (counts > bounds.upper)
    return bounds


def ears_c3(counts: np.ndarray, *, baseline: int = 7, alpha: float = 0.025, min_sigma: float = 0.0,
            variant: str = "r") -> Bounds:
    """C3: the sum of max(0, C2 - 1) over recent periods, alarming above z(1 - alpha).

    variant "r" (the default) follows R surveillance's earsC, the reference implementation the results are tested
    against: the sum runs over the two periods before the one judged, and the bound is the count at which that sum
    reaches the threshold, max(0, count + sd * (z - sum)). variant "cdc" follows the CDC's description of EARS, which
    also counts the period judged: the alarm is sum > z, and the bound is the largest count that keeps the sum at or
    below z, mean + sd * (1 + z - previous sum); where the two previous periods alone exceed z every count alarms
    and the bound is 0. The score is the sum.
    """
    counts = np.asarray(counts, dtype=float)
    mean, sd = _reference(counts, baseline, 3)
    sigma = np.maximum(sd, min_sigma)
    excess = np.maximum(0.0, _ratio(counts - mean, sigma) - 1)
    previous = np.full(counts.size, np.nan)
    previous[2:] = excess[:-2] + excess[1:-1]
    z = normal_quantile(1 - alpha)
    bounds = Bounds.empty(counts.size)
    bounds.judged[baseline + 4:] = True
    bounds.expected[:] = mean
    with np.errstate(invalid="ignore"):
        if variant == "cdc":
            bounds.score[:] = previous + excess
            quiet = previous <= z
            bounds.upper[:] = np.where(quiet, np.maximum(0.0, mean + sigma * (1 + z - previous)), 0.0)
            bounds.upper[np.isnan(previous) | np.isnan(sigma) | np.isnan(mean)] = np.nan
            bounds.alarm[:] = bounds.judged & (bounds.score > z)
        else:
            bounds.score[:] = previous
            bounds.upper[:] = np.maximum(0.0, counts + sigma * (z - previous))
            bounds.alarm[:] = bounds.judged & (counts > bounds.upper)
    bounds.upper[~bounds.judged] = np.nan
    bounds.score[~bounds.judged] = np.nan
    return bounds
