"""The code systems and coded choices of the wards: bed status, admission and discharge codes, summary sections."""

from functools import cache
from pathlib import Path
from typing import Any

import yaml

TERMINOLOGY = "http://terminology.hl7.org/CodeSystem/"
BED_STATUS = TERMINOLOGY + "v2-0116"
PHYSICAL_TYPE = TERMINOLOGY + "location-physical-type"
ACT_CODE = TERMINOLOGY + "v3-ActCode"
PARTICIPATION = TERMINOLOGY + "v3-ParticipationType"
ADMIT_SOURCE = TERMINOLOGY + "admit-source"
DISCHARGE_DISPOSITION = TERMINOLOGY + "discharge-disposition"
OBSERVATION_CATEGORY = TERMINOLOGY + "observation-category"
CONDITION_CATEGORY = TERMINOLOGY + "condition-category"
ICD10 = "http://hl7.org/fhir/sid/icd-10"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
LOCAL = "https://smartcare.example/fhir/"
# NEWS2 has no code we are sure of in LOINC, so its total, points, ACVPU and oxygen are SmartCare's own codes.
WARD_OBSERVATION = LOCAL + "CodeSystem/ward-observation"
ACVPU = LOCAL + "CodeSystem/acvpu"
NEWS2_BAND = LOCAL + "CodeSystem/news2-band"
DISCHARGE_SUMMARY = "18842-5"
WARD, ROOM, BED = "wa", "ro", "bd"
FREE, OCCUPIED, HOUSEKEEPING = "U", "O", "H"
INPATIENT = "IMP"
ATTENDER, ADMITTER = "ATND", "ADM"


@cache
def _data() -> dict[str, Any]:
    return yaml.safe_load((Path(__file__).parent / "data" / "encounter_codes.yaml").read_text(encoding="utf-8"))


def choices(kind: str) -> list[dict[str, str]]:
    """The coded choices of a kind (admit_sources, discharge_dispositions, bed_statuses, summary_sections)."""
    return _data()[kind]


def choice(kind: str, code: str) -> dict[str, str] | None:
    """The choice of kind with this code (or key, for summary sections), or None."""
    return next((c for c in choices(kind) if c.get("code", c.get("key")) == code), None)


def label(entry: dict[str, str] | None, locale: str) -> str:
    """A choice's words in the reader's language."""
    if not entry:
        return ""
    return entry["zh"] if locale.startswith("zh") else entry.get("title", entry["display"])


def coding_of(concept: dict[str, Any] | None, system: str) -> str | None:
    """The code of the first coding from system in a CodeableConcept (or a Coding), else None."""
    if not concept:
        return None
    if concept.get("system") == system:
        return concept.get("code")
    return next((c.get("code") for c in concept.get("coding", []) if c.get("system") == system), None)


def concept(system: str, code: str, display: str) -> dict[str, Any]:
    """A CodeableConcept with one coding."""
    return {"coding": [{"system": system, "code": code, "display": display}]}
