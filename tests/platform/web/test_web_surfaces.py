"""The authorisation matrix of the app's route classes: every role against every surface, and no route unguarded.

FHIR interactions have their own matrix (tests/fhir/test_access.py); here each page or app route
class (the patient app, the workstation, the consoles, the account) is opened by every role and by
nobody, and every route the application has is checked to be either public by design or refused
without a sign-in.
"""

import pytest

from smartcare.platform import audit
from smartcare.platform.db import unit_of_work
from smartcare.platform.web.app import create_app
from tests.web_support import ROLE_LINKS, browser, make_user, sign_in

SURFACE_PAGES = {
    "account": "/account",
    "app": "/app",
    "workstation": "/workstation",
    "console": "/console",
    "console/audit": "/console/audit",
    "console/clients": "/console/clients",
    "console/news": "/console/news",
    "console/mpi": "/console/mpi",
    "console/exchange": "/console/exchange",
    "console/supervision": "/console/supervision",
    "console/risk": "/console/risk",
}
CLINICAL = {"doctor", "nurse", "pharmacist", "lab_technician", "radiologist"}
ADMINS = {"hospital_admin", "regional_admin"}
ALLOWED = {
    "account": set(ROLE_LINKS),
    "app": {"patient", "caregiver"},
    "workstation": CLINICAL,
    "console": ADMINS | {"public_health_officer", "researcher", "health_inspector"},
    "console/audit": ADMINS,
    "console/clients": ADMINS,
    "console/news": ADMINS | {"public_health_officer"},
    "console/mpi": {"regional_admin"},
    "console/exchange": ADMINS,
    "console/supervision": {"regional_admin", "public_health_officer", "health_inspector"},
    "console/risk": {"regional_admin", "public_health_officer"},
}
MATRIX = [(role, surface) for role in sorted(ROLE_LINKS) for surface in SURFACE_PAGES]

