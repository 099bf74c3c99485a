"""What a notifiable-disease case report holds and which states it passes through, as one FHIR Composition.

A case report is a Composition of LOINC 55751-2 (data/case_report.json). Its subject is the case, its authors the
reporting doctor (Practitioner) and institution (Organization), its first section entry the diagnosing Condition
(and a later one the triggering laboratory Observation). The disease is a Composition.category coding of the
notifiable list (knowledge/notifiable), with the subtype as a second coding. The workflow lives in extensions:

    draft ──submit──▶ submitted ──verify──▶ verified ──close──▶ closed
      │                  │   ▲
      discard            │   └──resubmit── correction-requested ◀──request correction── (submitted)
      ▼                  └──mark duplicate──▶ duplicate
    discarded

Composition.status follows: preliminary (draft, correction-requested), final (submitted, verified, closed; amended
once corrected), entered-in-error (discarded, duplicate). Report-card answers and case investigations are
QuestionnaireResponses referenced from their own sections.
"""

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from smartcare.regional.public_health.case_reports import document_type

LOCAL = "https://smartcare.example/fhir/"
EXTENSION = LOCAL + "StructureDefinition/case-report-"
STATE = EXTENSION + "state"
CLASSIFICATION = EXTENSION + "classification"
DIAGNOSED_AT = EXTENSION + "diagnosed-at"
ONSET = EXTENSION + "onset"
DEADLINE = EXTENSION + "deadline"
SUBMITTED_AT = EXTENSION + "submitted-at"
ESCALATED_AT = EXTENSION + "escalated-at"
DISTRICT = EXTENSION + "district"
TRIGGER = EXTENSION + "trigger"
REASON = EXTENSION + "reason"
DUPLICATE_OF = EXTENSION + "duplicate-of"
CORRECTION = EXTENSION + "correction"
OUTCOME = EXTENSION + "outcome"  # set when an officer closes the case: recovered, died ... not-a-case
DISEASE_SYSTEM = LOCAL + "CodeSystem/notifiable-disease"
DISTRICT_SYSTEM = LOCAL + "CodeSystem/district"
REPORT_CARD = LOCAL + "Questionnaire/infectious-disease-report-card"
INVESTIGATION = LOCAL + "Questionnaire/case-investigation"
# Why the doctor discarded a draft (valueCodeableConcept: a DISCARD_REASON_SYSTEM code and the doctor's words).
DISCARD_REASON = EXTENSION + "discard-reason"
DISCARD_REASON_SYSTEM = LOCAL + "CodeSystem/case-report-discard-reason"
# Composition.section.code: the diagnosing Condition, the laboratory Observations, the report card's answers.
SECTION_SYSTEM = LOCAL + "CodeSystem/case-report-section"
DIAGNOSIS_SECTION, LABORATORY_SECTION, REPORT_CARD_SECTION = "diagnosis", "laboratory", "report-card"

STATES = ("draft", "submitted", "correction-requested", "verified", "closed", "discarded", "duplicate")
# The states whose cases count: reported and not withdrawn (see counts(): a case closed as not a case does not).
COUNTED = frozenset({"submitted", "correction-requested", "verified", "closed"})
NOT_A_CASE = "not-a-case"
OPEN_FOR_DOCTOR = frozenset({"draft", "correction-requested"})
STATUS_OF_STATE = {
    "draft": "preliminary", "correction-requested": "preliminary", "submitted": "final", "verified": "final",
    "closed": "final", "discarded": "entered-in-error", "duplicate": "entered-in-error",
}
# Which state each state may move to, and by what act.
MOVES = {
    ("draft", "submit"): "submitted",
    ("draft", "discard"): "discarded",
    ("submitted", "verify"): "verified",
    ("submitted", "request-correction"): "correction-requested",
    ("submitted", "mark-duplicate"): "duplicate",
    ("verified", "close"): "closed",
    ("verified", "mark-duplicate"): "duplicate",
    ("correction-requested", "submit"): "submitted",
}


class CaseReportMoveRefused(ValueError):
    """A workflow step the report's state does not allow."""

    status = 409


@dataclass(frozen=True, slots=True)
class CaseFacts:
    """What the workflow, the deadlines and the counts need from one case report."""

    id: str
    state: str
    disease: str | None
    subtype: str | None
    classification: str | None
    patient: str | None  # Patient/id
    practitioner: str | None  # Practitioner/id
    organization: str | None  # Organization/id
    diagnosed_at: datetime | None
    onset: date | None
    deadline: datetime | None
    submitted_at: datetime | None
    escalated_at: datetime | None
    district: str | None  # the district code of the case's address when reported
    duplicate_of: str | None  # Composition/id
    outcome: str | None = None  # the outcome an officer closed the case with

    @property
    def overdue(self) -> bool:
        """Submitted after its deadline (or, while still a draft, judged by the caller against now)."""
        return bool(self.deadline and self.submitted_at and self.submitted_at > self.deadline)


def extension(resource: dict[str, Any], url: str) -> dict[str, Any] | None:
    """The first extension of resource with this url, or None."""
    return next((e for e in resource.get("extension") or [] if isinstance(e, dict) and e.get("url") == url), None)


def set_extension(resource: dict[str, Any], url: str, value: dict[str, Any] | None) -> None:
    """Replace resource's extension url with one holding value ({"valueCode": ...}); None removes it."""
    kept = [e for e in resource.get("extension") or [] if not (isinstance(e, dict) and e.get("url") == url)]
    if value is not None:
        kept.append({"url": url, **value})
    if kept:
        resource["extension"] = kept
    else:
        resource.pop("extension", None)


