"""Consumer condition pages (English and Chinese): loading and checking `data/consumer/*.yaml`, search and ICD links.

Every YAML file in the folder is a list of pages of one shape (see data/consumer/README.md). Search takes
a name or lay synonym in English or Chinese, pinyin ("gaoxueya") or its initials ("gxy"), an ICD-10 code
("E11.9", "e119"), and forgives typos ("diabetis"). `by_icd10` finds the page for a recorded diagnosis by
the longest matching code prefix, so E11.9 leads to the page listed under E11.
"""

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator
from pypinyin import Style, lazy_pinyin
from rapidfuzz import fuzz, process

from smartcare.knowledge.diseases import icd10

DATA_DIR = Path(__file__).parent / "data" / "consumer"
MAX_QUERY = 100
MAX_LIMIT = 50
KEY_FORMAT = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
# WHO or CM style: a category (E11), a subcategory (E11.9, J45.909) or an extended code (S52.521A).
CODE_FORMAT = re.compile(r"[A-Z][0-9][0-9A-Z](?:\.[0-9A-Z]{1,4})?")
_CODE_QUERY = re.compile(r"[A-Z][0-9][0-9A-Z][0-9A-Z]{0,4}")
_HAN = re.compile(r"[\u3400-\u9fff]")
_WORD = re.compile(r"[a-z0-9]+")
_FUZZY_CUTOFF = 80
_FUZZY_HAN_CUTOFF = 66
_MIN_FUZZY = 4

# The demo hospitals' departments (the shared department keys), English and Chinese names.
DEPARTMENTS: dict[str, tuple[str, str]] = {
    "internal-medicine": ("Internal Medicine", "内科"),
    "cardiology": ("Cardiology", "心血管内科"),
    "endocrinology": ("Endocrinology", "内分泌科"),
    "respiratory": ("Respiratory Medicine", "呼吸内科"),
    "nephrology": ("Nephrology", "肾内科"),
    "paediatrics": ("Paediatrics", "儿科"),
    "obstetrics-gynaecology": ("Obstetrics and Gynaecology", "妇产科"),
    "general-surgery": ("General Surgery", "普通外科"),
    "orthopaedics": ("Orthopaedics", "骨科"),
    "emergency": ("Emergency Department", "急诊科"),
    "radiology": ("Radiology", "放射科"),
    "laboratory": ("Clinical Laboratory", "检验科"),
    "general-practice": ("General Practice", "全科医学科"),
    "public-health": ("Public Health", "公共卫生科"),
    "pharmacy": ("Pharmacy", "药剂科"),
    "gastroenterology": ("Gastroenterology", "消化内科"),
    "neurology": ("Neurology", "神经内科"),
    "urology": ("Urology", "泌尿外科"),
    "ent": ("Otorhinolaryngology (ENT)", "耳鼻咽喉科"),
    "ophthalmology": ("Ophthalmology", "眼科"),
    "dermatology": ("Dermatology", "皮肤科"),
    "stomatology": ("Stomatology (Dental)", "口腔科"),
    "tcm": ("Traditional Chinese Medicine", "中医科"),
    "rehabilitation": ("Rehabilitation Medicine", "康复医学科"),
}

RANK_EXACT, RANK_PREFIX, RANK_CODE, RANK_CONTAINS, RANK_FUZZY = range(5)


class ConsumerDataError(ValueError):
    """A consumer page file that does not load or breaks the shape (the message names the file and key)."""


def _texts(value: list[str]) -> list[str]:
    cleaned = [item.strip() for item in value]
    if any(not item for item in cleaned):
        raise ValueError("holds an empty item")
    return cleaned


