"""The home page of each kind of user: the patient app and the consoles (the clinician's workstation home is
the today list in hospital/workstation).

Every page asks the guard (and so the access policy) first, then reads records through the FHIR
gateway as the signed-in person, so what a page shows is exactly what the policy lets them see and
each read leaves its audit entry.
"""

from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from smartcare.fhir import gateway
from smartcare.fhir.errors import FhirError
from smartcare.knowledge.diseases.consumer import consumer_page_for
from smartcare.platform import audit, clock
from smartcare.platform.db import unit_of_work
from smartcare.platform.security import users
from smartcare.platform.security.context import AccessContext
from smartcare.platform.security.policy import SURFACE_ROLES
from smartcare.platform.web import fhir_text, guard
from smartcare.platform.web.pages import render

router = APIRouter(include_in_schema=False)

RECENT_RESULTS = 8
UPCOMING = 5
PROBLEMS_SHOWN = 20
ICD10_SYSTEMS = ("http://hl7.org/fhir/sid/icd-10", "http://hl7.org/fhir/sid/icd-10-cm")
PATIENTS_SHOWN = 20
# Where each role starts after signing in.
_HOME_OF_ROLE = {
    **{role: "/app" for role in SURFACE_ROLES["app"]},
    **{role: "/workstation" for role in SURFACE_ROLES["workstation"]},
    **{role: "/console" for role in SURFACE_ROLES["console"]},
}


def home_path(role: str) -> str:
    """The page a user of role lands on after signing in."""
    return _HOME_OF_ROLE.get(role, "/account")


def _page(request: Request, template: str, **values: Any) -> HTMLResponse:
    response = render(request, template, **values)
    response.headers.update(guard.NO_STORE)
    return response


def _visitor(request: Request, surface: str) -> guard.Visitor:
    with unit_of_work() as conn:
        return guard.visitor(conn, request, surface)


def _person_row(patient: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": patient.get("id"),
        "name": fhir_text.person_name(patient),
        "gender": patient.get("gender", ""),
        "birth_date": patient.get("birthDate", ""),
        "organization": (patient.get("managingOrganization") or {}).get("reference", ""),
    }


def _organization_name(ctx: AccessContext, reference: str) -> str:
    """The name of a directory Organization (readable by everyone signed in), else the reference itself."""
    if not reference.startswith("Organization/"):
        return reference
    try:
        return gateway.read(ctx, reference).get("name") or reference
    except FhirError:
        return reference


def _results(ctx: AccessContext, patient_id: str) -> list[dict[str, Any]]:
    found = gateway.search(ctx, "Observation", [
        ("subject", f"Patient/{patient_id}"), ("_sort", "-date"), ("_count", str(RECENT_RESULTS)),
    ])
    return [
        {"what": fhir_text.concept_text(o.get("code")), "value": fhir_text.observation_value(o),
         "when": fhir_text.when(o)[:10], "flag": fhir_text.concept_text((o.get("interpretation") or [None])[0])}
        for o in found
    ]


def _problems(ctx: AccessContext, patient_id: str) -> list[dict[str, Any]]:
    """The patient's active problems, each with the disease information page of its ICD-10 code where there is one."""
    found = gateway.search(ctx, "Condition", [
        ("subject", f"Patient/{patient_id}"), ("clinical-status", "active"), ("_count", str(PROBLEMS_SHOWN)),
    ])
    rows = []
    for condition in found:
        codes = [c.get("code", "") for c in (condition.get("code") or {}).get("coding", [])
                 if c.get("system") in ICD10_SYSTEMS and c.get("code")]
        page = next((key for key in map(consumer_page_for, codes) if key), None)
        rows.append({"what": fhir_text.concept_text(condition.get("code")), "page": page,
                     "since": str(condition.get("onsetDateTime") or condition.get("recordedDate") or "")[:10]})
    return rows


def _appointments(ctx: AccessContext, patient_id: str) -> list[dict[str, Any]]:
    today = clock.now().date().isoformat()
    found = gateway.search(ctx, "Appointment", [
        ("patient", f"Patient/{patient_id}"), ("date", f"ge{today}"), ("_sort", "date"), ("_count", str(UPCOMING)),
    ])
    return [
        {"when": fhir_text.when(a), "what": fhir_text.concept_text((a.get("serviceType") or [None])[0])
         or a.get("description", ""), "status": a.get("status", "")}
        for a in found
    ]


def _app_home(request: Request) -> HTMLResponse:
    v = _visitor(request, "app")
    people = [_person_row(p) for p in gateway.search(v.ctx, "Patient", [("_count", str(PATIENTS_SHOWN))])]
    wanted = request.query_params.get("person", "")
    current = next((p for p in people if p["id"] == wanted), people[0] if people else None)
    results = appointments = problems = []
    if current is not None:
        current = {**current, "organization": _organization_name(v.ctx, current["organization"])}
        results = _results(v.ctx, current["id"])
        problems = _problems(v.ctx, current["id"])
        appointments = _appointments(v.ctx, current["id"])
    return _page(request, "home/app.html", user=v.user, people=people, current=current, results=results,
                 problems=problems, appointments=appointments)


@router.get("/app", response_class=HTMLResponse)
async def app_home(request: Request) -> HTMLResponse:
    """The patient's (or caregiver's) home: whose record, the latest results, the next appointments."""
    return await run_in_threadpool(_app_home, request)


def _console_home(request: Request) -> HTMLResponse:
    with unit_of_work() as conn:
        v = guard.visitor(conn, request, "console")
        role = v.user.role.value
        tiles = [surface for surface in ("console/audit", "console/clients", "console/public-health",
                                         "console/research", "desk", "console/schedules",
                                         "console/lab-interface", "console/pacs", "console/news", "console/devices",
                                         "console/equipment", "console/mpi", "console/exchange",
                                         "console/supervision", "console/risk")
                 if role in SURFACE_ROLES[surface]]
        counts = None
        refused = []
        if "console/audit" in tiles:
            counts = {}
            for user in users.list_users(conn):
                counts[user.role.value] = counts.get(user.role.value, 0) + 1
            since = clock.now() - timedelta(days=1)
            refused = [
                {"shown": e["recorded"][:16].replace("T", " ") + " UTC", "agent": e["agent"], "subtype": e["subtype"],
                 "patient": e["patient"] or ""}
                for outcome in ("4", "8")
                for e in audit.search(conn, outcome=outcome, since=since, limit=10)
            ][:10]
    return _page(request, "home/console.html", user=v.user, tiles=tiles, counts=counts, refused=refused)


@router.get("/console", response_class=HTMLResponse)
async def console_home(request: Request) -> HTMLResponse:
    """The console's home: the tools the administrator's or officer's role opens, and today's refusals."""
    return await run_in_threadpool(_console_home, request)
