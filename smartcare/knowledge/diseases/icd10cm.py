"""Every ICD-10-CM code (public domain, from the `simple_icd_10_cm` package) with search for the patient app.

English titles come from ICD-10-CM; a code that the curated WHO set (`icd10.py`) also holds gets its Chinese
title and search synonyms from there. Search takes a code ("E11.9", "e119", "S52.521A"), English words
("diab mell", with typo tolerance for words not in the titles), Chinese ("糖尿病") or pinyin ("tangniaobing",
"tnb"). The index is built once, on first use, and a query then looks words up in a sorted vocabulary.
"""

import csv
import heapq
import re
from bisect import bisect_left
from dataclasses import dataclass
from functools import lru_cache
from threading import Lock

import simple_icd_10_cm as cm
from pypinyin import Style, lazy_pinyin
from rapidfuzz import fuzz, process

from smartcare.knowledge.diseases import icd10

MAX_QUERY = 100
MAX_LIMIT = 200
SOURCE = ("ICD-10-CM (U.S. National Center for Health Statistics, public domain), code set of April 2026, "
          "as distributed by the simple_icd_10_cm package")
_CODE_PREFIX = re.compile(r"[A-Z][0-9A-Z]{0,6}")
_HAN = re.compile(r"[\u3400-\u9fff]")
_WORD = re.compile(r"[a-z0-9]+")
_SEP = "|"
# Ranks and tie-breaks are packed into one integer per candidate so that picking the best is a plain heap.
_ROW_SPAN = 1_000_000
_RANK_SPAN = 100 * _ROW_SPAN
_TYPO_CUTOFF = 84
_MIN_TYPO_WORD = 4
_MIN_WORD = 2
# Joining words that nearly every title holds: they narrow nothing and would make a query scan most rows.
_STOP_WORDS = frozenset({"of", "in", "and", "the", "with", "to", "by", "for", "or", "at", "on", "an", "as", "not"})

RANK_EXACT_CODE, RANK_CODE_PREFIX, RANK_EXACT_NAME, RANK_NAME_PREFIX, RANK_WORDS, RANK_FUZZY = range(6)


@dataclass(frozen=True)
class Code:
    """One ICD-10-CM category, subcategory or extended code; `billable` when it is a leaf that can be recorded."""

    code: str
    title_en: str
    title_zh: str
    billable: bool


@dataclass(frozen=True)
class Parent:
    """A chapter, block or category above a code, as shown in its breadcrumb."""

    code: str
    title_en: str
    kind: str  # "chapter", "block" or "code"


@dataclass(frozen=True)
class _Row:
    item: Code
    compact: str
    names_en: str
    names_zh: str
    pinyin_full: str
    pinyin_initials: str


@dataclass(frozen=True)
class _Index:
    rows: tuple[_Row, ...]
    compact_codes: tuple[str, ...]
    by_compact: dict[str, int]
    vocabulary: tuple[str, ...]
    word_rows: dict[str, tuple[int, ...]]
    chinese_rows: tuple[int, ...]
    names: tuple[str, ...]  # every English title and synonym, sorted, for exact and prefix lookups
    name_rows: tuple[int, ...]  # the row of each entry of names
    order: tuple[int, ...]  # tie-break per row: shorter (broader) codes first, then code order


_build_lock = Lock()


def _compact(code: str) -> str:
    return code.strip().upper().replace(".", "").replace(" ", "")


def _joined(names: list[str]) -> str:
    return _SEP + _SEP.join(names) + _SEP


def _pinyin(name: str, style: Style) -> str:
    return "".join(_WORD.findall(" ".join(lazy_pinyin(name, style=style)).lower()))


def _who_names() -> dict[str, tuple[str, list[str], list[str]]]:
    """WHO codes (compact) -> (Chinese title, Chinese names, English synonyms), from the curated set's table."""
    found = {}
    with (icd10.DATA_DIR / "icd10.csv").open(encoding="utf-8", newline="") as handle:
        for record in csv.DictReader(handle):
            synonyms = [a.strip() for a in record["aliases"].split(";") if a.strip()]
            zh = [record["title_zh"]] + [s for s in synonyms if _HAN.search(s)]
            en = [record["title_en"].lower()] + [s.lower() for s in synonyms if not _HAN.search(s)]
            found[_compact(record["code"])] = (record["title_zh"], zh, en)
    return found


