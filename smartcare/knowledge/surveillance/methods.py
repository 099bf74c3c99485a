"""The registry of outbreak detectors and one entry point, `detect`, that checks the input and judges each period.

Every method answers one row per period of the series, in order. A period the method cannot judge yet (too little
history before it: the first `baseline` periods for EARS C1, `training` for CUSUM, b years and w periods for
Farrington) is returned with expected and upper None and no alarm, never skipped. Upper is also None where the method
judges but gives no bound: Farrington and Noufaily with fewer than limit54_cases in the last limit54_period periods,
a Noufaily model that did not converge, or an EARS bound on a zero standard deviation that R leaves undefined.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from smartcare.knowledge.surveillance import cusum, ears, farrington
from smartcare.knowledge.surveillance.catalogue import CATALOGUE, MethodInfo
from smartcare.knowledge.surveillance.parameters import DetectionInputError, Parameter
from smartcare.knowledge.surveillance.results import Bounds

MAX_PERIODS = 20_000
MAX_COUNT = 1_000_000
MAX_PERIOD_LENGTH = 40
MAX_FREQUENCY = 366


@dataclass(frozen=True, slots=True)
class Judgement:
    """One period judged: its count, the expected count, the upper bound, whether it alarms, and the method's score
    (C1/C2 standard deviations, C3 sum, CUSUM sum, Farrington exceedance) where the method has one."""

    period: str
    count: int
    expected: float | None
    upper: float | None
    alarm: bool
    score: float | None

    def as_dict(self) -> dict[str, Any]:
        """The row as plain JSON-ready data."""
        return {"period": self.period, "count": self.count, "expected": self.expected, "upper": self.upper,
                "alarm": self.alarm, "score": self.score}


@dataclass(frozen=True, slots=True)
class Method:
    """A detector: its catalogue entry, how to run it and the first period it can judge."""

    info: MethodInfo
    run: Callable[[np.ndarray, int, dict[str, Any]], Bounds]
    first_judged: Callable[[int, Mapping[str, Any]], int]

    @property
    def name(self) -> str:
        """The method's name, e.g. ears-c1."""
        return self.info.name

    @property
    def parameters(self) -> tuple[Parameter, ...]:
        """The method's parameters in the order they are resolved."""
        return self.info.parameters

    def describe(self) -> dict[str, Any]:
        """The method as the catalogue shows it: name, title, description, source, R function and parameters."""
        return self.info.describe()

    def resolve(self, params: Mapping[str, Any], frequency: int) -> dict[str, Any]:
        """The parameters with defaults filled in and checked; raises DetectionInputError naming every problem."""
        problems = {name: f"is not a parameter of {self.name}; it has {', '.join(p.name for p in self.parameters)}"
                    for name in params if name not in {p.name for p in self.parameters}}
        values: dict[str, Any] = {}
        for parameter in self.parameters:
            given = params.get(parameter.name)
            if given is None:
                try:
                    given = parameter.default_for(frequency, values)
                except TypeError:
                    continue  # the default depends on a parameter already reported as wrong
            value, problem = parameter.check(given)
            values[parameter.name] = value
            if problem:
                problems[parameter.name] = problem
        if not problems:
            problems.update(self.info.combined_problems(values, frequency))
        if problems:
            raise DetectionInputError(problems)
        return values


def _ears(function: Callable[..., Bounds]) -> Callable[[np.ndarray, int, dict[str, Any]], Bounds]:
    return lambda counts, frequency, values: function(counts, **values)


def _flexible(counts: np.ndarray, frequency: int, values: dict[str, Any]) -> Bounds:
    return farrington.farrington_flexible(counts, farrington.FlexibleSettings(frequency=frequency, **values))


_RUNNERS: dict[str, tuple[Callable[[np.ndarray, int, dict[str, Any]], Bounds], Callable[[int, Mapping], int]]] = {
    "ears-c1": (_ears(ears.ears_c1), lambda f, v: v["baseline"]),
    "ears-c2": (_ears(ears.ears_c2), lambda f, v: v["baseline"] + 2),
    "ears-c3": (_ears(ears.ears_c3), lambda f, v: v["baseline"] + 4),
    "cusum": (lambda counts, frequency, values: cusum.cusum(counts, frequency=frequency, **values),
              lambda f, v: v["training"]),
    "farrington": (lambda counts, frequency, values: farrington.farrington(counts, frequency=frequency, **values),
                   lambda f, v: v["b"] * f + v["w"]),
    "noufaily": (_flexible, lambda f, v: v["b"] * f + v["w"]),
}
METHODS: dict[str, Method] = {info.name: Method(info, *_RUNNERS[info.name]) for info in CATALOGUE}


