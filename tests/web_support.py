"""Helpers for tests of pages: a browser-like client, users of each role, and signing in with the real form."""

import re

from fastapi.testclient import TestClient

from smartcare.platform.db import unit_of_work
from smartcare.platform.security import users
from smartcare.platform.web.app import create_app

PASSWORD = "Blue-Harbour-Lantern-42"

# One account per role, linked the way such a user is in the region.
ROLE_LINKS = {
    "patient": {"fhir_ref": "Patient/pa1"},
    "caregiver": {"fhir_ref": "RelatedPerson/rp1"},
    "doctor": {"fhir_ref": "Practitioner/doc-a", "organization": "Organization/org-a"},
    "nurse": {"fhir_ref": "Practitioner/nurse-a", "organization": "Organization/org-a"},
    "pharmacist": {"fhir_ref": "Practitioner/pharm-a", "organization": "Organization/org-a"},
    "lab_technician": {"fhir_ref": "Practitioner/lab-a", "organization": "Organization/org-a"},
    "radiologist": {"fhir_ref": "Practitioner/rad-a", "organization": "Organization/org-a"},
    "hospital_admin": {"organization": "Organization/org-a"},
    "regional_admin": {},
    "public_health_officer": {},
    "researcher": {},
    "health_inspector": {},
}


def browser() -> TestClient:
    """A client that keeps cookies and does not follow redirects, like a browser seen one hop at a time."""
    return TestClient(create_app(), base_url="http://testserver", follow_redirects=False)


def form_token(page) -> str:
    """The CSRF token of the first form on page."""
    return re.search(r'name="csrf_token" value="([^"]*)"', page.text).group(1)


def make_user(engine, role: str, username: str | None = None, **fields) -> users.User:
    """An account of role with the usual links for that role."""
    with unit_of_work(engine) as conn:
        return users.create_user(conn, username=username or role.replace("_", ".") + ".test", password=PASSWORD,
                                 role=role, **{**ROLE_LINKS.get(role, {}), **fields})


def sign_in(web: TestClient, username: str, password: str = PASSWORD):
    """Sign in through the login form, as a person would."""
    token = form_token(web.get("/login"))
    done = web.post("/login", data={"username": username, "password": password, "csrf_token": token})
    assert done.status_code == 303, done.text[:500]
    return done


def staff_session(username: str, password: str, landing: str) -> TestClient:
    """A browser signed in through the login form whose API writes send the CSRF token of landing's page in the
    X-CSRF-Token header, as the workstation's scripts do."""
    web = browser()
    sign_in(web, username, password)
    page = web.get(landing)
    csrf = re.search(r'name="csrf-token" content="([^"]*)"', page.text)
    web.headers["X-CSRF-Token"] = csrf.group(1) if csrf else ""
    return web
