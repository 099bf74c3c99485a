"""The codes the workstation reads from records (data/chart_codes.json), and FHIR values as words and dates."""

import json
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from smartcare.platform.settings import get_settings

DATA_FILE = Path(__file__).resolve().parent / "data" / "chart_codes.json"
ICD10_SYSTEMS = ("http://hl7.org/fhir/sid/icd-10", "http://hl7.org/fhir/sid/icd-10-cn",
                 "http://hl7.org/fhir/sid/icd-10-cm")
_HAN = ("\u4e00", "\u9fff")


@cache
def chart_codes() -> dict[str, Any]:
    """The code lists and bands of data/chart_codes.json, read once."""
    return json.loads(DATA_FILE.read_text(encoding="utf-8"))


@cache
def vital_of_code() -> dict[str, str]:
    """LOINC code -> vital sign key ("bp", "hr" ...)."""
    return {code: row["key"] for row in chart_codes()["vitals"] for code in row["loinc"]}


def codes_of(concept: dict[str, Any] | None) -> set[str]:
    """Every code of a CodeableConcept's codings."""
    return {c["code"] for c in (concept or {}).get("coding", []) if isinstance(c.get("code"), str)}


def has_code(concept: dict[str, Any] | None, codes: set[str] | list[str] | tuple[str, ...]) -> bool:
    """True when one of the concept's codings has one of codes."""
    return bool(codes_of(concept) & set(codes))


def first_code(concepts: list[dict[str, Any]] | None) -> str:
    """The first code of a list of CodeableConcepts (a category, an interpretation), or ''."""
    for concept in concepts or []:
        for coding in concept.get("coding", []):
            if coding.get("code"):
                return str(coding["code"])
    return ""


def _has_han(text: str) -> bool:
    return any(_HAN[0] <= ch <= _HAN[1] for ch in text)


def label(concept: dict[str, Any] | None, locale: str) -> str:
    """A CodeableConcept in the reader's language: Chinese readers get a Chinese text where there is one,
    English readers a coding's display where there is one; else whatever words the concept has."""
    if not concept:
        return ""
    text = concept.get("text") or ""
    displays = [c["display"] for c in concept.get("coding", []) if c.get("display")]
    chinese = [t for t in (text, *displays) if t and _has_han(t)]
    english = [t for t in (*displays, text) if t and not _has_han(t)]
    wanted = chinese if locale == "zh-Hans" else english
    if wanted:
        return wanted[0]
    if text or displays:
        return text or displays[0]
    codes = sorted(codes_of(concept))
    return codes[0] if codes else ""


def icd10(concept: dict[str, Any] | None) -> str:
    """The ICD-10 code of a concept, or ''."""
    for coding in (concept or {}).get("coding", []):
        if coding.get("system") in ICD10_SYSTEMS and coding.get("code"):
            return str(coding["code"])
    return ""


def region_zone() -> ZoneInfo:
    """The region's time zone, in which dates are shown."""
    return ZoneInfo(get_settings().region_timezone)


def parse_moment(text: str | None) -> datetime | None:
    """A FHIR date, dateTime or instant as an aware datetime (a bare date is midnight in the region), or None."""
    if not isinstance(text, str) or len(text) < 4:
        return None
    try:
        if len(text) <= 10:
            parts = [int(p) for p in text.split("-")] + [1, 1]
            return datetime(parts[0], parts[1], parts[2], tzinfo=region_zone())
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=region_zone())


def local_day(text: str | None) -> str:
    """The region's calendar day (YYYY-MM-DD) of a FHIR date or instant, or '' when there is none."""
    if isinstance(text, str) and len(text) <= 10:
        return text
    moment = parse_moment(text)
    return moment.astimezone(region_zone()).date().isoformat() if moment else ""


def day_of(moment: datetime) -> date:
    """The region's calendar day of an instant."""
    return moment.astimezone(region_zone()).date()


def effective(resource: dict[str, Any]) -> str:
    """When an observation or report applies: its effective time (or period start), else its issue time."""
    for key in ("effectiveDateTime", "effectiveInstant", "issued"):
        if isinstance(resource.get(key), str):
            return resource[key]
    start = (resource.get("effectivePeriod") or {}).get("start")
    return start if isinstance(start, str) else ""


def quantity_text(quantity: dict[str, Any] | None) -> str:
    """A Quantity as '7.2 mmol/L'."""
    if not quantity or quantity.get("value") is None:
        return ""
    value = quantity["value"]
    shown = f"{value:g}" if isinstance(value, float) else str(value)
    unit = quantity.get("unit") or quantity.get("code") or ""
    return f"{shown} {unit}".strip()
