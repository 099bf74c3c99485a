"""Training a Fellegi-Sunter model on unlabelled records, the way splink does it, in numpy.

1. u from random pairs: nearly all random pairs are different people, so their levels show how often
   strangers agree by chance.
2. m by expectation-maximisation in training blocks (same birth date, same postcode, same names), each
   leaving out the fields it blocks on; a field's m is the mean over the blocks that estimated it.
   Big blocks are sampled rather than skipped: a postcode shared by thousands still shows how the
   same person's records differ.
3. The prior: the matches EM found in a block, divided by the share of true matches that block can
   catch (the product of m "exact" over its fields), over all possible pairs.
4. u once more, from the same random pairs weighted by how unlikely each is to be a match, so the few
   true matches among them do not make agreement look common.
5. Term frequencies of the names: the share of records (both files when linking) holding each value, for
   the term-frequency adjustment (model.py).
"""

import random
import statistics
from collections import Counter
from collections.abc import Callable, Sequence

import numpy as np

from smartcare.regional.mpi.blocking import TRAINING_RULES, random_pairs, sampled_pairs
from smartcare.regional.mpi.compare import COMPARISONS, compare
from smartcare.regional.mpi.model import (
    TF_FIELDS,
    FellegiSunterModel,
    default_m,
    expectation_maximisation,
    level_frequencies,
    probability,
)
from smartcare.regional.mpi.normalise import Person

U_PAIRS = 200_000
TRAINING_PAIRS = 200_000
# A training block with fewer pairs than this says too little to estimate anything from.
MIN_TRAINING_PAIRS = 50


class NotEnoughData(ValueError):
    """Too few records, or too little in them, to train a model."""


def _vectors(left: Sequence[Person], right: Sequence[Person], pairs: Sequence[tuple[int, int]]) -> np.ndarray:
    return np.array([compare(left[i], right[j]) for i, j in pairs], dtype=np.int8).reshape(-1, len(COMPARISONS))


def train(
    left: Sequence[Person],
    right: Sequence[Person] | None = None,
    *,
    seed: int = 0,
    u_pairs: int = U_PAIRS,
    training_pairs: int = TRAINING_PAIRS,
    on_step: Callable[[str], None] | None = None,
) -> FellegiSunterModel:
    """A model trained on the records to link (right given) or deduplicate (right None)."""
    rng = random.Random(seed)
    other = left if right is None else right
    possible = len(left) * (len(left) - 1) // 2 if right is None else len(left) * len(other)
    if possible < 2:
        raise NotEnoughData("at least two records are needed to train a matching model")
    sizes = [len(c.levels) for c in COMPARISONS]
    step = on_step or (lambda _: None)

    step("learning how often different people agree by chance (u)")
    chance = random_pairs(len(left), None if right is None else len(other), count=min(u_pairs, possible), rng=rng)
    chance_vectors = _vectors(left, other, chance)
    patterns, counts = np.unique(chance_vectors, axis=0, return_counts=True)
    # A level never seen among n random pairs is only known to be rarer than about 1/n.
    resolution = 1 / len(chance)
    u = _at_least(level_frequencies(patterns, counts.astype(float), sizes), resolution)

    m = [default_m(c) for c in COMPARISONS]
    estimates: dict[int, list[list[float]]] = {k: [] for k in range(len(COMPARISONS))}
    sessions = []
    for rule in TRAINING_RULES:
        step(f"estimating m within blocks of the same {rule.name}")
        pairs, total = sampled_pairs(left, right, rule=rule, max_pairs=training_pairs, rng=rng, max_block=len(other))
        if len(pairs) < MIN_TRAINING_PAIRS:
            continue
        fields = [k for k, c in enumerate(COMPARISONS) if c.name not in rule.fields]
        result = expectation_maximisation(_vectors(left, other, pairs), m=m, u=u, fields=fields)
        for k in fields:
            estimates[k].append(result.m[k])
            m[k] = result.m[k]
        sessions.append({"block": rule.name, "pairs": total, "sampled": len(pairs),
                         "proportion_matched": result.proportion_matched, "iterations": result.iterations})
    m = [np.mean(rows, axis=0).tolist() if rows else m[k] for k, rows in estimates.items()]
    prior = _prior(sessions, m, possible, smaller=min(len(left), len(other)))

    step("refining u without the true matches among the random pairs")
    model = FellegiSunterModel(m=m, u=u, prior=prior)
    not_match = np.array([1 - probability(model.match_weight(tuple(p))) for p in patterns.tolist()])
    return FellegiSunterModel(
        m=m,
        u=_at_least(level_frequencies(patterns, counts.astype(float), sizes, not_match), resolution),
        prior=prior,
        term_frequencies=term_frequencies([*left, *(right or [])]),
        term_frequency_sources={name: "the records trained on" for name in TF_FIELDS},
        training={"records": [len(left)] + ([] if right is None else [len(other)]),
                  "random_pairs": len(chance), "sessions": sessions, "seed": seed,
                  "m": "estimated" if sessions else "defaults: no training block had enough pairs"},
    )


def term_frequencies(records: Sequence[Person]) -> dict[str, dict[str, float]]:
    """Per name field, the share of the records (with that name given) holding each value."""
    tables = {}
    for name, attribute in TF_FIELDS.items():
        counts = Counter(value for p in records if (value := getattr(p, attribute)))
        total = sum(counts.values())
        if total:
            tables[name] = {value: count / total for value, count in counts.items()}
    return tables


def _at_least(tables: list[list[float]], floor: float) -> list[list[float]]:
    return [[value / sum(row) for value in row] for row in ([max(v, floor) for v in t] for t in tables)]


def _prior(sessions: list[dict], m: list[list[float]], possible: int, *, smaller: int) -> float:
    """P(two random records match): matches EM found per block over the share of matches the block can catch."""
    if not sessions:
        # Too small a file to learn from: assume a quarter of the smaller side has a match.
        return min(max(0.25 * smaller / possible, 1 / possible), 0.5)
    rules = {rule.name: rule for rule in TRAINING_RULES}
    found = []
    for session in sessions:
        fields = rules[session["block"]].fields
        caught = float(np.prod([m[k][-1] for k, c in enumerate(COMPARISONS) if c.name in fields]))
        found.append(session["proportion_matched"] * session["pairs"] / max(caught, 1e-3))
    return min(max(statistics.median(found) / possible, 1 / possible), 0.5)
