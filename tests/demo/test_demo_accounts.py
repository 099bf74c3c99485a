"""The demo's sign-in accounts: created once, and each reaches the records its role should."""

from smartcare.demo.accounts import DEMO_PASSWORD, ensure_demo_accounts
from smartcare.demo.loader import load_region


def test_demo_accounts_sign_in_and_see_their_own_patients(client, engine):
    load_region(engine=engine, residents=40, seed=3)
    accounts, app_id = ensure_demo_accounts(engine)
    again, same_app = ensure_demo_accounts(engine)
    assert [a.username for a in again] == [a.username for a in accounts] and same_app == app_id
    assert {a.username for a in accounts} == {"gp.demo", "doctor.demo", "patient.demo", "carer.demo", "admin.demo",
                                              "pharmacist.demo", "nurse.demo", "lab.demo", "rad.demo", "region.demo", "cdc.demo", "epi.demo",
                                              "research.demo",
                                              "cnurse.demo", "family.demo", "ic.demo", "inspector.demo"}
    seen = {}
    for account in accounts:
        r = client.post("/auth/token", data={"grant_type": "password", "client_id": app_id,
                                             "username": account.username, "password": DEMO_PASSWORD})
        assert r.status_code == 200, r.text
        token = r.json()["access_token"]
        found = client.get("/fhir/Patient?_total=accurate", headers={"Authorization": f"Bearer {token}"})
        seen[account.username] = found.json()["total"] if found.status_code == 200 else found.status_code
    everyone = client.get("/fhir/Patient?_total=accurate").json()["total"]
    assert seen["patient.demo"] == 2  # herself, and the elderly parent who gave her family access
    assert seen["carer.demo"] == 1  # the child whose parent they are
    assert seen["family.demo"] == 1  # the mother living alone whose daughter they are
    assert 0 < seen["doctor.demo"] < everyone
    assert 0 < seen["gp.demo"] < everyone
    # A hospital administrator reaches the hospital's patients, and the same people's registrations elsewhere
    # (the master patient index's Person links: the residents registered again at the hospital).
    managed = {e["resource"]["id"] for e in client.get(
        "/fhir/Patient?organization=Organization/org-hosp-1&_count=500").json().get("entry", [])}
    same_people = set(managed)
    for e in client.get("/fhir/Person?_count=500").json().get("entry", []):
        linked = {link["target"]["reference"].removeprefix("Patient/") for link in e["resource"].get("link", [])}
        if linked & managed:
            same_people |= linked
    assert seen["admin.demo"] == len(same_people)
    # Regional administrators, officers and researchers see no identified records through the FHIR API.
    assert seen["region.demo"] == seen["cdc.demo"] == seen["epi.demo"] == seen["research.demo"] == 403
