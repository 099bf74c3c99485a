"""The app's correction pages: ask the institution that sent a record to correct it, and follow the requests."""

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from smartcare.fhir import gateway
from smartcare.fhir.errors import FhirError
from smartcare.fhir.ips.narrative import describe
from smartcare.patient.sharing import corrections
from smartcare.patient.sharing.views import people_and_current
from smartcare.platform.db import unit_of_work
from smartcare.platform.web import guard
from smartcare.platform.web.pages import not_found, render_private

router = APIRouter(include_in_schema=False)
MAX_REF = 100


def _names(v: guard.Visitor, refs: set[str]) -> dict[str, str]:
    ids = [r.removeprefix("Organization/") for r in refs if r.startswith("Organization/")]
    if not ids:
        return {}
    try:
        found = gateway.search(v.ctx, "Organization", [("_id", ",".join(sorted(ids))), ("_count", str(len(ids)))])
    except FhirError:
        return {}
    return {f"Organization/{o['id']}": o.get("name", "") for o in found if o.get("id")}


def _request_row(task: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    owner = (task.get("owner") or {}).get("reference", "")
    return {"item": (task.get("focus") or {}).get("display", ""), "owner": names.get(owner, ""),
            "status": task.get("status", ""), "text": task.get("description", ""),
            "authored": task.get("authoredOn", ""), "answer": (task.get("statusReason") or {}).get("text", "")}


def _list(request: Request) -> HTMLResponse:
    with unit_of_work() as conn:
        v = guard.visitor(conn, request, "app")
    people, current = people_and_current(request, v)
    tasks = corrections.requests_of(v.ctx, current["id"]) if current else []
    items = corrections.correctable_items(v.ctx, current["id"]) if current else []
    names = _names(v, {(t.get("owner") or {}).get("reference", "") for t in tasks} | {i["source"] for i in items})
    return render_private(request, "sharing/corrections.html", user=v.user, people=people, current=current,
                          requests=[_request_row(t, names) for t in tasks],
                          items=[{**i, "source_name": names.get(i["source"], "")} for i in items],
                          made=request.query_params.get("made") == "1")


@router.get("/app/corrections", response_class=HTMLResponse)
async def my_corrections(request: Request) -> HTMLResponse:
    """The person's correction requests with their status, and the records one may ask to correct."""
    return await run_in_threadpool(_list, request)


def _form(request: Request, v: guard.Visitor, current: dict[str, Any], item_ref: str, *, status_code: int = 200,
          error: str = "", text: str = "") -> HTMLResponse:
    try:
        item = gateway.read(v.ctx, item_ref)
    except FhirError:
        return not_found(request)
    source = corrections.source_institution(item)
    names = _names(v, {source} if source else set())
    return render_private(request, "sharing/correction_form.html", status_code=status_code, user=v.user,
                          current=current, item_ref=item_ref, item_text=describe(item),
                          source_name=names.get(source or "", ""), has_source=source is not None, error=error,
                          text=text, max_text=corrections.MAX_TEXT)


def _new(request: Request) -> HTMLResponse:
    with unit_of_work() as conn:
        v = guard.visitor(conn, request, "app")
    _people, current = people_and_current(request, v)
    item_ref = request.query_params.get("item", "")[:MAX_REF]
    if current is None or item_ref.partition("/")[0] not in corrections.CORRECTABLE_TYPES:
        return not_found(request)
    return _form(request, v, current, item_ref)


@router.get("/app/corrections/new", response_class=HTMLResponse)
async def correction_form(request: Request) -> HTMLResponse:
    """The form to say what is wrong with one record (?item=Type/id, ?person= for a caregiver)."""
    return await run_in_threadpool(_new, request)


def _submit(request: Request, form: dict[str, str]) -> Response:
    with unit_of_work() as conn:
        v = guard.visitor(conn, request, "app")
    guard.check_csrf(request, v, form.get("csrf_token"))
    _people, current = people_and_current(request, v, form.get("person", "")[:64])
    item_ref = form.get("item", "")[:MAX_REF]
    if current is None or current["id"] != form.get("person"):
        return not_found(request)
    text = form.get("text", "")[:corrections.MAX_TEXT * 2]
    try:
        corrections.request_correction(v.ctx, patient_id=current["id"], item_ref=item_ref, text=text)
    except corrections.CorrectionProblem as exc:
        if exc.code == "item":
            return not_found(request)
        return _form(request, v, current, item_ref, status_code=400, error=exc.code, text=text)
    return guard.see_other(f"/app/corrections?person={current['id']}&made=1")


@router.post("/app/corrections", response_class=HTMLResponse)
async def ask_for_correction(request: Request) -> Response:
    """Send the correction request to the record's source institution as a FHIR Task; CSRF-checked."""
    form = await guard.form_fields(request)
    return await run_in_threadpool(_submit, request, form)
