"""Blocking: which record pairs are worth comparing at all, so linkage never compares everyone with everyone.

A blocking rule maps a record to a key; two records are a candidate pair when some rule gives them the
same non-empty key. A pair found by several rules is yielded once (by the first), as splink does, so no
set of all pairs is ever held in memory. Keys shared by very many records (a placeholder phone such as
00000000, a clinic's own address) say nothing about identity and are skipped.
"""

import random
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from smartcare.regional.mpi.normalise import Person

# A key held by more records than this (on one side) is a placeholder, not a trait of one person.
MAX_BLOCK = 400


@dataclass(frozen=True, slots=True)
class BlockingRule:
    """A named key function and the comparison fields every pair it yields agrees on."""

    name: str
    key: Callable[[Person], str]
    fields: tuple[str, ...]


def _names(p: Person) -> str:
    # Order-insensitive, so "Zhang Wei" and "Wei Zhang" fall in the same block.
    return "|".join(sorted((p.given, p.family))) if p.given and p.family else ""


def _joined(*parts: str) -> str:
    return "|".join(parts) if all(parts) else ""


PREDICTION_RULES: tuple[BlockingRule, ...] = (
    BlockingRule("same identity number", lambda p: p.id_number, ("id_number",)),
    BlockingRule("same phone", lambda p: p.phone, ("phone",)),
    BlockingRule("same birth date", lambda p: p.birth, ("birth_date",)),
    BlockingRule("same names", _names, ("given_name", "family_name")),
    # Postcode with one whole name, not an initial: a postcode can hold tens of thousands of people and
    # Chinese family names are few (王 alone is 7%), so initials would make blocks of thousands.
    BlockingRule("same postcode and family name", lambda p: _joined(p.postcode, p.family), ("postcode", "family_name")),
    BlockingRule("same postcode and given name", lambda p: _joined(p.postcode, p.given), ("postcode", "given_name")),
    BlockingRule("same birth year and family name", lambda p: _joined(p.birth[:4], p.family), ("family_name",)),
    BlockingRule("same birth year and given name", lambda p: _joined(p.birth[:4], p.given), ("given_name",)),
    BlockingRule("same address and city", lambda p: _joined(p.address, p.city), ("address", "city")),
)
# Training blocks for the m probabilities: each leaves out the fields it blocks on (splink's method).
TRAINING_RULES: tuple[BlockingRule, ...] = (
    BlockingRule("birth date", lambda p: p.birth, ("birth_date",)),
    BlockingRule("postcode", lambda p: p.postcode, ("postcode",)),
    BlockingRule("names", _names, ("given_name", "family_name")),
)


def _blocks(
    keys_left: Sequence[str], keys_right: Sequence[str] | None, max_block: int
) -> Iterator[tuple[list[int], list[int]]]:
    left: dict[str, list[int]] = defaultdict(list)
    for i, key in enumerate(keys_left):
        if key:
            left[key].append(i)
    if keys_right is None:
        for members in left.values():
            if 1 < len(members) <= max_block:
                yield members, members
        return
    right: dict[str, list[int]] = defaultdict(list)
    for j, key in enumerate(keys_right):
        if key and key in left:
            right[key].append(j)
    for key, members in right.items():
        if len(members) <= max_block and len(left[key]) <= max_block:
            yield left[key], members


@dataclass(frozen=True, slots=True)
class Blocks:
    """The blocks of a set of rules, and each record's key under every rule."""

    dedupe: bool
    keys_left: list[list[str]]
    keys_right: list[list[str]]
    blocks: list[tuple[int, list[int], list[int]]]

    def size(self, index: int) -> int:
        """How many pairs block number index spans (before pairs of earlier rules are skipped)."""
        _, members_left, members_right = self.blocks[index]
        n = len(members_left)
        return n * (n - 1) // 2 if self.dedupe else n * len(members_right)

    def pairs(self, index: int) -> Iterator[tuple[int, int]]:
        """The pairs of block number index that no earlier rule has yielded."""
        rule, members_left, members_right = self.blocks[index]
        keys_left, keys_right = self.keys_left, self.keys_right
        for i in members_left:
            for j in members_right:
                if self.dedupe and j <= i:
                    continue
                if any(keys_left[e][i] and keys_left[e][i] == keys_right[e][j] for e in range(rule)):
                    continue
                yield i, j


