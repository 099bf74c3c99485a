"""Small-cell suppression of published counts, so that no small group of people can be picked out of a table.

Counts from 1 to threshold-1 are hidden (primary suppression) because a handful of cases in one
place and week can point to the people behind them: that is the re-identification risk the rule
(data/disclosure_control.json, with its sources) guards against. Hiding them is not enough when a
total is published too: with one hidden count in a row, the total minus the others gives it back.
So, while any line of counts that adds up to a published total (a row, a column, a list with its
total) holds exactly one hidden count, the smallest other non-zero count of that line is hidden as
well (secondary suppression). This closes subtraction from one total; it is not an optimal
suppression pattern, and it does not defend against solving all the table's sums at once.
"""

import json
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

RULE_FILE = Path(__file__).resolve().parent / "data" / "disclosure_control.json"
HIDDEN = "suppressed"  # how a secondarily hidden count (5 or more) is published


@dataclass(frozen=True, slots=True)
class DisclosureRule:
    """The small-cell rule: counts under threshold are shown as shown_as, for the reason given."""

    threshold: int
    shown_as: str
    reason: str
    source: str


@cache
def disclosure_rule() -> DisclosureRule:
    """The rule from data/disclosure_control.json."""
    data = json.loads(RULE_FILE.read_text(encoding="utf-8"))
    return DisclosureRule(int(data["threshold"]), str(data["shown_as"]), str(data["reason"]), str(data["source"]))


def hidden_counts(
    counts: dict[Hashable, int], lines: Iterable[Sequence[Hashable]], *, threshold: int,
    totals: frozenset[Hashable] = frozenset(),
) -> set[Hashable]:
    """The keys of counts to hide: small ones, then enough others that no line gives one back.

    A line is a group of keys whose counts add up to another published count (a row and its
    total). Where a choice is needed, a small non-total count is hidden before a larger one or a total.
    """
    hidden = {key for key, value in counts.items() if 0 < value < threshold}
    lines = [list(line) for line in lines]
    changed = True
    while changed:
        changed = False
        for line in lines:
            if sum(1 for key in line if key in hidden) != 1:
                continue
            candidates = [key for key in line if key not in hidden and counts.get(key, 0) > 0]
            if candidates:
                hidden.add(min(candidates, key=lambda k: (k in totals, counts[k], repr(k))))
                changed = True
    return hidden


def published(value: int, key: Hashable, hidden: set[Hashable], rule: DisclosureRule) -> int | str:
    """A count as published: the number, rule.shown_as for a small one, or HIDDEN for one hidden to protect it."""
    if key not in hidden:
        return value
    return rule.shown_as if value < rule.threshold else HIDDEN
