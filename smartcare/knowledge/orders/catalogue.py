"""The order catalogue of the doctor's workstation: lab tests and panels, imaging, procedures and referrals.

Read once from `data/lab.yaml`, `data/imaging.yaml` and `data/procedures.yaml`; every cross-reference
(specimen, tube, panel member, body part) is checked while loading, so a bad edit fails at start-up.
"""

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from pypinyin import Style, lazy_pinyin

DATA_DIR = Path(__file__).parent / "data"
KINDS = ("lab", "panel", "imaging", "procedure", "referral")
MODALITIES = ("CR", "DX", "CT", "MR", "US", "MG", "NM", "PT", "XA", "RF")
MAX_QUERY = 100
MAX_LIMIT = 200
_HAN = re.compile(r"[\u3400-\u9fff]")
_ALNUM = re.compile(r"[a-z0-9]+")
# A query word: a run of Chinese characters, or of anything else but spaces.
_WORD = re.compile(r"[\u3400-\u9fff]+|[^\s\u3400-\u9fff]+")
_WORDS_ONLY = 3  # the rank of an order matching word by word but not as the whole text
_SEP = "|"


class OrderCatalogueError(ValueError):
    """The shipped order data is inconsistent (unknown specimen, panel member, body part ...)."""


@dataclass(frozen=True)
class ReferenceRange:
    """An adult reference interval, optionally for one sex and an age band (years, inclusive)."""

    low: float | None = None
    high: float | None = None
    sex: str | None = None
    min_age: int | None = None
    max_age: int | None = None


@dataclass(frozen=True)
class Specimen:
    """A specimen type with its SNOMED CT concept and HL7 v2 table 0487 code (blank when none fits)."""

    key: str
    name_en: str
    name_zh: str
    snomed: str
    hl7: str


@dataclass(frozen=True)
class Container:
    """A collection tube or container, named by its colour or kind."""

    key: str
    name_en: str
    name_zh: str


@dataclass(frozen=True)
class LabTest:
    """A single laboratory test with its LOINC code, unit (UCUM) and adult reference ranges."""

    key: str
    loinc: str
    name_en: str
    name_zh: str
    specimen: Specimen
    container: Container
    fasting: bool
    tat_hours: float
    unit: str | None
    ranges: tuple[ReferenceRange, ...]

    @property
    def kind(self) -> str:
        """The order kind: 'lab'."""
        return "lab"

    @property
    def code(self) -> str:
        """The LOINC code."""
        return self.loinc


@dataclass(frozen=True)
class LabPanel:
    """A set of tests ordered together; `loinc` is None for locally named panels."""

    key: str
    loinc: str | None
    name_en: str
    name_zh: str
    specimen: Specimen
    container: Container
    fasting: bool
    tat_hours: float
    tests: tuple[LabTest, ...]

    @property
    def kind(self) -> str:
        """The order kind: 'panel'."""
        return "panel"

    @property
    def code(self) -> str | None:
        """The LOINC panel code, if there is one."""
        return self.loinc


@dataclass(frozen=True)
class BodyPart:
    """A DICOM Body Part Examined term with its SNOMED CT concept."""

    term: str
    snomed: str
    name_en: str
    name_zh: str


@dataclass(frozen=True)
class ImagingProcedure:
    """An imaging examination: DICOM modality, body part, contrast and the patient's preparation."""

    key: str
    modality: str
    body_part: BodyPart
    contrast: bool
    loinc: str | None
    name_en: str
    name_zh: str
    preparation: str

    @property
    def kind(self) -> str:
        """The order kind: 'imaging'."""
        return "imaging"

    @property
    def code(self) -> str | None:
        """The LOINC/RSNA Playbook code, if certain."""
        return self.loinc


@dataclass(frozen=True)
class Procedure:
    """A bedside or departmental procedure (ECG, spirometry, endoscopy ...)."""

    key: str
    snomed: str | None
    name_en: str
    name_zh: str
    department: str
    preparation: str

    @property
    def kind(self) -> str:
        """The order kind: 'procedure'."""
        return "procedure"

    @property
    def code(self) -> str | None:
        """The SNOMED CT procedure code, if certain."""
        return self.snomed


@dataclass(frozen=True)
class Referral:
    """A referral to a department of the hospital directory."""

    key: str
    department: str
    name_en: str
    name_zh: str

    @property
    def kind(self) -> str:
        """The order kind: 'referral'."""
        return "referral"

    @property
    def code(self) -> None:
        """Referrals carry no code; the department key says where they go."""
        return None


Order = LabTest | LabPanel | ImagingProcedure | Procedure | Referral