def _build() -> _Index:
    who = _who_names()
    rows: list[_Row] = []
    for code in cm.get_all_codes(with_dots=True):
        if cm.is_chapter_or_block(code):
            continue
        compact = _compact(code)
        title_en = cm.get_description(code)
        title_zh, names_zh, extra_en = who.get(compact, ("", [], []))
        en = [title_en.lower(), *extra_en]
        rows.append(_Row(
            item=Code(code, title_en, title_zh, cm.is_leaf(code)),
            compact=compact,
            names_en=_joined(en),
            names_zh=_joined(names_zh) if names_zh else "",
            pinyin_full=_joined([_pinyin(n, Style.NORMAL) for n in names_zh]) if names_zh else "",
            pinyin_initials=_joined([_pinyin(n, Style.FIRST_LETTER) for n in names_zh]) if names_zh else "",
        ))
    rows.sort(key=lambda r: r.compact)
    word_rows: dict[str, list[int]] = {}
    named: list[tuple[str, int]] = []
    for number, row in enumerate(rows):
        for word in set(_WORD.findall(row.names_en)):
            word_rows.setdefault(word, []).append(number)
        named.extend((name, number) for name in row.names_en.strip(_SEP).split(_SEP))
    named.sort()
    return _Index(
        rows=tuple(rows),
        compact_codes=tuple(r.compact for r in rows),
        by_compact={r.compact: n for n, r in enumerate(rows)},
        vocabulary=tuple(sorted(word_rows)),
        word_rows={w: tuple(s) for w, s in word_rows.items()},
        chinese_rows=tuple(n for n, r in enumerate(rows) if r.names_zh),
        names=tuple(name for name, _ in named),
        name_rows=tuple(number for _, number in named),
        order=tuple(len(r.compact) * _ROW_SPAN + n for n, r in enumerate(rows)),
    )


@lru_cache(maxsize=1)
def _index() -> _Index:
    with _build_lock:
        return _build()


def warm_up() -> None:
    """Build the search index now (it takes about a second) instead of on the first query."""
    _index()


def count() -> int:
    """How many codes (categories, subcategories and extended codes) the code set holds."""
    return len(_index().rows)


def codes() -> tuple[Code, ...]:
    """Every code in code order."""
    return tuple(r.item for r in _index().rows)


def find(code: str) -> Code | None:
    """The code exactly as given, ignoring case, spaces and the dot ("e119" finds E11.9)."""
    if not isinstance(code, str) or len(code) > 16:
        return None
    number = _index().by_compact.get(_compact(code))
    return None if number is None else _index().rows[number].item


def parents(code: str) -> list[Parent]:
    """The chapter, block and categories above a code, outermost first; empty for an unknown code."""
    found = find(code)
    if found is None:
        return []
    result = []
    for ancestor in reversed(cm.get_ancestors(found.code)):
        if cm.is_chapter(ancestor):
            kind = "chapter"
        elif cm.is_block(ancestor):
            kind = "block"
        else:
            kind = "code"
        result.append(Parent(ancestor, cm.get_description(ancestor), kind))
    return result


def children(code: str) -> list[Code]:
    """The codes directly below a code, in code order."""
    found = find(code)
    if found is None:
        return []
    return [item for child in cm.get_children(found.code) if (item := find(child)) is not None]


def _rank_codes(index: _Index, compact: str, ranks: dict[int, int], limit: int) -> None:
    if not _CODE_PREFIX.fullmatch(compact) or len(compact) < 2:
        return
    start = bisect_left(index.compact_codes, compact)
    for number in range(start, min(start + limit + 1, len(index.compact_codes))):
        if not index.compact_codes[number].startswith(compact):
            break
        ranks[number] = RANK_EXACT_CODE if index.compact_codes[number] == compact else RANK_CODE_PREFIX