def _positions(indices: Sequence[int]) -> str:
    """Where in the series, counting from 1, the first few problems are."""
    shown = ", ".join(str(i + 1) for i in indices[:5])
    return shown + (f" and {len(indices) - 5} more" if len(indices) > 5 else "")


def _count_problems(counts: Sequence[Any]) -> list[str]:
    if isinstance(counts, str | bytes) or not isinstance(counts, Sequence):
        return ["must be a list of whole numbers"]
    if len(counts) > MAX_PERIODS:
        return [f"has {len(counts)} periods; at most {MAX_PERIODS} are accepted"]
    not_whole = [i for i, c in enumerate(counts) if isinstance(c, bool) or not isinstance(c, int)]
    whole = [(i, c) for i, c in enumerate(counts) if not isinstance(c, bool) and isinstance(c, int)]
    negative = [i for i, c in whole if c < 0]
    huge = [i for i, c in whole if c > MAX_COUNT]
    found = []
    if not_whole:
        found.append(f"not a whole number at position {_positions(not_whole)}")
    if negative:
        found.append(f"negative at position {_positions(negative)}")
    if huge:
        found.append(f"above {MAX_COUNT:,} at position {_positions(huge)}")
    return found


def _period_problem(periods: Sequence[Any] | None, length: int) -> str | None:
    if periods is None:
        return None
    if isinstance(periods, str | bytes) or not isinstance(periods, Sequence) or len(periods) != length:
        return f"must be a list of {length} labels, one for each count"
    bad = [i for i, p in enumerate(periods) if not isinstance(p, str) or not 0 < len(p.strip()) <= MAX_PERIOD_LENGTH]
    if bad:
        return f"each label must be 1 to {MAX_PERIOD_LENGTH} characters; not at position {_positions(bad)}"
    seen: set[str] = set()
    repeated = [i for i, p in enumerate(periods) if p in seen or seen.add(p)]
    return f"repeated at position {_positions(repeated)}" if repeated else None


def check_input(method: str, counts: Sequence[Any], periods: Sequence[Any] | None, frequency: Any,
                params: Mapping[str, Any]) -> tuple[Method, dict[str, Any]]:
    """The method and its resolved parameters; raises DetectionInputError naming every problem with the input."""
    problems: dict[str, str] = {}
    found = METHODS.get(method) if isinstance(method, str) else None
    if found is None:
        problems["method"] = f"unknown method; the methods are {', '.join(METHODS)}"
    if isinstance(frequency, bool) or not isinstance(frequency, int) or not 1 <= frequency <= MAX_FREQUENCY:
        problems["frequency"] = f"must be a whole number of periods a year from 1 to {MAX_FREQUENCY}"
    if count_problems := _count_problems(counts):
        problems["counts"] = "; ".join(count_problems)
    elif (period_problem := _period_problem(periods, len(counts))) is not None:
        problems["periods"] = period_problem
    values: dict[str, Any] = {}
    if found is not None and "frequency" not in problems:
        try:
            values = found.resolve(params, frequency)
        except DetectionInputError as exc:
            problems.update(exc.problems)
    if found is not None and values and "counts" not in problems:
        needed = found.first_judged(frequency, values) + 1
        if len(counts) < needed:
            problems["counts"] = (f"{method} with these parameters needs at least {needed} periods "
                                  f"to judge one; the series has {len(counts)}")
    if problems or found is None:
        raise DetectionInputError(problems)
    return found, values


def _number(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def detect(method: str, counts: Sequence[int], *, periods: Sequence[str] | None = None, frequency: int,
           **params: Any) -> list[Judgement]:
    """Judge each period of a count series with the named method; rows come back in the series' order."""
    found, values = check_input(method, counts, periods, frequency, params)
    bounds = found.run(np.asarray(counts, dtype=float), frequency, values)
    labels = [str(i + 1) for i in range(len(counts))] if periods is None else list(periods)
    rows = []
    for i, count in enumerate(counts):
        judged = bool(bounds.judged[i])
        rows.append(Judgement(period=labels[i], count=int(count),
                              expected=_number(bounds.expected[i]) if judged else None,
                              upper=_number(bounds.upper[i]) if judged else None,
                              alarm=judged and bool(bounds.alarm[i]),
                              score=_number(bounds.score[i]) if judged else None))
    return rows
