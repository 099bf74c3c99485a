"""A Poisson log-linear model fitted by iteratively reweighted least squares, step for step as R's glm.fit does it
(same start, same convergence rule, same final weights), so the quasi-Poisson detectors give R's numbers."""

from dataclasses import dataclass

import numpy as np

from smartcare.knowledge.surveillance.stats import t_two_sided_p

# R's glm.control(): relative change in deviance below 1e-8, at most 25 iterations.
EPSILON = 1e-8
MAX_ITERATIONS = 25


@dataclass(frozen=True, slots=True)
class PoissonFit:
    """A fitted model. Like R, the working weights and the triangular factor are those of the last least-squares
    step (computed from the fitted means before it), while the means and residuals are the final ones."""

    design: np.ndarray
    counts: np.ndarray
    prior_weights: np.ndarray
    coefficients: np.ndarray
    fitted: np.ndarray
    converged: bool
    working_weights: np.ndarray
    r_inverse: np.ndarray

    @property
    def residual_df(self) -> int:
        """Observations with a non-zero weight less the number of coefficients."""
        return int(np.count_nonzero(self.prior_weights)) - self.design.shape[1]

    def dispersion(self) -> float:
        """The quasi-Poisson dispersion: Pearson chi-square over the residual degrees of freedom (R's summary.glm)."""
        df = self.residual_df
        if df <= 0:
            return float("nan")
        residuals = (self.counts - self.fitted) / self.fitted
        kept = self.working_weights > 0
        return float(np.sum((self.working_weights * residuals**2)[kept]) / df)

    def hat_values(self) -> np.ndarray:
        """The diagonal of the weighted hat matrix (R's hatvalues)."""
        q = (np.sqrt(self.working_weights)[:, None] * self.design) @ self.r_inverse
        hat = np.sum(q**2, axis=1)
        hat[hat > 1 - 10 * np.finfo(float).eps] = 1.0
        return hat

    def predict_link(self, row: np.ndarray, dispersion: float) -> tuple[float, float]:
        """The linear predictor at one design row and its standard error under the given dispersion."""
        eta = float(row @ self.coefficients)
        spread = row @ self.r_inverse
        return eta, float(np.sqrt(np.sum(spread**2) * dispersion))

    def coefficient_p_value(self, index: int, dispersion: float) -> float:
        """The two-sided t-test p-value of one coefficient under the given (estimated) dispersion, as R's
        summary.glm computes it."""
        variance = float(np.sum(self.r_inverse[index] ** 2)) * dispersion
        t = float(self.coefficients[index]) / np.sqrt(variance) if variance > 0 else float("nan")
        return t_two_sided_p(t, self.residual_df)


def _deviance(counts: np.ndarray, fitted: np.ndarray, weights: np.ndarray) -> float:
    terms = fitted * weights
    positive = counts > 0
    y, mu = counts[positive], fitted[positive]
    terms[positive] = weights[positive] * (y * np.log(y / mu) - (y - mu))
    return float(2 * np.sum(terms))


def _usable(fitted: np.ndarray, deviance: float) -> bool:
    return bool(np.isfinite(deviance) and np.all(np.isfinite(fitted)) and np.all(fitted > 0))


def _step(design: np.ndarray, counts: np.ndarray, weights: np.ndarray, eta: np.ndarray):
    """One weighted least-squares step from the linear predictor eta: (coefficients, working weights, R inverse).

    Solved by Cholesky on the normal equations of the column-scaled weighted design: for these few well-separated
    columns that is as exact as R's QR to far below the tolerance that matters, and LAPACK's QR on a tall matrix is
    many times slower when its threads compete for the cores."""
    fitted = np.exp(eta)
    working = eta + (counts - fitted) / fitted
    root = np.sqrt(weights * fitted)
    weighted = design * root[:, None]
    norms = np.sqrt(np.sum(weighted**2, axis=0))
    scale = 1 / np.where(norms > 0, norms, 1.0)
    scaled = weighted * scale
    lower = np.linalg.cholesky(scaled.T @ scaled)
    upper_inverse = np.linalg.inv(lower.T)
    coefficients = scale * (upper_inverse @ (upper_inverse.T @ (scaled.T @ (working * root))))
    return coefficients, root**2, scale[:, None] * upper_inverse


def fit_poisson(design: np.ndarray, counts: np.ndarray, weights: np.ndarray | None = None) -> PoissonFit:
    """Fit log(E[count]) = design @ coefficients by IRLS from the counts plus 0.1, as R's glm.fit with
    family=(quasi)poisson; `converged` is False where R's would be (or where R would stop with an error)."""
    counts = np.asarray(counts, dtype=float)
    weights = np.ones_like(counts) if weights is None else np.asarray(weights, dtype=float)
    eta = np.log(counts + 0.1)
    deviance_before = _deviance(counts, np.exp(eta), weights)
    previous = coefficients = None
    converged = False
    for _ in range(MAX_ITERATIONS):
        try:
            coefficients, working_weights, r_inverse = _step(design, counts, weights, eta)
        except np.linalg.LinAlgError:  # a rank-deficient design (R would drop a column): treated as not converged
            coefficients = None
            break
        if not np.all(np.isfinite(coefficients)):
            break
        eta = design @ coefficients
        deviance = _deviance(counts, np.exp(eta), weights)
        halvings = 0
        while not _usable(np.exp(eta), deviance) and previous is not None and halvings < MAX_ITERATIONS:
            # R halves the step back towards the last usable coefficients.
            coefficients = (coefficients + previous) / 2
            eta = design @ coefficients
            deviance = _deviance(counts, np.exp(eta), weights)
            halvings += 1
        if not _usable(np.exp(eta), deviance):
            break
        if abs(deviance - deviance_before) / (abs(deviance) + 0.1) < EPSILON:
            converged = True
            break
        deviance_before, previous = deviance, coefficients
    if coefficients is None or not np.all(np.isfinite(coefficients)):
        coefficients = np.full(design.shape[1], np.nan)
        working_weights, r_inverse = np.zeros_like(counts), np.full((design.shape[1],) * 2, np.nan)
    return PoissonFit(design=design, counts=counts, prior_weights=weights, coefficients=coefficients,
                      fitted=np.exp(design @ coefficients), converged=converged, working_weights=working_weights,
                      r_inverse=r_inverse)
