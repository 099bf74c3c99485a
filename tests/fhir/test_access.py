"""The authorisation matrix: every kind of caller against the FHIR interactions, on both databases.

Reading another patient's data must fail by id, by search, by _include/_revinclude, by chaining,
by $everything and by history; clinicians reach their organisation's patients and those they
cared for; tokens that are missing, forged, expired or too narrow are refused.
"""

from datetime import UTC, datetime, timedelta

import pytest

from smartcare.platform import clock
from tests.conftest import bearer

FHIR_JSON = {"Content-Type": "application/fhir+json"}

WORLD = [
    {"resourceType": "Organization", "id": "org-a", "name": "Riverside First Hospital"},
    {"resourceType": "Organization", "id": "org-b", "name": "Hillside District Hospital"},
    {"resourceType": "Practitioner", "id": "doc-a", "name": [{"family": "Chen"}]},
    {"resourceType": "Practitioner", "id": "doc-b", "name": [{"family": "Zhou"}]},
    {"resourceType": "Patient", "id": "pa1", "name": [{"family": "Zhang"}], "managingOrganization": {"reference": "Organization/org-a"}},
    {"resourceType": "Patient", "id": "pa2", "name": [{"family": "Wang"}], "managingOrganization": {"reference": "Organization/org-a"}},
    {"resourceType": "Patient", "id": "pb1", "name": [{"family": "Liu"}], "managingOrganization": {"reference": "Organization/org-b"}},
    {"resourceType": "Encounter", "id": "enc-b1", "status": "finished",
     "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
     "subject": {"reference": "Patient/pb1"}, "participant": [{"individual": {"reference": "Practitioner/doc-a"}}]},
]


def obs(oid: str, patient: str) -> dict:
    return {"resourceType": "Observation", "id": oid, "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
            "subject": {"reference": f"Patient/{patient}"},
            "valueQuantity": {"value": 72, "unit": "/min", "system": "http://unitsofmeasure.org", "code": "/min"}}


WORLD += [obs("obs-pa1", "pa1"), obs("obs-pa2", "pa2"), obs("obs-pb1", "pb1")]

ACTORS = {
    "patient-pa1": dict(scope="patient/*.cruds", kind="user", name="zhang", roles={"patient"}, patient="Patient/pa1",
                        fhir_user="Patient/pa1"),
    "patient-pa1-readonly": dict(scope="patient/*.rs", kind="user", name="zhang", roles={"patient"},
                                 patient="Patient/pa1", fhir_user="Patient/pa1"),
    "doctor-a": dict(scope="user/*.cruds", kind="user", name="dr.chen", roles={"doctor"},
                     organization="Organization/org-a", fhir_user="Practitioner/doc-a"),
    "doctor-b": dict(scope="user/*.cruds", kind="user", name="dr.zhou", roles={"doctor"},
                     organization="Organization/org-b", fhir_user="Practitioner/doc-b"),
    "researcher": dict(scope="user/*.rs", kind="user", name="dr.research", roles={"researcher"}),
    "device": dict(scope="system/Observation.c", kind="device", name="bp cuff", roles={"device"}),
}


@pytest.fixture
def world(client):
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": r, "request": {"method": "PUT", "url": f"{r['resourceType']}/{r['id']}"}} for r in WORLD]}
    assert client.post("/fhir", json=bundle, headers=FHIR_JSON).status_code == 200
    return client


def as_(actor: str) -> dict[str, str]:
    return bearer(**ACTORS[actor])


