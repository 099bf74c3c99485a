"""Device pages: the console's register (/console/devices: each device's kind, owner, last reading and status,
registering a device and showing its credentials once, a pairing QR code for an unowned device, revoking a device),
and the patient's own devices in the app (/app/devices), where a device is paired by entering the code under its QR
code."""

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from smartcare.family.devices import api, registry
from smartcare.platform import i18n
from smartcare.platform.db import unit_of_work
from smartcare.platform.i18n import _
from smartcare.platform.security import throttle
from smartcare.platform.web import guard
from smartcare.platform.web.pages import render

router = APIRouter(include_in_schema=False)
SURFACE = "console/devices"
APP_SURFACE = "app"
# The register form's fields; each is cut to MAX_FIELD before the register checks it (64 characters at most).
REGISTER_FIELDS = ("kind", "patient", "serial", "model", "manufacturer")
MAX_FIELD = 80
NOT_OURS = _("There is no such device of your organisation")
NO_ORGANISATION = _("Your account belongs to no organisation, so it cannot register devices.")


def _scope(v: guard.Visitor) -> str | None:
    """The organisation whose devices the visitor manages; None for a regional administrator (all)."""
    return None if "regional_admin" in v.ctx.roles else (v.ctx.organization or "Organization/none")


def _say(request: Request, exc: registry.DeviceError) -> str:
    """The register's refusal in the visitor's language."""
    text = i18n.translations(i18n.current_locale(request)).gettext(exc.message)
    return text % exc.values if exc.values else text


def _page(request: Request, v: guard.Visitor, conn: Any, status_code: int = 200, **values: Any) -> HTMLResponse:
    devices = registry.list_devices(conn, organization=_scope(v))
    values.setdefault("entered", {})
    response = render(request, "devices/console.html", status_code=status_code, devices=devices,
                      kinds=registry.device_kinds()["kinds"], **values)
    response.headers.update(guard.NO_STORE)
    return response


def _list(request: Request) -> HTMLResponse:
    with unit_of_work() as conn:
        v = guard.visitor(conn, request, SURFACE)
        return _page(request, v, conn)


@router.get("/console/devices", response_class=HTMLResponse)
async def device_register(request: Request) -> HTMLResponse:
    """The device register."""
    return await run_in_threadpool(_list, request)


def _revoke(request: Request, device_id: str, form: dict[str, str]) -> HTMLResponse:
    with unit_of_work() as conn:
        v = guard.visitor(conn, request, SURFACE)
        guard.check_csrf(request, v, form.get("csrf_token"))
        scope = _scope(v)
        try:
            device = registry.get_device(conn, device_id=device_id[:64])
            if scope is not None and device.organization != scope:
                raise registry.DeviceNotFound(NOT_OURS)
            registry.revoke_device(conn, ctx=v.ctx, device_id=device.device_id)
        except registry.DeviceError as exc:
            return _page(request, v, conn, status_code=exc.status, error=_say(request, exc))
        return _page(request, v, conn, revoked=device.device_id)


@router.post("/console/devices/{device_id}/revoke", response_class=HTMLResponse)
async def revoke(request: Request, device_id: str) -> HTMLResponse:
    """Revoke a device: its MQTT login and HTTPS client stop working, and its later readings are refused."""
    form = await guard.form_fields(request)
    return await run_in_threadpool(_revoke, request, device_id, form)


def _register(request: Request, form: dict[str, str]) -> HTMLResponse:
    with unit_of_work() as conn:
        v = guard.visitor(conn, request, SURFACE)
        guard.check_csrf(request, v, form.get("csrf_token"))
    entered = {name: form.get(name, "").strip()[:MAX_FIELD] for name in REGISTER_FIELDS}
    scope = _scope(v)
    if scope == "Organization/none":
        with unit_of_work() as conn:
            return _page(request, v, conn, status_code=403, entered=entered,
                         error=i18n.translations(i18n.current_locale(request)).gettext(NO_ORGANISATION))
    try:
        with unit_of_work() as conn:
            made = registry.register_device(
                conn, ctx=v.ctx, kind=entered["kind"], patient_id=entered["patient"] or None,
                serial=entered["serial"] or None, model=entered["model"] or None,
                manufacturer=entered["manufacturer"] or None, organization=scope)
    except registry.DeviceError as exc:
        with unit_of_work() as conn:
            return _page(request, v, conn, status_code=exc.status, error=_say(request, exc), entered=entered,
                         problem=exc.field or "")
    with unit_of_work() as conn:
        return _page(request, v, conn, registered=made.as_json())


