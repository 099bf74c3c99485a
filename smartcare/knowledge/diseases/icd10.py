"""ICD-10 diagnoses (WHO 2019) with English and Chinese titles: lookup, chapters and search for the workstation.

Search takes a code ("E11", "e11.9", "E119"), English words ("diab mell"), Chinese ("糖尿病") or pinyin,
full ("gaoxueya") or initials ("gxy"). The index is built once from `data/icd10.csv` and
`data/icd10_chapters.yaml`; each query is a handful of substring tests per row, well under a millisecond.
"""

import csv
import re
from bisect import bisect_left
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml
from pypinyin import Style, lazy_pinyin

DATA_DIR = Path(__file__).parent / "data"
MAX_QUERY = 100
MAX_LIMIT = 200
CODE_FORMAT = re.compile(r"[A-Z][0-9]{2}(?:\.[0-9]{1,2})?")
_CODE_PREFIX = re.compile(r"[A-Z][0-9]{0,4}")
_HAN = re.compile(r"[\u3400-\u9fff]")
_WORD = re.compile(r"[a-z0-9]+")
# Separates the names joined into one string per row, so that one substring test checks them all.
_SEP = "|"

RANK_EXACT_CODE, RANK_CODE_PREFIX, RANK_EXACT_NAME, RANK_NAME_PREFIX, RANK_WORDS = range(5)


@dataclass(frozen=True)
class Diagnosis:
    """One ICD-10 category or subcategory; `leaf` is true when WHO does not subdivide it further."""

    code: str
    title_en: str
    title_zh: str
    chapter: str
    block: str
    leaf: bool


@dataclass(frozen=True)
class Chapter:
    """An ICD-10 chapter: roman numeral, first and last category, English and Chinese titles."""

    id: str
    first: str
    last: str
    title_en: str
    title_zh: str


@dataclass(frozen=True)
class Block:
    """A block of categories inside a chapter, e.g. I10-I15 Hypertensive diseases."""

    first: str
    last: str
    title_en: str
    title_zh: str

    @property
    def range(self) -> str:
        """The block as it is written, 'I10-I15' (a one-category block is written 'B99')."""
        return self.first if self.first == self.last else f"{self.first}-{self.last}"


@dataclass(frozen=True)
class _Row:
    diagnosis: Diagnosis
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
    word_rows: dict[str, frozenset[int]]


def _compact(code: str) -> str:
    return code.strip().upper().replace(".", "")


def _joined(names: list[str]) -> str:
    return _SEP + _SEP.join(names) + _SEP


def _pinyin(name: str, style: Style) -> str:
    return "".join(_WORD.findall(" ".join(lazy_pinyin(name, style=style)).lower()))


@lru_cache(maxsize=1)
def _chapters() -> tuple[tuple[Chapter, tuple[Block, ...]], ...]:
    with (DATA_DIR / "icd10_chapters.yaml").open(encoding="utf-8") as handle:
        data = yaml.safe_load(handle)
    result = []
    for item in data["chapters"]:
        first, last = item["range"].split("-")
        blocks = []
        for span, title_en, title_zh in item["blocks"]:
            block_first, block_last = span.split("-")
            blocks.append(Block(block_first, block_last, title_en, title_zh))
        result.append((Chapter(item["id"], first, last, item["en"], item["zh"]), tuple(blocks)))
    return tuple(result)


def _locate(category: str) -> tuple[Chapter, Block | None] | None:
    for chapter, blocks in _chapters():
        if chapter.first <= category <= chapter.last:
            block = next((b for b in blocks if b.first <= category <= b.last), None)
            return chapter, block
    return None


@lru_cache(maxsize=1)
def _index() -> _Index:
    rows: list[_Row] = []
    with (DATA_DIR / "icd10.csv").open(encoding="utf-8", newline="") as handle:
        for record in csv.DictReader(handle):
            code = record["code"]
            place = _locate(code[:3])
            if place is None or place[1] is None:
                raise ValueError(f"ICD-10 code {code} falls outside every chapter block")
            chapter, block = place
            aliases = [a.strip() for a in record["aliases"].split(";") if a.strip()]
            zh_names = [record["title_zh"]] + [a for a in aliases if _HAN.search(a)]
            en_names = [record["title_en"]] + [a for a in aliases if not _HAN.search(a)]
            diagnosis = Diagnosis(code, record["title_en"], record["title_zh"], chapter.id, block.range,
                                  record["leaf"] == "yes")
            rows.append(_Row(
                diagnosis=diagnosis,
                compact=_compact(code),
                names_en=_joined([n.lower() for n in en_names]),
                names_zh=_joined(zh_names),
                pinyin_full=_joined([_pinyin(n, Style.NORMAL) for n in zh_names]),
                pinyin_initials=_joined([_pinyin(n, Style.FIRST_LETTER) for n in zh_names]),
            ))
    rows.sort(key=lambda r: r.compact)
    word_rows: dict[str, set[int]] = {}
    for number, row in enumerate(rows):
        for word in _WORD.findall(row.names_en):
            word_rows.setdefault(word, set()).add(number)
    return _Index(
        rows=tuple(rows),
        compact_codes=tuple(r.compact for r in rows),
        by_compact={r.compact: n for n, r in enumerate(rows)},
        vocabulary=tuple(sorted(word_rows)),
        word_rows={w: frozenset(s) for w, s in word_rows.items()},
    )


