"""Writing a prescription at the workstation: the lines as typed, the audit's cards beside them, fixes applied,
overrides with reasons, and signing.

The workstation is a CDS Hooks client of SmartCare's own order-select/order-sign logic: the cards it shows
are the same cards the /cds-services endpoints answer (built from the same findings), recorded the same way,
and what the doctor does with them (a suggestion taken, a card overridden with a reason) is recorded as CDS
Hooks feedback.
"""

import math
import uuid
from dataclasses import dataclass, replace
from typing import Any

from smartcare.hospital.cds import feedback
from smartcare.hospital.cds.cards import FINDING_EXTENSION, finding_card
from smartcare.hospital.cds.schemas import AcceptedSuggestion, Feedback, OverrideReason
from smartcare.hospital.patient_notices import service as patient_notices
from smartcare.hospital.pharmacy import signing
from smartcare.hospital.pharmacy.signing import Override, PrescriptionLine
from smartcare.knowledge.drugs import formulary
from smartcare.knowledge.prescribing import audit
from smartcare.platform import clock
from smartcare.platform.db import unit_of_work
from smartcare.platform.security.context import AccessContext

MAX_LINES = 20
FREQUENCIES = ("QD", "BID", "TID", "QID", "Q6H", "Q8H", "Q12H", "QN", "QW", "PRN", "STAT")
ROUTES = ("oral", "sublingual", "inhaled", "subcutaneous", "intramuscular", "intravenous", "topical", "rectal",
          "ophthalmic", "nasal")
UNITS = ("mg", "g", "ug", "[iU]", "mL", "mg/kg")
SERVICE_ID = "order-sign"


class LineProblem(ValueError):
    """A prescription line that cannot be read: which line and field, and what is wrong."""

    def __init__(self, line: int, field: str, message: str) -> None:
        super().__init__(message)
        self.line, self.field, self.message = line, field, message


@dataclass(frozen=True)
class Draft:
    """A prescription being written: its lines and the encounter it belongs to."""

    patient_id: str
    lines: tuple[PrescriptionLine, ...]
    encounter_id: str | None = None


def _number(text: str, line: int, field: str, *, low: float, high: float, whole: bool = False) -> float:
    try:
        value = float(text)
    except ValueError:
        raise LineProblem(line, field, "a number is needed here") from None
    if not math.isfinite(value) or not low < value <= high or (whole and value != int(value)):
        raise LineProblem(line, field, f"between {low:g} and {high:g}")
    return value


def line_from_fields(n: int, fields: dict[str, str]) -> PrescriptionLine | None:
    """Line n of the form (fields line-n-medicine, -dose, -unit, -frequency, -route, -days, -note), or None if empty."""
    get = lambda name: fields.get(f"line-{n}-{name}", "").strip()  # noqa: E731
    medicine = get("medicine")
    if not medicine:
        return None
    if len(medicine) > 100:
        raise LineProblem(n, "medicine", "at most 100 characters")
    unit, frequency, route = get("unit") or "mg", get("frequency").upper() or "QD", get("route") or "oral"
    if unit not in UNITS:
        raise LineProblem(n, "unit", "choose a unit from the list")
    if frequency not in FREQUENCIES:
        raise LineProblem(n, "frequency", "choose a frequency from the list")
    if route not in ROUTES:
        raise LineProblem(n, "route", "choose a route from the list")
    days = get("days")
    note = get("note")
    if len(note) > 200:
        raise LineProblem(n, "note", "at most 200 characters")
    return PrescriptionLine(
        medicine=medicine, dose=_number(get("dose"), n, "dose", low=0, high=100_000), unit=unit,
        frequency=frequency, route=route, days=int(_number(days, n, "days", low=0, high=365, whole=True)) if days else None,
        note=note)


def lines_from_fields(fields: dict[str, str]) -> list[PrescriptionLine]:
    """Every filled line of the form, in order."""
    lines = [line for n in range(1, MAX_LINES + 1) if (line := line_from_fields(n, fields)) is not None]
    return lines


def _drafts(draft: Draft, ctx: AccessContext) -> dict[str, dict[str, Any]]:
    now = clock.format_instant(clock.now())
    return {str(n): {**signing.medication_request(line, patient_id=draft.patient_id, ctx=ctx,
                                                  encounter_id=draft.encounter_id, group="draft", now=now),
                     "id": f"draft-{n}", "status": "draft"}
            for n, line in enumerate(draft.lines, start=1)}


def _names(zh: bool) -> dict[str, tuple[str, str]]:
    return {key: (drug.atc[0], drug.name_zh if zh else drug.name_en)
            for key, drug in formulary.default().drugs.items() if drug.atc}


@dataclass(frozen=True)
class Review:
    """What the audit made of a draft: findings, their cards, the patient's facts, and usual doses by line."""

    findings: list[audit.Finding]
    cards: list[dict[str, Any]]
    facts: audit.PatientFacts | None = None
    how: dict[str, Any] | None = None
    typical: dict[int, dict[str, Any]] | None = None


