"""De-identify FHIR R4 resources for research, following the HIPAA Safe Harbor method adapted to the region.

Safe Harbor (45 CFR 164.514(b)(2)(i)) lists eighteen kinds of identifier of the individual, and of
their relatives, employers and household members, that must be removed: (A) names; (B) geographic
subdivisions smaller than a State; (C) all elements of dates (except year) directly related to the
individual, and all ages over 89; (D) telephone and (E) fax numbers; (F) email addresses; (G) social
security (here: resident identity card) numbers; (H) medical record numbers; (I) health plan
beneficiary numbers; (J) account numbers; (K) certificate and licence numbers; (L) vehicle and
(M) device identifiers and serial numbers; (N) URLs; (O) IP addresses; (P) biometric identifiers;
(Q) full-face photographs; (R) any other unique identifying number, characteristic or code.

How each is met here, for any resource type (rules go by element and by data type, not by path):

- (A) every `name` element and anything shaped like a HumanName; Reference.display, which often
  holds one.
- (B) an Address keeps only city, district, state and country. Safe Harbor keeps the first three
  digits of a US ZIP code when that area holds more than 20,000 people; our region's districts
  (counties) each hold far more, so the district is the finest place kept. Lines, postal codes
  (a six-digit Chinese postcode can name a few streets), free-text addresses and periods go.
- (C) every date, dateTime and instant is cut to its year (instants then no longer fit R4's
  instant type; read them as years). A birth date of someone who is or would be 90 or older is
  removed and replaced by the age-group extension "90+"; Age values over 89 years become ">= 90 a".
- (D-F, N, O) telecom, contact, url and string network addresses are removed.
- (G-M, R) every Identifier (resource identifiers, MRNs, national ID numbers, accession numbers,
  wherever they sit: anything shaped like an Identifier or a ContactPoint goes), device UDI,
  serial and lot numbers, and links to other person records.
- (P, Q) photographs and every other Attachment, and signatures.
- Resource ids and references become keyed pseudonyms, HMAC-SHA256 over "Type/id" under a project
  secret, so a researcher can still join one patient's records without learning whose they are.
  Safe Harbor's re-identification code (164.514(c)) should not be derived from information about
  the person; a keyed hash of the record id is derived from the id, but it cannot be reversed or
  recomputed without the key, which never leaves the platform.

Free text (narrative `text`, notes, comments, descriptions, titles, string and markdown values) and
extensions can hold any of the above and cannot be checked by a machine, so they are removed whole.
Codes, values, units and statuses, which carry the clinical meaning, stay.
"""

import hashlib
import hmac
import re
from collections.abc import Callable
from typing import Any

AGE_GROUP_EXTENSION = "https://smartcare.example/fhir/StructureDefinition/age-group"
OLDEST_AGE_SHOWN = 89
UCUM = "http://unitsofmeasure.org"
PSEUDONYM_LENGTH = 32  # hex digits: 128 bits of the HMAC, a valid FHIR id

# Elements removed wherever they appear, whatever their type.
REMOVED_ELEMENTS = frozenset({
    # (A) names, (D-F, N) contact details and URLs, (Q) photographs
    "name", "telecom", "contact", "url", "valueUri", "valueUrl", "photo",
    # (G-M, R) numbers and codes that single out a person, a record or a device
    "identifier", "masterIdentifier", "udiCarrier", "serialNumber", "lotNumber", "distinctIdentifier",
    "deviceName", "link",
    # free text, which may hold any identifier
    "text", "note", "comment", "description", "patientInstruction", "conclusion", "summary", "title",
    "valueString", "valueMarkdown", "contentString",
    # (P, Q) attachments and signatures
    "presentedForm", "valueAttachment", "contentAttachment", "signature",
    # extensions and metadata can carry anything (a birth time, a source system's record number)
    "extension", "modifierExtension", "meta", "implicitRules",
})
# Address parts at district level or coarser: the only ones kept.
KEPT_ADDRESS_PARTS = ("use", "type", "city", "district", "state", "country")
_ADDRESS_PARTS = frozenset({"line", "city", "district", "state", "postalCode", "country"})
_NAME_PARTS = frozenset({"family", "given", "prefix", "suffix"})
_ATTACHMENT_PARTS = frozenset({"contentType", "hash", "size", "creation"})
# Age-typed choices ([x] elements) whose values over 89 years are grouped as 90 or older.
_AGE_ELEMENTS = frozenset({"onsetAge", "abatementAge", "ageAge", "deceasedAge"})
_AGE_RANGES = frozenset({"onsetRange", "abatementRange", "ageRange"})
_YEARS_PER_UNIT = {"a": 1.0, "mo": 12.0, "wk": 52.1775, "d": 365.25, "h": 8766.0, "min": 525960.0}

_DATE = re.compile(r"(\d{4})-\d{2}(-\d{2}(T[0-9:.]+(Z|[+-]\d{2}:\d{2})?)?)?")
_RELATIVE_REF = re.compile(r"([A-Z][A-Za-z]{1,63})/([A-Za-z0-9\-.]{1,64})(/_history/[A-Za-z0-9\-.]{1,64})?")
_ABSOLUTE_REF = re.compile(r"https?://\S+?/([A-Z][A-Za-z]{1,63})/([A-Za-z0-9\-.]{1,64})(/_history/[A-Za-z0-9\-.]{1,64})?")


def pseudonym(res_type: str, res_id: str, *, key: bytes) -> str:
    """The keyed pseudonym of Type/id: the same input and key always give the same id."""
    digest = hmac.new(key, f"{res_type}/{res_id}".encode(), hashlib.sha256).hexdigest()
    return digest[:PSEUDONYM_LENGTH]


