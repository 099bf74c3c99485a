"""The authorisation matrix: every kind of caller against the FHIR interactions, on both databases.

Reading another patient's data must fail by id, by search, by _include/_revinclude, by chaining,
by $everything and by history; clinicians reach their organisation's patients and those in their
care (encounters, appointments, active care teams, referrals), see only the record types their
work needs, and see what other institutions sent only with the patient's regional-sharing
consent; caregivers reach the patients whose proxy consent names them; a break-the-glass grant
opens one patient; tokens that are missing, forged, expired or too narrow are refused.
"""

from datetime import UTC, datetime, timedelta

import pytest

from smartcare.platform import clock
from smartcare.platform.db import unit_of_work
from smartcare.platform.security import break_glass
from smartcare.platform.security.context import AccessContext
from smartcare.platform.security.scopes import parse_scopes
from smartcare.platform.security.tokens import ACCESS_TOKEN_MINUTES
from tests.conftest import bearer

FHIR_JSON = {"Content-Type": "application/fhir+json"}
ROLE_CODE = "http://terminology.hl7.org/CodeSystem/v3-RoleCode"


def patient(pid: str, org: str) -> dict:
    return {"resourceType": "Patient", "id": pid, "name": [{"family": pid.upper()}],
            "managingOrganization": {"reference": f"Organization/{org}"}}


def obs(oid: str, patient: str, source: str | None = None) -> dict:
    resource = {"resourceType": "Observation", "id": oid, "status": "final",
                "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
                "subject": {"reference": f"Patient/{patient}"},
                "valueQuantity": {"value": 72, "unit": "/min", "system": "http://unitsofmeasure.org", "code": "/min"}}
    if source:
        resource["meta"] = {"source": source}
    return resource


def consent(cid: str, patient: str, kind: str, *, actor: str | None = None, status: str = "active",
            period: dict | None = None, provision_type: str = "permit") -> dict:
    """A Consent of the shape the access policy reads (platform/security/policy.py)."""
    provision: dict = {"type": provision_type}
    if actor:
        provision["actor"] = [{"role": {"coding": [{"system": ROLE_CODE, "code": "PRN"}]},
                               "reference": {"reference": actor}}]
    if period:
        provision["period"] = period
    return {
        "resourceType": "Consent", "id": cid, "status": status,
        "scope": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "patient-privacy"}]},
        "category": [{"coding": [{"system": "https://smartcare.example/fhir/CodeSystem/consent-category", "code": kind}]}],
        "patient": {"reference": f"Patient/{patient}"},
        "policyRule": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "OPTIN"}]},
        "provision": provision,
    }


def related_person(rid: str, patient: str, code: str = "PRN") -> dict:
    return {"resourceType": "RelatedPerson", "id": rid, "patient": {"reference": f"Patient/{patient}"},
            "relationship": [{"coding": [{"system": ROLE_CODE, "code": code}]}]}


def appointment(aid: str, patient: str, practitioner: str, status: str = "booked") -> dict:
    return {"resourceType": "Appointment", "id": aid, "status": status, "participant": [
        {"actor": {"reference": f"Practitioner/{practitioner}"}, "status": "accepted"},
        {"actor": {"reference": f"Patient/{patient}"}, "status": "accepted"}]}


def care_team(tid: str, patient: str, practitioner: str, status: str = "active") -> dict:
    return {"resourceType": "CareTeam", "id": tid, "status": status, "subject": {"reference": f"Patient/{patient}"},
            "participant": [{"member": {"reference": f"Practitioner/{practitioner}"}}]}


def referral(sid: str, patient: str, practitioner: str, status: str = "active") -> dict:
    return {"resourceType": "ServiceRequest", "id": sid, "status": status, "intent": "order",
            "code": {"text": "Cardiology review"}, "subject": {"reference": f"Patient/{patient}"},
            "performer": [{"reference": f"Practitioner/{practitioner}"}]}