MATRIX = [
    # A patient reaches their own compartment and the directory, nothing else.
    ("patient-pa1", "GET", "/fhir/Patient/pa1", 200),
    ("patient-pa1", "GET", "/fhir/Patient/pa2", 404),
    ("patient-pa1", "GET", "/fhir/Observation/obs-pa1", 200),
    ("patient-pa1", "GET", "/fhir/Observation/obs-pa2", 404),
    ("patient-pa1", "GET", "/fhir/Observation/obs-pa2/_history/1", 404),
    ("patient-pa1", "GET", "/fhir/Observation/obs-pa2/_history", 404),
    ("patient-pa1", "GET", "/fhir/Patient/pa2/$everything", 404),
    ("patient-pa1", "GET", "/fhir/Patient/pa1/$everything", 200),
    ("patient-pa1", "GET", "/fhir/Organization/org-b", 200),
    ("patient-pa1", "POST", "/fhir/Organization", 403),
    ("patient-pa1", "DELETE", "/fhir/Patient/pa1", 403),
    ("patient-pa1", "GET", "/fhir/_history", 403),
    ("patient-pa1-readonly", "DELETE", "/fhir/Observation/obs-pa1", 403),
    # Clinicians: their organisation's patients and the patients they have cared for.
    ("doctor-a", "GET", "/fhir/Patient/pa2", 200),
    ("doctor-a", "GET", "/fhir/Patient/pb1", 200),
    ("doctor-a", "GET", "/fhir/Observation/obs-pb1", 200),
    ("doctor-b", "GET", "/fhir/Patient/pa1", 404),
    ("doctor-b", "GET", "/fhir/Observation/obs-pa1", 404),
    ("doctor-b", "GET", "/fhir/Patient/pb1", 200),
    ("doctor-b", "DELETE", "/fhir/Observation/obs-pa1", 404),
    ("doctor-b", "GET", "/fhir/_history", 403),
    # Researchers see no identified records (de-identified data comes with its own rules).
    ("researcher", "GET", "/fhir/Patient/pa1", 403),
    ("researcher", "GET", "/fhir/Observation", 403),
    ("researcher", "GET", "/fhir/Organization/org-a", 200),
    # Devices do exactly what their scopes say.
    ("device", "GET", "/fhir/Observation/obs-pa1", 403),
    ("device", "GET", "/fhir/Patient", 403),
]


@pytest.mark.parametrize(("actor", "method", "url", "status"), MATRIX, ids=[f"{a} {m} {u}" for a, m, u, _ in MATRIX])
def test_authorisation_matrix(world, actor, method, url, status):
    body = {"resourceType": "Organization", "name": "New clinic"} if method == "POST" else None
    r = world.request(method, url, json=body, headers={**as_(actor), **FHIR_JSON})
    assert r.status_code == status, r.text
    if status >= 400:
        assert r.json()["resourceType"] == "OperationOutcome"


def ids(response) -> list[str]:
    assert response.status_code == 200, response.text
    return sorted(f"{e['resource']['resourceType']}/{e['resource']['id']}" for e in response.json().get("entry", []))


@pytest.mark.parametrize(
    ("actor", "url", "expected"),
    [
        ("patient-pa1", "/fhir/Observation", ["Observation/obs-pa1"]),
        ("patient-pa1", "/fhir/Observation?subject=Patient/pa2", []),
        ("patient-pa1", "/fhir/Patient?_id=pa2", []),
        ("patient-pa1", "/fhir/Observation?subject:Patient.family=wang", []),
        ("patient-pa1", "/fhir/Observation?_include=Observation:subject", ["Observation/obs-pa1", "Patient/pa1"]),
        ("patient-pa1", "/fhir/Patient?_revinclude=Observation:subject", ["Observation/obs-pa1", "Patient/pa1"]),
        ("patient-pa1", "/fhir/Patient?_has:Observation:subject:code=8867-4", ["Patient/pa1"]),
        ("doctor-a", "/fhir/Observation", ["Observation/obs-pa1", "Observation/obs-pa2", "Observation/obs-pb1"]),
        ("doctor-b", "/fhir/Observation", ["Observation/obs-pb1"]),
        ("doctor-b", "/fhir/Patient", ["Patient/pb1"]),
        ("doctor-b", "/fhir/Encounter?_include=Encounter:practitioner", ["Encounter/enc-b1", "Practitioner/doc-a"]),
    ],
)
def test_searches_are_limited_in_sql_with_right_totals(world, actor, url, expected):
    r = world.get(url, headers=as_(actor))
    assert ids(r) == expected
    matches = [e for e in r.json()["entry"] if e["search"]["mode"] == "match"]
    assert r.json()["total"] == len(matches)


