"""The Fellegi-Sunter model: m and u probabilities per comparison level, match weights, and their EM estimation.

For each field and level, m is the probability of seeing that level when the two records are the same
person and u when they are not; the level's match weight is log2(m/u), the Bayes factor in bits. A
pair's match weight is the prior's log2 odds plus the weights of its levels (missing fields add nothing),
and its match probability is 2^w / (1 + 2^w) (Fellegi & Sunter 1969; Winkler's EM estimation, 1988).

Term-frequency adjustment (as splink does it, after Winkler 1989): agreeing on a rare name says more
than agreeing on 王 or 李. For the name fields with a frequency table, an exact agreement on value v is
weighed with u = the share of records holding v instead of the field's average u: the level's weight
gets log2(u_exact / share(v)) added (negative for common names). Shares are clamped below at
TF_MINIMUM_U, so a name seen once in a small file cannot outweigh everything else; a value missing from
the table counts as the rarest value in it.
"""

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from smartcare.regional.mpi.compare import COMPARISONS, MISSING, Comparison
from smartcare.regional.mpi.normalise import Person

FORMAT = "smartcare-mpi-fellegi-sunter/1"
# No level is ever impossible: a probability is kept at least this far from 0 so its weight stays finite.
FLOOR = 1e-6
# The fields whose exact agreement is weighed by how common the value is, and the Person attribute holding it.
TF_FIELDS = {"given_name": "given", "family_name": "family"}
# The smallest share a value's u may take (splink's tf_minimum_u_value): one in ten thousand records, so a
# rare name adds at most log2(u_exact / 1e-4) bits, about +5 for FEBRL's given names.
TF_MINIMUM_U = 1e-4


class ModelFileError(ValueError):
    """A model file that cannot be read or does not fit this version's comparisons."""


def _normalised(values: Sequence[float]) -> list[float]:
    floored = [max(float(v), FLOOR) for v in values]
    total = sum(floored)
    return [v / total for v in floored]


def default_m(comparison: Comparison) -> list[float]:
    """A starting m: 90% of true matches agree exactly, the rest spread over the other levels."""
    count = len(comparison.levels)
    return _normalised([0.1 / (count - 1)] * (count - 1) + [0.9])