# Routes anyone may open without signing in, and why.
PUBLIC_ROUTES = {
    "/": "the landing page",
    "/healthz": "the load balancer's health check",
    "/readyz": "the load balancer's readiness check (database answers and is migrated; no personal data)",
    "/metrics": "Prometheus metrics: a 404 except to loopback callers or SMARTCARE_METRICS_TOKEN "
                "(tests/platform/ops/test_ops_web.py)",
    "/login": "the sign-in form",
    "/logout": "signing out (CSRF-checked; does nothing without a session)",
    "/logout-everywhere": "signing out everywhere (CSRF-checked; does nothing without a session)",
    "/auth/token": "the OAuth2 token endpoint (authenticates the client itself)",
    "/auth/introspect": "token introspection (authenticates the client itself)",
    "/.well-known/smart-configuration": "SMART discovery, public by the SMART App Launch specification",
    "/openapi.json": "the API description", "/docs": "the API documentation", "/redoc": "the API documentation",
    "/docs/oauth2-redirect": "the API documentation",
    "/signup": "patient self sign-up", "/signup/verify": "patient self sign-up",
    "/password-reset": "password reset by verification code", "/password-reset/confirm": "password reset",
    "/api/v1/slots": "appointment slots to choose from, public like the directory (no personal data)",
    "/doctors": "the public find-a-doctor search (directory data is not personal)",
    "/doctors/{practitioner_id}": "a doctor's public profile",
    "/api/v1/doctors": "the public doctor search API", "/api/v1/departments": "the public department list",
    "/api/v1/organizations": "the public list of hospitals",
    "/api/v1/queue/{session}": "a clinic queue's called and waiting numbers (no names); own tickets need a sign-in",
    "/ws/queue/{session}": "the same queue numbers, live (a WebSocket)",
    "/queue/display/{practitioner_id}": "the display outside a consulting room (numbers only)",
    "/queue/clinic/{service_id}": "the display of a clinic's waiting area (rooms, doctors and numbers only)",
    "/ws/queue/clinic/{service_id}": "the same clinic display, live (a WebSocket)",
    "/kiosk": "the self check-in kiosk; a check-in needs the keyed code from the patient's app",
    "/ws/notifications": "a WebSocket that closes without a session (tests/platform/web/test_web_inbox.py)",
    "/api/v1/consultations/{consultation_id}/ws": "the consultation chat, a WebSocket that closes without a session "
                                                   "or token (tests/hospital/consultation/test_chat_socket.py)",
    "/api/v1/video/{visit_id}/ws": "a WebSocket that closes without a session or token",
    "/api/v1/video/rooms/{teleconsult_id}/ws": "a WebSocket that closes without a session or token",
    "/cds-services": "CDS Hooks discovery, public by the CDS Hooks specification (service descriptions only)",
    # The one-stop app's information services (issue 8): knowledge and directory data, nothing personal.
    "/api/v1/triage/assess": "one-shot triage for kiosks and the hotline: stores nothing, returns advice only",
    # The risk calculators as an API for other systems (issue 12): inputs in, a result out, nothing stored.
    "/api/v1/scores": "the calculator catalogue: names, inputs, units, ranges and sources",
    "/api/v1/scores/{name}": "one calculator described (GET) or run on the posted inputs (POST); stores nothing",
    "/risk/progress-chart.js": "the script that draws goal progress charts (no data in it)",
    # Outbreak detection on a posted count series (issue 13): counts in, bounds out, nothing personal, nothing stored.
    "/api/v1/surveillance/methods": "the outbreak detectors' catalogue: parameters, defaults, ranges and sources",
    "/api/v1/surveillance/detect": "runs a detector on posted period counts (no personal data); stores nothing",
    "/app/triage": "the symptom check: open to anyone; only a signed-in patient's finished session is stored",
    "/app/triage/nearest-emergency": "the nearest emergency department to a position the visitor gives",
    "/app/first-aid": "first-aid guides, open to anyone in an emergency (and cached offline)",
    "/app/first-aid/{key}": "a first-aid guide", "/app/first-aid/sw.js": "the first-aid guides' offline worker",
    "/app/first-aid/manifest.webmanifest": "the first-aid guides' web app manifest",
    "/app/first-aid/pictures/{name}.svg": "a first-aid picture", "/app/first-aid/first-aid.js": "first-aid script",
    "/app/first-aid/first-aid.css": "first-aid styles",
    # The app shell (issue 14): what installs it and keeps it working offline; nothing personal in any of them.
    "/app/manifest.webmanifest": "the app's web app manifest", "/app/sw.js": "the app's service worker",
    "/app/icons/{name}.png": "the app's home-screen icons", "/app/offline": "the page shown offline",
    "/app/shell/app.js": "the app shell's script", "/app/shell/app.css": "the app shell's styles",
    "/app/hospitals": "hospital information (directory data)", "/app/hospitals/{org_id}": "one hospital's information",
    "/app/hospitals/{org_id}/directions": "directions inside a hospital (floor plans)",
    "/app/nearest": "nearest hospitals from a position the visitor gives (never stored)",
    "/app/diseases": "disease information search", "/app/diseases/{key}": "a disease information page",
    "/app/diseases/icd10/{code}": "an ICD-10-CM code", "/api/v1/knowledge/diseases": "disease information search API",
    "/app/drugs": "medicine information search", "/app/drugs/{key}": "a medicine information page",
    "/app/drugs/check": "the interaction checker for medicines the visitor names (stores nothing)",
    "/app/drugs/check/suggest": "medicine name suggestions", "/api/v1/knowledge/drugs": "medicine search API",
    "/api/v1/knowledge/drugs/check": "the interaction checker API (stores nothing)",
    "/app/news": "health news (targeted articles only after sign-in)", "/app/news/{article_id}": "a news article",
    "/news/feed.atom": "the public health news feed", "/api/v1/news": "public health news API",
    # The public epidemic page (issue 13): approved releases of suppressed counts and announcements, nothing personal.
    "/public": "the epidemic page: the latest approved release (small counts hidden) and announcements",
    "/public/feed.atom": "the Atom feed of approved releases and announcements",
    "/public/districts.geojson": "the district boundaries the epidemic map draws (illustrative, no data)",
    "/public/charts.js": "the script that draws the epidemic curves and map (no data in it)",
    "/public-health/signal-chart.js": "the script that draws an outbreak signal's chart (no data in it)",
    "/public/public.css": "the epidemic page's styles",
    "/public/api/releases": "the list of approved releases (period and links)",
    "/public/api/releases/latest": "the current release's suppressed figures",
    "/public/api/releases/{release_id}": "an approved release's suppressed figures (404 for any other)",
    # Share links (issue 14): the token is the credential; throttled, 404 for no link, 410 once expired or revoked.
    "/shared/{token}": "a patient's share link, read-only, for a doctor without an account (tests/patient/sharing)",
    "/shared/{token}/ips.json": "the same share link's International Patient Summary download",
}