def _prefix_rows(index: _Index, word: str) -> set[int]:
    rows: set[int] = set()
    for position in range(bisect_left(index.vocabulary, word), len(index.vocabulary)):
        candidate = index.vocabulary[position]
        if not candidate.startswith(word):
            break
        rows.update(index.word_rows[candidate])
    return rows


def _corrected(index: _Index, word: str) -> str | None:
    """The title word closest to a word no title holds (a typo), when one is close enough."""
    if len(word) < _MIN_TYPO_WORD or word.isdigit():
        return None
    best = process.extractOne(word, index.vocabulary, scorer=fuzz.ratio, score_cutoff=_TYPO_CUTOFF)
    return best[0] if best else None


def _words_rows(index: _Index, words: list[str]) -> tuple[set[int], bool]:
    """Rows holding every word (as a word prefix), and whether a typo had to be corrected to get there."""
    found: set[int] | None = None
    fuzzy = False
    for word in words:
        rows = _prefix_rows(index, word)
        if not rows:
            corrected = _corrected(index, word)
            if corrected is None:
                return set(), fuzzy
            rows, fuzzy = set(index.word_rows[corrected]), True
        found = rows if found is None else found & rows
        if not found:
            return set(), fuzzy
    return found or set(), fuzzy


def _rank_names(haystack: str, needle: str) -> int | None:
    if not needle or needle not in haystack:
        return None
    if _SEP + needle + _SEP in haystack:
        return RANK_EXACT_NAME
    return RANK_NAME_PREFIX if _SEP + needle in haystack else RANK_WORDS


def _rank_titles(index: _Index, lowered: str, ranks: dict[int, int]) -> None:
    """Rows with a title or synonym equal to, or starting with, the query."""
    for position in range(bisect_left(index.names, lowered), len(index.names)):
        name = index.names[position]
        if not name.startswith(lowered):
            break
        _keep(ranks, index.name_rows[position], RANK_EXACT_NAME if name == lowered else RANK_NAME_PREFIX)


def _keep(ranks: dict[int, int], number: int, rank: int | None) -> None:
    if rank is not None and rank < ranks.get(number, RANK_FUZZY + 1):
        ranks[number] = rank


def search(text: str, *, limit: int = 20) -> list[Code]:
    """Codes matching a code prefix, English words, Chinese or pinyin, best first.

    Ranking: exact code, code prefix, exact title, title prefix, all words, typo-corrected words; ties go
    to the shorter (broader) code, then code order. The query is cut to MAX_QUERY characters.
    """
    if not isinstance(text, str) or limit <= 0:
        return []
    limit = min(limit, MAX_LIMIT)
    query = " ".join(text[:MAX_QUERY].replace(_SEP, " ").split())
    if not query:
        return []
    index = _index()
    ranks: dict[int, int] = {}
    _rank_codes(index, _compact(query), ranks, limit)
    if _HAN.search(query):
        for number in index.chinese_rows:
            _keep(ranks, number, _rank_names(index.rows[number].names_zh, query))
    else:
        lowered = query.lower()
        # One letter says nothing about a title (it would match most rows); it can only start a code.
        words = [w for w in _WORD.findall(lowered) if len(w) >= _MIN_WORD and w not in _STOP_WORDS]
        rows, fuzzy = _words_rows(index, words) if words else (set(), False)
        rank = RANK_FUZZY if fuzzy else RANK_WORDS
        ranks.update((number, rank) for number in rows if number not in ranks)
        _rank_titles(index, lowered, ranks)
        letters = "".join(words)
        if len(letters) >= 2 and letters.isalpha():
            for number in index.chinese_rows:
                row = index.rows[number]
                _keep(ranks, number, _rank_names(row.pinyin_full, letters))
                _keep(ranks, number, _rank_names(row.pinyin_initials, letters))
    order = index.order
    best = heapq.nsmallest(limit, [rank * _RANK_SPAN + order[n] for n, rank in ranks.items()])
    return [index.rows[packed % _ROW_SPAN].item for packed in best]