def transaction(resources: list[dict]) -> dict:
    return {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": r, "request": {"method": "PUT", "url": f"{r['resourceType']}/{r['id']}"}} for r in resources]}


FOREVER = {"start": "2000-01-01", "end": "2999-12-31"}
WORLD = [
    {"resourceType": "Organization", "id": "org-a", "name": "Riverside First Hospital"},
    {"resourceType": "Organization", "id": "org-b", "name": "Hillside District Hospital"},
    {"resourceType": "Organization", "id": "org-c", "name": "Lakeside Imaging Centre"},
    {"resourceType": "Practitioner", "id": "doc-a", "name": [{"family": "Chen"}]},
    {"resourceType": "Practitioner", "id": "doc-b", "name": [{"family": "Zhou"}]},
    {"resourceType": "Practitioner", "id": "doc-c", "name": [{"family": "Sun", "given": ["Li"]}]},
    patient("pa1", "org-a"), patient("pa2", "org-a"), patient("pa3", "org-a"), patient("pa4", "org-a"),
    patient("pc1", "org-a"), *[patient(f"pb{i}", "org-b") for i in range(1, 7)],
    {"resourceType": "Encounter", "id": "enc-b1", "status": "finished",
     "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
     "subject": {"reference": "Patient/pb1"}, "participant": [{"individual": {"reference": "Practitioner/doc-a"}}]},
    obs("obs-pa1", "pa1"), obs("obs-pa2", "pa2"), obs("obs-pb1", "pb1"), obs("obs-pc1", "pc1"),
    # Care relationships of doc-a with org-b's patients (pb1 has the encounter above).
    appointment("appt-b2", "pb2", "doc-a"), care_team("team-b3", "pb3", "doc-a"),
    care_team("team-b4", "pb4", "doc-a", status="inactive"), referral("ref-b5", "pb5", "doc-a"),
    appointment("appt-b6", "pb6", "doc-a", status="cancelled"),
    # Proxies: a parent with consent, an aunt without, a carer within the consent's period, a former carer.
    related_person("rp-parent", "pc1"), consent("c-parent", "pc1", "proxy-access", actor="RelatedPerson/rp-parent"),
    related_person("rp-aunt", "pc1", "AUNT"),
    related_person("rp-carer", "pa2", "FAMMEMB"),
    consent("c-carer", "pa2", "proxy-access", actor="RelatedPerson/rp-carer", period=FOREVER),
    related_person("rp-former", "pa2", "FAMMEMB"),
    consent("c-former", "pa2", "proxy-access", actor="RelatedPerson/rp-former",
            period={"start": "2000-01-01", "end": "2001-01-01"}),
    # Regional sharing: what org-a sent and what org-c sent; pa4 shares regionally, pa3 does not.
    obs("obs-pa3-own", "pa3", "Organization/org-a"), obs("obs-pa3-from-c", "pa3", "Organization/org-c"),
    obs("obs-pa4-from-c", "pa4", "Organization/org-c"), consent("c-share-pa4", "pa4", "regional-sharing"),
    # Records for the roles with narrower work.
    {"resourceType": "MedicationRequest", "id": "mr-pa1", "status": "active", "intent": "order",
     "medicationCodeableConcept": {"text": "amoxicillin 500 mg"}, "subject": {"reference": "Patient/pa1"}},
    {"resourceType": "Condition", "id": "cond-pa1", "code": {"text": "asthma"}, "subject": {"reference": "Patient/pa1"}},
]


def _user(name: str, roles: set[str], scope: str = "user/*.cruds", **claims) -> dict:
    return dict(scope=scope, kind="user", name=name, roles=roles, subject=f"user-{name}", **claims)


def _caregiver(person: str) -> dict:
    return _user(person, {"caregiver"}, "patient/*.cruds", fhir_user=f"RelatedPerson/{person}")


ACTORS = {
    "patient-pa1": _user("zhang", {"patient"}, "patient/*.cruds", patient="Patient/pa1", fhir_user="Patient/pa1"),
    "patient-pa1-readonly": _user("zhang", {"patient"}, "patient/*.rs", patient="Patient/pa1",
                                  fhir_user="Patient/pa1"),
    "patient-pa3": _user("li", {"patient"}, "patient/*.cruds", patient="Patient/pa3", fhir_user="Patient/pa3"),
    "doctor-a": _user("dr.chen", {"doctor"}, organization="Organization/org-a", fhir_user="Practitioner/doc-a"),
    "doctor-b": _user("dr.zhou", {"doctor"}, organization="Organization/org-b", fhir_user="Practitioner/doc-b"),
    "doctor-c": _user("dr.sun", {"doctor"}, organization="Organization/org-b", fhir_user="Practitioner/doc-c"),
    "nurse-a": _user("nurse.wu", {"nurse"}, organization="Organization/org-a", fhir_user="Practitioner/nurse-a"),
    "pharmacist-a": _user("ph.he", {"pharmacist"}, organization="Organization/org-a", fhir_user="Practitioner/ph-a"),
    "lab-a": _user("lab.ma", {"lab_technician"}, organization="Organization/org-a", fhir_user="Practitioner/lab-a"),
    "radiologist-a": _user("rad.gao", {"radiologist"}, organization="Organization/org-a",
                           fhir_user="Practitioner/rad-a"),
    "admin-a": _user("admin.lin", {"hospital_admin"}, organization="Organization/org-a"),
    "caregiver-parent": _caregiver("rp-parent"),
    "caregiver-aunt": _caregiver("rp-aunt"),
    "caregiver-carer": _caregiver("rp-carer"),
    "caregiver-former": _caregiver("rp-former"),
    "researcher": _user("dr.research", {"researcher"}, "user/*.rs"),
    "device": dict(scope="system/Observation.c", kind="device", name="bp cuff", roles={"device"}),
}


def context_of(actor: str) -> AccessContext:
    """The access context a token of actor carries (for calling services directly)."""
    claims = ACTORS[actor]
    return AccessContext(kind=claims["kind"], name=claims["name"], roles=frozenset(claims["roles"]),
                         organization=claims.get("organization"), subject=claims.get("subject"),
                         fhir_user=claims.get("fhir_user"), patient=claims.get("patient"),
                         scopes=parse_scopes(claims["scope"]))


def build_world(client):
    """Load WORLD through the FHIR API and open doctor-c's emergency access to pa3; return the client."""
    assert client.post("/fhir", json=transaction(WORLD), headers=FHIR_JSON).status_code == 200
    # doctor-c, of another hospital, broke the glass for pa3 in an emergency.
    with unit_of_work() as conn:
        break_glass.open_access(conn, ctx=context_of("doctor-c"), patient_id="pa3",
                                reason="Unconscious on arrival in the emergency room", minutes=60)
    return client


@pytest.fixture
def world(client):
    return build_world(client)


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
    # A patient sees what every institution sent about them.
    ("patient-pa3", "GET", "/fhir/Observation/obs-pa3-from-c", 200),
    # Clinicians: their organisation's patients and the patients in their care.
    ("doctor-a", "GET", "/fhir/Patient/pa2", 200),
    ("doctor-a", "GET", "/fhir/Patient/pb1", 200),
    ("doctor-a", "GET", "/fhir/Observation/obs-pb1", 200),
    ("doctor-a", "GET", "/fhir/Patient/pb2", 200),
    ("doctor-a", "GET", "/fhir/Patient/pb3", 200),
    ("doctor-a", "GET", "/fhir/Patient/pb4", 404),
    ("doctor-a", "GET", "/fhir/Patient/pb5", 200),
    ("doctor-a", "GET", "/fhir/Patient/pb6", 404),
    ("doctor-b", "GET", "/fhir/Patient/pa1", 404),
    ("doctor-b", "GET", "/fhir/Observation/obs-pa1", 404),
    ("doctor-b", "GET", "/fhir/Patient/pb1", 200),
    ("doctor-b", "DELETE", "/fhir/Observation/obs-pa1", 404),
    ("doctor-b", "GET", "/fhir/_history", 403),
    # Regional sharing follows consent: what another institution sent needs the patient's consent.
    ("doctor-a", "GET", "/fhir/Patient/pa3", 200),
    ("doctor-a", "GET", "/fhir/Observation/obs-pa3-own", 200),
    ("doctor-a", "GET", "/fhir/Observation/obs-pa3-from-c", 404),
    ("doctor-a", "GET", "/fhir/Observation/obs-pa3-from-c/_history/1", 404),
    ("doctor-a", "DELETE", "/fhir/Observation/obs-pa3-from-c", 404),
    ("doctor-a", "GET", "/fhir/Observation/obs-pa4-from-c", 200),
    ("admin-a", "GET", "/fhir/Observation/obs-pa3-own", 200),
    ("admin-a", "GET", "/fhir/Observation/obs-pa3-from-c", 404),
    # Work needs: doctors and nurses see every type, other clinicians what their work needs.
    ("nurse-a", "GET", "/fhir/MedicationRequest/mr-pa1", 200),
    ("nurse-a", "GET", "/fhir/Condition/cond-pa1", 200),
    ("pharmacist-a", "GET", "/fhir/MedicationRequest/mr-pa1", 200),
    ("pharmacist-a", "GET", "/fhir/Condition/cond-pa1", 200),
    ("pharmacist-a", "GET", "/fhir/Encounter", 403),
    ("pharmacist-a", "DELETE", "/fhir/MedicationRequest/mr-pa1", 403),
    ("lab-a", "GET", "/fhir/Observation/obs-pa1", 200),
    ("lab-a", "GET", "/fhir/MedicationRequest/mr-pa1", 403),
    ("lab-a", "GET", "/fhir/Condition", 403),
    ("radiologist-a", "GET", "/fhir/Condition/cond-pa1", 200),
    ("radiologist-a", "GET", "/fhir/MedicationRequest", 403),
    # Caregivers: the patients whose proxy consent (in force) names them.
    ("caregiver-parent", "GET", "/fhir/Patient/pc1", 200),
    ("caregiver-parent", "GET", "/fhir/Observation/obs-pc1", 200),
    ("caregiver-parent", "GET", "/fhir/Patient/pc1/$everything", 200),
    ("caregiver-parent", "GET", "/fhir/Patient/pa1", 404),
    ("caregiver-parent", "GET", "/fhir/Observation/obs-pa1", 404),
    ("caregiver-parent", "DELETE", "/fhir/Patient/pc1", 403),
    ("caregiver-aunt", "GET", "/fhir/Patient/pc1", 404),
    ("caregiver-aunt", "GET", "/fhir/Observation/obs-pc1", 404),
    ("caregiver-carer", "GET", "/fhir/Observation/obs-pa2", 200),
    ("caregiver-former", "GET", "/fhir/Patient/pa2", 404),
    ("caregiver-former", "GET", "/fhir/Observation/obs-pa2", 404),
    # Break-the-glass: the granted patient, all that was sent about them, nobody else.
    ("doctor-c", "GET", "/fhir/Patient/pa3", 200),
    ("doctor-c", "GET", "/fhir/Observation/obs-pa3-from-c", 200),
    ("doctor-c", "GET", "/fhir/Patient/pa4", 404),
    ("doctor-c", "GET", "/fhir/Observation/obs-pa1", 404),
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
        ("patient-pa1", "/fhir/Observation?subject:Patient.family=pa2", []),
        ("patient-pa1", "/fhir/Observation?_include=Observation:subject", ["Observation/obs-pa1", "Patient/pa1"]),
        ("patient-pa1", "/fhir/Patient?_revinclude=Observation:subject", ["Observation/obs-pa1", "Patient/pa1"]),
        ("patient-pa1", "/fhir/Patient?_has:Observation:subject:code=8867-4", ["Patient/pa1"]),
        ("doctor-a", "/fhir/Observation", ["Observation/obs-pa1", "Observation/obs-pa2", "Observation/obs-pa3-own",
                                           "Observation/obs-pa4-from-c", "Observation/obs-pb1", "Observation/obs-pc1"]),
        ("doctor-a", "/fhir/Patient?_revinclude=Observation:subject&_id=pa3",
         ["Observation/obs-pa3-own", "Patient/pa3"]),
        ("doctor-b", "/fhir/Observation", ["Observation/obs-pb1"]),
        ("doctor-b", "/fhir/Patient", [f"Patient/pb{i}" for i in range(1, 7)]),
        ("doctor-b", "/fhir/Encounter?_include=Encounter:practitioner", ["Encounter/enc-b1", "Practitioner/doc-a"]),
        ("doctor-c", "/fhir/Observation?subject=Patient/pa3", ["Observation/obs-pa3-from-c", "Observation/obs-pa3-own"]),
        ("caregiver-parent", "/fhir/Observation", ["Observation/obs-pc1"]),
        ("caregiver-parent", "/fhir/Patient", ["Patient/pc1"]),
        ("caregiver-carer", "/fhir/Patient", ["Patient/pa2"]),
        ("caregiver-aunt", "/fhir/Observation", []),
        ("pharmacist-a", "/fhir/MedicationRequest", ["MedicationRequest/mr-pa1"]),
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
    signed = bearer(**ACTORS["doctor-a"], minutes=ACCESS_TOKEN_MINUTES)
    assert world.get("/fhir/Patient/pa1", headers=signed).status_code == 200
    later = datetime.now(UTC) + timedelta(minutes=ACCESS_TOKEN_MINUTES, seconds=5)
    try:
        clock.set_clock(lambda: later)
        assert world.get("/fhir/Patient/pa1", headers=signed).status_code == 401
    finally:
        clock.set_clock(None)


def test_scopes_cannot_be_escalated(world):
    narrow = bearer(**{**ACTORS["patient-pa1"], "scope": "patient/Observation.rs"})
    assert world.get("/fhir/Observation/obs-pa1", headers=narrow).status_code == 200
    assert world.get("/fhir/Condition", headers=narrow).status_code == 403
    assert world.post("/fhir/Observation", json=obs("z", "pa1"), headers={**narrow, **FHIR_JSON}).status_code == 403


def test_includes_and_everything_leave_out_types_a_role_does_not_see(world):
    # A lab technician may see the patient but not their prescriptions: those are left out, not a 403.
    found = ids(world.get("/fhir/Patient?_id=pa1&_revinclude=MedicationRequest:subject", headers=as_("lab-a")))
    assert found == ["Patient/pa1"]
    everything = ids(world.get("/fhir/Patient/pa1/$everything", headers=as_("lab-a")))
    assert "Patient/pa1" in everything and not any(i.startswith("MedicationRequest/") for i in everything)
    # A pharmacist sees the same prescription and its patient.
    found = ids(world.get("/fhir/MedicationRequest?_id=mr-pa1&_include=MedicationRequest:subject",
                          headers=as_("pharmacist-a")))
    assert found == ["MedicationRequest/mr-pa1", "Patient/pa1"]


@pytest.mark.parametrize(("url", "expected"), [
    # A search limited to one patient is checked for that patient alone, with the same rules.
    ("/fhir/Observation?subject=Patient/pa1", ["Observation/obs-pa1"]),
    ("/fhir/Observation?patient=pa1", ["Observation/obs-pa1"]),
    ("/fhir/Observation?subject:Patient=pa1", ["Observation/obs-pa1"]),
    ("/fhir/Observation?subject=http://testserver/fhir/Patient/pa1", ["Observation/obs-pa1"]),
    ("/fhir/Observation?subject=Patient/pa3", ["Observation/obs-pa3-own"]),
    ("/fhir/Observation?subject=Patient/pa4", ["Observation/obs-pa4-from-c"]),
    ("/fhir/Observation?subject=Patient/pb1", ["Observation/obs-pb1"]),  # cared for at an encounter
    ("/fhir/Observation?subject=Patient/pb9", []),
    ("/fhir/Observation?subject=Patient/pa1&subject=Patient/pa2", []),
    ("/fhir/Observation?subject=Patient/pa1,Patient/pa2", ["Observation/obs-pa1", "Observation/obs-pa2"]),
])
def test_searches_for_one_patient_keep_every_rule(world, url, expected):
    assert ids(world.get(url, headers=as_("doctor-a"))) == expected


def test_a_search_naming_a_patient_out_of_reach_finds_nothing(world):
    assert ids(world.get("/fhir/Observation?subject=Patient/pa1", headers=as_("doctor-b"))) == []
    assert ids(world.get("/fhir/Observation?patient=pb1&code=8867-4", headers=as_("doctor-b"))) == ["Observation/obs-pb1"]
