"""Sign-in accounts for the demo region: a family doctor, a hospital doctor, a patient and an app client."""

from dataclasses import dataclass

from sqlalchemy.engine import Engine

from smartcare.fhir.http import FhirRequest
from smartcare.fhir.interactions import dispatch
from smartcare.platform.db import unit_of_work
from smartcare.platform.security import clients, users
from smartcare.platform.security.context import SYSTEM

# Published in the README and printed at start-up: these accounts exist only in demo databases.
DEMO_PASSWORD = "SmartCare-demo-2026"
DEMO_APP_NAME = "SmartCare demo app"


@dataclass(frozen=True, slots=True)
class DemoAccount:
    """One demo sign-in and who it is."""

    username: str
    role: str
    fhir_ref: str
    description: str


def _first(conn, path: str, query: list[tuple[str, str]]) -> dict | None:
    bundle = dispatch(conn, SYSTEM, FhirRequest(method="GET", path=path, query=[*query, ("_count", "1")])).body
    entries = [e for e in bundle.get("entry", []) if e.get("search", {}).get("mode") == "match"]
    return entries[0]["resource"] if entries else None


def _doctor_at(conn, organization: str) -> tuple[str, str] | None:
    """A doctor's practitioner reference at organization, from their PractitionerRole."""
    role = _first(conn, "PractitionerRole", [("organization", organization), ("role", "doctor")])
    if role is None:
        return None
    return role["practitioner"]["reference"], organization


def ensure_demo_accounts(engine: Engine) -> tuple[list[DemoAccount], str]:
    """Create the demo accounts and app client if missing; return them and the app's client_id."""
    accounts: list[DemoAccount] = []
    with unit_of_work(engine) as conn:
        wanted = []
        family = _doctor_at(conn, "Organization/org-chc-1")
        if family:
            wanted.append(("gp.demo", "doctor", family[0], family[1], "family doctor, Jiefang Road health centre"))
        # A hospital doctor who has seen patients: the attending practitioner of a visit to one of its departments.
        visit = _first(conn, "Encounter", [("service-provider.partof", "Organization/org-hosp-1")])
        attending = [p["individual"]["reference"] for p in (visit or {}).get("participant", [])
                     if p.get("individual", {}).get("reference", "").startswith("Practitioner/")]
        if attending:
            wanted.append(("doctor.demo", "doctor", attending[0], "Organization/org-hosp-1",
                           "doctor, Riverside City First Hospital"))
        patient = _first(conn, "Patient", [("organization", "Organization/org-chc-1")])
        if patient:
            wanted.append(("patient.demo", "patient", f"Patient/{patient['id']}", None, "a resident (patient)"))
        for username, role, ref, org, description in wanted:
            if users.get_by_username(conn, username=username) is None:
                users.create_user(conn, username=username, password=DEMO_PASSWORD, role=role, fhir_ref=ref,
                                  organization=org)
            accounts.append(DemoAccount(username, role, ref, description))
        existing = [c for c in clients.list_clients(conn) if c.name == DEMO_APP_NAME]
        if existing:
            app_id = existing[0].client_id
        else:
            app, _ = clients.register_client(conn, name=DEMO_APP_NAME, kind="app", public=True,
                                             scopes="openid fhirUser offline_access patient/*.cruds user/*.cruds")
            app_id = app.client_id
    return accounts, app_id
