"""Small-cell suppression: counts from 1 to 4 hidden, and enough others that none comes back by subtraction."""

import itertools
import json

import pytest

from smartcare.regional.public_health.suppression import (
    HIDDEN,
    RULE_FILE,
    disclosure_rule,
    hidden_counts,
    published,
)


def grid(rows: list[list[int]]) -> tuple[dict, list[list], frozenset]:
    """A table with row and column totals and a grand total, as counts and the lines that add up."""
    counts: dict = {}
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            counts[("cell", r, c)] = value
        counts[("row", r)] = sum(row)
    for c in range(len(rows[0])):
        counts[("col", c)] = sum(row[c] for row in rows)
    counts[("total",)] = sum(map(sum, rows))
    lines = [[("cell", r, c) for c in range(len(rows[0]))] + [("row", r)] for r in range(len(rows))]
    lines += [[("cell", r, c) for r in range(len(rows))] + [("col", c)] for c in range(len(rows[0]))]
    lines += [[("row", r) for r in range(len(rows))] + [("total",)], [("col", c) for c in range(len(rows[0]))] + [("total",)]]
    totals = frozenset(k for k in counts if k[0] != "cell")
    return counts, lines, totals


def recoverable(counts: dict, lines: list[list], hidden: set) -> list:
    """Hidden counts a reader can work out from one line: the line's only hidden member."""
    return [next(k for k in line if k in hidden) for line in lines if sum(k in hidden for k in line) == 1]


def test_the_rule_is_data_with_a_source_and_the_threshold_five():
    data = json.loads(RULE_FILE.read_text(encoding="utf-8"))
    assert data["source"] and data["reason"]
    rule = disclosure_rule()
    assert (rule.threshold, rule.shown_as) == (5, "<5")
    assert "re-identification" in rule.reason


def test_counts_from_one_to_four_are_hidden_zero_and_five_are_not():
    counts = {"a": 0, "b": 1, "c": 4, "d": 5, "e": 12}
    hidden = hidden_counts(counts, [], threshold=5)
    assert hidden == {"b", "c"}
    rule = disclosure_rule()
    assert [published(counts[k], k, hidden, rule) for k in "abcde"] == [0, "<5", "<5", 5, 12]


def test_one_hidden_count_in_a_row_hides_the_next_smallest_so_the_total_does_not_give_it_back():
    counts, lines, totals = grid([[7, 2, 30], [20, 25, 40]])
    hidden = hidden_counts(counts, lines, threshold=5, totals=totals)
    assert ("cell", 0, 1) in hidden and ("cell", 0, 0) in hidden, "the 2, then the smallest other in its row"
    assert recoverable(counts, lines, hidden) == []
    rule = disclosure_rule()
    assert published(counts[("cell", 0, 0)], ("cell", 0, 0), hidden, rule) == HIDDEN
    assert published(counts[("row", 0)], ("row", 0), hidden, rule) == 39


def test_totals_are_hidden_only_when_nothing_else_can_be():
    counts, lines, totals = grid([[3, 0], [0, 0]])
    hidden = hidden_counts(counts, lines, threshold=5, totals=totals)
    # The 3 is also every total it adds up to, and they are all small: all hidden, none recoverable.
    assert hidden == {("cell", 0, 0), ("row", 0), ("col", 0), ("total",)}
    assert recoverable(counts, lines, hidden) == []


@pytest.mark.parametrize("rows", [
    [[1, 9, 9], [9, 9, 9], [9, 9, 1]],
    [[0, 4, 12], [6, 0, 3], [15, 8, 0]],
    [[5, 5, 5], [5, 5, 5]],
    [[2], [30], [7]],
    [[1, 1, 1, 50]],
])
def test_no_hidden_count_can_be_worked_out_from_a_single_total(rows):
    counts, lines, totals = grid(rows)
    hidden = hidden_counts(counts, lines, threshold=5, totals=totals)
    assert recoverable(counts, lines, hidden) == []
    assert {k for k, v in counts.items() if 0 < v < 5} <= hidden
    assert all(counts[k] > 0 for k in hidden), "a zero is never worth hiding"


def test_every_small_table_is_protected():
    """Exhaustively: all 2x2 tables of counts 0, 2, 6 leave no hidden count alone in a line."""
    for values in itertools.product((0, 2, 6), repeat=4):
        counts, lines, totals = grid([list(values[:2]), list(values[2:])])
        hidden = hidden_counts(counts, lines, threshold=5, totals=totals)
        assert recoverable(counts, lines, hidden) == [], values