class ConsumerPage(BaseModel):
    """One condition page for patients, in English and Chinese, with the departments that treat it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    key: str
    icd10: tuple[str, ...]
    name_en: str
    name_zh: str
    aliases_en: tuple[str, ...]
    aliases_zh: tuple[str, ...]
    departments: tuple[str, ...]
    what_en: str
    what_zh: str
    symptoms_en: tuple[str, ...]
    symptoms_zh: tuple[str, ...]
    see_doctor_en: tuple[str, ...]
    see_doctor_zh: tuple[str, ...]
    emergency_en: tuple[str, ...]
    emergency_zh: tuple[str, ...]
    self_care_en: tuple[str, ...]
    self_care_zh: tuple[str, ...]
    prevention_en: tuple[str, ...]
    prevention_zh: tuple[str, ...]
    sources: tuple[str, ...]

    @field_validator("key")
    @classmethod
    def _key(cls, value: str) -> str:
        if not KEY_FORMAT.fullmatch(value) or len(value) > 60:
            raise ValueError(f"{value!r} is not a lowercase slug")
        return value

    @field_validator("icd10")
    @classmethod
    def _codes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("needs at least one ICD-10 code")
        for code in value:
            if not CODE_FORMAT.fullmatch(code):
                raise ValueError(f"{code!r} is not an ICD-10 code")
        return value

    @field_validator("name_en", "name_zh", "what_en", "what_zh")
    @classmethod
    def _text(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("is empty")
        return value.strip()

    @field_validator("aliases_en", "aliases_zh", "emergency_en", "emergency_zh")
    @classmethod
    def _optional_list(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(_texts(list(value)))

    @field_validator("symptoms_en", "symptoms_zh", "see_doctor_en", "see_doctor_zh", "self_care_en",
                     "self_care_zh", "prevention_en", "prevention_zh", "sources")
    @classmethod
    def _required_list(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("needs at least one item")
        return tuple(_texts(list(value)))

    @field_validator("departments")
    @classmethod
    def _departments(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("needs at least one department")
        unknown = [d for d in value if d not in DEPARTMENTS]
        if unknown:
            raise ValueError(f"unknown department keys {unknown}")
        return value

    def name(self, locale: str) -> str:
        """The page's title in a locale ('zh-Hans' or anything else for English)."""
        return self.name_zh if locale == "zh-Hans" else self.name_en

    def text(self, field: str, locale: str) -> str | tuple[str, ...]:
        """One field (what, symptoms, see_doctor, emergency, self_care, prevention) in a locale."""
        return getattr(self, f"{field}_{'zh' if locale == 'zh-Hans' else 'en'}")


@dataclass(frozen=True)
class _Entry:
    page: ConsumerPage
    names_en: tuple[str, ...]
    names_zh: tuple[str, ...]
    pinyin: tuple[str, ...]  # full pinyin and initials of the Chinese names, letters only
    words: frozenset[str]
    codes: tuple[str, ...]  # compact


@dataclass(frozen=True)
class Match:
    """A page found by search, and how it matched (RANK_EXACT best)."""

    page: ConsumerPage
    rank: int


def _compact(code: str) -> str:
    return code.strip().upper().replace(".", "").replace(" ", "")


def _letters(text: str, style: Style) -> str:
    return "".join(_WORD.findall(" ".join(lazy_pinyin(text, style=style)).lower()))


def _read_file(path: Path) -> list[ConsumerPage]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConsumerDataError(f"{path.name}: not valid YAML: {exc}") from exc
    if not isinstance(data, list):
        raise ConsumerDataError(f"{path.name}: must be a list of pages")
    pages = []
    for number, item in enumerate(data):
        key = item.get("key", f"#{number}") if isinstance(item, dict) else f"#{number}"
        try:
            pages.append(ConsumerPage.model_validate(item))
        except ValidationError as exc:
            raise ConsumerDataError(f"{path.name}: page {key}: {exc}") from exc
    return pages


def load(folder: Path = DATA_DIR) -> tuple[ConsumerPage, ...]:
    """Every page of every YAML file in folder, checked; ConsumerDataError on a bad file or a repeated key."""
    pages: list[ConsumerPage] = []
    seen: dict[str, str] = {}
    for path in sorted(folder.glob("*.yaml")):
        for page in _read_file(path):
            if page.key in seen:
                raise ConsumerDataError(f"{path.name}: key {page.key} is also in {seen[page.key]}")
            seen[page.key] = path.name
            pages.append(page)
    return tuple(pages)


def _entry(page: ConsumerPage) -> _Entry:
    plain = re.sub(r"\s*\(.*?\)", "", page.name_en).strip()
    inner = re.findall(r"\((.*?)\)", page.name_en)
    names_en = tuple(dict.fromkeys(n.lower() for n in (page.name_en, plain, *inner, *page.aliases_en,
                                                       page.key.replace("-", " ")) if n))
    names_zh = (page.name_zh, *page.aliases_zh)
    pinyin = tuple(dict.fromkeys(p for n in names_zh for p in (_letters(n, Style.NORMAL),
                                                               _letters(n, Style.FIRST_LETTER)) if p))
    words = frozenset(w for n in names_en for w in _WORD.findall(n))
    return _Entry(page, names_en, names_zh, pinyin, words, tuple(_compact(c) for c in page.icd10))


@lru_cache(maxsize=1)
def _entries() -> tuple[_Entry, ...]:
    return tuple(_entry(page) for page in load())


@lru_cache(maxsize=1)
def _by_key() -> dict[str, ConsumerPage]:
    return {e.page.key: e.page for e in _entries()}


def pages() -> tuple[ConsumerPage, ...]:
    """Every consumer page, in file order."""
    return tuple(e.page for e in _entries())


def get(key: str) -> ConsumerPage | None:
    """The page with this key, or None."""
    if not isinstance(key, str) or len(key) > 60:
        return None
    return _by_key().get(key)