@dataclass(frozen=True)
class _Catalogue:
    tests: tuple[LabTest, ...]
    panels: tuple[LabPanel, ...]
    imaging: tuple[ImagingProcedure, ...]
    procedures: tuple[Procedure, ...]
    referrals: tuple[Referral, ...]
    by_key: dict[str, Order]
    by_code: dict[str, Order]
    search_rows: tuple[tuple[Order, str, str, str], ...]


def _read(name: str) -> dict[str, Any]:
    with (DATA_DIR / name).open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def _lookup(table: dict[str, Any], key: str, what: str, owner: str) -> Any:
    if key not in table:
        raise OrderCatalogueError(f"{owner}: unknown {what} {key!r}")
    return table[key]


def _lab(data: dict[str, Any]) -> tuple[tuple[LabTest, ...], tuple[LabPanel, ...]]:
    specimens = {k: Specimen(k, v["en"], v["zh"], v["snomed"], v["hl7"]) for k, v in data["specimens"].items()}
    containers = {k: Container(k, v["en"], v["zh"]) for k, v in data["containers"].items()}
    tests = {}
    for item in data["tests"]:
        ranges = tuple(ReferenceRange(**r) for r in item["ranges"])
        tests[item["key"]] = LabTest(
            item["key"], item["loinc"], item["en"], item["zh"],
            _lookup(specimens, item["specimen"], "specimen", item["key"]),
            _lookup(containers, item["container"], "container", item["key"]),
            item["fasting"], float(item["tat_hours"]), item["unit"], ranges)
    panels = tuple(LabPanel(
        item["key"], item["loinc"], item["en"], item["zh"],
        _lookup(specimens, item["specimen"], "specimen", item["key"]),
        _lookup(containers, item["container"], "container", item["key"]),
        item["fasting"], float(item["tat_hours"]),
        tuple(_lookup(tests, t, "panel member", item["key"]) for t in item["tests"]))
        for item in data["panels"])
    return tuple(tests.values()), panels


def _imaging(data: dict[str, Any]) -> tuple[ImagingProcedure, ...]:
    parts = {k: BodyPart(k, v["snomed"], v["en"], v["zh"]) for k, v in data["body_parts"].items()}
    result = []
    for item in data["procedures"]:
        if item["modality"] not in MODALITIES:
            raise OrderCatalogueError(f"{item['key']}: modality {item['modality']!r} is not one of {MODALITIES}")
        result.append(ImagingProcedure(
            item["key"], item["modality"], _lookup(parts, item["body_part"], "body part", item["key"]),
            item["contrast"], item["loinc"], item["en"], item["zh"], item["prep"]))
    return tuple(result)


def _pinyin(text: str, style: Style) -> str:
    return "".join(_ALNUM.findall(" ".join(lazy_pinyin(text, style=style)).lower()))


def _search_row(order: Order) -> tuple[Order, str, str, str]:
    names = _SEP + _SEP.join(filter(None, (order.key, order.code or "", order.name_en.lower()))) + _SEP
    pinyin = _SEP + _SEP.join((_pinyin(order.name_zh, Style.NORMAL), _pinyin(order.name_zh, Style.FIRST_LETTER))) + _SEP
    # Lower case: Chinese names carry Latin abbreviations (胸部CT平扫) and queries are lower-cased.
    return order, names, _SEP + order.name_zh.lower() + _SEP, pinyin


@lru_cache(maxsize=1)
def _catalogue() -> _Catalogue:
    tests, panels = _lab(_read("lab.yaml"))
    imaging = _imaging(_read("imaging.yaml"))
    extra = _read("procedures.yaml")
    procedures_ = tuple(Procedure(p["key"], p["snomed"], p["en"], p["zh"], p["department"], p["prep"])
                        for p in extra["procedures"])
    referrals_ = tuple(Referral(r["key"], r["department"], r["en"], r["zh"]) for r in extra["referrals"])
    orders: tuple[Order, ...] = (*tests, *panels, *imaging, *procedures_, *referrals_)
    by_key: dict[str, Order] = {}
    by_code: dict[str, Order] = {}
    for order in orders:
        if order.key in by_key:
            raise OrderCatalogueError(f"order key {order.key!r} is used twice")
        by_key[order.key] = order
        if order.code:
            if order.code in by_code:
                raise OrderCatalogueError(f"code {order.code} is used by {by_code[order.code].key} and {order.key}")
            by_code[order.code] = order
    return _Catalogue(tests, panels, imaging, procedures_, referrals_, by_key, by_code,
                      tuple(_search_row(o) for o in orders))


def lab_tests() -> tuple[LabTest, ...]:
    """Every single laboratory test."""
    return _catalogue().tests


def lab_panels() -> tuple[LabPanel, ...]:
    """Every laboratory panel (血常规, 肝功能 ...)."""
    return _catalogue().panels


def imaging_procedures() -> tuple[ImagingProcedure, ...]:
    """Every imaging examination."""
    return _catalogue().imaging


