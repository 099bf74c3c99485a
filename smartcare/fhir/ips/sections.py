"""The IPS sections SmartCare implements, loaded from data/sections.yaml and checked as they load."""

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

DATA_FILE = Path(__file__).resolve().parent / "data" / "sections.yaml"
LOINC = "http://loinc.org"
KEEP_RULES = frozenset({"all", "latest_per_code", "recent_or_latest_per_code"})
_TOP_KEYS = frozenset({"document", "empty_reason", "sections"})
_DOCUMENT_KEYS = frozenset({"loinc", "display", "title", "source", "checked"})
_EMPTY_KEYS = frozenset({"system", "code", "display", "text_en", "text_zh", "source", "checked"})
_SECTION_KEYS = frozenset({"key", "loinc", "display", "title_en", "title_zh", "required", "entry_types", "fill",
                           "source", "checked"})
_FILL_KEYS = frozenset({"type", "search", "exclude", "keep", "months"})


class SectionDataError(ValueError):
    """sections.yaml is malformed: an unknown or missing key, or a value of the wrong kind."""


@dataclass(frozen=True, slots=True)
class Fill:
    """One search that fills a section: the records of `type` matching `search`, less `exclude`, kept by `keep`."""

    type: str
    search: tuple[tuple[str, str], ...]
    exclude: tuple[tuple[str, frozenset[str]], ...]
    keep: str
    months: int | None


@dataclass(frozen=True, slots=True)
class Section:
    """One IPS section: its LOINC code, titles, whether the IPS requires it, and how SmartCare fills it."""

    key: str
    loinc: str
    display: str
    title_en: str
    title_zh: str
    required: bool
    entry_types: frozenset[str]
    fill: tuple[Fill, ...]
    source: str

    def title(self, locale: str) -> str:
        """The section title in locale ('en' or 'zh-Hans')."""
        return self.title_zh if locale.startswith("zh") else self.title_en


@dataclass(frozen=True, slots=True)
class Catalogue:
    """Everything sections.yaml says: the document's code and title, the empty reason, the sections in order."""

    document_loinc: str
    document_display: str
    document_title: str
    empty_system: str
    empty_code: str
    empty_display: str
    empty_text_en: str
    empty_text_zh: str
    sections: tuple[Section, ...]

    def empty_text(self, locale: str) -> str:
        """The 'No information' narrative in locale."""
        return self.empty_text_zh if locale.startswith("zh") else self.empty_text_en

    def by_code(self) -> dict[str, Section]:
        """The sections by their LOINC code."""
        return {s.loinc: s for s in self.sections}


def _keys(where: str, item: Any, allowed: frozenset[str], required: frozenset[str]) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise SectionDataError(f"{where} must be a mapping")
    unknown = set(item) - allowed
    if unknown:
        raise SectionDataError(f"{where} has unknown keys: {', '.join(sorted(map(str, unknown)))}")
    missing = required - set(item)
    if missing:
        raise SectionDataError(f"{where} lacks: {', '.join(sorted(missing))}")
    return item


def _fill(where: str, raw: Any) -> Fill:
    item = _keys(where, raw, _FILL_KEYS, frozenset({"type", "keep"}))
    if item["keep"] not in KEEP_RULES:
        raise SectionDataError(f"{where}.keep must be one of {', '.join(sorted(KEEP_RULES))}")
    months = item.get("months")
    if item["keep"] == "recent_or_latest_per_code" and not (isinstance(months, int) and months > 0):
        raise SectionDataError(f"{where} keeps recent records and so needs months (a positive number)")
    search = item.get("search") or {}
    exclude = item.get("exclude") or {}
    if not isinstance(search, dict) or not isinstance(exclude, dict):
        raise SectionDataError(f"{where}: search and exclude are mappings")
    return Fill(
        type=str(item["type"]),
        search=tuple((str(k), str(v)) for k, v in search.items()),
        exclude=tuple((str(k), frozenset(map(str, v))) for k, v in exclude.items()),
        keep=item["keep"],
        months=months,
    )


def _section(index: int, raw: Any) -> Section:
    where = f"sections[{index}]"
    item = _keys(where, raw, _SECTION_KEYS, _SECTION_KEYS - {"checked"})
    if not isinstance(item["required"], bool):
        raise SectionDataError(f"{where}.required must be true or false")
    fills = item["fill"]
    if not isinstance(fills, list) or not fills:
        raise SectionDataError(f"{where}.fill must list at least one search")
    entry_types = frozenset(map(str, item["entry_types"]))
    section = Section(
        key=str(item["key"]), loinc=str(item["loinc"]), display=str(item["display"]),
        title_en=str(item["title_en"]), title_zh=str(item["title_zh"]), required=item["required"],
        entry_types=entry_types, fill=tuple(_fill(f"{where}.fill[{i}]", f) for i, f in enumerate(fills)),
        source=str(item["source"]),
    )
    strays = {f.type for f in section.fill} - entry_types
    if strays:
        raise SectionDataError(f"{where} fills types its entries may not reference: {', '.join(sorted(strays))}")
    return section


def parse_catalogue(data: Any) -> Catalogue:
    """Check and convert the parsed YAML; SectionDataError on any unknown or missing key."""
    top = _keys("sections.yaml", data, _TOP_KEYS, _TOP_KEYS)
    doc = _keys("document", top["document"], _DOCUMENT_KEYS, _DOCUMENT_KEYS - {"checked"})
    empty = _keys("empty_reason", top["empty_reason"], _EMPTY_KEYS, _EMPTY_KEYS - {"checked"})
    if not isinstance(top["sections"], list):
        raise SectionDataError("sections must be a list")
    sections = tuple(_section(i, s) for i, s in enumerate(top["sections"]))
    for name, values in (("key", [s.key for s in sections]), ("loinc", [s.loinc for s in sections])):
        if len(set(values)) != len(values):
            raise SectionDataError(f"two sections share a {name}")
    return Catalogue(
        document_loinc=str(doc["loinc"]), document_display=str(doc["display"]), document_title=str(doc["title"]),
        empty_system=str(empty["system"]), empty_code=str(empty["code"]), empty_display=str(empty["display"]),
        empty_text_en=str(empty["text_en"]), empty_text_zh=str(empty["text_zh"]), sections=sections,
    )


@cache
def catalogue() -> Catalogue:
    """The IPS sections of data/sections.yaml (read once)."""
    return parse_catalogue(yaml.safe_load(DATA_FILE.read_text(encoding="utf-8")))
