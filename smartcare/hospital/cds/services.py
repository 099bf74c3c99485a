"""The CDS services SmartCare offers, their prefetch templates, and what each does with a call.

patient-view shows care gaps when a chart opens; order-select and order-sign run the prescription
audit over the draft medication orders against the patient's facts (from prefetch or the store).
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from pydantic import BaseModel

from smartcare.hospital.cds import care_gaps
from smartcare.hospital.cds.cards import finding_card, gap_card
from smartcare.hospital.cds.schemas import OrderSelectContext, OrderSignContext, PatientContext
from smartcare.hospital.pharmacy import records
from smartcare.knowledge.drugs import formulary
from smartcare.knowledge.prescribing import audit, facts

_GAP_CODES = sorted({care_gaps.HBA1C, care_gaps.BP_PANEL, *care_gaps.UACR_CODES})

PATIENT_VIEW_PREFETCH = {
    "patient": "Patient/{{context.patientId}}",
    "conditions": "Condition?patient={{context.patientId}}&_count=500&_total=none",
    "observations": "Observation?patient={{context.patientId}}&code=" + ",".join(_GAP_CODES)
                    + "&_sort=-date&_count=200&_total=none",
    "encounters": "Encounter?patient={{context.patientId}}&_sort=-date&_count=20&_total=none",
    "risks": "RiskAssessment?patient={{context.patientId}}&_sort=-date&_count=5&_total=none",
}
# The prescription audit's own searches, as prefetch templates.
ORDER_PREFETCH = {key: query.replace("{patient}", "{{context.patientId}}") for key, query in records.QUERIES.items()}


@dataclass(frozen=True)
class Call:
    """One validated hook call with its prefetched data."""

    context: Any
    data: dict[str, list[dict[str, Any]]]
    zh: bool
    today: date


@dataclass(frozen=True)
class Service:
    """A CDS service as the discovery document lists it, with what it runs."""

    id: str
    hook: str
    title: str
    description: str
    prefetch: dict[str, str]
    context_model: type[BaseModel]
    run: Callable[[Call], list[dict[str, Any]]]

    def discovery(self) -> dict[str, Any]:
        """This service's entry in GET /cds-services."""
        return {"hook": self.hook, "id": self.id, "title": self.title, "description": self.description,
                "prefetch": self.prefetch}


def _of_type(call: Call, key: str, res_type: str) -> list[dict[str, Any]]:
    return [r for r in call.data.get(key, []) if r.get("resourceType") == res_type]


def _patient_view(call: Call) -> list[dict[str, Any]]:
    gaps = care_gaps.care_gaps(
        conditions=_of_type(call, "conditions", "Condition"), observations=_of_type(call, "observations", "Observation"),
        encounters=_of_type(call, "encounters", "Encounter"), risks=_of_type(call, "risks", "RiskAssessment"),
        today=call.today)
    return [gap_card(g, zh=call.zh, patient_id=call.context.patientId) for g in gaps]


def draft_medication_requests(bundle: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The draft MedicationRequests of a draftOrders Bundle, by reference (ids given to those without)."""
    drafts: dict[str, dict[str, Any]] = {}
    for n, entry in enumerate(bundle.get("entry") or []):
        resource = (entry or {}).get("resource") if isinstance(entry, dict) else None
        if isinstance(resource, dict) and resource.get("resourceType") == "MedicationRequest":
            resource_id = str(resource.get("id") or f"draft-{n + 1}")[:64]
            drafts[f"MedicationRequest/{resource_id}"] = {**resource, "id": resource_id}
    return drafts


def _drug_names(zh: bool) -> dict[str, tuple[str, str]]:
    known = formulary.default().drugs
    return {key: (drug.atc[0], drug.name_zh if zh else drug.name_en) for key, drug in known.items() if drug.atc}


def audit_call(call: Call, drafts: dict[str, dict[str, Any]]) -> list[audit.Finding]:
    """The prescription audit of the draft orders against the patient's facts and current medicines."""
    orders = [facts.order_from_request(draft, ref=ref) for ref, draft in drafts.items()]
    patient_facts, _ = records.facts_from(call.data, today=call.today,
                                          leave_out={str(d.get("id")) for d in drafts.values()})
    return audit.audit(orders, patient_facts)


def _order_cards(call: Call, drafts: dict[str, dict[str, Any]], findings: list[audit.Finding]) -> list[dict[str, Any]]:
    names = _drug_names(call.zh) if any(f.suggestion for f in findings) else {}
    return [finding_card(f, zh=call.zh, drafts=drafts, drug_names=names) for f in findings]


def _order_sign(call: Call) -> list[dict[str, Any]]:
    drafts = draft_medication_requests(call.context.draftOrders)
    return _order_cards(call, drafts, audit_call(call, drafts)) if drafts else []


def _order_select(call: Call) -> list[dict[str, Any]]:
    drafts = draft_medication_requests(call.context.draftOrders)
    chosen = set(call.context.selections)
    findings = [f for f in audit_call(call, drafts) if chosen & set(f.refs)] if drafts else []
    return _order_cards(call, drafts, findings)


SERVICES: dict[str, Service] = {s.id: s for s in (
    Service("patient-view", "patient-view", "Care gaps",
            "Overdue HbA1c and kidney checks in diabetes, blood pressure above target, overdue chronic-disease "
            "follow-up, and the latest risk assessments, when a patient's chart is opened.",
            PATIENT_VIEW_PREFETCH, PatientContext, _patient_view),
    Service("order-select", "order-select", "Prescription audit as orders are chosen",
            "Interactions, allergies, duplicates, dose, kidney and liver function, pregnancy and contraindicated "
            "conditions for the medication orders just selected.",
            ORDER_PREFETCH, OrderSelectContext, _order_select),
    Service("order-sign", "order-sign", "Prescription audit before signing",
            "The full prescription audit of every draft medication order before it is signed; critical cards "
            "must be resolved or overridden with a reason.",
            ORDER_PREFETCH, OrderSignContext, _order_sign),
)}


def discovery() -> dict[str, Any]:
    """The CDS Hooks discovery document."""
    return {"services": [s.discovery() for s in SERVICES.values()]}
