"""Online prescriptions in a consultation: the internet-hospital rules first, then the workstation's audit and
signing, which writes the pharmacist's review Task (a prescription takes effect only after that review: its
MedicationRequests stay draft until the pharmacist accepts them, knowledge/prescribing/verification.py); the
patient is told in the chat by a message that refers to the signed MedicationRequests."""

from smartcare.hospital.consultation import rules
from smartcare.hospital.consultation.service import MAX_TEXT, ConsultationError, _side, _thread, store_message
from smartcare.hospital.pharmacy import signing
from smartcare.hospital.pharmacy.signing import Override, PrescriptionLine
from smartcare.hospital.workstation import prescribing
from smartcare.knowledge.drugs import formulary
from smartcare.platform.db import unit_of_work
from smartcare.platform.security.context import AccessContext


def check(*, kind: str, lines: list[PrescriptionLine]) -> None:
    """Refuse lines that may not be prescribed online in a consultation of kind (rules.py)."""
    known = formulary.default()
    medicines = []
    for line in lines:
        drug = known.find(line.medicine)
        medicines.append((line.medicine, drug.atc if drug else None))
    try:
        rules.check_online_prescription(kind, medicines)
    except rules.RuleRefused as exc:
        raise ConsultationError(str(exc), code=exc.code, status=422) from exc


def prescribe(*, ctx: AccessContext, consultation_id: str, lines: list[PrescriptionLine],
              overrides: dict[str, Override] | None = None) -> signing.Signed:
    """The consultation's doctor prescribes online: rules, then the workstation's audit, signing and review Task."""
    with unit_of_work() as conn:
        thread = _thread(conn, consultation_id)
        if _side(conn, ctx, thread, "update") != "doctor":
            raise ConsultationError("Only the consultation's doctor prescribes", code="forbidden", status=403)
        if thread.status != "in_progress":
            raise ConsultationError("Prescribe while the consultation is under way", code="not-in-progress")
    check(kind=thread.kind, lines=lines)
    draft = prescribing.Draft(patient_id=thread.patient_id, lines=tuple(lines), encounter_id=thread.encounter_id)
    try:
        signed = prescribing.sign(ctx=ctx, draft=draft, overrides=overrides or {}, cards=[], hold_for_review=True)
    except signing.SigningRefused as exc:
        raise ConsultationError(exc.message, code="audit-refused", status=422) from exc
    with unit_of_work() as conn:
        store_message(conn, ctx, thread=_thread(conn, consultation_id), side="doctor",
                      client_id=f"rx-{signed.review_task.removeprefix('Task/')}"[:64],
                      text="\n".join(line_text(line) for line in lines)[:MAX_TEXT], category="prescription",
                      references=signed.medication_requests)
    return signed


def line_text(line: PrescriptionLine) -> str:
    """One prescribed medicine as the chat shows it: "amlodipine 5 mg · QD · oral · 30 d"."""
    parts = [f"{line.medicine} {line.dose:g} {line.unit}", line.frequency, line.route]
    if line.days:
        parts.append(f"{line.days} d")
    return " · ".join(parts)
