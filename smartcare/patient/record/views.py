"""The personal health record pages of the app: the timeline, trend charts, the lists, and the person's own
entries (with their forms).

Each page asks the guard first, then reads as the signed-in person (or caregiver) through the FHIR gateway, for the
person chosen at the top with the app home's `person` parameter; a person out of the caller's reach gets the 404
page, the same answer as one who does not exist.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from smartcare.fhir.errors import FhirError
from smartcare.patient.record import entries, people, service, trends
from smartcare.platform import i18n
from smartcare.platform.db import unit_of_work
from smartcare.platform.web import guard
from smartcare.platform.web.pages import not_found, render_private

router = APIRouter(include_in_schema=False)
STATIC = Path(__file__).parent / "static"
ASSETS = {"trends.js": (STATIC / "record-trends.js", "text/javascript"), "record.css": (STATIC / "record.css", "text/css")}
MAX_PARAM = 100


@dataclass(frozen=True, slots=True)
class Reader:
    """Who is reading, whose record, and in which language."""

    visitor: guard.Visitor
    people: list[people.Person]
    person: people.Person | None
    zh: bool

    @property
    def viewer(self) -> str:
        """The reader's own FHIR reference (Patient/x or RelatedPerson/y)."""
        return self.visitor.user.fhir_ref or ""

    def page(self, request: Request, template: str, *, status_code: int = 200, **values: Any) -> HTMLResponse:
        """A record page with the person switch and tabs filled in."""
        return render_private(request, template, status_code=status_code, user=self.visitor.user,
                              people=self.people, current=self.person, zh=self.zh, **values)


class NotInReach(Exception):
    """The asked person is not one the reader may open."""


def reader(request: Request) -> Reader:
    """The signed-in reader and the person asked for (NotInReach when that person is out of reach)."""
    with unit_of_work() as conn:
        v = guard.visitor(conn, request, "app")
    own = (v.user.fhir_ref or "").removeprefix("Patient/")
    found = people.people(v.ctx, own=own)
    try:
        person = people.chosen(found, request.query_params.get(people.PERSON_PARAM, "")[:MAX_PARAM])
        if people.PERSON_PARAM not in request.query_params:
            # The person chosen at the top of the app, while still in reach.
            kept = guard.wanted_person(request)
            person = next((p for p in found if kept in p.ids), person) if kept else person
    except people.PersonOutOfReach as exc:
        raise NotInReach(str(exc)) from exc
    return Reader(visitor=v, people=found, person=person, zh=i18n.current_locale(request) == "zh-Hans")


def _page_number(text: str) -> int:
    return int(text) if text.isdigit() and len(text) < 5 else 1


def _timeline(request: Request) -> HTMLResponse:
    r = reader(request)
    q = request.query_params
    asked = {"kind": q.get("kind", "")[:20], "institution": q.get("institution", "")[:MAX_PARAM],
             "q": q.get("q", "")[:service.MAX_QUERY]}
    found = None
    if r.person is not None:
        found = service.timeline(r.visitor.ctx, r.person, zh=r.zh, viewer=r.viewer, kind=asked["kind"],
                                 institution=asked["institution"], query=asked["q"],
                                 page=_page_number(q.get("page", "1")))
    kept = [(k, v) for k, v in (("person", r.person.id if r.person else ""), *asked.items()) if v]
    return r.page(request, "record/timeline.html", tab="timeline", found=found, asked=asked,
                  paging_query=urlencode(kept))


def _trends(request: Request) -> HTMLResponse:
    r = reader(request)
    charts = {"vitals": {}, "labs": {}}
    if r.person is not None:
        observations = service.read_types(r.visitor.ctx, r.person, ("Observation",))["Observation"]
        charts = trends.series(observations, zh=r.zh)
    return r.page(request, "record/trends.html", tab="trends", charts=charts)


