"""Batch linkage: score the candidate pairs of two record sets (or of one, to deduplicate) with a trained model."""

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from smartcare.regional.mpi import DEFAULT_THRESHOLD
from smartcare.regional.mpi.blocking import candidate_blocks
from smartcare.regional.mpi.compare import compare
from smartcare.regional.mpi.model import FellegiSunterModel, probability
from smartcare.regional.mpi.normalise import Person

DETERMINISTIC = "identity number"
PROBABILISTIC = "probabilistic"


@dataclass(frozen=True, slots=True)
class MatchedPair:
    """Two records judged the same person, how likely that is, and on what basis."""

    left_id: str
    right_id: str
    match_probability: float
    match_weight: float
    basis: str


@dataclass(frozen=True, slots=True)
class Score:
    """One pair's verdict: match weight in bits, probability, and whether a valid identity number decided it."""

    match_weight: float
    match_probability: float
    deterministic: bool


def score(model: FellegiSunterModel, a: Person, b: Person) -> Score:
    """Score one pair: the same valid PRC identity number links outright, anything else by the model."""
    weight = model.pair_weight(a, compare(a, b))
    if a.id_valid and b.id_valid and a.id_number == b.id_number:
        return Score(weight, 1.0, True)
    return Score(weight, probability(weight), False)


def weight_for(threshold: float) -> float:
    """The match weight at which the match probability reaches the threshold."""
    return math.log2(threshold / (1 - threshold))


def find_matches(
    model: FellegiSunterModel,
    left: Sequence[Person],
    right: Sequence[Person] | None = None,
    *,
    threshold: float = DEFAULT_THRESHOLD,
    one_to_one: bool = False,
    on_total: Callable[[int], None] | None = None,
    on_advance: Callable[[int], None] | None = None,
) -> list[MatchedPair]:
    """The pairs at or above the threshold, best first; with one_to_one each record keeps only its best match."""
    if not 0 < threshold < 1:
        raise ValueError("the match probability threshold must lie strictly between 0 and 1")
    other = left if right is None else right
    blocks = candidate_blocks(left, right)
    if on_total:
        on_total(sum(blocks.size(index) for index in range(len(blocks.blocks))))
    cutoff = weight_for(threshold)
    weights = model.weights
    prior_weight = model.prior_weight
    adjusted = bool(model.term_frequencies)
    found: list[MatchedPair] = []
    for index in range(len(blocks.blocks)):
        for i, j in blocks.pairs(index):
            a, b = left[i], other[j]
            # The scorer inlined: this loop runs millions of times when deduplicating a region.
            weight = prior_weight
            levels = compare(a, b)
            for table, level in zip(weights, levels, strict=True):
                if level >= 0:
                    weight += table[level]
            if adjusted:
                weight += model.tf_adjustment(a, levels)
            if a.id_valid and b.id_valid and a.id_number == b.id_number:
                found.append(MatchedPair(a.record_id, b.record_id, 1.0, weight, DETERMINISTIC))
            elif weight >= cutoff:
                found.append(MatchedPair(a.record_id, b.record_id, probability(weight), weight, PROBABILISTIC))
        if on_advance:
            on_advance(blocks.size(index))
    found.sort(key=lambda pair: (-pair.match_probability, -pair.match_weight, pair.left_id, pair.right_id))
    if one_to_one:
        found = _best_each(found)
    return found


def _best_each(pairs: list[MatchedPair]) -> list[MatchedPair]:
    """Greedy one-to-one assignment over pairs sorted best first."""
    used_left: set[str] = set()
    used_right: set[str] = set()
    kept = []
    for pair in pairs:
        if pair.left_id in used_left or pair.right_id in used_right:
            continue
        used_left.add(pair.left_id)
        used_right.add(pair.right_id)
        kept.append(pair)
    return kept