@dataclass
class FellegiSunterModel:
    """m and u per comparison level plus the prior probability that two random records are the same person."""

    m: list[list[float]]
    u: list[list[float]]
    prior: float
    comparisons: tuple[Comparison, ...] = COMPARISONS
    training: dict = field(default_factory=dict)
    # Per name field, the share of records holding each (normalised) value, and where the shares come from.
    term_frequencies: dict[str, dict[str, float]] = field(default_factory=dict)
    term_frequency_sources: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._refresh()

    def _refresh(self) -> None:
        self.weights = [
            [math.log2(max(m, FLOOR) / max(u, FLOOR)) for m, u in zip(ms, us, strict=True)]
            for ms, us in zip(self.m, self.u, strict=True)
        ]
        self.prior_weight = math.log2(self.prior / (1 - self.prior))
        names = [c.name for c in self.comparisons]
        # (field index, Person attribute, top level, table, weight cache) per adjusted field
        self._tf = [
            (names.index(name), TF_FIELDS[name], len(self.comparisons[names.index(name)].levels) - 1, table, {})
            for name, table in self.term_frequencies.items() if name in TF_FIELDS and name in names and table
        ]
        self._tf_unseen = {name: min(table.values()) for name, table in self.term_frequencies.items() if table}

    def tf_weight(self, field_name: str, value: str) -> float:
        """The bits an exact agreement on value adds to (or takes from) the field's exact-level weight."""
        index = next((k for k, *_ in self._tf if self.comparisons[k].name == field_name), None)
        if index is None or not value:
            return 0.0
        table = self.term_frequencies[field_name]
        share = max(table.get(value, self._tf_unseen[field_name]), TF_MINIMUM_U)
        return math.log2(max(self.u[index][-1], FLOOR) / share)

    def tf_adjustment(self, record: Person, levels: Sequence[int]) -> float:
        """The term-frequency bits for a pair whose first record is record (exact name levels only)."""
        total = 0.0
        for index, attribute, top, _, cache in self._tf:
            if levels[index] == top:
                value = getattr(record, attribute)
                bits = cache.get(value)
                if bits is None:
                    bits = cache[value] = self.tf_weight(self.comparisons[index].name, value)
                total += bits
        return total

    def pair_weight(self, record: Person, levels: Sequence[int]) -> float:
        """The pair's match weight with the term-frequency adjustment for record's names."""
        return self.match_weight(levels) + self.tf_adjustment(record, levels)

    def match_weight(self, levels: Sequence[int]) -> float:
        """The pair's match weight in bits: prior log-odds plus each present field's log2(m/u)."""
        total = self.prior_weight
        for weights, level in zip(self.weights, levels, strict=True):
            if level != MISSING:
                total += weights[level]
        return total

    def field_weights(self, levels: Sequence[int], record: Person | None = None) -> dict[str, float | None]:
        """Each field's contribution to the match weight (None where a value is missing), for review screens;
        with record, exact name agreements include their term-frequency adjustment."""
        found = {
            comparison.name: None if level == MISSING else weights[level]
            for comparison, weights, level in zip(self.comparisons, self.weights, levels, strict=True)
        }
        if record is not None:
            for index, attribute, top, _, _ in self._tf:
                name = self.comparisons[index].name
                if levels[index] == top and found[name] is not None:
                    found[name] += self.tf_weight(name, getattr(record, attribute))
        return found

    def to_dict(self) -> dict:
        """The model as plain JSON data."""
        return {
            "format": FORMAT,
            "prior": self.prior,
            "comparisons": [
                {"name": c.name, "levels": [
                    {"label": label, "m": m, "u": u, "match_weight": w}
                    for label, m, u, w in zip(c.levels, ms, us, ws, strict=True)
                ]}
                for c, ms, us, ws in zip(self.comparisons, self.m, self.u, self.weights, strict=True)
            ],
            "training": self.training,
            "term_frequencies": {
                name: {"source": self.term_frequency_sources.get(name, ""), "values": dict(sorted(table.items()))}
                for name, table in self.term_frequencies.items()
            },
        }

    def save(self, path: Path) -> None:
        """Write the model as JSON."""
        path.write_text(json.dumps(self.to_dict(), indent=2, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def from_dict(cls, data: dict) -> "FellegiSunterModel":
        """A model from its JSON data; raise ModelFileError if it does not fit this version's comparisons."""
        try:
            if data.get("format") != FORMAT:
                raise ModelFileError(f"not a SmartCare MPI model (format {data.get('format')!r}, expected {FORMAT})")
            stored = {c["name"]: c["levels"] for c in data["comparisons"]}
            m, u = [], []
            for comparison in COMPARISONS:
                levels = stored.get(comparison.name)
                if levels is None or [lv["label"] for lv in levels] != list(comparison.levels):
                    raise ModelFileError(f"the model's levels for {comparison.name} differ from this version's")
                m.append(_normalised([lv["m"] for lv in levels]))
                u.append(_normalised([lv["u"] for lv in levels]))
            prior = float(data["prior"])
            term_frequencies, sources = {}, {}
            for name, table in (data.get("term_frequencies") or {}).items():
                if name not in TF_FIELDS:
                    raise ModelFileError(f"term frequencies are kept for {', '.join(TF_FIELDS)} only, not {name}")
                values = {str(v): float(share) for v, share in table["values"].items()}
                if any(not 0 < share <= 1 for share in values.values()):
                    raise ModelFileError(f"the term frequencies of {name} must lie in (0, 1]")
                term_frequencies[name], sources[name] = values, str(table.get("source", ""))
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            if isinstance(error, ModelFileError):
                raise
            raise ModelFileError(f"the model file is malformed ({error})") from None
        if not 0 < prior < 1:
            raise ModelFileError("the model's prior must lie strictly between 0 and 1")
        return cls(m=m, u=u, prior=prior, training=data.get("training", {}), term_frequencies=term_frequencies,
                   term_frequency_sources=sources)

    @classmethod
    def load(cls, path: Path) -> "FellegiSunterModel":
        """Read a model saved with save()."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise ModelFileError(f"cannot read the model file {path}: {error}") from None
        return cls.from_dict(data)


def probability(weight: float) -> float:
    """The match probability for a match weight in bits."""
    if weight > 60:
        return 1.0
    odds = 2.0**weight
    return odds / (1 + odds)


def _pad(tables: Sequence[Sequence[float]], width: int) -> np.ndarray:
    """log-probability tables padded to one width; the last column (index -1 = MISSING) is log 1 = 0."""
    out = np.zeros((len(tables), width + 1))
    for k, row in enumerate(tables):
        out[k, : len(row)] = np.log(np.maximum(np.asarray(row, dtype=float), FLOOR))
    return out


def level_frequencies(
    patterns: np.ndarray, counts: np.ndarray, sizes: Sequence[int], weights: np.ndarray | None = None
) -> list[list[float]]:
    """Per field, the (weighted) share of each level among pairs where the field is present."""
    w = counts if weights is None else counts * weights
    tables = []
    for k, size in enumerate(sizes):
        column = patterns[:, k]
        present = w[column != MISSING].sum()
        tallies = [w[column == level].sum() for level in range(size)]
        tables.append(_normalised([t / present if present else 1 / size for t in tallies]))
    return tables


@dataclass
class EMResult:
    """What one expectation-maximisation run estimated."""

    m: list[list[float]]
    u: list[list[float]]
    proportion_matched: float
    iterations: int
    pairs: int


def expectation_maximisation(
    vectors: np.ndarray,
    *,
    m: list[list[float]],
    u: list[list[float]],
    proportion: float = 0.1,
    estimate_u: bool = False,
    fields: Iterable[int] | None = None,
    max_iterations: int = 200,
    tolerance: float = 1e-6,
) -> EMResult:
    """Estimate m (and u unless it is held fixed) and the share of matches from unlabelled comparison vectors.

    Only the given fields take part (a training block on birth date must leave birth date out, since
    every pair in it agrees there); the others keep their m and u. Identical vectors are counted once.
    """
    sizes = [len(row) for row in m]
    active = sorted(set(range(len(sizes)) if fields is None else fields))
    patterns, counts = np.unique(np.asarray(vectors, dtype=np.int8), axis=0, return_counts=True)
    counts = counts.astype(float)
    m, u = [list(row) for row in m], [list(row) for row in u]
    width = max(sizes)
    iterations = 0
    while iterations < max_iterations:
        iterations += 1
        log_m, log_u = _pad(m, width), _pad(u, width)
        cols = patterns[:, active]
        rows = np.asarray(active)[None, :]
        logit = (
            math.log(proportion / (1 - proportion))
            + log_m[rows, cols].sum(axis=1)
            - log_u[rows, cols].sum(axis=1)
        )
        p = 1 / (1 + np.exp(-np.clip(logit, -700, 700)))
        new_proportion = float(min(max((p * counts).sum() / counts.sum(), FLOOR), 1 - FLOOR))
        new_m = level_frequencies(patterns, counts, sizes, p)
        new_u = level_frequencies(patterns, counts, sizes, 1 - p) if estimate_u else u
        change = abs(new_proportion - proportion)
        for k in active:
            change = max(change, *(abs(a - b) for a, b in zip(new_m[k], m[k], strict=True)))
            m[k] = new_m[k]
            if estimate_u:
                change = max(change, *(abs(a - b) for a, b in zip(new_u[k], u[k], strict=True)))
                u[k] = new_u[k]
        proportion = new_proportion
        if change < tolerance:
            break
    return EMResult(m=m, u=u, proportion_matched=proportion, iterations=iterations, pairs=int(counts.sum()))
