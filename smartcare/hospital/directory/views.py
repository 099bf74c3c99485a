"""Directory pages: the public "find a doctor" search and doctor profiles, and the console pages that maintain them."""

from datetime import date
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from smartcare.fhir import gateway
from smartcare.fhir.errors import FhirError
from smartcare.hospital.directory import conventions as dc
from smartcare.hospital.directory import maintenance, service
from smartcare.hospital.directory.search_index import MAX_QUERY, DoctorQuery, departments_for_symptom
from smartcare.platform.db import unit_of_work
from smartcare.platform.security.context import SYSTEM
from smartcare.platform.web import guard
from smartcare.platform.web.pages import render

router = APIRouter(include_in_schema=False)

SURFACE = "console/directory"
_FILTERS = ("q", "department", "organization", "date")


def _filters(request: Request) -> dict[str, str]:
    return {name: request.query_params.get(name, "").strip()[:MAX_QUERY] for name in _FILTERS}


def _day(text: str) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


def _search_page(request: Request) -> HTMLResponse:
    form = _filters(request)
    on = _day(form["date"])
    query = DoctorQuery(text=form["q"], department=form["department"], organization=form["organization"])
    searched = any(form.values())
    results = service.find_doctors(query=query, on=on) if searched else []
    rows = service.departments()
    department_names = sorted({service.department_key(r["service"]) for r in rows})
    return render(request, "directory/search.html", form=form, results=results, searched=searched,
                  bad_date=bool(form["date"]) and on is None,
                  red_flag=bool(form["q"]) and departments_for_symptom(form["q"])[1],
                  departments=department_names, organizations=service.organizations(),
                  visit_labels=dc.VISIT_TYPE_LABELS)


@router.get("/doctors", response_class=HTMLResponse)
async def find_a_doctor(request: Request) -> HTMLResponse:
    """Find a doctor by name, department, symptom, hospital or a day with free slots (public)."""
    return await run_in_threadpool(_search_page, request)


def _profile(request: Request, practitioner_id: str) -> HTMLResponse:
    try:
        detail = service.doctor_detail(practitioner_id=practitioner_id[:64])
    except (service.DirectoryNotFound, FhirError):
        return render(request, "404.html", status_code=404, requested_path=request.url.path[:200])
    return render(request, "directory/doctor.html", visit_labels=dc.VISIT_TYPE_LABELS, **detail)


@router.get("/doctors/{practitioner_id}", response_class=HTMLResponse)
async def doctor_profile(request: Request, practitioner_id: str) -> HTMLResponse:
    """A doctor's public profile: title, department, languages, biography, opening hours and fees."""
    return await run_in_threadpool(_profile, request, practitioner_id)


# --- console ------------------------------------------------------------------------------------


def _page(request: Request, template: str, status_code: int = 200, **values: Any) -> HTMLResponse:
    response = render(request, template, status_code=status_code, **values)
    response.headers.update(guard.NO_STORE)
    return response


def _overview(request: Request) -> HTMLResponse:
    with unit_of_work() as conn:
        v = guard.visitor(conn, request, SURFACE)
    services = maintenance.editable_services(v.ctx)
    roles = maintenance.editable_roles(v.ctx)
    practitioners = {p["id"]: p for p in service.search_all(SYSTEM, "Practitioner")}
    doctors = []
    for role in roles:
        prac_id = (role.get("practitioner") or {}).get("reference", "").removeprefix("Practitioner/")
        if prac_id in practitioners:
            doctors.append({"id": prac_id, "name": _name(practitioners[prac_id]),
                            "title": dc.title_of(practitioners[prac_id]),
                            "organization": (role.get("organization") or {}).get("reference", "")})
    return _page(request, "directory/console.html", departments=[
        {"id": s["id"], "names": service.department_key(s), "hospital": s.get("name", ""),
         "fees": dc.fees_of(s)} for s in services],
        doctors=doctors, rooms=maintenance.editable_rooms(v.ctx), saved=request.query_params.get("saved") == "1")


def _name(practitioner: dict[str, Any]) -> str:
    return " / ".join(n.get("text") or " ".join([n.get("family", ""), *n.get("given", [])])
                      for n in practitioner.get("name", []))


@router.get("/console/directory", response_class=HTMLResponse)
async def directory_console(request: Request) -> HTMLResponse:
    """The departments, doctors and rooms this administrator maintains."""
    return await run_in_threadpool(_overview, request)


