"""The PACS in the console: the known remote AEs (add, edit, allow or refuse, remove) and the reconciliation queue
of studies whose patient could not be matched (find the Patient and match, or dismiss); hospital administrators."""

import re
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.engine import Connection
from starlette.concurrency import run_in_threadpool

from smartcare.fhir import gateway
from smartcare.fhir.errors import FhirError
from smartcare.hospital.imaging import imaging_study, remote_aes
from smartcare.hospital.imaging.dicom import PacsSettings
from smartcare.hospital.imaging.models import imaging_reconciliation
from smartcare.hospital.imaging.models import imaging_study as study_index
from smartcare.hospital.imaging.remote_aes import RemoteAeRefused
from smartcare.platform import audit, clock, i18n
from smartcare.platform.db import unit_of_work
from smartcare.platform.i18n import _, current_locale
from smartcare.platform.web import guard
from smartcare.platform.web.pages import not_found, render_private

router = APIRouter(include_in_schema=False)
SURFACE = "console/pacs"
AES = "/console/pacs/aes"
RECONCILE = "/console/pacs/reconcile"
DISMISSED = "dismissed"
MAX_QUERY = 64
PATIENTS_SHOWN = 20
FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
FIELDS = ("ae_title", "host", "port", "modality", "description")
FIELD_NAMES = {"ae_title": _("AE title"), "host": _("Host"), "port": _("Port"), "modality": _("Modality"),
               "description": _("Description")}
# remote_aes words its refusals in English; these are the same sentences for the catalog.
REFUSALS = (_("An AE title is 1 to 16 letters, digits, spaces or punctuation (no backslash)."),
            _("Enter a host name or IP address."), _("A port is a number from 1 to 65535."),
            _("A modality is a DICOM modality code such as CT, MR or DX."), _("Another remote AE has this AE title."))
FIELD_PROBLEM = _("%(field)s: %(problem)s")
TOO_LONG = _("A description is at most %(count)d characters.")
OUT_OF_REACH = _("That patient does not exist or is not one of your hospital's patients.")
_q = imaging_reconciliation.c


def _item_id(text: str) -> int | None:
    return int(text) if text.isdigit() and len(text) < 12 else None


def _visitor(conn: Connection, request: Request) -> guard.Visitor:
    return guard.visitor(conn, request, SURFACE)


def _refusal(exc: RemoteAeRefused, locale: str) -> str:
    """The refusal in the reader's language, naming the field."""
    texts = i18n.translations(locale)
    if exc.field == "description":
        message = texts.gettext(TOO_LONG) % {"count": remote_aes.MAX_DESCRIPTION - 6}
    else:
        message = texts.gettext(exc.message)
    return texts.gettext(FIELD_PROBLEM) % {"field": texts.gettext(FIELD_NAMES.get(exc.field, exc.field)),
                                          "problem": message}


def _aes_page(request: Request, *, status_code: int = 200, editing: int | None = None,
              form: dict[str, Any] | None = None, error: str = "", error_field: str = "") -> HTMLResponse:
    with unit_of_work() as conn:
        v = _visitor(conn, request)
        known = remote_aes.listed(conn)
        waiting = conn.execute(sa.select(sa.func.count()).select_from(imaging_reconciliation)
                               .where(_q.status == imaging_study.OPEN)).scalar()
    if editing is not None and form is None:
        current = next((ae for ae in known if ae.id == editing), None)
        if current is None:
            return not_found(request)
        form = {**{f: getattr(current, f) for f in FIELDS}, "allowed": current.allowed}
    return render_private(request, "imaging/console_aes.html", status_code=status_code, user=v.user, known=known,
                          editing=editing, form=form or {"allowed": True}, error=error, error_field=error_field,
                          allow_any=PacsSettings().allow_any_caller, waiting=waiting,
                          done=request.query_params.get("done", "")[:20])


@router.get("/console/pacs")
async def pacs_console(request: Request) -> Response:
    """The PACS's console pages start at its known remote AEs (for those who may see them)."""
    def go() -> Response:
        with unit_of_work() as conn:
            _visitor(conn, request)
        return guard.see_other(AES)
    return await run_in_threadpool(go)


@router.get(AES, response_class=HTMLResponse)
async def known_aes(request: Request) -> HTMLResponse:
    """The known remote AEs, whether each may connect, and the form to add one (or edit one: ?edit=id)."""
    editing = request.query_params.get("edit")
    if editing is not None and _item_id(editing[:20]) is None:
        return not_found(request)
    return await run_in_threadpool(_aes_page, request, editing=_item_id(editing[:20]) if editing else None)


