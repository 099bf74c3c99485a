"""What a public-health case report is (data/case_report.json) and how one is read for the officers' list.

A case report is a Composition whose type is LOINC 55751-2 "Public health Case report". Its subject
is the case (a Patient), the first Condition among its section entries is the reported condition,
and its author that is an Organization is the reporting organisation. Officers are entitled to the
case's identity for notifiable diseases, so the list names the person.
"""

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

DEFINITION_FILE = Path(__file__).resolve().parent / "data" / "case_report.json"
ICD10 = "http://hl7.org/fhir/sid/icd-10"


@dataclass(frozen=True, slots=True)
class CaseReport:
    """One case report as the officers' list shows it."""

    id: str
    date: str
    status: str
    patient: str | None  # Patient/id
    name: str
    birth_date: str
    gender: str
    identifier: str
    district: str
    condition_code: str
    condition_display: str
    organization: str | None  # Organization/id
    organization_name: str


@cache
def document_type() -> dict[str, str]:
    """The Coding that makes a Composition a case report (system, code, display)."""
    return dict(json.loads(DEFINITION_FILE.read_text(encoding="utf-8"))["document_type"])


def person_name(resource: dict[str, Any]) -> str:
    """A person's official (else first) name as one line of text."""
    names = [n for n in resource.get("name") or [] if isinstance(n, dict)]
    names.sort(key=lambda n: n.get("use") != "official")
    for name in names:
        if isinstance(name.get("text"), str) and name["text"].strip():
            return name["text"].strip()
        parts = [*(name.get("given") or []), name.get("family") or ""]
        text = " ".join(p for p in parts if isinstance(p, str) and p).strip()
        if text:
            return text
    return ""


def _first_identifier(resource: dict[str, Any]) -> str:
    for identifier in resource.get("identifier") or []:
        if isinstance(identifier, dict) and isinstance(identifier.get("value"), str):
            return identifier["value"]
    return ""


def _district(patient: dict[str, Any]) -> str:
    for address in patient.get("address") or []:
        if isinstance(address, dict):
            place = address.get("district") or address.get("city")
            if isinstance(place, str):
                return place
    return ""


def _reference(value: Any) -> str | None:
    reference = value.get("reference") if isinstance(value, dict) else None
    return reference if isinstance(reference, str) else None


def _condition(composition: dict[str, Any], included: dict[str, dict[str, Any]]) -> tuple[str, str]:
    sections = [s for s in composition.get("section") or [] if isinstance(s, dict)]
    for section in sections:
        for entry in section.get("entry") or []:
            condition = included.get(_reference(entry) or "")
            if condition is None or condition.get("resourceType") != "Condition":
                continue
            codings = [c for c in (condition.get("code") or {}).get("coding") or [] if isinstance(c, dict)]
            codings.sort(key=lambda c: c.get("system") != ICD10)
            if codings:
                return str(codings[0].get("code") or ""), str(codings[0].get("display") or "")
            return "", str((condition.get("code") or {}).get("text") or "")
    return "", ""


def read_case_report(composition: dict[str, Any], included: dict[str, dict[str, Any]]) -> CaseReport:
    """A case report for the list, from its Composition and the resources it refers to (by Type/id)."""
    patient_ref = _reference(composition.get("subject"))
    patient = included.get(patient_ref or "") or {}
    organization_ref = next(
        (ref for ref in map(_reference, composition.get("author") or []) if ref and ref.startswith("Organization/")),
        None,
    )
    organization = included.get(organization_ref or "") or {}
    code, display = _condition(composition, included)
    return CaseReport(
        id=str(composition.get("id", "")),
        date=str(composition.get("date", "")),
        status=str(composition.get("status", "")),
        patient=patient_ref,
        name=person_name(patient),
        birth_date=str(patient.get("birthDate", "")),
        gender=str(patient.get("gender", "")),
        identifier=_first_identifier(patient),
        district=_district(patient),
        condition_code=code,
        condition_display=display,
        organization=organization_ref,
        organization_name=str(organization.get("name", "")),
    )