def _lists(request: Request) -> HTMLResponse:
    r = reader(request)
    found = service.lists(r.visitor.ctx, r.person, zh=r.zh, viewer=r.viewer) if r.person else None
    return r.page(request, "record/lists.html", tab="lists", found=found)


def _translated(request: Request, problems: dict[str, tuple[str, dict[str, Any]]]) -> dict[str, str]:
    words = i18n.translations(i18n.current_locale(request))
    return {name: words.gettext(message) % values for name, (message, values) in problems.items()}


def _mine(request: Request, *, kind: str = "", fields: dict[str, str] | None = None,
          errors: dict[str, str] | None = None, status_code: int = 200) -> HTMLResponse:
    r = reader(request)
    spec = trends.readings()
    return r.page(request, "record/mine.html", status_code=status_code, tab="mine", kind=kind, fields=fields or {},
                  errors=errors or {}, readings=spec["readings"], severities=spec["symptom"]["severities"],
                  criticalities=entries.CRITICALITIES, saved=request.query_params.get("saved", "")[:20])


def _add(request: Request, kind: str, fields: dict[str, str]) -> Response:
    r = reader(request)
    guard.check_csrf(request, r.visitor, fields.get("csrf_token"))
    if r.person is None or kind not in entries.KINDS:
        return not_found(request)
    author = r.viewer or f"Patient/{r.person.id}"
    try:
        entries.add(r.visitor.ctx, kind, fields, patient_id=r.person.id, author=author)
    except entries.EntryInvalid as exc:
        return _mine(request, kind=kind, fields=fields, errors=_translated(request, exc.problems), status_code=400)
    except FhirError:
        return render_private(request, "403.html", status_code=403)
    return guard.see_other(f"/app/record/mine?{urlencode({'person': r.person.id, 'saved': kind})}")


async def _answer(request: Request, build: Any, *args: Any) -> Response:
    """Run a page builder in a thread; a person out of reach gets the 404 page."""
    try:
        return await run_in_threadpool(build, request, *args)
    except NotInReach:
        return not_found(request)


@router.get("/app/record", response_class=HTMLResponse)
async def record_timeline(request: Request) -> Response:
    """The person's encounters, results, imaging, prescriptions, vaccinations and care plans from every institution,
    newest first, with filters by kind and institution, a search and pages."""
    return await _answer(request, _timeline)


@router.get("/app/record/trends", response_class=HTMLResponse)
async def record_trends(request: Request) -> Response:
    """Charts of vitals and lab results over time, each with its reference band, and the same figures as tables."""
    return await _answer(request, _trends)


@router.get("/app/record/lists", response_class=HTMLResponse)
async def record_lists(request: Request) -> Response:
    """Problems, medicines and allergies, each with the institution it came from or "reported by you"."""
    return await _answer(request, _lists)


@router.get("/app/record/mine", response_class=HTMLResponse)
async def record_mine(request: Request) -> Response:
    """The forms for the person's own entries: a home reading, a symptom, a medicine, an allergy."""
    return await _answer(request, _mine)


@router.post("/app/record/mine/{kind}", response_class=HTMLResponse)
async def record_add(request: Request, kind: str) -> Response:
    """Save one of the person's own entries (CSRF-checked); a wrong form comes back with what to fix."""
    fields = await guard.form_fields(request)
    return await _answer(request, _add, kind[:20], fields)


def _asset(request: Request, name: str) -> Response:
    with unit_of_work() as conn:
        guard.visitor(conn, request, "app")
    path, media_type = ASSETS[name]
    return FileResponse(path, media_type=media_type, headers={"Cache-Control": "private, max-age=3600"})


@router.get("/app/record/trends.js")
async def record_trends_script(request: Request) -> Response:
    """The script that draws the trend charts (ECharts) from the page's JSON data; nothing personal in it."""
    return await run_in_threadpool(_asset, request, "trends.js")


@router.get("/app/record/record.css")
async def record_styles(request: Request) -> Response:
    """The record pages' styles."""
    return await run_in_threadpool(_asset, request, "record.css")
