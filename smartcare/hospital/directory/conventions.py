"""How the directory's facts sit in FHIR R4 resources: the extension URLs, code systems and their readers and writers.

- Professional title (主任医师 chief physician, 副主任医师 associate chief, 主治医师 attending,
  住院医师 resident ...): `Practitioner.qualification.code`, coded in PROFESSIONAL_TITLE_SYSTEM.
- Languages: `Practitioner.communication`, BCP-47 codes (zh-CN, en ...).
- Biography: the complex extension BIOGRAPHY_EXT on Practitioner, once per language, with the
  sub-extensions `language` (valueCode, BCP-47) and `text` (valueString, plain text, at most
  MAX_BIOGRAPHY characters; pages escape it).
- Photo: `Practitioner.photo`, an Attachment; the demo generates SVG avatars with initials.
- Visit types: VISIT_TYPE_SYSTEM codes `ordinary` (普通门诊), `specialist` (专家门诊) and
  `expert` (知名专家门诊). The visit type a doctor offers is the extension VISIT_TYPE_EXT
  (valueCoding) on their PractitionerRole.
- Fees: the complex extension VISIT_FEE_EXT on HealthcareService, once per visit type, with the
  sub-extensions `type` (valueCoding, VISIT_TYPE_SYSTEM) and `price` (valueMoney, CNY).
- Opening hours: `HealthcareService.availableTime` (and the same on each PractitionerRole).
- Departments: an Organization (type `dept`, partOf the hospital) with one HealthcareService
  (`providedBy` the department, `type` coded in DEPARTMENT_SYSTEM).
- Clinic rooms: Location with physicalType `ro` (room), partOf the building, managed by the
  department Organization, the floor in the extension FLOOR_EXT (valueInteger); a doctor's room
  is `PractitionerRole.location`.
"""

import base64
import hashlib
from typing import Any

LOCAL = "https://smartcare.example/fhir/"
DEPARTMENT_SYSTEM = LOCAL + "CodeSystem/department"
PROFESSIONAL_TITLE_SYSTEM = LOCAL + "CodeSystem/cn-professional-title"
VISIT_TYPE_SYSTEM = LOCAL + "CodeSystem/visit-type"
BIOGRAPHY_EXT = LOCAL + "StructureDefinition/practitioner-biography"
VISIT_TYPE_EXT = LOCAL + "StructureDefinition/visit-type"
VISIT_FEE_EXT = LOCAL + "StructureDefinition/visit-fee"
FLOOR_EXT = LOCAL + "StructureDefinition/location-floor"
LOCATION_PHYSICAL_TYPE = "http://terminology.hl7.org/CodeSystem/location-physical-type"
BCP47 = "urn:ietf:bcp:47"
CURRENCY = "CNY"

VISIT_TYPES = ("ordinary", "specialist", "expert")
VISIT_TYPE_LABELS = {"ordinary": ("Ordinary outpatient visit", "普通门诊"),
                     "specialist": ("Specialist outpatient visit", "专家门诊"),
                     "expert": ("Senior expert outpatient visit", "知名专家门诊")}
MAX_BIOGRAPHY = 2000
# Background colours of generated avatars: dark enough for white initials (WCAG AA contrast).
_AVATAR_COLOURS = ("#1d4ed8", "#047857", "#b45309", "#7c3aed", "#be123c", "#0f766e", "#4338ca", "#9a3412")


def _first_code(concept: dict[str, Any] | None, system: str) -> dict[str, Any] | None:
    for coding in (concept or {}).get("coding", []):
        if coding.get("system") == system:
            return coding
    return None


def title_of(practitioner: dict[str, Any]) -> dict[str, Any] | None:
    """The practitioner's professional-title coding (code, display) and its Chinese text, or None."""
    for qualification in practitioner.get("qualification", []):
        coding = _first_code(qualification.get("code"), PROFESSIONAL_TITLE_SYSTEM)
        if coding:
            return {"code": coding["code"], "display": coding.get("display", coding["code"]),
                    "zh": qualification["code"].get("text", coding.get("display", ""))}
    return None


def set_title(practitioner: dict[str, Any], code: str, display: str, zh: str) -> None:
    """Record the professional title, replacing a previous one and keeping the licence details."""
    concept = {"coding": [{"system": PROFESSIONAL_TITLE_SYSTEM, "code": code, "display": display}], "text": zh}
    for qualification in practitioner.get("qualification", []):
        if _first_code(qualification.get("code"), PROFESSIONAL_TITLE_SYSTEM):
            qualification["code"] = concept
            return
    practitioner.setdefault("qualification", []).append({"code": concept})


def languages_of(practitioner: dict[str, Any]) -> list[str]:
    """The BCP-47 codes of the languages the practitioner speaks."""
    codes = []
    for concept in practitioner.get("communication", []):
        coding = _first_code(concept, BCP47)
        if coding:
            codes.append(coding["code"])
    return codes


def language_concept(code: str, display: str, zh: str) -> dict[str, Any]:
    """A Practitioner.communication entry for a BCP-47 language."""
    return {"coding": [{"system": BCP47, "code": code, "display": display}], "text": zh}