def procedures() -> tuple[Procedure, ...]:
    """Every non-imaging procedure (ECG, spirometry, endoscopy ...)."""
    return _catalogue().procedures


def referrals() -> tuple[Referral, ...]:
    """Every referral, one per clinical department."""
    return _catalogue().referrals


def find_order(code_or_key: str) -> Order | None:
    """The order with this key ('cbc', 'ct-head') or code (LOINC '58410-2', SNOMED '268400002')."""
    if not isinstance(code_or_key, str) or len(code_or_key) > MAX_QUERY:
        return None
    text = code_or_key.strip()
    catalogue = _catalogue()
    return catalogue.by_key.get(text.lower()) or catalogue.by_code.get(text.upper())


def _rank(haystack: str, needle: str) -> int | None:
    if not needle or needle not in haystack:
        return None
    if _SEP + needle + _SEP in haystack:
        return 0
    return 1 if _SEP + needle in haystack else 2


def _word_rank(haystack: str, word: str) -> int | None:
    """How well one query word sits in haystack: 0 starting a name, 1 starting a word in it, 2 inside a word."""
    best = None
    at = haystack.find(word)
    while at >= 0:
        before = haystack[at - 1]
        if before == _SEP:
            return 0
        boundary = not before.isalnum() or bool(_HAN.match(before)) != bool(_HAN.match(word[0]))
        best = min(best if best is not None else 2, 1 if boundary else 2)
        at = haystack.find(word, at + 1)
    return best


def _best_word_rank(row: tuple[Order, str, str, str], word: str, *, inside_words: bool) -> int | None:
    """The word's best rank in the order's English names, Chinese name or pinyin; None when it is in none.

    Unless inside_words, a word counts in the English names only where a word starts there: of several words,
    "ct" is not the end of "erect". Chinese names and pinyin have no spaces, so anywhere counts in them.
    """
    _, names, name_zh, pinyin = row
    if _HAN.search(word):
        return _word_rank(name_zh, word)
    english = _word_rank(names, word)
    if english == 2 and not inside_words:
        english = None
    ranks = [english, _word_rank(name_zh, word), *([_word_rank(pinyin, word)] if len(word) >= 2 and word.isalpha()
                                                     else [])]
    return min((r for r in ranks if r is not None), default=None)


def _words_rank(row: tuple[Order, str, str, str], words: list[str], *, inside_words: bool) -> int | None:
    """The sum of every word's rank in the order, None as soon as one word is in none of its names."""
    total = 0
    for word in words:
        rank = _best_word_rank(row, word, inside_words=inside_words)
        if rank is None:
            return None
        total += rank
    return total


def _phrase_rank(row: tuple[Order, str, str, str], query: str, letters: str) -> int | None:
    """The rank of the whole query as typed (0 a whole name, 1 a name's start, 2 anywhere), None if absent."""
    _, names, name_zh, pinyin = row
    if _HAN.search(query):
        return _rank(name_zh, query)
    candidates = [_rank(names, query), _rank(name_zh, query)]
    if len(letters) >= 2 and letters.isalpha():
        candidates.append(_rank(pinyin, letters))
    return min((r for r in candidates if r is not None), default=None)


def search_orders(text: str, *, kind: str | None = None, limit: int = 20) -> list[Order]:
    """Orders whose key, code, English or Chinese name or pinyin matches every word of `text`, best first.

    Words match in any order ("chest CT" finds CT Chest), each in any of the names, and Chinese and Latin runs
    count as separate words ("胸部CT" is 胸部 and ct). `kind` narrows to one of KINDS. Ranking: the whole text
    as typed as an exact key, code or name, then as a name's prefix, then anywhere; then orders matching only
    word by word. Within each, words that start names or words beat words found inside words.
    """
    if kind is not None and kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}")
    if not isinstance(text, str) or limit <= 0:
        return []
    query = " ".join(text[:MAX_QUERY].replace(_SEP, " ").lower().split())
    if not query:
        return []
    letters = "".join(_ALNUM.findall(query))
    words = list(dict.fromkeys(_WORD.findall(query)))
    found: list[tuple[int, int, int, Order]] = []
    for position, row in enumerate(_catalogue().search_rows):
        if kind is not None and row[0].kind != kind:
            continue
        phrase = _phrase_rank(row, query, letters)
        # Text found as typed is found word by word too, when words may sit inside words (it is what was typed).
        words_rank = _words_rank(row, words, inside_words=phrase is not None or len(words) == 1)
        if words_rank is None:
            continue
        found.append((_WORDS_ONLY if phrase is None else phrase, words_rank, position, row[0]))
    found.sort(key=lambda item: item[:3])
    return [order for *_, order in found[:min(limit, MAX_LIMIT)]]
