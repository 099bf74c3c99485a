"""Risk scores and clinical calculators, each a pure typed function with its inputs, ranges and published source.

`CALCULATORS` maps each calculator's name to its `Calculator`; `calculate(name, inputs)` reads a JSON-like mapping
and answers a `Result`. China-PAR (Yang et al., Circulation 2016) is not here: its coefficients are published only
in the paper's online data supplement, which could not be obtained, and the issue forbids a second-hand copy.
"""

from collections.abc import Mapping
from typing import Any

from smartcare.knowledge.scores import (
    acute,
    atrial_fibrillation,
    body,
    cardiovascular,
    diabetes,
    kidney,
)
from smartcare.knowledge.scores.base import (
    Calculator,
    Field,
    NotApplicable,
    Note,
    Result,
    ScoreInputError,
)

__all__ = ["CALCULATORS", "Calculator", "Field", "Note", "NotApplicable", "Result", "ScoreInputError",
           "UnknownCalculator", "calculate"]

CALCULATORS: dict[str, Calculator] = {
    c.name: c for module in (cardiovascular, diabetes, atrial_fibrillation, kidney, acute, body)
    for c in module.CALCULATORS}


class UnknownCalculator(KeyError):
    """No calculator has that name."""


def calculate(name: str, inputs: Mapping[str, Any]) -> Result:
    """Run the named calculator on raw inputs (JSON numbers, booleans, choices; {"value", "unit"} for other units)."""
    calculator = CALCULATORS.get(name)
    if calculator is None:
        raise UnknownCalculator(name)
    return calculator.run(inputs)
