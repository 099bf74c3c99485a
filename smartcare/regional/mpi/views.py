"""The MPI console (/console/mpi): the review queue of candidate pairs side by side with the model's per-field match
weights, and one golden identity's records and history, with link, unlink, merge and unmerge.

Every change goes through the index's own functions (service.py, identities.py), which keep the history and audit
it. The records' demographics are read from the FHIR store as the platform (the regional administrator's role
reaches no identified records through the access policy; this surface is what gives it the MPI's view), and each
record shown is written to the audit trail under the visitor's name, so its patient sees who looked.
"""

import re
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.engine import Connection
from starlette.concurrency import run_in_threadpool

from smartcare.fhir import store
from smartcare.fhir.errors import FhirError
from smartcare.platform import audit, i18n
from smartcare.platform.db import unit_of_work
from smartcare.platform.i18n import _
from smartcare.platform.security.context import SYSTEM
from smartcare.platform.web import guard
from smartcare.platform.web.pages import render_private
from smartcare.regional.mpi import identities, service
from smartcare.regional.mpi.normalise import has_chinese
from smartcare.regional.mpi.patients import national_id_of, person_of

router = APIRouter(include_in_schema=False)
SURFACE = "console/mpi"
QUEUE = "/console/mpi"
PAGE_SIZE = 10
MAX_REASON = identities.MAX_REASON
# Weights beyond this many bits draw a full half bar; the shipped model's run from about -20 to +18.
FULL_BAR_BITS = 20.0
_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
_SOURCE = re.compile(r"Patient/[A-Za-z0-9\-.]{1,64}")
_MASK = "•"

# The model's comparisons, in the order the pair's rows show them, with the row each belongs to.
WEIGHT_ROWS = ("family_name", "given_name", "birth_date", "sex", "id_number", "phone", "address", "city", "postcode")
FIELD_NAMES = {
    "family_name": _("Family name (pinyin)"), "given_name": _("Given name (pinyin)"), "birth_date": _("Birth date"),
    "sex": _("Sex"), "id_number": _("Resident ID"), "phone": _("Phone"), "address": _("Address"), "city": _("City"),
    "postcode": _("Postcode"),
}

REVIEW_GONE = _("There is no such pair in the review queue.")
REVIEW_DECIDED = _("This pair was already decided, perhaps by someone else: the queue below is up to date.")
BAD_DECISION = _("Choose “Same person: link” or “Different people”.")
REASON_TOO_LONG = _("A reason is at most 500 characters.")
REASON_NEEDED = _("Give a reason for taking this record out of the identity.")
IDENTITY_GONE = _("There is no identity with that id.")
NOT_A_MEMBER = _("That record does not belong to this identity.")
ABSORB_NEEDED = _("Enter the id of the identity to merge into this one.")
MERGE_ITSELF = _("An identity cannot be merged into itself.")
MERGE_MERGED = _("Only active identities can be merged: one of these two was merged into another already.")
NOT_MERGED = _("This identity is not merged into another, so there is nothing to undo.")
REFUSED = _("The master patient index refused this change; nothing was changed.")


