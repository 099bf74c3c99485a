"""Code-system URIs and small builders for the FHIR R4 data types the demo generator emits."""

from datetime import date, datetime, timedelta, timezone
from typing import Any

SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
ICD10 = "http://hl7.org/fhir/sid/icd-10"
ATC = "http://www.whocc.no/atc"
BCP47 = "urn:ietf:bcp:47"
TERMINOLOGY = "http://terminology.hl7.org/CodeSystem/"
V2_0203 = TERMINOLOGY + "v2-0203"
V3_ACT_CODE = TERMINOLOGY + "v3-ActCode"
V3_PARTICIPATION = TERMINOLOGY + "v3-ParticipationType"
V3_INTERPRETATION = TERMINOLOGY + "v3-ObservationInterpretation"
V3_ROLE_CODE = TERMINOLOGY + "v3-RoleCode"
EN_REPRESENTATION = "http://hl7.org/fhir/StructureDefinition/iso21090-EN-representation"

# SmartCare's own identifier and code systems (a reserved .example host: no real registry owns them).
LOCAL = "https://smartcare.example/fhir/"
RESIDENT_ID_SYSTEM = LOCAL + "sid/cn-resident-id"
ORGANIZATION_CODE_SYSTEM = LOCAL + "sid/cn-organization-code"
LICENCE_SYSTEM = LOCAL + "sid/cn-practising-certificate"
DEPARTMENT_SYSTEM = LOCAL + "CodeSystem/department"
PROFESSIONAL_TITLE_SYSTEM = LOCAL + "CodeSystem/cn-professional-title"
STAFF_ROLE_SYSTEM = LOCAL + "CodeSystem/staff-role"
INSTITUTION_GRADE_SYSTEM = LOCAL + "CodeSystem/cn-institution-grade"
BED_COUNT_EXTENSION = LOCAL + "StructureDefinition/bed-count"

CHINA_TZ = timezone(timedelta(hours=8))


def coding(system: str, code: str, display: str | None = None) -> dict[str, Any]:
    """Return a Coding."""
    result = {"system": system, "code": code}
    if display:
        result["display"] = display
    return result


def concept(system: str, code: str, display: str | None = None, text: str | None = None) -> dict[str, Any]:
    """Return a CodeableConcept with one coding and, where given, a (Chinese) text."""
    result: dict[str, Any] = {"coding": [coding(system, code, display)]}
    if text:
        result["text"] = text
    return result


def reference(resource_type: str, resource_id: str) -> dict[str, str]:
    """Return a literal Reference such as {"reference": "Patient/pat-00042"}."""
    return {"reference": f"{resource_type}/{resource_id}"}


def quantity(value: float, ucum: str, unit: str | None = None) -> dict[str, Any]:
    """Return a UCUM Quantity; `unit` is the human-readable unit, defaulting to the UCUM code."""
    return {"value": value, "unit": unit or ucum, "system": UCUM, "code": ucum}


def instant(moment: datetime) -> str:
    """Format a China-time moment as a FHIR dateTime/instant with seconds and offset."""
    return moment.replace(tzinfo=CHINA_TZ).isoformat(timespec="seconds")


def day(value: date) -> str:
    """Format a date as a FHIR date."""
    return value.isoformat()


def human_names(family_zh: str, given_zh: str, family_pinyin: str, given_pinyin: str) -> list[dict[str, Any]]:
    """Return the Chinese (ideographic) and pinyin (alphabetic) official names of one person."""
    return [
        {
            "extension": [{"url": EN_REPRESENTATION, "valueCode": "IDE"}],
            "use": "official",
            "text": family_zh + given_zh,
            "family": family_zh,
            "given": [given_zh],
        },
        {
            "extension": [{"url": EN_REPRESENTATION, "valueCode": "ABC"}],
            "use": "official",
            "text": f"{family_pinyin} {given_pinyin}",
            "family": family_pinyin,
            "given": [given_pinyin],
        },
    ]
