"""The pharmacist's verification of a prescription, as the MedicationRequest itself records it.

An online prescription (internet hospital) takes effect only once a pharmacist has checked it. Until then its
MedicationRequests are `draft` (FHIR R4: "not yet actionable ... requires sign-off, verification") with a coded
statusReason saying they wait for the pharmacist; the pharmacist's acceptance makes them `active`, a return to the
prescriber `cancelled` with a reason saying so. Whatever reads orders (the patient's medication schedule and
reminders, the audit's current medicines) therefore sees a prescription only once it was verified, and never a
returned one, without knowing about the pharmacy's review Task. Pure functions over resource dicts.
"""

from typing import Any

STATUS_REASON_SYSTEM = "https://smartcare.example/fhir/CodeSystem/medication-request-status-reason"
AWAITING = "awaiting-pharmacist-review"
RETURNED = "returned-by-pharmacist"
_DISPLAY = {AWAITING: "Awaiting the pharmacist's review", RETURNED: "Returned to the prescriber by the pharmacist"}


def _reason(code: str) -> dict[str, Any]:
    return {"coding": [{"system": STATUS_REASON_SYSTEM, "code": code, "display": _DISPLAY[code]}],
            "text": _DISPLAY[code]}


def _reason_code(request: dict[str, Any]) -> str | None:
    return next((c.get("code") for c in (request.get("statusReason") or {}).get("coding", [])
                 if c.get("system") == STATUS_REASON_SYSTEM), None)


def held_for_review(request: dict[str, Any]) -> dict[str, Any]:
    """The order as written before the pharmacist has checked it: draft, waiting for the pharmacist."""
    return {**request, "status": "draft", "statusReason": _reason(AWAITING)}


def awaiting_pharmacist(request: dict[str, Any]) -> bool:
    """True for an order that waits for the pharmacist's check (and so is not to be taken yet)."""
    return request.get("status") == "draft" and _reason_code(request) == AWAITING


def returned_by_pharmacist(request: dict[str, Any]) -> bool:
    """True for an order the pharmacist sent back to the prescriber instead of approving it."""
    return request.get("status") == "cancelled" and _reason_code(request) == RETURNED


def verified(request: dict[str, Any]) -> dict[str, Any]:
    """The order once the pharmacist approved it: active, without the waiting reason."""
    approved = {k: v for k, v in request.items() if k not in ("statusReason", "meta")}
    return {**approved, "status": "active"}


def returned(request: dict[str, Any]) -> dict[str, Any]:
    """The order once the pharmacist returned it to the prescriber: cancelled, saying why."""
    kept = {k: v for k, v in request.items() if k != "meta"}
    return {**kept, "status": "cancelled", "statusReason": _reason(RETURNED)}
