"""The typed, range-checked parameters of the outbreak detectors, and the error that names every bad input."""

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

KINDS = ("integer", "number", "boolean", "choice", "number-or-choice")
# A default may depend on the series' frequency (periods a year) and the values resolved before it.
Default = Any | Callable[[int, Mapping[str, Any]], Any]


class DetectionInputError(ValueError):
    """Input the detectors cannot use: each problem keyed by the field or parameter at fault."""

    def __init__(self, problems: Mapping[str, str]) -> None:
        self.problems = dict(problems)
        super().__init__("; ".join(f"{field}: {text}" for field, text in self.problems.items()))


@dataclass(frozen=True, slots=True)
class Parameter:
    """One parameter of a method: its kind, default, allowed values and the name R's function gives it."""

    name: str
    kind: str
    default: Default
    description: str
    r_name: str
    minimum: float | None = None
    maximum: float | None = None
    above_minimum: bool = False
    choices: tuple[str, ...] = ()
    default_text: str = ""

    def default_for(self, frequency: int, values: Mapping[str, Any]) -> Any:
        """The default for a series of this frequency, given the parameters resolved before this one."""
        return self.default(frequency, values) if callable(self.default) else self.default

    def describe(self) -> dict[str, Any]:
        """The parameter as the catalogue shows it."""
        described: dict[str, Any] = {"name": self.name, "type": self.kind, "description": self.description,
                                     "r_name": self.r_name}
        described["default"] = self.default_text or self.default
        if self.minimum is not None:
            described["exclusive_minimum" if self.above_minimum else "minimum"] = self.minimum
        if self.maximum is not None:
            described["maximum"] = self.maximum
        if self.choices:
            described["choices"] = list(self.choices)
        return described

    def from_text(self, text: str) -> Any:
        """Read a value typed on the command line (true/false, a number, or one of the choices)."""
        text = text.strip()
        if self.kind == "boolean":
            lowered = text.lower()
            return True if lowered in ("true", "yes", "1") else False if lowered in ("false", "no", "0") else text
        if self.kind in ("choice", "number-or-choice") and text in self.choices:
            return text
        if self.kind in ("integer", "number", "number-or-choice"):
            try:
                number = float(text)
            except ValueError:
                return text
            return int(number) if self.kind == "integer" and number.is_integer() else number
        return text

    def check(self, value: Any) -> tuple[Any, str | None]:
        """The value in canonical form and None, or the value and what is wrong with it."""
        if self.kind == "boolean":
            return (value, None) if isinstance(value, bool) else (value, "must be true or false")
        if self.kind in ("choice", "number-or-choice") and isinstance(value, str) and value in self.choices:
            return value, None
        if self.kind == "choice":
            return value, f"must be one of {', '.join(self.choices)}"
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            wanted = {"integer": "a whole number", "number": "a number"}.get(
                self.kind, f"a number or one of {', '.join(self.choices)}")
            return value, f"must be {wanted}"
        if self.kind == "integer":
            if not float(value).is_integer():
                return value, "must be a whole number"
            value = int(value)
        else:
            value = float(value)
        return value, self._range_problem(value)

    def _range_problem(self, value: float) -> str | None:
        low, high = self.minimum, self.maximum
        if low is not None and (value <= low if self.above_minimum else value < low):
            return f"must be {'above' if self.above_minimum else 'at least'} {_number(low)}"
        if high is not None and value > high:
            return f"must be at most {_number(high)}"
        return None


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(value)