class Refusal(Exception):
    """A request the page answers with a message in the visitor's language and an HTTP status."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass(frozen=True, slots=True)
class Shown:
    """One source record as the console shows it: raw demographics, masked identifiers, where it came from."""

    source: str
    available: bool
    name: str = ""
    family_pinyin: str = ""
    given_pinyin: str = ""
    birth_date: str = ""
    sex: str = ""
    id_number: str = ""
    phone: str = ""
    address: str = ""
    city: str = ""
    postcode: str = ""
    institution: str = ""
    identity_id: str | None = None


def masked(value: str, *, keep: int = 4) -> str:
    """All but the last `keep` characters hidden: 110101199003071234 -> ••••••••••••••1234."""
    if not value:
        return ""
    return _MASK * max(len(value) - keep, 0) + value[-keep:]


def _display_name(patient: dict[str, Any]) -> str:
    """The name as the institution wrote it, Chinese characters preferred."""
    names = [n for n in patient.get("name") or [] if isinstance(n, dict)]
    written = []
    for name in names:
        text = name.get("text") if isinstance(name.get("text"), str) else ""
        given = [g for g in name.get("given") or [] if isinstance(g, str)]
        family = name.get("family") if isinstance(name.get("family"), str) else ""
        # Family name first, as Chinese names (and their pinyin) are written.
        parts = family + "".join(given) if has_chinese(family + "".join(given)) else " ".join([family, *given])
        written.append((text or parts).strip()[:100])
    return next((w for w in written if has_chinese(w)), next((w for w in written if w), ""))


def _address(patient: dict[str, Any]) -> tuple[str, str, str]:
    addresses = [a for a in patient.get("address") or [] if isinstance(a, dict)]
    addresses.sort(key=lambda a: a.get("use") != "home")
    for found in addresses:
        lines = [line for line in found.get("line") or [] if isinstance(line, str)]
        city, postcode = found.get("city"), found.get("postalCode")
        if lines or city or postcode:
            return (" ".join(lines)[:200], city if isinstance(city, str) else "",
                    postcode if isinstance(postcode, str) else "")
    return "", "", ""


def _institution(conn: Connection, v: guard.Visitor, patient: dict[str, Any], names: dict[str, str]) -> str:
    reference = (patient.get("meta") or {}).get("source") if isinstance(patient.get("meta"), dict) else None
    if not isinstance(reference, str) or not reference:
        return ""
    if reference not in names:
        names[reference] = reference[:100]
        if reference.startswith("Organization/"):
            try:
                organization = store.read(conn, v.ctx, res_type="Organization",
                                          res_id=reference.removeprefix("Organization/")[:64]).resource or {}
                if isinstance(organization.get("name"), str):
                    names[reference] = organization["name"][:100]
            except FhirError:
                pass  # a sender the directory does not know: its reference is shown instead
    return names[reference]


def _shown(conn: Connection, v: guard.Visitor, source: str, names: dict[str, str]) -> Shown:
    """One source record's demographics, read from the store as the MPI sees them."""
    identity_id = service.identity_of(conn, source)
    try:
        patient = store.read(conn, SYSTEM, res_type="Patient", res_id=source.removeprefix("Patient/")).resource
    except FhirError:
        return Shown(source=source, available=False, identity_id=identity_id)
    patient = patient or {}
    normal = person_of(patient, record_id=source)
    line, city, postcode = _address(patient)
    gender = patient.get("gender")
    return Shown(
        source=source, available=True, name=_display_name(patient), family_pinyin=normal.family.capitalize(),
        given_pinyin=normal.given.capitalize(),
        birth_date=patient.get("birthDate") if isinstance(patient.get("birthDate"), str) else "",
        sex=gender if isinstance(gender, str) else "", id_number=masked(normal.id_number or national_id_of(patient)),
        phone=masked(normal.phone), address=line, city=city, postcode=postcode,
        institution=_institution(conn, v, patient, names), identity_id=identity_id)


def _audit_shown(conn: Connection, v: guard.Visitor, sources: list[str]) -> None:
    """Seeing a record's demographics is recorded like any read of it, one entry per patient so each can see it."""
    for source in dict.fromkeys(sources):
        audit.record(conn, ctx=v.ctx, action="R", subtype="read", purpose="HOPERAT", entities=[source],
                     patient=source if _SOURCE.fullmatch(source) else None)


def _bar(weight: float | None) -> dict[str, Any]:
    if weight is None:
        return {"missing": True}
    return {"missing": False, "weight": weight, "agrees": weight >= 0,
            "size": round(min(abs(weight) / FULL_BAR_BITS, 1.0) * 100, 1)}


def _say(request: Request, message: str) -> str:
    return i18n.translations(i18n.current_locale(request)).gettext(message)


def _page_number(request: Request) -> int:
    raw = request.query_params.get("page", "1")[:6]
    return int(raw) if raw.isdigit() and int(raw) > 0 else 1


