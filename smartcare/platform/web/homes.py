"""Where each kind of user starts, and the consoles' home (the patient app's home is smartcare/patient/app; the
clinician's workstation home is the today list in hospital/workstation).

Every page asks the guard (and so the access policy) first, so what a page shows is what the policy lets them see.
"""

from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from smartcare.platform import audit, clock
from smartcare.platform.db import unit_of_work
from smartcare.platform.security import users
from smartcare.platform.security.policy import SURFACE_ROLES
from smartcare.platform.web import guard
from smartcare.platform.web.pages import render

router = APIRouter(include_in_schema=False)

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