def _save(request: Request, ae_id: int | None, fields: dict[str, str]) -> Response:
    with unit_of_work() as conn:
        v = _visitor(conn, request)
    guard.check_csrf(request, v, fields.get("csrf_token"))
    form = {f: fields.get(f, "")[:300] for f in FIELDS} | {"allowed": fields.get("allowed") == "on"}
    try:
        with unit_of_work() as conn:
            if ae_id is not None and remote_aes.by_id(conn, ae_id) is None:
                return not_found(request)
            values = remote_aes.checked(**{f: form[f] for f in FIELDS})
            remote_aes.save(conn, values, allowed=form["allowed"], ae_id=ae_id)
            audit.record(conn, ctx=v.ctx, action="C" if ae_id is None else "U", subtype="operation",
                         purpose="HOPERAT", description=f"remote AE {values['ae_title']} at {values['host']}:"
                                                        f"{values['port']} saved, allowed={form['allowed']}"[:200])
    except RemoteAeRefused as exc:
        return _aes_page(request, status_code=400, editing=ae_id, form=form, error_field=exc.field,
                         error=_refusal(exc, current_locale(request)))
    return guard.see_other(f"{AES}?done=saved")


@router.post(AES)
async def add_ae(request: Request) -> Response:
    """Add a known remote AE; the form again with the wrong field named when the input is refused."""
    fields = await guard.form_fields(request)
    return await run_in_threadpool(_save, request, None, fields)


def _act_on_ae(request: Request, ae_id: int | None, action: str, token: str | None) -> Response:
    with unit_of_work() as conn:
        v = _visitor(conn, request)
        guard.check_csrf(request, v, token)
        ae = remote_aes.by_id(conn, ae_id) if ae_id is not None and action in ("allow", "refuse", "remove") \
            else None
        if ae is None:
            return not_found(request)
        if action == "remove":
            remote_aes.remove(conn, ae_id)
        else:
            values = {"ae_title": ae.ae_title, "host": ae.host, "port": ae.port,
                      "description": remote_aes.stored_description(ae.modality, ae.description)}
            remote_aes.save(conn, values, allowed=action == "allow", ae_id=ae_id)
        audit.record(conn, ctx=v.ctx, action="D" if action == "remove" else "U", subtype="operation",
                     purpose="HOPERAT", description=f"remote AE {ae.ae_title}: {action}"[:200])
    return guard.see_other(f"{AES}?done={action}")


@router.post(AES + "/{ae_id}/{action}")
async def change_ae(request: Request, ae_id: str, action: str) -> Response:
    """Save an edited remote AE, allow or refuse it, or remove it; CSRF-checked."""
    fields = await guard.form_fields(request)
    number = _item_id(ae_id[:20])
    if action == "edit" and number is not None:
        return await run_in_threadpool(_save, request, number, fields)
    return await run_in_threadpool(_act_on_ae, request, number, action[:20], fields.get("csrf_token"))


def _queued(conn: Connection, gettext: Callable[[str], str]) -> list[dict[str, Any]]:
    """The open reconciliation items with what each study carried and why it waits, oldest first."""
    s = study_index.c
    rows = conn.execute(sa.select(_q.id, _q.reason, _q.created, s.study_uid, s.patient_id, s.patient_name,
                                  s.patient_birth_date, s.patient_sex, s.study_date, s.study_description,
                                  s.accession_number, s.modalities, s.instance_count)
                        .join(study_index, study_index.c.id == _q.study)
                        .where(_q.status == imaging_study.OPEN).order_by(_q.created, _q.id).limit(200)).all()
    return [{**row._mapping, "reason": imaging_study.reason_text(row.reason, gettext),
             "patient_name": row.patient_name.replace("^", " ").strip(),
             "patient_birth_date": _shown_date(row.patient_birth_date), "study_date": _shown_date(row.study_date),
             "modalities": row.modalities.replace("\\", ", ")} for row in rows]


def _shown_date(value: str) -> str:
    """A DICOM date (YYYYMMDD) as YYYY-MM-DD; anything else as it came."""
    return f"{value[:4]}-{value[4:6]}-{value[6:]}" if len(value) == 8 and value.isdigit() else value


def _patient_row(p: dict[str, Any]) -> dict[str, Any]:
    name = (p.get("name") or [{}])[0]
    return {"id": p["id"], "name": " ".join([name.get("family", ""), *name.get("given", [])]).strip() or p["id"],
            "birth_date": p.get("birthDate", ""), "gender": p.get("gender", ""),
            "identifiers": ", ".join(str(i.get("value", "")) for i in p.get("identifier", [])[:3])}