def move(composition: dict[str, Any], act: str) -> str:
    """Apply a workflow act to a case report in place (state and status); the new state.

    Raises CaseReportMoveRefused when the current state does not allow the act.
    """
    current = state_of(composition)
    target = MOVES.get((current, act))
    if target is None:
        raise CaseReportMoveRefused(f"a {current} case report cannot be given '{act}'")
    set_extension(composition, STATE, {"valueCode": target})
    corrected = current == "correction-requested" and target == "submitted"
    composition["status"] = "amended" if corrected else STATUS_OF_STATE[target]
    return target


def state_of(composition: dict[str, Any]) -> str:
    """The workflow state of a case report; reports written before the workflow existed count as submitted."""
    found = extension(composition, STATE)
    value = found.get("valueCode") if found else None
    return value if value in STATES else "submitted"


def is_case_report(resource: dict[str, Any]) -> bool:
    """Whether a resource is a case-report Composition."""
    wanted = document_type()
    codings = (resource.get("type") or {}).get("coding") or []
    return resource.get("resourceType") == "Composition" and any(
        isinstance(c, dict) and c.get("system") == wanted["system"] and c.get("code") == wanted["code"]
        for c in codings)


def _reference(value: Any) -> str | None:
    reference = value.get("reference") if isinstance(value, dict) else None
    return reference if isinstance(reference, str) else None


def _instant(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _day(value: Any) -> date | None:
    if not isinstance(value, str):
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def _ext_value(composition: dict[str, Any], url: str, key: str) -> Any:
    found = extension(composition, url)
    return found.get(key) if found else None


def disease_codes(composition: dict[str, Any]) -> list[str]:
    """The notifiable-list codes on a report's category: the disease first, then its subtype if any."""
    return [str(c.get("code")) for category in composition.get("category") or [] if isinstance(category, dict)
            for c in category.get("coding") or []
            if isinstance(c, dict) and c.get("system") == DISEASE_SYSTEM and c.get("code")]


def facts(composition: dict[str, Any]) -> CaseFacts:
    """The workflow facts of a case-report Composition."""
    authors = [ref for ref in map(_reference, composition.get("author") or []) if ref]
    codes = disease_codes(composition)
    district = _ext_value(composition, DISTRICT, "valueCoding")
    return CaseFacts(
        id=str(composition.get("id", "")),
        state=state_of(composition),
        disease=codes[0] if codes else None,
        subtype=codes[1] if len(codes) > 1 else None,
        classification=_ext_value(composition, CLASSIFICATION, "valueCode"),
        patient=_reference(composition.get("subject")),
        practitioner=next((a for a in authors if a.startswith("Practitioner/")), None),
        organization=next((a for a in authors if a.startswith("Organization/")), None),
        diagnosed_at=_instant(_ext_value(composition, DIAGNOSED_AT, "valueDateTime")),
        onset=_day(_ext_value(composition, ONSET, "valueDate")),
        deadline=_instant(_ext_value(composition, DEADLINE, "valueDateTime")),
        submitted_at=_instant(_ext_value(composition, SUBMITTED_AT, "valueDateTime")),
        escalated_at=_instant(_ext_value(composition, ESCALATED_AT, "valueDateTime")),
        district=district.get("code") if isinstance(district, dict) else None,
        duplicate_of=_reference(_ext_value(composition, DUPLICATE_OF, "valueReference")),
        outcome=_ext_value(composition, OUTCOME, "valueCode"),
    )


def counts(case: CaseFacts) -> bool:
    """Whether a case counts in figures and detection: reported, not withdrawn, not closed as not a case."""
    return case.state in COUNTED and case.outcome != NOT_A_CASE


def count_date(case: CaseFacts) -> date | None:
    """The date a case is counted on: its onset, else the day it was diagnosed."""
    return case.onset or (case.diagnosed_at.date() if case.diagnosed_at else None)


def _section_code(section: Any) -> str | None:
    codings = ((section.get("code") or {}).get("coding") or []) if isinstance(section, dict) else []
    return next((str(c.get("code")) for c in codings if isinstance(c, dict) and c.get("system") == SECTION_SYSTEM),
                None)


def section_entries(composition: dict[str, Any], code: str) -> list[str]:
    """The references in a report's section of this SECTION_SYSTEM code (diagnosis, laboratory, report-card)."""
    return [ref for section in composition.get("section") or [] if _section_code(section) == code
            for ref in map(_reference, section.get("entry") or []) if ref]


def add_section_entry(composition: dict[str, Any], code: str, title: str, reference: str) -> bool:
    """Add reference to the report's section of this code (made when missing), in place; False if already there."""
    if reference in section_entries(composition, code):
        return False
    sections = composition.setdefault("section", [])
    found = next((s for s in sections if _section_code(s) == code), None)
    if found is None:
        found = {"title": title, "code": {"coding": [{"system": SECTION_SYSTEM, "code": code}]}, "entry": []}
        sections.append(found)
    found.setdefault("entry", []).append({"reference": reference})
    return True


def replace_section_entry(composition: dict[str, Any], code: str, title: str, reference: str) -> None:
    """Make reference the only entry of the report's section of this code (made when missing), in place."""
    composition["section"] = [s for s in composition.get("section") or [] if _section_code(s) != code]
    add_section_entry(composition, code, title, reference)
