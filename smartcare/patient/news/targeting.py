"""Whom an article is for: the reader's district, age and conditions, read from their FHIR record, matched to an
article's targeting. Pure functions over plain data (no database, no HTTP)."""

import json
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any

# The demo region's districts (key, names, postal code), the one list the rest of SmartCare uses too.
REGION_FILE = Path(__file__).resolve().parents[2] / "demo" / "data" / "region.json"
ICD10_SYSTEM_MARK = "icd-10"  # http://hl7.org/fhir/sid/icd-10 and http://hl7.org/fhir/sid/icd-10-cm
_ACTIVE = frozenset({"active", "recurrence", "relapse"})
_NOT_TRUE = frozenset({"entered-in-error", "refuted"})


@dataclass(frozen=True, slots=True)
class District:
    """A district of the region."""

    key: str
    name_en: str
    name_zh: str
    postal_code: str


@lru_cache(maxsize=1)
def districts() -> tuple[District, ...]:
    """The region's districts, in the region file's order."""
    rows = json.loads(REGION_FILE.read_text(encoding="utf-8"))["districts"]
    return tuple(District(r["key"], r["name_en"], r["name_zh"], r["postal_code"]) for r in rows)


def district_keys() -> frozenset[str]:
    """The keys an article may target."""
    return frozenset(d.key for d in districts())


@dataclass(frozen=True, slots=True)
class Reader:
    """What targeting needs to know of a reader: None where the record does not say."""

    district: str | None = None
    age: int | None = None
    conditions: frozenset[str] = field(default_factory=frozenset)  # ICD-10 codes, upper case, without the dot


def icd10_key(code: str) -> str:
    """An ICD-10 code or category as compared: upper case, no dot or spaces ("e11.9" -> "E119")."""
    return code.replace(".", "").replace(" ", "").upper()


def age_on(birth_date: str | None, today: date) -> int | None:
    """Full years on today from a FHIR date (YYYY, YYYY-MM or YYYY-MM-DD); None when it is missing or unreadable."""
    if not birth_date:
        return None
    parts = birth_date[:10].split("-")
    try:
        year = int(parts[0])
        month = int(parts[1]) if len(parts) > 1 else 1
        day = int(parts[2]) if len(parts) > 2 else 1
        born = date(year, month, day)
    except (ValueError, IndexError):
        return None
    if born > today:
        return None
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def district_of(patient: dict[str, Any]) -> str | None:
    """The district of the patient's current home address (else any current address) in the region, if any."""
    addresses = [a for a in patient.get("address") or []
                 if isinstance(a, dict) and not (a.get("period") or {}).get("end") and a.get("use") != "old"]
    addresses.sort(key=lambda a: a.get("use") != "home")
    for address in addresses:
        named = str(address.get("district") or "").strip().lower()
        postal = str(address.get("postalCode") or "").strip()
        text = str(address.get("text") or "")
        for d in districts():
            if named and named in (d.key, d.name_en.lower(), d.name_zh):
                return d.key
        for d in districts():
            if postal == d.postal_code or (d.name_zh and d.name_zh in text):
                return d.key
    return None


def condition_codes(conditions: list[dict[str, Any]]) -> frozenset[str]:
    """The ICD-10 codes of the conditions that are current (not resolved, refuted or entered in error)."""
    found = set()
    for condition in conditions:
        clinical = {c.get("code") for c in (condition.get("clinicalStatus") or {}).get("coding", [])}
        verified = {c.get("code") for c in (condition.get("verificationStatus") or {}).get("coding", [])}
        if (clinical and not clinical & _ACTIVE) or verified & _NOT_TRUE:
            continue
        for coding in (condition.get("code") or {}).get("coding", []):
            if ICD10_SYSTEM_MARK in str(coding.get("system") or "").lower() and coding.get("code"):
                found.add(icd10_key(str(coding["code"])))
    return frozenset(found)


def reader_from(patient: dict[str, Any] | None, conditions: list[dict[str, Any]], today: date) -> Reader:
    """The reader a patient record describes (an empty reader without a record)."""
    if not patient:
        return Reader()
    return Reader(district=district_of(patient), age=age_on(patient.get("birthDate"), today),
                  conditions=condition_codes(conditions))


def is_public(article: dict[str, Any]) -> bool:
    """True for an article meant for everyone: no district, age or condition targeting."""
    return (not (article.get("districts") or "").split() and article.get("age_min") is None
            and article.get("age_max") is None and not (article.get("icd10_prefixes") or "").split())


def reaches(article: dict[str, Any], reader: Reader | None) -> bool:
    """True when the article is meant for the reader: each targeting it has must hold (a signed-out visitor,
    reader None, gets public articles only; what the record does not say never matches a target)."""
    if is_public(article):
        return True
    if reader is None:
        return False
    wanted_districts = (article.get("districts") or "").split()
    if wanted_districts and reader.district not in wanted_districts:
        return False
    low, high = article.get("age_min"), article.get("age_max")
    if low is not None or high is not None:
        if reader.age is None or (low is not None and reader.age < low) or (high is not None and reader.age > high):
            return False
    prefixes = [icd10_key(p) for p in (article.get("icd10_prefixes") or "").split()]
    return not prefixes or any(code.startswith(p) for code in reader.conditions for p in prefixes)