def test_patient_history_shows_only_their_own_versions(world):
    r = world.get("/fhir/Observation/_history", headers=as_("patient-pa1"))
    assert ids(r) == ["Observation/obs-pa1"]


def test_everything_for_own_patient_holds_nothing_of_others(world):
    got = ids(world.get("/fhir/Patient/pa1/$everything", headers=as_("patient-pa1")))
    assert "Observation/obs-pa1" in got and not any("pa2" in g or "pb1" in g for g in got)


def test_patient_writes_only_into_their_own_compartment(world):
    own = world.post("/fhir/Observation", json=obs("x", "pa1"),
                     headers={**as_("patient-pa1"), **FHIR_JSON})
    assert own.status_code == 201, own.text
    other = world.post("/fhir/Observation", json=obs("y", "pa2"), headers={**as_("patient-pa1"), **FHIR_JSON})
    assert other.status_code == 403
    moved = world.get("/fhir/Observation/obs-pa1", headers=as_("patient-pa1")).json()
    moved["subject"] = {"reference": "Patient/pa2"}
    r = world.put("/fhir/Observation/obs-pa1", json=moved, headers={**as_("patient-pa1"), **FHIR_JSON})
    assert r.status_code == 403


def test_clinicians_register_patients_only_for_their_own_organisation(world):
    mine = {"resourceType": "Patient", "managingOrganization": {"reference": "Organization/org-b"}}
    theirs = {"resourceType": "Patient", "managingOrganization": {"reference": "Organization/org-a"}}
    assert world.post("/fhir/Patient", json=mine, headers={**as_("doctor-b"), **FHIR_JSON}).status_code == 201
    assert world.post("/fhir/Patient", json=theirs, headers={**as_("doctor-b"), **FHIR_JSON}).status_code == 403


def test_transaction_cannot_smuggle_writes_outside_reach(world):
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": obs("ok", "pb1"), "request": {"method": "PUT", "url": "Observation/ok"}},
        {"resource": obs("bad", "pa1"), "request": {"method": "PUT", "url": "Observation/bad"}}]}
    r = world.post("/fhir", json=bundle, headers={**as_("doctor-b"), **FHIR_JSON})
    assert r.status_code == 403
    assert world.get("/fhir/Observation/ok").status_code == 404


def test_device_creates_what_its_scope_allows(world):
    r = world.post("/fhir/Observation", json=obs("dev", "pa1"), headers={**as_("device"), **FHIR_JSON})
    assert r.status_code == 201


def test_no_token_is_401_with_a_challenge_but_metadata_is_public(anonymous):
    r = anonymous.get("/fhir/Patient")
    assert r.status_code == 401
    assert r.headers["www-authenticate"].startswith("Bearer")
    assert r.json()["issue"][0]["code"] == "login"
    assert anonymous.get("/fhir/metadata").status_code == 200


def test_forged_expired_and_malformed_tokens_are_401(world):
    token = as_("doctor-a")["Authorization"].split()[1]
    head, body, sig = token.split(".")
    forged = f"{head}.{body}.{sig[:-3]}AAA"
    for header in (f"Bearer {forged}", "Bearer nonsense", "Basic abc", f"Bearer {token[:40]}"):
        r = world.get("/fhir/Patient/pa1", headers={"Authorization": header})
        assert r.status_code == 401, header
    try:
        clock.set_clock(lambda: datetime(2026, 1, 1, tzinfo=UTC))
        old = bearer(**ACTORS["doctor-a"])
        clock.set_clock(lambda: datetime(2026, 1, 1, tzinfo=UTC) + timedelta(hours=1))
        assert world.get("/fhir/Patient/pa1", headers=old).status_code == 401
    finally:
        clock.set_clock(None)


def test_scopes_cannot_be_escalated(world):
    narrow = bearer(**{**ACTORS["patient-pa1"], "scope": "patient/Observation.rs"})
    assert world.get("/fhir/Observation/obs-pa1", headers=narrow).status_code == 200
    assert world.get("/fhir/Condition", headers=narrow).status_code == 403
    assert world.post("/fhir/Observation", json=obs("z", "pa1"), headers={**narrow, **FHIR_JSON}).status_code == 403