def biographies_of(practitioner: dict[str, Any]) -> dict[str, str]:
    """The practitioner's biographies by language code ("en", "zh-CN")."""
    found = {}
    for ext in practitioner.get("extension", []):
        if ext.get("url") != BIOGRAPHY_EXT:
            continue
        parts = {sub.get("url"): sub for sub in ext.get("extension", [])}
        language = parts.get("language", {}).get("valueCode")
        text = parts.get("text", {}).get("valueString")
        if language and text:
            found[language] = text
    return found


def set_biography(practitioner: dict[str, Any], language: str, text: str) -> None:
    """Replace the biography in language; an empty text removes it."""
    kept = [ext for ext in practitioner.get("extension", [])
            if not (ext.get("url") == BIOGRAPHY_EXT and language in biographies_of({"extension": [ext]}))]
    if text:
        kept.append({"url": BIOGRAPHY_EXT, "extension": [{"url": "language", "valueCode": language},
                                                          {"url": "text", "valueString": text}]})
    if kept:
        practitioner["extension"] = kept
    else:
        practitioner.pop("extension", None)


def visit_type_of(role: dict[str, Any]) -> str | None:
    """The visit type code a PractitionerRole offers, or None (no outpatient visits)."""
    for ext in role.get("extension", []):
        if ext.get("url") == VISIT_TYPE_EXT and ext.get("valueCoding", {}).get("system") == VISIT_TYPE_SYSTEM:
            return ext["valueCoding"].get("code")
    return None


def visit_type_extension(code: str) -> dict[str, Any]:
    """The PractitionerRole extension naming the visit type offered."""
    return {"url": VISIT_TYPE_EXT, "valueCoding": {"system": VISIT_TYPE_SYSTEM, "code": code,
                                                   "display": VISIT_TYPE_LABELS[code][0]}}


def set_visit_type(role: dict[str, Any], code: str | None) -> None:
    """Set (or with None remove) the visit type a PractitionerRole offers."""
    kept = [ext for ext in role.get("extension", []) if ext.get("url") != VISIT_TYPE_EXT]
    if code:
        kept.append(visit_type_extension(code))
    if kept:
        role["extension"] = kept
    else:
        role.pop("extension", None)


def fees_of(service: dict[str, Any]) -> dict[str, float]:
    """The fee in CNY of each visit type at a HealthcareService."""
    fees = {}
    for ext in service.get("extension", []):
        if ext.get("url") != VISIT_FEE_EXT:
            continue
        parts = {sub.get("url"): sub for sub in ext.get("extension", [])}
        code = parts.get("type", {}).get("valueCoding", {}).get("code")
        price = parts.get("price", {}).get("valueMoney", {})
        if code and isinstance(price.get("value"), int | float):
            fees[code] = float(price["value"])
    return fees


def fee_extensions(fees: dict[str, float]) -> list[dict[str, Any]]:
    """The HealthcareService extensions recording the fee of each visit type (in VISIT_TYPES order)."""
    return [{"url": VISIT_FEE_EXT, "extension": [
        {"url": "type", "valueCoding": {"system": VISIT_TYPE_SYSTEM, "code": code,
                                        "display": VISIT_TYPE_LABELS[code][0]}},
        {"url": "price", "valueMoney": {"value": fees[code], "currency": CURRENCY}},
    ]} for code in VISIT_TYPES if code in fees]


def set_fees(service: dict[str, Any], fees: dict[str, float]) -> None:
    """Replace the fees of a HealthcareService."""
    kept = [ext for ext in service.get("extension", []) if ext.get("url") != VISIT_FEE_EXT] + fee_extensions(fees)
    if kept:
        service["extension"] = kept
    else:
        service.pop("extension", None)


def floor_of(location: dict[str, Any]) -> int | None:
    """The floor a room is on, or None."""
    for ext in location.get("extension", []):
        if ext.get("url") == FLOOR_EXT and isinstance(ext.get("valueInteger"), int):
            return ext["valueInteger"]
    return None


def is_room(location: dict[str, Any]) -> bool:
    """True for a Location whose physical type is a room."""
    return _first_code(location.get("physicalType"), LOCATION_PHYSICAL_TYPE) is not None and \
        _first_code(location.get("physicalType"), LOCATION_PHYSICAL_TYPE)["code"] == "ro"


def avatar_svg(initials: str, key: str) -> str:
    """A round SVG avatar with initials, its colour fixed by key (so the same person keeps it)."""
    colour = _AVATAR_COLOURS[hashlib.sha256(key.encode()).digest()[0] % len(_AVATAR_COLOURS)]
    letters = "".join(ch for ch in initials.upper() if ch.isascii() and ch.isalpha())[:2] or "?"
    return ('<svg xmlns="http://www.w3.org/2000/svg" width="96" height="96" viewBox="0 0 96 96">'
            f'<circle cx="48" cy="48" r="48" fill="{colour}"/>'
            '<text x="48" y="49" text-anchor="middle" dominant-baseline="central" fill="#fff" '
            f'font-family="Arial, Helvetica, sans-serif" font-size="38" font-weight="600">{letters}</text></svg>')


def avatar_photo(initials: str, key: str) -> dict[str, Any]:
    """A Practitioner.photo Attachment holding a generated SVG avatar."""
    data = base64.b64encode(avatar_svg(initials, key).encode()).decode()
    return {"contentType": "image/svg+xml", "data": data, "title": "Generated avatar"}