def diagnoses() -> tuple[Diagnosis, ...]:
    """Every diagnosis in the table, in code order."""
    return tuple(r.diagnosis for r in _index().rows)


def chapters() -> tuple[Chapter, ...]:
    """The 22 chapters of ICD-10 in order."""
    return tuple(chapter for chapter, _ in _chapters())


def is_valid_code(code: str) -> bool:
    """True when `code` has the shape of an ICD-10 code: a letter, two digits and an optional .x or .xx."""
    if not isinstance(code, str) or len(code) > 12:
        return False
    return CODE_FORMAT.fullmatch(code.strip().upper()) is not None


def find(code: str) -> Diagnosis | None:
    """The diagnosis with exactly this code, ignoring case, spaces and the dot ("E119" finds E11.9)."""
    if not isinstance(code, str) or len(code) > 12:
        return None
    number = _index().by_compact.get(_compact(code))
    return None if number is None else _index().rows[number].diagnosis


def chapter_of(code: str) -> tuple[str, str, str] | None:
    """(roman numeral, English title, Chinese title) of the chapter a well-formed code belongs to."""
    if not is_valid_code(code):
        return None
    place = _locate(code.strip().upper()[:3])
    if place is None:
        return None
    chapter = place[0]
    return chapter.id, chapter.title_en, chapter.title_zh


def block_of(code: str) -> Block | None:
    """The block (e.g. I10-I15 Hypertensive diseases) a well-formed code belongs to."""
    if not is_valid_code(code):
        return None
    place = _locate(code.strip().upper()[:3])
    return None if place is None else place[1]


def _rank_codes(index: _Index, compact: str, ranks: dict[int, int]) -> None:
    if not _CODE_PREFIX.fullmatch(compact):
        return
    start = bisect_left(index.compact_codes, compact)
    for number in range(start, len(index.compact_codes)):
        if not index.compact_codes[number].startswith(compact):
            break
        ranks[number] = RANK_EXACT_CODE if index.compact_codes[number] == compact else RANK_CODE_PREFIX


def _words_rows(index: _Index, words: list[str]) -> set[int]:
    found: set[int] | None = None
    for word in words:
        start = bisect_left(index.vocabulary, word)
        rows: set[int] = set()
        for position in range(start, len(index.vocabulary)):
            candidate = index.vocabulary[position]
            if not candidate.startswith(word):
                break
            rows |= index.word_rows[candidate]
        found = rows if found is None else found & rows
        if not found:
            return set()
    return found or set()


def _rank_names(haystack: str, needle: str) -> int | None:
    if not needle or needle not in haystack:
        return None
    if _SEP + needle + _SEP in haystack:
        return RANK_EXACT_NAME
    return RANK_NAME_PREFIX if _SEP + needle in haystack else RANK_WORDS


def _keep(ranks: dict[int, int], number: int, rank: int | None) -> None:
    if rank is not None and rank < ranks.get(number, RANK_WORDS + 1):
        ranks[number] = rank


def search(text: str, *, limit: int = 20) -> list[Diagnosis]:
    """Diagnoses matching a code prefix, English words, Chinese text or pinyin, best matches first.

    Ranking: exact code, code prefix, exact title or synonym, title or synonym prefix, other matches;
    ties in code order. The query is cut to MAX_QUERY characters.
    """
    if not isinstance(text, str) or limit <= 0:
        return []
    query = text[:MAX_QUERY].replace(_SEP, " ").strip()
    if not query:
        return []
    index = _index()
    ranks: dict[int, int] = {}
    _rank_codes(index, _compact(query).replace(" ", ""), ranks)
    lowered = " ".join(query.lower().split())
    if _HAN.search(query):
        for number, row in enumerate(index.rows):
            _keep(ranks, number, _rank_names(row.names_zh, query))
    else:
        words = _WORD.findall(lowered)
        for number in _words_rows(index, words) if words else ():
            _keep(ranks, number, _rank_names(index.rows[number].names_en, lowered) or RANK_WORDS)
        letters = "".join(words)
        if len(letters) >= 2 and letters.isalpha():
            for number, row in enumerate(index.rows):
                _keep(ranks, number, _rank_names(row.pinyin_full, letters))
                _keep(ranks, number, _rank_names(row.pinyin_initials, letters))
    ordered = sorted(ranks, key=lambda n: (ranks[n], n))
    return [index.rows[n].diagnosis for n in ordered[:min(limit, MAX_LIMIT)]]
