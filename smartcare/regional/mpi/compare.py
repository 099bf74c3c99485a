"""Comparison levels: how closely two normalised records agree on each field, as a small integer per field.

Level 0 is "different", higher levels agree more closely, and MISSING marks a field empty on either side
(it then adds no evidence either way). Names are compared order-insensitively, because Chinese names are
written family-first and often entered the other way round in Latin-script systems.
"""

from collections.abc import Callable
from dataclasses import dataclass

from rapidfuzz import fuzz
from rapidfuzz.distance import DamerauLevenshtein, JaroWinkler

from smartcare.regional.mpi.normalise import Person

MISSING = -1


@dataclass(frozen=True, slots=True)
class Comparison:
    """One field's comparison: its name and the labels of its levels, level 0 first."""

    name: str
    levels: tuple[str, ...]


def _name_level(a: str, b: str) -> int:
    if not a or not b:
        return MISSING
    if a == b:
        return 4
    similarity = JaroWinkler.similarity(a, b)
    if similarity >= 0.92 or DamerauLevenshtein.distance(a, b, score_cutoff=1) <= 1:
        return 3
    if similarity >= 0.85:
        return 2
    if similarity >= 0.7 or (a.startswith(b) or b.startswith(a)):
        return 1
    return 0


def _birth_level(a: str, b: str) -> int:
    if not a or not b:
        return MISSING
    if a == b:
        return 4
    if a[:4] == b[:4] and a[4:6] == b[6:8] and a[6:8] == b[4:6]:
        return 3  # day and month swapped: 1980-03-07 against 1980-07-03
    if DamerauLevenshtein.distance(a, b, score_cutoff=1) <= 1:
        return 2
    if abs(int(a[:4]) - int(b[:4])) <= 1:
        return 1
    return 0


def _distance_levels(top: int) -> Callable[[str, str], int]:
    """Exact = top, then one level per Damerau-Levenshtein edit (1, 2 ...) below it, then 0."""

    def level(a: str, b: str) -> int:
        if not a or not b:
            return MISSING
        if a == b:
            return top
        distance = DamerauLevenshtein.distance(a, b, score_cutoff=top - 1)
        return top - distance if distance < top else 0

    return level


def _address_level(a: str, b: str) -> int:
    if not a or not b:
        return MISSING
    if a == b:
        return 3
    if fuzz.ratio(a, b) >= 90:
        return 2
    if fuzz.token_set_ratio(a, b) >= 80:
        return 1
    return 0


def _city_level(a: str, b: str) -> int:
    if not a or not b:
        return MISSING
    if a == b:
        return 2
    return 1 if JaroWinkler.similarity(a, b) >= 0.9 else 0


def _sex_level(a: str, b: str) -> int:
    if not a or not b:
        return MISSING
    return 1 if a == b else 0


COMPARISONS: tuple[Comparison, ...] = (
    Comparison("given_name", ("different", "Jaro-Winkler >= 0.70", "Jaro-Winkler >= 0.85",
                              "one edit or Jaro-Winkler >= 0.92", "exact")),
    Comparison("family_name", ("different", "Jaro-Winkler >= 0.70", "Jaro-Winkler >= 0.85",
                               "one edit or Jaro-Winkler >= 0.92", "exact")),
    Comparison("birth_date", ("different", "within a year", "one typo", "day and month swapped", "exact")),
    Comparison("sex", ("different", "same")),
    Comparison("phone", ("different", "one edit", "exact")),
    Comparison("id_number", ("different", "two edits", "one edit", "exact")),
    Comparison("address", ("different", "same words mostly", "one or two typos", "exact")),
    Comparison("city", ("different", "Jaro-Winkler >= 0.90", "exact")),
    Comparison("postcode", ("different", "one edit", "exact")),
)
FIELD_NAMES = tuple(comparison.name for comparison in COMPARISONS)

_phone_level = _distance_levels(2)
_id_level = _distance_levels(3)
_postcode_level = _distance_levels(2)


def names_swapped(a: Person, b: Person) -> bool:
    """Whether b's given and family names agree better with a's the other way round (Wei Zhang / Zhang Wei)."""
    if not (a.given and a.family and b.given and b.family) or (a.given == b.given and a.family == b.family):
        return False
    straight = JaroWinkler.similarity(a.given, b.given) + JaroWinkler.similarity(a.family, b.family)
    crossed = JaroWinkler.similarity(a.given, b.family) + JaroWinkler.similarity(a.family, b.given)
    return crossed > straight + 0.1


def compare(a: Person, b: Person) -> tuple[int, ...]:
    """The comparison level of each field in COMPARISONS for a pair of records."""
    b_given, b_family = (b.family, b.given) if names_swapped(a, b) else (b.given, b.family)
    return (
        _name_level(a.given, b_given),
        _name_level(a.family, b_family),
        _birth_level(a.birth, b.birth),
        _sex_level(a.sex, b.sex),
        _phone_level(a.phone, b.phone),
        _id_level(a.id_number, b.id_number),
        _address_level(a.address, b.address),
        _city_level(a.city, b.city),
        _postcode_level(a.postcode, b.postcode),
    )