def review(*, ctx: AccessContext, draft: Draft, zh: bool) -> Review:
    """The audit's findings for the draft and their CDS cards (recorded, so feedback can follow), with the
    usual dose of each line's medicine sized to the patient."""
    if not draft.lines:
        return Review([], [])
    findings, facts, how = signing.check_with_facts(ctx=ctx, patient_id=draft.patient_id, lines=list(draft.lines))
    drafts = _drafts(draft, ctx)
    names = _names(zh) if any(f.suggestion for f in findings) else {}
    cards = [finding_card(f, zh=zh, drafts=drafts, drug_names=names) for f in findings]
    with unit_of_work() as conn:
        feedback.record_cards(conn, service_id=SERVICE_ID, hook_instance=str(uuid.uuid4()),
                              patient_id=draft.patient_id, user_ref=ctx.fhir_user or ctx.author, cards=cards)
    typical = {}
    for n, line in enumerate(draft.lines, start=1):
        try:
            found = audit.suggest_dose(line.medicine, facts)
        except ValueError:
            found = None
        if found is not None:
            typical[n] = found
    return Review(findings, cards, facts, how, typical)


def use_typical(draft: Draft, n: int, typical: dict[str, Any]) -> Draft:
    """The draft with line n set to the usual dose, frequency and route offered for it."""
    if not 0 < n <= len(draft.lines) or typical.get("unit") not in UNITS:
        return draft
    lines = list(draft.lines)
    frequency = typical["frequency"] if typical.get("frequency") in FREQUENCIES else lines[n - 1].frequency
    route = typical["route"] if typical.get("route") in ROUTES else lines[n - 1].route
    lines[n - 1] = replace(lines[n - 1], dose=float(typical["dose"]), unit=typical["unit"], frequency=frequency,
                           route=route)
    return replace(draft, lines=tuple(lines))


def apply_suggestion(draft: Draft, finding: audit.Finding) -> Draft:
    """The draft with a finding's suggestion carried out: a dose changed, a drug replaced, a line dropped."""
    wanted = finding.suggestion or {}
    ref = str(wanted.get("ref", ""))
    if not ref.isdigit() or not 0 < int(ref) <= len(draft.lines):
        return draft
    index = int(ref) - 1
    lines = list(draft.lines)
    action = wanted.get("action")
    if action == "change-dose" and isinstance(wanted.get("dose"), int | float):
        lines[index] = replace(lines[index], dose=float(wanted["dose"]), unit=wanted.get("unit") or lines[index].unit,
                               frequency=wanted.get("frequency") or lines[index].frequency)
    elif action == "replace" and wanted.get("with") in formulary.default().drugs:
        lines[index] = replace(lines[index], medicine=str(wanted["with"]))
    elif action == "remove":
        del lines[index]
    return replace(draft, lines=tuple(lines))


def record_outcome(*, ctx: AccessContext, card: dict[str, Any], accepted: bool, reason: str = "",
                   comment: str = "") -> None:
    """Record, as CDS Hooks feedback, that the doctor took a card's suggestion or overrode the card."""
    now = clock.format_instant(clock.now())
    if accepted:
        entry = Feedback(card=card["uuid"], outcome="accepted", outcomeTimestamp=now,
                         acceptedSuggestions=[AcceptedSuggestion(id=s["uuid"]) for s in card.get("suggestions", [])[:1]])
    else:
        coding = next((r for r in card.get("overrideReasons", []) if r["code"] == reason), None)
        entry = Feedback(card=card["uuid"], outcome="overridden", outcomeTimestamp=now,
                         overrideReason=OverrideReason(reason=coding, userComment=comment[:1000] or None))
    with unit_of_work() as conn:
        feedback.record_feedback(conn, service_id=SERVICE_ID, entries=[entry], recorded_by=ctx.fhir_user or ctx.author)


def _medicine(line: PrescriptionLine) -> dict[str, str]:
    """A signed line as the patient's notice names it: the formulary's name in each language, dose and frequency."""
    drug = formulary.default().find(line.medicine)
    detail = f"{line.dose:g} {line.unit} {line.frequency}"
    return patient_notices.medicine(drug.name_en if drug else line.medicine, drug.name_zh if drug else None, detail)


def overrides_from_fields(fields: dict[str, str], cards: list[dict[str, Any]]) -> dict[str, Override]:
    """The overrides chosen on the form (fields override::<finding key> and comment::<finding key>)."""
    chosen: dict[str, Override] = {}
    for card in cards:
        key = card["extension"][FINDING_EXTENSION]
        reason = fields.get(f"override::{key}", "").strip()
        if reason in signing.OVERRIDE_REASONS:
            chosen[key] = Override(reason, fields.get(f"comment::{key}", "").strip()[:1000])
    return chosen


def sign(*, ctx: AccessContext, draft: Draft, overrides: dict[str, Override],
         cards: list[dict[str, Any]], hold_for_review: bool = False) -> signing.Signed:
    """Sign the draft with the overrides chosen, recording each override as feedback on its card; the patient's
    side is told of the new prescription (patient_notices). hold_for_review: the orders wait for the pharmacist's
    check before they take effect (online prescriptions)."""
    signed = signing.sign(ctx=ctx, patient_id=draft.patient_id, lines=list(draft.lines), overrides=overrides,
                          encounter_id=draft.encounter_id, hold_for_review=hold_for_review)
    with unit_of_work() as conn:
        patient_notices.tell_prescription(conn, ctx, patient_id=draft.patient_id,
                                          medicines=[_medicine(line) for line in draft.lines],
                                          requests=signed.medication_requests, held=hold_for_review)
    by_key = {card["extension"][FINDING_EXTENSION]: card for card in cards}
    for key, override in overrides.items():
        if key in by_key:
            record_outcome(ctx=ctx, card=by_key[key], accepted=False, reason=override.reason, comment=override.comment)
    return signed