def candidate_blocks(
    left: Sequence[Person],
    right: Sequence[Person] | None = None,
    *,
    rules: Sequence[BlockingRule] = PREDICTION_RULES,
    max_block: int = MAX_BLOCK,
) -> Blocks:
    """Every rule's blocks over the records: across left and right when linking, within left when deduplicating."""
    dedupe = right is None
    keys_left = [[rule.key(p) for p in left] for rule in rules]
    keys_right = keys_left if dedupe else [[rule.key(p) for p in right] for rule in rules]
    blocks = [
        (r, members_left, members_right)
        for r in range(len(rules))
        for members_left, members_right in _blocks(keys_left[r], None if dedupe else keys_right[r], max_block)
    ]
    return Blocks(dedupe=dedupe, keys_left=keys_left, keys_right=keys_right, blocks=blocks)


def candidate_pairs(
    left: Sequence[Person],
    right: Sequence[Person] | None = None,
    *,
    rules: Sequence[BlockingRule] = PREDICTION_RULES,
    max_block: int = MAX_BLOCK,
) -> Iterator[tuple[int, int]]:
    """Index pairs (i, j) to compare, each once: across left and right, or i < j within left when deduplicating."""
    blocks = candidate_blocks(left, right, rules=rules, max_block=max_block)
    for index in range(len(blocks.blocks)):
        yield from blocks.pairs(index)


def sampled_pairs(
    left: Sequence[Person],
    right: Sequence[Person] | None,
    *,
    rule: BlockingRule,
    max_pairs: int,
    rng: random.Random,
    max_block: int = MAX_BLOCK,
) -> tuple[list[tuple[int, int]], int]:
    """About max_pairs pairs sampled uniformly from one rule's blocks (all when fewer), and how many there are."""
    dedupe = right is None
    keys_left = [rule.key(p) for p in left]
    keys_right = None if dedupe else [rule.key(p) for p in right]
    blocks = list(_blocks(keys_left, keys_right, max_block))
    sizes = [len(a) * (len(a) - 1) // 2 if dedupe else len(a) * len(b) for a, b in blocks]
    total = sum(sizes)
    rate = min(1.0, max_pairs / total) if total else 1.0
    pairs: list[tuple[int, int]] = []
    for (members_left, members_right), size in zip(blocks, sizes, strict=True):
        if rate >= 1.0:
            pairs.extend(
                (i, j) for i in members_left for j in members_right if not dedupe or i < j
            )
            continue
        wanted = size * rate
        # Stochastic rounding keeps small blocks represented in proportion.
        for _ in range(int(wanted) + (rng.random() < wanted - int(wanted))):
            i, j = rng.choice(members_left), rng.choice(members_right)
            if i != j:
                pairs.append((min(i, j), max(i, j)) if dedupe else (i, j))
    return pairs, total


def random_pairs(
    n_left: int, n_right: int | None, *, count: int, rng: random.Random
) -> list[tuple[int, int]]:
    """Uniformly random pairs of distinct records, to learn how often non-matches agree by chance (u)."""
    pairs = []
    if n_right is None:
        if n_left < 2:
            return []
        while len(pairs) < count:
            i, j = rng.randrange(n_left), rng.randrange(n_left)
            if i != j:
                pairs.append((min(i, j), max(i, j)))
        return pairs
    if not n_left or not n_right:
        return []
    return [(rng.randrange(n_left), rng.randrange(n_right)) for _ in range(count)]


class CandidateIndex:
    """In-memory blocking keys of known identities, to find the few worth scoring against one new record."""

    def __init__(self, people: Sequence[Person], *, rules: Sequence[BlockingRule] = PREDICTION_RULES,
                 max_block: int = MAX_BLOCK) -> None:
        self.rules = tuple(rules)
        self.max_block = max_block
        self._keys: list[dict[str, list[int]]] = [defaultdict(list) for _ in self.rules]
        for index, known in enumerate(people):
            self.add(index, known)

    def add(self, index: int, known: Person) -> None:
        """Index one more identity under its position."""
        for keys, rule in zip(self._keys, self.rules, strict=True):
            if key := rule.key(known):
                keys[key].append(index)

    def candidates(self, incoming: Person) -> set[int]:
        """Positions of the identities sharing any blocking key with the incoming record (placeholders skipped)."""
        found: set[int] = set()
        for keys, rule in zip(self._keys, self.rules, strict=True):
            key = rule.key(incoming)
            members = keys.get(key, ()) if key else ()
            if len(members) <= self.max_block:
                found.update(members)
        return found