def _candidates(v: guard.Visitor, query: str) -> list[dict[str, Any]]:
    """Patients in the administrator's reach whose identifier or name is query (through the gateway, audited)."""
    found: dict[str, dict[str, Any]] = {}
    for param in ("identifier", "name"):
        for patient in gateway.search(v.ctx, "Patient", [(param, query), ("_count", str(PATIENTS_SHOWN))]):
            found.setdefault(patient["id"], _patient_row(patient))
    return list(found.values())[:PATIENTS_SHOWN]


def _reconcile_page(request: Request, *, status_code: int = 200, error: str = "") -> HTMLResponse:
    picked = _item_id(request.query_params.get("item", "")[:20])
    query = " ".join(request.query_params.get("q", "").split())[:MAX_QUERY]
    with unit_of_work() as conn:
        v = _visitor(conn, request)
        items = _queued(conn, i18n.translations(current_locale(request)).gettext)
        if items:
            # What the studies carried names patients: seeing the queue is recorded like a search of records.
            audit.record(conn, ctx=v.ctx, action="R", subtype="search", purpose="HOPERAT",
                         entities=["ImagingStudy?reconciliation=open"])
    candidates = _candidates(v, query) if query and picked is not None else []
    return render_private(request, "imaging/console_reconcile.html", status_code=status_code, user=v.user,
                          items=items, picked=picked, query=query, candidates=candidates, error=error,
                          done=request.query_params.get("done", "")[:20])


@router.get(RECONCILE, response_class=HTMLResponse)
async def reconciliation_queue(request: Request) -> HTMLResponse:
    """Studies waiting for their patient, with what they carried; ?item=id&q=... finds patients for one."""
    return await run_in_threadpool(_reconcile_page, request)


def _open_study(conn: Connection, item_id: int) -> Any:
    return conn.execute(sa.select(_q.id, study_index.c.study_uid).join(study_index, study_index.c.id == _q.study)
                        .where(_q.id == item_id, _q.status == imaging_study.OPEN)).first()


def _match(request: Request, item_id: int, patient_id: str, v: guard.Visitor) -> Response:
    try:
        patient = gateway.read(v.ctx, f"Patient/{patient_id}")
    except FhirError:
        return _reconcile_page(request, status_code=403,
                               error=i18n.translations(current_locale(request)).gettext(OUT_OF_REACH))
    patient_ref = f"Patient/{patient['id']}"
    with unit_of_work() as conn:
        item = _open_study(conn, item_id)
        if item is None:
            return not_found(request)
        fhir_ref = imaging_study.publish_for_patient(conn, imaging_study.pacs_context(), item.study_uid, patient_ref)
        conn.execute(imaging_reconciliation.update().where(_q.id == item_id)
                     .values(resolved_by=v.ctx.author[:200]))
        audit.record(conn, ctx=v.ctx, action="E", subtype="operation", patient=patient_ref, purpose="HOPERAT",
                     entities=[fhir_ref or patient_ref],
                     description=f"study {item.study_uid} matched to {patient_ref} from the reconciliation "
                                 f"queue"[:200])
    return guard.see_other(f"{RECONCILE}?done=matched")


def _dismiss(request: Request, item_id: int, v: guard.Visitor) -> Response:
    with unit_of_work() as conn:
        item = _open_study(conn, item_id)
        if item is None:
            return not_found(request)
        conn.execute(imaging_reconciliation.update().where(_q.id == item_id).values(
            status=DISMISSED, resolved_at=clock.now().isoformat(), resolved_by=v.ctx.author[:200]))
        audit.record(conn, ctx=v.ctx, action="E", subtype="operation", purpose="HOPERAT",
                     description=f"study {item.study_uid} dismissed from the reconciliation queue"[:200])
    return guard.see_other(f"{RECONCILE}?done=dismissed")


def _resolve(request: Request, item_id: int | None, action: str, fields: dict[str, str]) -> Response:
    with unit_of_work() as conn:
        v = _visitor(conn, request)
    guard.check_csrf(request, v, fields.get("csrf_token"))
    if item_id is None or action not in ("match", "dismiss"):
        return not_found(request)
    if action == "dismiss":
        return _dismiss(request, item_id, v)
    patient_id = fields.get("patient", "").strip()
    if not FHIR_ID.fullmatch(patient_id):
        return not_found(request)
    return _match(request, item_id, patient_id, v)


@router.post(RECONCILE + "/{item_id}/{action}")
async def resolve_item(request: Request, item_id: str, action: str) -> Response:
    """Match a queued study to the Patient picked (published as that patient's ImagingStudy), or dismiss it."""
    fields = await guard.form_fields(request)
    return await run_in_threadpool(_resolve, request, _item_id(item_id[:20]), action[:20], fields)
