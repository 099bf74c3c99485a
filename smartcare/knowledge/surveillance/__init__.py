"""Outbreak detection on count time series: EARS C1/C2/C3, CUSUM, Farrington and Noufaily, as pure functions
matched to the R package surveillance (the reference implementation). `detect(method, counts, frequency=...)`
checks the input and answers one `Judgement` per period; `METHODS` is the catalogue."""

from smartcare.knowledge.surveillance.methods import (
    MAX_COUNT,
    MAX_PERIOD_LENGTH,
    MAX_PERIODS,
    METHODS,
    Judgement,
    Method,
    check_input,
    detect,
)
from smartcare.knowledge.surveillance.parameters import DetectionInputError, Parameter

__all__ = ["MAX_COUNT", "MAX_PERIODS", "MAX_PERIOD_LENGTH", "METHODS", "DetectionInputError", "Judgement", "Method",
           "Parameter", "check_input", "detect"]
