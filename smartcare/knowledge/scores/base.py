"""What every risk calculator shares: its inputs (units, allowed ranges), its result, and its errors.

A calculator is a pure, typed function (`pooled_cohort_equations(age=..., ...)`) plus a `Calculator` that describes
its inputs for forms and for `GET /api/v1/scores`, and reads a plain mapping (JSON) into that function's arguments,
converting units on the way. The typed function checks its own arguments too, so a caller in Python gets the same
errors as one over HTTP.
"""

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

KINDS = ("number", "integer", "boolean", "choice")


class ScoreInputError(ValueError):
    """Inputs a calculator cannot use: each problem keyed by the input's name ("" for the whole request)."""

    def __init__(self, problems: Mapping[str, str]) -> None:
        self.problems = dict(problems)
        super().__init__("; ".join(f"{name}: {text}" if name else text for name, text in self.problems.items()))


class NotApplicable(ValueError):
    """The person is outside the population the equation was derived on or validated for (the reason says how)."""


@dataclass(frozen=True, slots=True)
class Field:
    """One input of a calculator: its kind, canonical unit, other accepted units and the range it is defined for."""

    name: str
    label: str
    label_zh: str
    kind: str = "number"
    unit: str = ""  # UCUM code of the canonical unit the typed function takes
    units: Mapping[str, float] = field(default_factory=dict)  # other UCUM unit -> multiply by this to get canonical
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()
    required: bool = True
    default: Any = None
    help: str = ""  # why the range is what it is, or how to answer

    def describe(self) -> dict[str, Any]:
        """This input as JSON for the calculator catalogue."""
        out: dict[str, Any] = {"name": self.name, "label": self.label, "label_zh": self.label_zh, "type": self.kind,
                               "required": self.required}
        if self.unit:
            out["unit"] = self.unit
            out["units"] = [self.unit, *self.units]
        if self.minimum is not None:
            out["minimum"] = self.minimum
        if self.maximum is not None:
            out["maximum"] = self.maximum
        if self.choices:
            out["choices"] = list(self.choices)
        if not self.required:
            out["default"] = self.default
        if self.help:
            out["help"] = self.help
        return out


@dataclass(frozen=True, slots=True)
class Note:
    """A warning that goes with a result, in English and Chinese."""

    code: str
    text: str
    text_zh: str


@dataclass(frozen=True, slots=True)
class Result:
    """A calculator's answer: the value with its unit, the category it falls in, the inputs used and why to be careful.

    `detail` holds the parts of the value a clinician checks (points per item, the linear predictor).
    """

    value: float
    unit: str
    category: str
    inputs: Mapping[str, Any]
    source: str
    warnings: tuple[Note, ...] = ()
    detail: Mapping[str, Any] = field(default_factory=dict)

    def as_json(self, *, zh: bool = False) -> dict[str, Any]:
        """The result as the API answers it, warnings in English or (zh) Chinese."""
        return {"value": self.value, "unit": self.unit, "category": self.category, "inputs": dict(self.inputs),
                "warnings": [n.text_zh if zh else n.text for n in self.warnings], "source": self.source,
                "detail": dict(self.detail)}


def _range_text(f: Field) -> str:
    unit = f" {f.unit}" if f.unit else ""
    if f.minimum is not None and f.maximum is not None:
        return f"from {f.minimum:g} to {f.maximum:g}{unit}"
    if f.minimum is not None:
        return f"at least {f.minimum:g}{unit}"
    return f"at most {f.maximum:g}{unit}"


def _checked(f: Field, value: Any) -> str | None:
    """The problem with one value already in the canonical unit, or None."""
    if f.kind == "boolean":
        return None if isinstance(value, bool) else "must be true or false"
    if f.kind == "choice":
        return None if value in f.choices else f"must be one of {', '.join(f.choices)}"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "must be a number"
    if not math.isfinite(value):
        return "must be a finite number"
    if f.kind == "integer" and value != int(value):
        return "must be a whole number"
    if (f.minimum is not None and value < f.minimum) or (f.maximum is not None and value > f.maximum):
        return f"{value:g} is outside the range this calculator is defined for ({_range_text(f)})"
    return None


def validate(fields: tuple[Field, ...], values: Mapping[str, Any]) -> dict[str, Any]:
    """The values of fields (canonical units), defaults filled in; ScoreInputError lists every problem at once."""
    problems: dict[str, str] = {}
    out: dict[str, Any] = {}
    for f in fields:
        value = values.get(f.name)
        if value is None:
            if f.required:
                problems[f.name] = "is required"
                continue
            value = f.default
        if value is not None and (problem := _checked(f, value)):
            problems[f.name] = problem
            continue
        out[f.name] = int(value) if f.kind == "integer" and value is not None else value
    if problems:
        raise ScoreInputError(problems)
    return out


def _canonical(f: Field, raw: Any) -> Any:
    """A raw JSON value in the canonical unit: a bare number is taken as canonical, {"value", "unit"} is converted."""
    if not isinstance(raw, Mapping):
        return raw
    if f.kind not in ("number", "integer") or set(raw) - {"value", "unit"} or "value" not in raw:
        raise ScoreInputError({f.name: 'must be a value, or {"value": number, "unit": text}'})
    value, unit = raw["value"], raw.get("unit") or f.unit
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ScoreInputError({f.name: "value must be a number"})
    if unit == f.unit:
        return value
    if not isinstance(unit, str) or unit not in f.units:
        accepted = ", ".join([f.unit, *f.units])
        raise ScoreInputError({f.name: f"unit {str(unit)[:20]!r} is not accepted (use {accepted})"})
    return value * f.units[unit]


@dataclass(frozen=True, slots=True)
class Calculator:
    """A named calculator: what it is, its inputs, its result's unit and categories, its source and its function."""

    name: str
    title: str
    title_zh: str
    summary: str
    fields: tuple[Field, ...]
    unit: str
    categories: Mapping[str, tuple[str, str]]  # key -> (English, Chinese) label
    source: str
    applies_to: str
    function: Callable[..., Result]

    def describe(self) -> dict[str, Any]:
        """The catalogue entry: name, titles, inputs with units and ranges, categories, source, applicability."""
        return {"name": self.name, "title": self.title, "title_zh": self.title_zh, "summary": self.summary,
                "inputs": [f.describe() for f in self.fields], "unit": self.unit,
                "categories": [{"key": k, "label": en, "label_zh": zh} for k, (en, zh) in self.categories.items()],
                "source": self.source, "applies_to": self.applies_to}

    def read(self, raw: Mapping[str, Any]) -> dict[str, Any]:
        """The function's arguments from a JSON object: unknown names refused, units converted, ranges checked."""
        if not isinstance(raw, Mapping):
            raise ScoreInputError({"": "the inputs must be a JSON object of name: value"})
        names = {f.name for f in self.fields}
        problems = {str(k)[:40]: "is not an input of this calculator" for k in raw if k not in names}
        converted: dict[str, Any] = {}
        for f in self.fields:
            try:
                converted[f.name] = _canonical(f, raw.get(f.name))
            except ScoreInputError as exc:
                problems.update(exc.problems)
        try:
            values = validate(self.fields, converted)
        except ScoreInputError as exc:
            problems = {**exc.problems, **problems}
        if problems:
            raise ScoreInputError(problems)
        return values

    def run(self, raw: Mapping[str, Any]) -> Result:
        """Read raw inputs and calculate."""
        return self.function(**self.read(raw))

    def label(self, category: str, *, zh: bool = False) -> str:
        """The category's label in English or Chinese."""
        en, chinese = self.categories.get(category, (category, category))
        return chinese if zh else en
