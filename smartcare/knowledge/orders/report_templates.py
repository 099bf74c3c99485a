"""Structured radiology report templates per imaging exam, with normal-study sentences, in English and Chinese.

Read once from `data/imaging_report_templates.yaml`. Every exam key a template lists is resolved against the
imaging catalogue while loading, and so is every modality fallback, so a bad edit fails at start-up.
"""

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from smartcare.knowledge.orders.catalogue import OrderCatalogueError, imaging_procedures

DATA_FILE = Path(__file__).parent / "data" / "imaging_report_templates.yaml"
GENERIC = "generic"
_KEY = re.compile(r"[a-z][a-z0-9_]*")
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class Words:
    """A sentence or name in English and in Chinese."""

    en: str
    zh: str

    def in_locale(self, locale: str) -> str:
        """The Chinese words for a Chinese reader, the English ones otherwise."""
        return self.zh if locale.startswith("zh") else self.en


@dataclass(frozen=True)
class FindingPrompt:
    """One organ or structure the findings section asks about, with its normal-study sentence."""

    key: str
    name: Words
    normal: Words


@dataclass(frozen=True)
class ReportTemplate:
    """The sections of a report on one kind of exam: technique, comparison, findings by organ, impression."""

    key: str
    name: Words
    exams: tuple[str, ...]
    technique: Words
    findings: tuple[FindingPrompt, ...]
    impression: Words


@dataclass(frozen=True)
class _Library:
    templates: dict[str, ReportTemplate]
    by_exam: dict[str, str]
    by_modality: dict[str, str]
    plain: dict[str, Words]
    source: str


def _words(raw: Any, where: str) -> Words:
    if not isinstance(raw, dict) or not str(raw.get("en") or "").strip() or not str(raw.get("zh") or "").strip():
        raise OrderCatalogueError(f"{where}: needs en and zh words")
    return Words(en=str(raw["en"]).strip(), zh=str(raw["zh"]).strip())


def _template(key: str, raw: dict[str, Any], exams: set[str]) -> ReportTemplate:
    prompts = []
    for item in raw.get("findings") or []:
        if not _KEY.fullmatch(str(item.get("key", ""))):
            raise OrderCatalogueError(f"template {key}: a findings prompt needs a key")
        prompts.append(FindingPrompt(key=item["key"], name=_words(item, f"template {key} {item['key']}"),
                                     normal=_words({"en": item.get("normal_en"), "zh": item.get("normal_zh")},
                                                   f"template {key} {item['key']} normal")))
    if not prompts or len({p.key for p in prompts}) != len(prompts):
        raise OrderCatalogueError(f"template {key}: findings prompts must be present and distinct")
    unknown = set(raw.get("exams") or []) - exams
    if unknown:
        raise OrderCatalogueError(f"template {key}: {sorted(unknown)} are not imaging exams of the catalogue")
    return ReportTemplate(key=key, name=_words(raw, f"template {key}"), exams=tuple(raw.get("exams") or ()),
                          technique=_words(raw.get("technique"), f"template {key} technique"),
                          findings=tuple(prompts), impression=_words(raw.get("impression"), f"template {key} impression"))


@lru_cache(maxsize=1)
def _library() -> _Library:
    raw = yaml.safe_load(DATA_FILE.read_text(encoding="utf-8"))
    exams = {p.key for p in imaging_procedures()}
    templates = {key: _template(key, body, exams) for key, body in (raw.get("templates") or {}).items()}
    if GENERIC not in templates:
        raise OrderCatalogueError("the report templates need a generic template")
    by_exam: dict[str, str] = {}
    for template in templates.values():
        for exam in template.exams:
            if exam in by_exam:
                raise OrderCatalogueError(f"exam {exam} has two report templates")
            by_exam[exam] = template.key
    by_modality = dict(raw.get("by_modality") or {})
    if set(by_modality.values()) - set(templates):
        raise OrderCatalogueError("a modality fallback names a template that does not exist")
    plain = {key: _words(words, f"plain_language {key}") for key, words in (raw.get("plain_language") or {}).items()}
    if set(plain) != {"normal", "findings", "amended"}:
        raise OrderCatalogueError("plain_language needs normal, findings and amended")
    return _Library(templates=templates, by_exam=by_exam, by_modality=by_modality, plain=plain,
                    source=str(raw.get("source") or "").strip())


def templates() -> tuple[ReportTemplate, ...]:
    """Every report template."""
    return tuple(_library().templates.values())


def template(key: str) -> ReportTemplate | None:
    """The template of that key, if there is one."""
    return _library().templates.get(key)


def template_for(exam_key: str | None, modality: str | None = None) -> ReportTemplate:
    """The template for an exam of the catalogue, else for its modality, else the generic one."""
    library = _library()
    key = library.by_exam.get(exam_key or "") or library.by_modality.get(modality or "") or GENERIC
    return library.templates[key]


def plain_words(kind: str) -> Words:
    """The patient's plain-language summary of a kind: 'normal', 'findings' or 'amended'."""
    return _library().plain[kind]


def source() -> str:
    """Where the templates' structure comes from."""
    return _library().source


def normalised(text: str) -> str:
    """Text compared as a sentence: spaces collapsed, case and the final full stop ignored."""
    return _SPACES.sub(" ", text or "").strip().rstrip(".。").casefold()


@lru_cache(maxsize=1)
def normal_impressions() -> frozenset[str]:
    """Every template's normal-study impression, in both languages, normalised."""
    return frozenset(normalised(w) for t in templates() for w in (t.impression.en, t.impression.zh))


def is_normal_impression(text: str) -> bool:
    """True when text is, word for word, one of the templates' normal-study impressions."""
    return bool(text and text.strip()) and normalised(text) in normal_impressions()