def by_icd10(code: str) -> ConsumerPage | None:
    """The page whose listed code is the longest prefix of code ("E11.9" -> the page listed under E11)."""
    if not isinstance(code, str) or len(code) > 16:
        return None
    compact = _compact(code)
    if not compact:
        return None
    best: tuple[int, ConsumerPage] | None = None
    for entry in _entries():
        for listed in entry.codes:
            if compact.startswith(listed) and (best is None or len(listed) > best[0]):
                best = (len(listed), entry.page)
    return None if best is None else best[1]


def consumer_page_for(icd10_code: str) -> str | None:
    """The key of the consumer page for a recorded ICD-10 code (for links from a problem list), or None."""
    page = by_icd10(icd10_code)
    return None if page is None else page.key


def chapter_of(page: ConsumerPage) -> icd10.Chapter | None:
    """The ICD-10 chapter (body system) of the page's first code."""
    code = page.icd10[0]
    if len(code) > 5:
        code = code[:5]
    found = icd10.chapter_of(code if icd10.is_valid_code(code) else code[:3])
    if found is None:
        return None
    return next((c for c in icd10.chapters() if c.id == found[0]), None)


def by_chapter() -> list[tuple[icd10.Chapter, list[ConsumerPage]]]:
    """The pages grouped by the ICD-10 chapter of their first code, chapters in ICD order."""
    groups: dict[str, list[ConsumerPage]] = {}
    for page in pages():
        chapter = chapter_of(page)
        if chapter is not None:
            groups.setdefault(chapter.id, []).append(page)
    return [(c, groups[c.id]) for c in icd10.chapters() if c.id in groups]


def _name_rank(names: tuple[str, ...], needle: str) -> int | None:
    if needle in names:
        return RANK_EXACT
    if any(n.startswith(needle) for n in names):
        return RANK_PREFIX
    if any(needle in n for n in names):
        return RANK_CONTAINS
    return None


def _code_rank(entry: _Entry, compact: str) -> int | None:
    if not _CODE_QUERY.fullmatch(compact):
        return None
    if any(compact.startswith(c) or c.startswith(compact) for c in entry.codes):
        return RANK_CODE
    return None


def _words_match(entry: _Entry, words: list[str]) -> bool:
    return all(any(w.startswith(word) for w in entry.words) for word in words)


def _rank(entry: _Entry, query: str) -> int | None:
    ranks = [_code_rank(entry, _compact(query))]
    if _HAN.search(query):
        ranks.append(_name_rank(entry.names_zh, query))
    else:
        lowered = " ".join(query.lower().split())
        ranks.append(_name_rank(entry.names_en, lowered))
        letters = "".join(_WORD.findall(lowered))
        if len(letters) >= 2 and letters.isalpha():
            ranks.append(_name_rank(entry.pinyin, letters))
        words = _WORD.findall(lowered)
        if words and _words_match(entry, words):
            ranks.append(RANK_CONTAINS)
    found = [r for r in ranks if r is not None]
    return min(found) if found else None


def _fuzzy(query: str, entries: tuple[_Entry, ...]) -> dict[int, int]:
    """Pages whose names come close to a mistyped query (no exact, prefix or code match was found)."""
    if _HAN.search(query):
        if len(query) < 3:
            return {}
        choices = {(n, number): name for number, e in enumerate(entries) for n, name in enumerate(e.names_zh)}
        scorer, cutoff = fuzz.partial_ratio, _FUZZY_HAN_CUTOFF
    else:
        lowered = " ".join(query.lower().split())
        if len(lowered) < _MIN_FUZZY:
            return {}
        choices = {(n, number): name for number, e in enumerate(entries)
                   for n, name in enumerate(e.names_en + tuple(e.words) + e.pinyin)}
        query, scorer, cutoff = lowered, fuzz.ratio, _FUZZY_CUTOFF
    found: dict[int, int] = {}
    for _name, score, (_n, number) in process.extract(query, choices, scorer=scorer, score_cutoff=cutoff,
                                                       limit=None):
        found[number] = min(found.get(number, 1000), -int(score))
    return found


def search(text: str, *, limit: int = 10) -> list[Match]:
    """Pages matching a name, synonym, pinyin, initials or ICD-10 code, best first; typos are forgiven."""
    if not isinstance(text, str) or limit <= 0:
        return []
    query = " ".join(text[:MAX_QUERY].split())
    if not query:
        return []
    entries = _entries()
    ranked = [(rank, number) for number, entry in enumerate(entries) if (rank := _rank(entry, query)) is not None]
    if ranked:
        ranked.sort()
        return [Match(entries[n].page, rank) for rank, n in ranked[:min(limit, MAX_LIMIT)]]
    fuzzy = _fuzzy(query, entries)
    ordered = sorted(fuzzy, key=lambda n: (fuzzy[n], n))
    return [Match(entries[n].page, RANK_FUZZY) for n in ordered[:min(limit, MAX_LIMIT)]]