def deidentify(resource: dict[str, Any], *, key: bytes, as_of_year: int,
               dates: Callable[[str], str] | None = None) -> dict[str, Any]:
    """A de-identified copy of resource; ages are judged as of as_of_year. The input is not changed.

    dates rewrites every date, dateTime and instant (default: cut to the year, Safe Harbor's (C));
    a research extract may pass a per-person shift instead (see extract.py). Other text goes through it
    unchanged, so it must leave what is not a date as it is.
    """
    return _Scrubber(key, as_of_year, dates or year_only).resource(resource, contained=False)


def year_only(value: str) -> str:
    """A FHIR date, dateTime or instant cut to its year; other text unchanged."""
    match = _DATE.fullmatch(value)
    return match.group(1) if match else value


def deidentified_reference(reference: str, *, key: bytes) -> str | None:
    """A literal reference with its target replaced by the target's pseudonym; None if it cannot be kept."""
    if reference.startswith("#"):
        return reference  # a contained resource of the same record
    match = _RELATIVE_REF.fullmatch(reference) or _ABSOLUTE_REF.fullmatch(reference)
    if match is None:
        return None
    res_type, res_id = match.group(1), match.group(2)
    return f"{res_type}/{pseudonym(res_type, res_id, key=key)}"


def age_in_years(quantity: dict[str, Any]) -> float | None:
    """The years an Age quantity stands for, or None when it is not a UCUM time quantity."""
    value = quantity.get("value")
    unit = quantity.get("code") or quantity.get("unit")
    if not isinstance(value, int | float) or unit not in _YEARS_PER_UNIT:
        return None
    return value / _YEARS_PER_UNIT[unit]


def _grouped_age(quantity: Any) -> Any:
    if not isinstance(quantity, dict):
        return quantity
    years = age_in_years(quantity)
    if years is None or years <= OLDEST_AGE_SHOWN:
        return quantity
    return {"value": OLDEST_AGE_SHOWN + 1, "comparator": ">=", "unit": "a", "system": UCUM, "code": "a"}


def _is_empty(value: Any) -> bool:
    return value is None or value == {} or value == []


class _Scrubber:
    """One de-identification pass: the pseudonym key and the year ages are judged at."""

    def __init__(self, key: bytes, as_of_year: int, dates: Callable[[str], str]):
        self.key = key
        self.as_of_year = as_of_year
        self.dates = dates

    def resource(self, resource: dict[str, Any], *, contained: bool) -> dict[str, Any]:
        res_type = str(resource.get("resourceType", ""))
        out: dict[str, Any] = {"resourceType": res_type}
        res_id = resource.get("id")
        if isinstance(res_id, str):
            # A contained resource's id only links it within its container, so it stays.
            out["id"] = res_id if contained else pseudonym(res_type, res_id, key=self.key)
        body = self.element({k: v for k, v in resource.items() if k not in ("resourceType", "id")})
        out.update(body or {})
        self._birth_date(resource, out)
        return out

    def _birth_date(self, original: dict[str, Any], out: dict[str, Any]) -> None:
        born = original.get("birthDate")
        if not isinstance(born, str) or not born[:4].isdigit():
            return
        if self.as_of_year - int(born[:4]) > OLDEST_AGE_SHOWN:
            out.pop("birthDate", None)
            out["extension"] = [{"url": AGE_GROUP_EXTENSION, "valueString": f"{OLDEST_AGE_SHOWN + 1}+"}]

    def element(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.dates(value)
        if isinstance(value, list):
            kept = [self.element(item) for item in value]
            return [item for item in kept if not _is_empty(item)]
        if not isinstance(value, dict):
            return value
        if "resourceType" in value:
            return self.resource(value, contained=True)
        if "reference" in value:
            return self._reference(value)
        keys = value.keys()
        if isinstance(value.get("value"), str) or keys & _NAME_PARTS or keys & _ATTACHMENT_PARTS:
            return None  # an Identifier or ContactPoint, a HumanName, an Attachment
        if "data" in value and "dimensions" not in value:
            return None  # an Attachment with inline content (SampledData has dimensions)
        if keys & _ADDRESS_PARTS:
            return {part: value[part] for part in KEPT_ADDRESS_PARTS if isinstance(value.get(part), str)}
        return self._members(value)

    def _members(self, value: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        # A Coding's display names a concept; any other display (a Reference's) names a person or place.
        coding = "code" in value or "system" in value
        for name, item in value.items():
            if name == "display" and not coding:
                continue
            # Element ids (not resource ids) and primitive extensions (_birthDate) are dropped.
            if name in REMOVED_ELEMENTS or name == "id" or name.startswith("_"):
                continue
            if name == "address" and isinstance(item, str):
                continue  # a network address (O), not a postal one
            kept = self.element(item)
            if name in _AGE_ELEMENTS:
                kept = _grouped_age(kept)
            elif name in _AGE_RANGES and isinstance(kept, dict):
                kept = {part: _grouped_age(v) for part, v in kept.items()}
            if not _is_empty(kept):
                out[name] = kept
        return out

    def _reference(self, value: dict[str, Any]) -> dict[str, Any] | None:
        reference = value.get("reference")
        target = deidentified_reference(reference, key=self.key) if isinstance(reference, str) else None
        if target is None:
            return None
        out = {"reference": target}
        if isinstance(value.get("type"), str):
            out["type"] = value["type"]
        return out
