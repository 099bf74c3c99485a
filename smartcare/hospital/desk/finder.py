"""Finding a patient at the desk by name (Chinese, pinyin or Latin), phone or resident ID, within the access policy.

What the clerk types is turned into one or a few FHIR searches on Patient (pure functions below);
the searches run through the FHIR gateway as the clerk, so the access policy decides whose records
come back (a hospital's staff reach the patients their organisation manages) and each search is
audited. Results show the resident ID masked to its last four characters.
"""

import re
from dataclasses import dataclass
from datetime import date
from functools import cache
from typing import Any

from smartcare.fhir import gateway
from smartcare.fhir.search.values import normalize_string
from smartcare.hospital.queue.ordering import age_on
from smartcare.platform.security.context import AccessContext
from smartcare.platform.security.signup import RESIDENT_ID_SYSTEM
from smartcare.platform.web import fhir_text

MAX_QUERY = 64
RESULTS = 20
# Pinyin typed without a space ("zhangwei") is also tried as family + given at this many syllable breaks.
MAX_PINYIN_SPLITS = 4
_RESIDENT_ID = re.compile(r"\d{17}[\dX]|\d{15}")
_PHONE = re.compile(r"\+?[\d\s\-()]{7,24}")
_LATIN_RUN = re.compile(r"[a-z]{3,40}")
_EN_REPRESENTATION = "http://hl7.org/fhir/StructureDefinition/iso21090-EN-representation"

Search = list[tuple[str, str]]


@cache
def pinyin_syllables() -> frozenset[str]:
    """Every toneless pinyin syllable ("zhang", "wei", ...), from pypinyin's character data."""
    from pypinyin.constants import PINYIN_DICT
    from pypinyin.contrib.tone_convert import to_normal

    readings = {p for joined in set(PINYIN_DICT.values()) for p in joined.split(",")}
    return frozenset(to_normal(p) for p in readings)


def clean_query(text: str | None) -> str:
    """What was typed, trimmed, runs of spaces made one, without control or invisible characters (PostgreSQL refuses
    a NUL in text), at most MAX_QUERY characters."""
    visible = "".join(ch if ch.isprintable() else " " for ch in (text or "")[:4 * MAX_QUERY])
    return " ".join(visible.split())[:MAX_QUERY]


def _phone_numbers(text: str) -> list[str]:
    """The ways a typed phone number may be stored: as typed, digits only, and without China's +86."""
    digits = re.sub(r"\D", "", text)
    numbers = [text, digits]
    if digits.startswith("86") and len(digits) == 13:
        numbers.append(digits[2:])
    return list(dict.fromkeys(n for n in numbers if n))


def pinyin_splits(text: str) -> list[tuple[str, str]]:
    """Family and given name for pinyin typed as one word: "zhangwei" -> [("zhang", "wei")]; the family name
    is a single syllable (as most Chinese surnames are), the given name the rest."""
    word = normalize_string(text)
    if not _LATIN_RUN.fullmatch(word):
        return []
    syllables = pinyin_syllables()
    return [(word[:i], word[i:]) for i in range(len(word) - 1, 0, -1) if word[:i] in syllables][:MAX_PINYIN_SPLITS]


def search_plan(text: str) -> list[Search]:
    """The FHIR Patient searches that find what the clerk typed (none for an empty query)."""
    query = clean_query(text)
    if not query:
        return []
    compact = query.replace(" ", "").upper()
    if _RESIDENT_ID.fullmatch(compact):
        return [[("identifier", f"{RESIDENT_ID_SYSTEM}|{compact}")]]
    if _PHONE.fullmatch(query) and 7 <= len(re.sub(r"\D", "", query)) <= 15:
        return [[("phone", ",".join(n.replace(",", "") for n in _phone_numbers(query)))]]
    plans = [[("name", query)]]
    plans += [[("family", family), ("given", given)] for family, given in pinyin_splits(query)]
    return plans


def mask_id(value: str) -> str:
    """A resident ID with every character but the last four hidden."""
    if len(value) <= 4:
        return "•" * len(value)
    return "•" * (len(value) - 4) + value[-4:]


def resident_id(patient: dict[str, Any]) -> str:
    """The patient's resident ID number, or ""."""
    return next((i.get("value", "") for i in patient.get("identifier", []) if i.get("system") == RESIDENT_ID_SYSTEM), "")


def latin_name(patient: dict[str, Any]) -> str:
    """The alphabetic (pinyin or Latin) name written beside a Chinese one, or ""."""
    for name in patient.get("name", []):
        marks = {e.get("valueCode") for e in name.get("extension", []) if e.get("url") == _EN_REPRESENTATION}
        if "ABC" in marks:
            return name.get("text") or " ".join([*name.get("given", []), name.get("family", "")]).strip()
    return ""


def phone_of(patient: dict[str, Any]) -> str:
    """The patient's first phone number, or ""."""
    return next((t.get("value", "") for t in patient.get("telecom", []) if t.get("system") == "phone"), "")


@dataclass(frozen=True, slots=True)
class PatientRow:
    """A patient as the desk lists them: no full identifier on screen."""

    id: str
    name: str
    latin: str
    gender: str
    birth_date: str
    age: int | None
    masked_id: str
    deceased: bool


def patient_row(patient: dict[str, Any], today: date) -> PatientRow:
    """The desk's view of a Patient resource on a day."""
    name = fhir_text.person_name(patient)
    latin = latin_name(patient)
    birth = patient.get("birthDate", "")
    return PatientRow(
        id=patient["id"], name=name, latin=latin if latin != name else "", gender=patient.get("gender", ""),
        birth_date=birth, age=age_on(birth, today) if birth else None, masked_id=mask_id(resident_id(patient)),
        deceased=patient.get("deceasedBoolean") is True or bool(patient.get("deceasedDateTime")),
    )


def find_patients(ctx: AccessContext, text: str, today: date) -> list[PatientRow]:
    """The patients matching what was typed that the clerk may see (at most RESULTS): the first search of the
    plan that finds anyone answers, so pinyin breaks are tried only when the name as typed found nobody."""
    for search in search_plan(text):
        found = gateway.search(ctx, "Patient", [*search, ("_count", str(RESULTS))])
        if found:
            return [patient_row(p, today) for p in found]
    return []
