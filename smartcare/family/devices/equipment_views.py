"""The hospital's equipment register (/console/equipment): every device of the hospital, where it stands, whom it
is assigned to, when it was last seen and when its maintenance is due, with the due date set from the page."""

from datetime import date
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from smartcare.family.devices import equipment, registry
from smartcare.platform import clock
from smartcare.platform.db import unit_of_work
from smartcare.platform.i18n import _
from smartcare.platform.web import guard
from smartcare.platform.web.pages import render

router = APIRouter(include_in_schema=False)
SURFACE = "console/equipment"
BAD_DATE = _("Give the maintenance date as a date between 2000 and 2100, such as 2027-01-31.")
NO_DEVICE = _("There is no such device in this hospital's equipment.")
EARLIEST, LATEST = date(2000, 1, 1), date(2100, 12, 31)


def _hospital(v: guard.Visitor) -> str:
    """The organisation whose equipment the administrator keeps (one that matches no device without one)."""
    return v.ctx.organization or "Organization/none"


def _page(request: Request, v: guard.Visitor, conn: Any, status_code: int = 200, **values: Any) -> HTMLResponse:
    rows = equipment.equipment(conn, organization=_hospital(v))
    response = render(request, "devices/equipment.html", status_code=status_code, rows=rows,
                      today=clock.now().date().isoformat(), **values)
    response.headers.update(guard.NO_STORE)
    return response


def _register(request: Request) -> HTMLResponse:
    with unit_of_work() as conn:
        v = guard.visitor(conn, request, SURFACE)
        return _page(request, v, conn)


@router.get("/console/equipment", response_class=HTMLResponse)
async def equipment_register(request: Request) -> HTMLResponse:
    """The hospital's equipment register."""
    return await run_in_threadpool(_register, request)


def parse_due(text: str) -> date | None:
    """The date typed in the form (empty: no date); ValueError when it is no date in the accepted years."""
    text = (text or "").strip()[:12]
    if not text:
        return None
    due = date.fromisoformat(text)
    if not EARLIEST <= due <= LATEST:
        raise ValueError("out of range")
    return due


def _set_due(request: Request, device_id: str, form: dict[str, str]) -> HTMLResponse:
    with unit_of_work() as conn:
        v = guard.visitor(conn, request, SURFACE)
        guard.check_csrf(request, v, form.get("csrf_token"))
        try:
            due = parse_due(form.get("due", ""))
        except ValueError:
            return _page(request, v, conn, status_code=400, error=BAD_DATE, failed_device=device_id[:64])
        try:
            equipment.set_maintenance_due(conn, ctx=v.ctx, device_id=device_id[:64], due=due,
                                          organization=_hospital(v))
        except registry.DeviceError:
            return _page(request, v, conn, status_code=404, error=NO_DEVICE)
        return _page(request, v, conn, saved=device_id[:64])


@router.post("/console/equipment/{device_id}/maintenance", response_class=HTMLResponse)
async def set_maintenance(request: Request, device_id: str) -> HTMLResponse:
    """Set (or clear) the date a device's next maintenance is due."""
    form = await guard.form_fields(request)
    return await run_in_threadpool(_set_due, request, device_id, form)
