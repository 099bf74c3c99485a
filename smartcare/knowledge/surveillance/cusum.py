"""The cumulative sum (CUSUM) detector on transformed counts, as R surveillance's algo.cusum computes it.

The counts of the first `training` periods give the in-control mean m (their mean, or a Poisson regression with one
yearly harmonic, or a number the user gives); from then on S_t = max(0, S_(t-1) + z_t - k) with z_t the count
standardised by the chosen transformation, and an alarm whenever S_t >= h. The bound is the count that would bring
S_t to h. Sources: Rossi G., Lampugnani L., Marchi M., "An approximate CUSUM procedure for surveillance of health
events", Stat Med 1999; 18: 2111-22; R package surveillance, function algo.cusum. R's "anscombeNegBin" transformation
is not offered: R evaluates its hypergeometric function from a stored lookup table, which we cannot reproduce.
"""

import math

import numpy as np

from smartcare.knowledge.surveillance.glm import fit_poisson
from smartcare.knowledge.surveillance.results import Bounds

TRANSFORMATIONS = ("standard", "rossi", "anscombe", "anscombe2nd", "pearsonNegBin", "none")


def _standardise(x: np.ndarray, m: np.ndarray, trans: str, alpha: float) -> np.ndarray:
    if trans == "rossi":
        return (x - 3 * m + 2 * np.sqrt(x * m)) / (2 * np.sqrt(m))
    if trans == "anscombe":
        return 1.5 * (x ** (2 / 3) - m ** (2 / 3)) / m ** (1 / 6)
    if trans == "anscombe2nd":
        return (x ** (2 / 3) - (m ** (2 / 3) - m ** (-1 / 3) / 9)) / (2 / 3 * m ** (1 / 6))
    if trans == "pearsonNegBin":
        return (x - m) / np.sqrt(m + alpha * m**2)
    if trans == "none":
        return x.copy()
    return (x - m) / np.sqrt(m)


def _power_bound(base: np.ndarray) -> np.ndarray:
    return np.where(base < 0, 0.0, np.abs(base) ** 1.5)


def _upper(m: np.ndarray, before: np.ndarray, now: np.ndarray, *, k: float, h: float, trans: str,
           alpha: float) -> np.ndarray:
    """The count that brings the sum to h, given the sum before (R's formulas, also where they are approximate)."""
    room = h + k - before
    if trans == "rossi":
        root = np.sqrt(m)
        return (2 * h * root + 2 * k * root - 2 * before * root + 5 * m
                - 2 * np.sqrt(4 * m**2 + 2 * m**1.5 * h + 2 * m**1.5 * k - 2 * m**1.5 * before))
    if trans == "anscombe":
        return _power_bound(2 / 3 * m ** (1 / 6) * room + m ** (2 / 3))
    if trans == "anscombe2nd":
        # R's bound uses m^(1/3)/9 where its standardisation uses m^(-1/3)/9; kept so as to match R.
        return _power_bound(2 / 3 * m ** (1 / 6) * room + (m ** (2 / 3) - m ** (1 / 3) / 9))
    if trans == "pearsonNegBin":
        return np.sqrt(m + alpha * m**2) * room + m
    if trans == "none":
        return h - now
    return np.ceil(np.sqrt(m) * room + m)


def harmonic_mean_model(counts: np.ndarray, training: int, frequency: int) -> np.ndarray:
    """The in-control mean from a Poisson regression on one yearly harmonic fitted to the training periods, for every
    period (time t counts periods from 1 at the first)."""
    t = np.arange(1, counts.size + 1, dtype=float)
    design = np.column_stack([np.ones_like(t), np.cos(2 * math.pi / frequency * t),
                              np.sin(2 * math.pi / frequency * t)])
    fit = fit_poisson(design[:training], counts[:training])
    return np.exp(design @ fit.coefficients)


def cusum(counts: np.ndarray, *, training: int, k: float = 1.04, h: float = 2.26, trans: str = "standard",
          m: str | float = "mean", alpha: float = 0.1, frequency: int = 52) -> Bounds:
    """Judge every period after the first `training` ones; m is "mean", "glm" or a positive number, alpha the
    negative binomial dispersion of the pearsonNegBin transformation."""
    counts = np.asarray(counts, dtype=float)
    bounds = Bounds.empty(counts.size)
    if counts.size <= training:
        return bounds
    if m == "glm":
        mean = harmonic_mean_model(counts, training, frequency)[training:]
    elif m == "mean":
        mean = np.full(counts.size - training, counts[:training].mean())
    else:
        mean = np.full(counts.size - training, float(m))
    with np.errstate(divide="ignore", invalid="ignore"):
        standard = _standardise(counts[training:], mean, trans, alpha)
        sums = np.zeros(standard.size + 1)
        for t, z in enumerate(standard):
            sums[t + 1] = np.maximum(0.0, sums[t] + z - k)
        upper = _upper(mean, sums[:-1], sums[1:], k=k, h=h, trans=trans, alpha=alpha)
    upper[np.isnan(upper) | (upper < 0)] = 0.0
    bounds.judged[training:] = True
    bounds.expected[training:] = mean
    bounds.upper[training:] = upper
    bounds.score[training:] = sums[1:]
    bounds.alarm[training:] = sums[1:] >= h
    return bounds