@router.post("/console/devices/register", response_class=HTMLResponse)
async def register(request: Request) -> HTMLResponse:
    """Register a device (for a patient, or unowned until paired) and show its credentials this once."""
    form = await guard.form_fields(request)
    return await run_in_threadpool(_register, request, form)


def _pairing(request: Request, device_id: str, form: dict[str, str]) -> HTMLResponse:
    with unit_of_work() as conn:
        v = guard.visitor(conn, request, SURFACE)
        guard.check_csrf(request, v, form.get("csrf_token"))
        scope = _scope(v)
        try:
            device = registry.get_device(conn, device_id=device_id[:64])
            if scope is not None and device.organization != scope:
                raise registry.DeviceNotFound(NOT_OURS)
            code = registry.pairing_code(conn, ctx=v.ctx, device_id=device.device_id)
        except registry.DeviceError as exc:
            return _page(request, v, conn, status_code=exc.status, error=_say(request, exc))
        return _page(request, v, conn, pairing=code, paired_device=device)


@router.post("/console/devices/{device_id}/pairing", response_class=HTMLResponse)
async def pairing(request: Request, device_id: str) -> HTMLResponse:
    """Show a fresh pairing code and its QR code for an unowned device, to hand over with it."""
    form = await guard.form_fields(request)
    return await run_in_threadpool(_pairing, request, device_id, form)


def _own_page(request: Request, v: guard.Visitor, conn: Any, status_code: int = 200, **values: Any) -> HTMLResponse:
    me = v.ctx.fhir_user or ""
    devices = registry.list_devices(conn, patient_id=me.removeprefix("Patient/")) if me.startswith("Patient/") else []
    response = render(request, "devices/app.html", status_code=status_code, devices=devices,
                      can_pair="patient" in v.ctx.roles, **values)
    response.headers.update(guard.NO_STORE)
    return response


def _scanned_code(request: Request) -> str:
    """The pairing code of a scanned QR link (/app/devices?code=...), when it looks like one, to fill in the form."""
    code = registry.normal_code(request.query_params.get("code", ""))
    return code if registry.looks_like_code(code) else ""


def _own(request: Request) -> HTMLResponse:
    with unit_of_work() as conn:
        v = guard.visitor(conn, request, APP_SURFACE)
        return _own_page(request, v, conn, scanned=_scanned_code(request))


@router.get("/app/devices", response_class=HTMLResponse)
async def my_devices(request: Request) -> HTMLResponse:
    """The patient's own devices, and the form to pair a new one."""
    return await run_in_threadpool(_own, request)


def _pair(request: Request, form: dict[str, str]) -> HTMLResponse:
    with unit_of_work() as conn:
        v = guard.visitor(conn, request, APP_SURFACE)
        guard.check_csrf(request, v, form.get("csrf_token"))
        if "patient" not in v.ctx.roles or not (v.ctx.fhir_user or "").startswith("Patient/"):
            return _own_page(request, v, conn, status_code=403, failed=True)
        try:
            throttle.check_and_count(conn, f"pair:{v.user.id}"[:120], limit=api.PAIR_ATTEMPTS,
                                     window_seconds=api.PAIR_WINDOW_SECONDS)
        except throttle.Throttled:
            return _own_page(request, v, conn, status_code=429, failed=True)
    try:
        with unit_of_work() as conn:
            registry.pair_device(conn, ctx=v.ctx, code=form.get("code", "")[:32],
                                 patient_id=v.ctx.fhir_user.removeprefix("Patient/"))
    except registry.DeviceError:
        with unit_of_work() as conn:
            return _own_page(request, v, conn, status_code=400, failed=True)
    with unit_of_work() as conn:
        return _own_page(request, v, conn, paired=True)


@router.post("/app/devices/pair", response_class=HTMLResponse)
async def pair(request: Request) -> HTMLResponse:
    """Pair the device whose code the patient typed with the patient."""
    form = await guard.form_fields(request)
    return await run_in_threadpool(_pair, request, form)