@pytest.mark.parametrize(("role", "surface"), MATRIX, ids=[f"{r}-{s}" for r, s in MATRIX])
def test_each_role_opens_exactly_the_surfaces_the_policy_gives_it(engine, role, surface):
    make_user(engine, role)
    with browser() as web:
        sign_in(web, role.replace("_", ".") + ".test")
        page = web.get(SURFACE_PAGES[surface])
    if role in ALLOWED[surface]:
        assert page.status_code == 200, page.text[:300]
        assert page.headers["cache-control"] == "no-store"
    else:
        assert page.status_code == 403
        assert "Your account does not give you access to this page" in page.text


def test_a_refused_page_is_recorded_in_the_audit_log(engine):
    make_user(engine, "patient")
    with browser() as web:
        sign_in(web, "patient.test")
        assert web.get("/console/audit").status_code == 403
    with unit_of_work(engine) as conn:
        refused = audit.search(conn, agent="user/patient.test", subtype="access-refused")
    assert len(refused) == 1 and refused[0]["outcome"] == "4"
    assert "/console/audit" in refused[0]["event"]["outcomeDesc"]


@pytest.mark.parametrize("path", sorted(set(SURFACE_PAGES.values())))
def test_nobody_signed_in_is_sent_to_sign_in_and_back(engine, path):
    with browser() as web:
        page = web.get(path)
    assert page.status_code == 303 and page.headers["location"] == f"/login?next={path}"


def _concrete(path: str) -> str:
    return path.replace("{path}", "Patient").replace("{client_id}", "client-x").replace("{", "").replace("}", "")


def _routes(routes, prefix: str = "") -> list[tuple[str, set[str]]]:
    """(path, methods) of every route, looking inside included routers."""
    found = []
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            found += _routes(included.routes, prefix + (route.include_context.prefix or ""))
        elif hasattr(route, "path"):
            methods = set(getattr(route, "methods", None) or {"GET"}) - {"HEAD"}
            found.append((prefix + route.path, methods))
    return found


def test_the_route_walk_sees_every_surface():
    paths = {path for path, _ in _routes(create_app().routes)}
    assert set(SURFACE_PAGES.values()) | {"/fhir/{path:path}", "/login"} <= paths


def test_every_route_of_the_application_is_public_by_design_or_refuses_strangers(engine):
    unguarded = []
    with browser() as web:
        for path, methods in _routes(create_app().routes):
            if path in PUBLIC_ROUTES or path.startswith("/static") or path.startswith("/vendor"):
                continue
            if path.startswith("/fhir"):
                # The FHIR API answers 401 without a token (except /fhir/metadata, checked in its own tests).
                assert web.get("/fhir/Patient").status_code == 401
                continue
            for method in sorted(methods):
                answer = web.request(method, _concrete(path), headers={"Accept": "text/html"})
                refused = answer.status_code in (401, 403) or (
                    answer.status_code == 303 and answer.headers["location"].startswith("/login"))
                if not refused:
                    unguarded.append(f"{method} {path} -> {answer.status_code}")
    assert unguarded == [], f"{unguarded}: these routes answer strangers; guard them or list them in PUBLIC_ROUTES with a reason"
