"""CDS Hooks cards from the prescription audit's findings and from care gaps, with their suggestions.

Each card says why it fired (detail), where the rule comes from (source and detail), and, where the
audit knows a fix, offers it as a suggestion the workstation can apply: change the dose, replace the
drug, or drop the order. High-severity findings carry the override reasons a prescriber may give.
"""

import copy
import uuid
from typing import Any

from smartcare.hospital.cds.care_gaps import Gap
from smartcare.hospital.pharmacy.signing import (
    ATC,
    LOCAL,
    OVERRIDE_REASONS,
    OVERRIDE_SYSTEM,
    RULE_SYSTEM,
    finding_key,
)
from smartcare.knowledge.prescribing.audit import Finding

GAP_SYSTEM = LOCAL + "CodeSystem/care-gap"
LOINC = "http://loinc.org"
INDICATOR_OF_SEVERITY = {"high": "critical", "moderate": "warning", "low": "info"}
# Where a card names the audit finding it shows, so an override can be carried to signing.
FINDING_EXTENSION = "smartcare-finding"
_SOURCE_LABEL = {"en": "SmartCare prescription audit", "zh": "SmartCare 处方审核"}
_GAP_LABEL = {"en": "SmartCare care gaps", "zh": "SmartCare 诊疗缺口提示"}


def override_reasons(zh: bool) -> list[dict[str, str]]:
    """The coded reasons a prescriber may give for overriding a card."""
    return [{"system": OVERRIDE_SYSTEM, "code": code, "display": display_zh if zh else display}
            for code, (display, display_zh) in OVERRIDE_REASONS.items()]


def _pick(finding: Any, name: str, zh: bool) -> str:
    return getattr(finding, f"{name}_zh" if zh else f"{name}_en") or getattr(finding, f"{name}_en")


def _new_uuid() -> str:
    return str(uuid.uuid4())


def _draft_id(ref: str) -> str:
    return ref.split("/", 1)[1] if ref.startswith("MedicationRequest/") else ref


def _replacement(draft: dict[str, Any], *, atc: str, name: str) -> dict[str, Any]:
    changed = copy.deepcopy(draft)
    changed.pop("id", None)
    changed["medicationCodeableConcept"] = {"coding": [{"system": ATC, "code": atc, "display": name}], "text": name}
    return changed


def _suggestion(finding: Finding, drafts: dict[str, dict], zh: bool, drug_names: dict[str, tuple[str, str]]) -> dict | None:
    wanted = finding.suggestion or {}
    draft = drafts.get(wanted.get("ref", ""))
    if draft is None:
        return None
    reference = f"MedicationRequest/{draft.get('id', _draft_id(wanted.get('ref', '')))}"
    action = wanted.get("action")
    if action == "change-dose" and isinstance(wanted.get("dose"), int | float):
        changed = copy.deepcopy(draft)
        for dosage in changed.get("dosageInstruction", [])[:1]:
            for rate in dosage.get("doseAndRate", [])[:1]:
                unit = wanted.get("unit") or (rate.get("doseQuantity") or {}).get("unit", "mg")
                rate["doseQuantity"] = {"value": wanted["dose"], "unit": unit, "system": "http://unitsofmeasure.org",
                                        "code": unit}
        label = (f"改为每次 {wanted['dose']:g} {wanted.get('unit') or ''}" if zh
                 else f"Change the dose to {wanted['dose']:g} {wanted.get('unit') or ''}").strip()
        actions = [{"type": "update", "description": label, "resource": changed}]
    elif action == "replace" and wanted.get("with") in drug_names:
        atc, name = drug_names[wanted["with"]]
        label = f"改用{name}" if zh else f"Replace with {name}"
        actions = [{"type": "delete", "description": label, "resourceId": [reference]},
                   {"type": "create", "description": label, "resource": _replacement(draft, atc=atc, name=name)}]
    elif action == "remove":
        label = "取消该医嘱" if zh else "Remove this order"
        actions = [{"type": "delete", "description": label, "resourceId": [reference]}]
    else:
        return None
    return {"label": label[:140], "uuid": _new_uuid(), "isRecommended": True, "actions": actions}


def finding_card(finding: Finding, *, zh: bool, drafts: dict[str, dict],
                 drug_names: dict[str, tuple[str, str]]) -> dict[str, Any]:
    """A card for one audit finding; drafts maps order refs to the draft MedicationRequests."""
    source_word = "依据" if zh else "Source"
    detail = f"{_pick(finding, 'detail', zh)}\n\n{_pick(finding, 'advice', zh)}"
    if finding.source not in detail:
        detail += f"\n\n*{source_word}:* {finding.source}"
    card: dict[str, Any] = {
        "uuid": _new_uuid(),
        "summary": _pick(finding, "summary", zh)[:139],
        "detail": detail,
        "indicator": INDICATOR_OF_SEVERITY.get(finding.severity, "info"),
        "source": {"label": _SOURCE_LABEL["zh" if zh else "en"],
                   "topic": {"system": RULE_SYSTEM, "code": finding.rule, "display": finding.rule}},
        "extension": {FINDING_EXTENSION: finding_key(finding)},
    }
    suggestion = _suggestion(finding, drafts, zh, drug_names)
    if suggestion is not None:
        card["suggestions"] = [suggestion]
        card["selectionBehavior"] = "at-most-one"
    if finding.severity == "high":
        card["overrideReasons"] = override_reasons(zh)
    return card


def gap_card(gap: Gap, *, zh: bool, patient_id: str) -> dict[str, Any]:
    """A patient-view card for one care gap, offering the overdue test as a draft order where there is one."""
    source_word = "依据" if zh else "Source"
    card: dict[str, Any] = {
        "uuid": _new_uuid(),
        "summary": (gap.summary_zh if zh else gap.summary_en)[:139],
        "detail": f"{gap.detail_zh if zh else gap.detail_en}\n\n*{source_word}:* {gap.source}",
        "indicator": gap.indicator,
        "source": {"label": _GAP_LABEL["zh" if zh else "en"],
                   "topic": {"system": GAP_SYSTEM, "code": "risk-assessment" if gap.key.startswith("risk-") else gap.key,
                             "display": gap.key}},
    }
    if gap.order is not None:
        label = f"开立检验：{gap.order['display']}" if zh else f"Order {gap.order['display']}"
        card["suggestions"] = [{
            "label": label[:140], "uuid": _new_uuid(), "isRecommended": True,
            "actions": [{"type": "create", "description": label, "resource": {
                "resourceType": "ServiceRequest", "status": "draft", "intent": "order",
                "category": [{"coding": [{"system": "http://snomed.info/sct", "code": "108252007",
                                          "display": "Laboratory procedure"}]}],
                "code": {"coding": [{"system": LOINC, "code": gap.order["code"], "display": gap.order["display"]}]},
                "subject": {"reference": f"Patient/{patient_id}"},
            }}],
        }]
        card["selectionBehavior"] = "at-most-one"
    return card
