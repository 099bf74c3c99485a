"""The ward's bedside monitors page (/workstation/wards/{ward}/monitors): which monitor is at which bed and
whose readings it sends; a nurse or doctor connects one of the hospital's monitors to a bed or takes it away."""

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from smartcare.family.devices import equipment, registry
from smartcare.fhir import gateway
from smartcare.fhir.errors import FhirError
from smartcare.hospital.wards import admissions, beds, monitors
from smartcare.hospital.wards.errors import WardRefused
from smartcare.platform.db import unit_of_work
from smartcare.platform.i18n import _, current_locale, translations
from smartcare.platform.web import fhir_text, guard
from smartcare.platform.web.pages import not_found, render_private

router = APIRouter(include_in_schema=False)
WARD_ROLES = frozenset({"doctor", "nurse"})
MAX_ID = 64
NO_MONITOR = _("Choose one of this hospital's bedside monitors.")
NO_BED = _("Choose a bed of this ward.")


def _clinician(request: Request) -> guard.Visitor:
    with unit_of_work() as conn:
        v = guard.visitor(conn, request, "workstation")
    if not v.ctx.roles & WARD_ROLES:
        raise guard.SurfaceForbidden("Only doctors and nurses work on the wards", ctx=v.ctx, surface="wards")
    return v


def _name(location: dict[str, Any], locale: str) -> str:
    alias = (location.get("alias") or [""])[0]
    return alias if locale.startswith("zh") and alias else location.get("name", location.get("id", ""))


def _page(request: Request, v: guard.Visitor, ward_id: str, *, status_code: int = 200, error: str = "",
          done: bool = False) -> HTMLResponse:
    locale = current_locale(request)
    hospital = beds.hospital_of(v.ctx)
    ward = beds.ward(v.ctx, hospital=hospital, ward_id=ward_id)
    layout = beds.rooms(v.ctx, ward)
    refs = [f"Location/{b['id']}" for room in layout for b in room.beds]
    stays = admissions.current_stays(v.ctx, refs)
    with unit_of_work() as conn:
        kept = [r for r in equipment.equipment(conn, organization=hospital)
                if r.kind == equipment.BEDSIDE_MONITOR and r.status == "active"]
    patients = {}
    for ref, encounter in stays.items():
        try:
            patients[ref] = fhir_text.person_name(gateway.read(v.ctx, encounter["subject"]["reference"]))
        except FhirError:
            patients[ref] = ""
    rows = [{"id": b["id"], "name": f"{_name(room.location, locale)} · {_name(b, locale)}",
             "patient": patients.get(f"Location/{b['id']}", ""),
             "monitors": [m for m in kept if m.location == f"Location/{b['id']}"]}
            for room in layout for b in room.beds]
    return render_private(request, "wards/monitors.html", status_code=status_code, user=v.user,
                          ward={"id": ward["id"], "name": _name(ward, locale)}, rows=rows,
                          spare=[m for m in kept if m.location not in refs], error=error, done=done)


def _show(request: Request, ward_id: str) -> HTMLResponse:
    v = _clinician(request)
    try:
        return _page(request, v, ward_id)
    except WardRefused:
        return not_found(request)


@router.get("/workstation/wards/{ward_id}/monitors", response_class=HTMLResponse)
async def ward_monitors(request: Request, ward_id: str) -> HTMLResponse:
    """The ward's beds with the bedside monitors connected to them."""
    return await run_in_threadpool(_show, request, ward_id[:MAX_ID + 1])


def _connect(request: Request, ward_id: str, form: dict[str, str]) -> Response:
    v = _clinician(request)
    guard.check_csrf(request, v, form.get("csrf_token"))
    device_id = (form.get("device") or "")[:MAX_ID]
    bed_id = (form.get("bed") or "")[:MAX_ID + 1]
    try:
        hospital = beds.hospital_of(v.ctx)
        beds.ward(v.ctx, hospital=hospital, ward_id=ward_id)
    except WardRefused:
        return not_found(request)
    say = translations(current_locale(request)).gettext
    try:
        if bed_id:
            beds.place(v.ctx, hospital=hospital, bed_id=bed_id, ward_id=ward_id)
            monitors.connect(v.ctx, hospital=hospital, device_id=device_id, bed_id=bed_id)
        else:
            monitors.disconnect(v.ctx, hospital=hospital, device_id=device_id)
    except WardRefused:
        return _page(request, v, ward_id, status_code=400, error=say(NO_BED))
    except registry.DeviceError:
        return _page(request, v, ward_id, status_code=404, error=say(NO_MONITOR))
    return RedirectResponse(f"/workstation/wards/{ward_id}/monitors", status_code=303, headers=guard.NO_STORE)


@router.post("/workstation/wards/{ward_id}/monitors")
async def connect_monitor(request: Request, ward_id: str) -> Response:
    """Connect the monitor chosen in the form to its bed, or take it away when no bed is given; CSRF-checked."""
    form = await guard.form_fields(request)
    return await run_in_threadpool(_connect, request, ward_id[:MAX_ID + 1], form)
