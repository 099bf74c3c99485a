"""What every detector answers: per period the expected count, the upper bound, the alarm and a score."""

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class Bounds:
    """One value per period of the series. `judged` is False where the method had too little history; NaN in
    expected, upper or score means the method gives no number there (too little history, too few recent cases
    under Farrington's rule, a model that did not converge, or a zero standard deviation)."""

    judged: np.ndarray
    expected: np.ndarray
    upper: np.ndarray
    alarm: np.ndarray
    score: np.ndarray

    @classmethod
    def empty(cls, length: int) -> "Bounds":
        """Bounds for a series of the given length with nothing judged yet."""
        return cls(judged=np.zeros(length, dtype=bool), expected=np.full(length, np.nan),
                   upper=np.full(length, np.nan), alarm=np.zeros(length, dtype=bool), score=np.full(length, np.nan))