def _edit(request: Request, kind: str, item_id: str, fields: dict[str, str] | None,
          languages: list[str] | None) -> Response:
    """Show (fields None) or save one department, doctor or room; refusals and bad input come back as the form."""
    with unit_of_work() as conn:
        v = guard.visitor(conn, request, SURFACE)
    if fields is not None:
        guard.check_csrf(request, v, fields.get("csrf_token"))
    item_id = item_id[:64]
    try:
        resource = gateway.read(SYSTEM, f"{_TYPES[kind]}/{item_id}")
    except FhirError:
        return _page(request, "404.html", status_code=404, requested_path=request.url.path[:200])
    error, status = None, 200
    if fields is not None:
        try:
            _save(v.ctx, kind, item_id, fields, languages or [])
            return RedirectResponse("/console/directory?saved=1", status_code=303, headers=guard.NO_STORE)
        except maintenance.DirectoryEditInvalid as exc:
            error, status = str(exc), 400
        except maintenance.DirectoryEditRefused as exc:
            error, status = str(exc), 403
    return _page(request, f"directory/edit_{kind}.html", status_code=status, error=error, item=resource,
                 form=fields or _initial(kind, resource), titles=maintenance.TITLES,
                 languages=maintenance.LANGUAGES, chosen=languages or dc.languages_of(resource),
                 visit_labels=dc.VISIT_TYPE_LABELS)


_TYPES = {"department": "HealthcareService", "doctor": "Practitioner", "room": "Location"}


def _initial(kind: str, resource: dict[str, Any]) -> dict[str, str]:
    if kind == "department":
        fees = dc.fees_of(resource)
        return {"hours": maintenance.format_hours(resource.get("availableTime", [])),
                **{f"fee_{code}": f"{fees[code]:g}" if code in fees else "" for code in dc.VISIT_TYPES}}
    if kind == "doctor":
        bios = dc.biographies_of(resource)
        return {"title": (dc.title_of(resource) or {}).get("code", ""), "bio_en": bios.get("en", ""),
                "bio_zh": bios.get("zh-CN", "")}
    return {"name": resource.get("name", ""), "name_zh": (resource.get("alias") or [""])[0],
            "floor": str(dc.floor_of(resource) or "")}


def _save(ctx, kind: str, item_id: str, fields: dict[str, str], languages: list[str]) -> None:
    if kind == "department":
        maintenance.update_department(ctx, service_id=item_id, hours=fields.get("hours", ""),
                                      fees={code: fields.get(f"fee_{code}", "") for code in dc.VISIT_TYPES})
    elif kind == "doctor":
        maintenance.update_practitioner(ctx, practitioner_id=item_id, title=fields.get("title", ""),
                                        languages=languages, biography_en=fields.get("bio_en", ""),
                                        biography_zh=fields.get("bio_zh", ""))
    else:
        maintenance.update_room(ctx, location_id=item_id, name=fields.get("name", ""),
                                name_zh=fields.get("name_zh", ""), floor=fields.get("floor", ""))


@router.get("/console/directory/{kind}/{item_id}", response_class=HTMLResponse)
async def edit_form(request: Request, kind: str, item_id: str) -> Response:
    """The edit form of one department, doctor or room."""
    if kind not in _TYPES:
        return await run_in_threadpool(_unknown, request)
    return await run_in_threadpool(_edit, request, kind, item_id, None, None)


@router.post("/console/directory/{kind}/{item_id}", response_class=HTMLResponse)
async def save_edit(request: Request, kind: str, item_id: str) -> Response:
    """Save one department, doctor or room (CSRF-checked; written with the administrator's access)."""
    if kind not in _TYPES:
        return await run_in_threadpool(_unknown, request)
    form = await request.form()
    fields = {key: value for key, value in form.items() if isinstance(value, str)}
    languages = [value for value in form.getlist("languages") if isinstance(value, str)][:len(maintenance.LANGUAGES)]
    return await run_in_threadpool(_edit, request, kind, item_id, fields, languages)


def _unknown(request: Request) -> HTMLResponse:
    with unit_of_work() as conn:
        guard.visitor(conn, request, SURFACE)
    return _page(request, "404.html", status_code=404, requested_path=request.url.path[:200])