def _queue(request: Request, v: guard.Visitor, conn: Connection, *, page: int, status_code: int = 200,
           **values: Any) -> HTMLResponse:
    waiting = service.count_open_reviews(conn)
    pages = max((waiting + PAGE_SIZE - 1) // PAGE_SIZE, 1)
    page = min(page, pages)
    names: dict[str, str] = {}
    pairs = []
    for review in service.open_reviews(conn, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE, newest_first=True):
        weights = review["field_weights"]
        pairs.append({
            "review": review,
            "incoming": _shown(conn, v, review["source"], names),
            "known": _shown(conn, v, review["candidate"], names),
            "bars": {field: _bar(weights.get(field)) for field in WEIGHT_ROWS},
        })
    _audit_shown(conn, v, [s for p in pairs for s in (p["review"]["source"], p["review"]["candidate"])])
    return render_private(request, "mpi/queue.html", status_code=status_code, user=v.user, pairs=pairs, page=page,
                          pages=pages, waiting=waiting,
                          field_names=FIELD_NAMES, weight_rows=WEIGHT_ROWS, max_reason=MAX_REASON, **values)


def _review_queue(request: Request) -> HTMLResponse:
    with unit_of_work() as conn:
        v = guard.visitor(conn, request, SURFACE)
        return _queue(request, v, conn, page=_page_number(request))


@router.get(QUEUE, response_class=HTMLResponse)
async def review_queue(request: Request) -> HTMLResponse:
    """The pairs the index could not decide, newest first: both records side by side with each field's weight."""
    return await run_in_threadpool(_review_queue, request)


def _reason(form: dict[str, str], *, required: bool = False) -> str | None:
    reason = " ".join(form.get("reason", "").split())
    if len(reason) > MAX_REASON:
        raise Refusal(REASON_TOO_LONG, 400)
    if required and not reason:
        raise Refusal(REASON_NEEDED, 400)
    return reason or None


def _decide(request: Request, review_id: str, form: dict[str, str]) -> HTMLResponse:
    with unit_of_work() as conn:
        v = guard.visitor(conn, request, SURFACE)
        guard.check_csrf(request, v, form.get("csrf_token"))
    page = _page_number(request)
    decision = form.get("decision", "")
    try:
        if decision not in ("link", "reject"):
            raise Refusal(BAD_DECISION, 400)
        reason = _reason(form)
        if not _ID.fullmatch(review_id):
            raise Refusal(REVIEW_GONE, 404)
        with unit_of_work() as conn:
            pair = service.get_review(conn, review_id) or {}
            try:
                service.review_decide(conn, v.ctx, review_id=review_id, decision=decision, reason=reason)
            except service.IdentityNotFound:
                raise Refusal(REVIEW_GONE, 404) from None
            except service.IdentityError:
                raise Refusal(REVIEW_DECIDED, 409) from None
            identity_id = service.identity_of(conn, pair["source"]) if pair else None
    except Refusal as refusal:
        with unit_of_work() as conn:
            return _queue(request, v, conn, page=page, status_code=refusal.status, error=_say(request, refusal.message))
    done = {"decision": decision, "source": pair.get("source", ""), "candidate": pair.get("candidate", ""),
            "identity_id": identity_id}
    with unit_of_work() as conn:
        return _queue(request, v, conn, page=page, done=done)


@router.post(QUEUE + "/reviews/{review_id}", response_class=HTMLResponse)
async def decide_review(request: Request, review_id: str) -> HTMLResponse:
    """Decide one pair: "link" joins the incoming record to the candidate's identity, "reject" keeps them apart."""
    form = await guard.form_fields(request)
    return await run_in_threadpool(_decide, request, review_id[:80], form)


def _known(conn: Connection, identity_id: str) -> list[dict[str, Any]]:
    """The identity's own history; a Refusal (404) when the index never made such an identity."""
    events = service.history(conn, identity_id=identity_id) if _ID.fullmatch(identity_id) else []
    if not events:
        raise Refusal(IDENTITY_GONE, 404)
    return events


def _merged_in(identity_id: str, events: list[dict[str, Any]]) -> list[str]:
    """The identities merged into this one and not unmerged since, from its history."""
    latest: dict[str, dict[str, Any]] = {}
    for event in events:
        if event["kind"] in ("merge", "unmerge") and event["other_identity"] == identity_id:
            latest[event["identity_id"]] = event
    return sorted(absorbed for absorbed, event in latest.items() if event["kind"] == "merge")


def _identity(request: Request, v: guard.Visitor, conn: Connection, identity_id: str, *, status_code: int = 200,
              **values: Any) -> HTMLResponse:
    try:
        own = _known(conn, identity_id)
    except Refusal as refusal:
        return render_private(request, "mpi/identity.html", status_code=refusal.status, user=v.user,
                              identity_id=None, error=_say(request, refusal.message))
    sources = service.sources_of(conn, identity_id)
    names: dict[str, str] = {}
    records = []
    for source in sources:
        link = identities.current_link(conn, source)
        records.append({"shown": _shown(conn, v, source, names), "method": link.method if link else "",
                        "probability": link.probability if link else None,
                        "via": link.identity_id if link and link.identity_id != identity_id else None})
    by_seq = {e["seq"]: e for e in own}
    for source in sources:
        by_seq.update((e["seq"], e) for e in service.history(conn, source=source))
    events = [{**by_seq[seq], "machine_reason": identities.read_reason(by_seq[seq]["reason"])}
              for seq in sorted(by_seq, reverse=True)]
    merged_into = identities.effective(conn, {identity_id})[identity_id]
    _audit_shown(conn, v, sources)
    return render_private(request, "mpi/identity.html", status_code=status_code, user=v.user,
                          identity_id=identity_id, records=records, events=events,
                          merged_into=merged_into if merged_into != identity_id else None,
                          absorbed=_merged_in(identity_id, own), max_reason=MAX_REASON, **values)


def _identity_page(request: Request, identity_id: str) -> HTMLResponse:
    with unit_of_work() as conn:
        v = guard.visitor(conn, request, SURFACE)
        return _identity(request, v, conn, identity_id)


@router.get(QUEUE + "/identities/{identity_id}", response_class=HTMLResponse)
async def identity_page(request: Request, identity_id: str) -> HTMLResponse:
    """One golden identity: its linked records and every event of its history, with unlink, merge and unmerge."""
    return await run_in_threadpool(_identity_page, request, identity_id[:80])


def _change(request: Request, identity_id: str, form: dict[str, str], action: str) -> HTMLResponse:
    """Carry out one change on an identity in its own transaction (rolled back whole if refused), then show it."""
    with unit_of_work() as conn:
        v = guard.visitor(conn, request, SURFACE)
        guard.check_csrf(request, v, form.get("csrf_token"))
    shown = form.get("shown", "")[:80] if _ID.fullmatch(form.get("shown", "")[:80]) else identity_id
    try:
        with unit_of_work() as conn:
            _known(conn, identity_id)
            done = CHANGES[action](conn, v, identity_id, form)
    except Refusal as refusal:
        with unit_of_work() as conn:
            return _identity(request, v, conn, shown, status_code=refusal.status,
                             error=_say(request, refusal.message))
    with unit_of_work() as conn:
        return _identity(request, v, conn, shown if action == "unmerge" else identity_id, done=done)


def _unlink(conn: Connection, v: guard.Visitor, identity_id: str, form: dict[str, str]) -> dict[str, Any]:
    reason = _reason(form, required=True)
    source = form.get("source", "")[:80]
    if source not in service.sources_of(conn, identity_id):
        raise Refusal(NOT_A_MEMBER, 404)
    try:
        alone = service.unlink(conn, v.ctx, source=source, reason=reason)
    except service.IdentityError:
        raise Refusal(REFUSED, 409) from None
    return {"action": "unlink", "source": source, "identity_id": alone}


def _merge(conn: Connection, v: guard.Visitor, identity_id: str, form: dict[str, str]) -> dict[str, Any]:
    reason = _reason(form)
    absorb = form.get("absorb", "").strip()[:80]
    if not absorb:
        raise Refusal(ABSORB_NEEDED, 400)
    if absorb == identity_id:
        raise Refusal(MERGE_ITSELF, 400)
    _known(conn, absorb)
    resolved = identities.effective(conn, {identity_id, absorb})
    if resolved[identity_id] != identity_id or resolved[absorb] != absorb:
        raise Refusal(MERGE_MERGED, 409)
    try:
        service.merge(conn, v.ctx, keep=identity_id, absorb=absorb, reason=reason)
    except service.IdentityError:
        raise Refusal(REFUSED, 409) from None
    return {"action": "merge", "identity_id": absorb}


def _unmerge(conn: Connection, v: guard.Visitor, identity_id: str, form: dict[str, str]) -> dict[str, Any]:
    reason = _reason(form)
    was_in = identities.effective(conn, {identity_id})[identity_id]
    if was_in == identity_id:
        raise Refusal(NOT_MERGED, 409)
    try:
        service.unmerge(conn, v.ctx, identity_id=identity_id, reason=reason)
    except service.IdentityError:
        raise Refusal(NOT_MERGED, 409) from None
    return {"action": "unmerge", "identity_id": identity_id}


CHANGES = {"unlink": _unlink, "merge": _merge, "unmerge": _unmerge}


@router.post(QUEUE + "/identities/{identity_id}/unlink", response_class=HTMLResponse)
async def unlink_record(request: Request, identity_id: str) -> HTMLResponse:
    """Take one source record out of the identity into an identity of its own (a reason is required)."""
    form = await guard.form_fields(request)
    return await run_in_threadpool(_change, request, identity_id[:80], form, "unlink")


@router.post(QUEUE + "/identities/{identity_id}/merge", response_class=HTMLResponse)
async def merge_identity(request: Request, identity_id: str) -> HTMLResponse:
    """Merge another identity (the form's absorb) into this one; its records then count as this one's."""
    form = await guard.form_fields(request)
    return await run_in_threadpool(_change, request, identity_id[:80], form, "merge")


@router.post(QUEUE + "/identities/{identity_id}/unmerge", response_class=HTMLResponse)
async def unmerge_identity(request: Request, identity_id: str) -> HTMLResponse:
    """Undo the merge of this identity into another: both stand again with exactly their own records."""
    form = await guard.form_fields(request)
    return await run_in_threadpool(_change, request, identity_id[:80], form, "unmerge")
