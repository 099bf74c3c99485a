"""Every role, every way in: a stranger's Observation never leaks, by id, version, history, search,
_include/_revinclude, chaining, _has, $everything, or by writing to it.

Patient px belongs to an organisation no test actor works for and has no care relationship,
proxy, consent or grant with anyone; only the platform's own backend client may see it.
"""

import pytest

from tests.fhir.test_access import ACTORS, FHIR_JSON, _user, as_, obs
from tests.fhir.test_access import world as world  # noqa: F401,PLC0414 (the shared region of the matrix)

# The roles the matrix module has no actor for, so that every role of the platform is swept.
EXTRA = {
    "regional-admin": _user("region.qian", {"regional_admin"}),
    "public-health": _user("cdc.feng", {"public_health_officer"}),
}
STRANGER = {"resourceType": "Patient", "id": "px", "name": [{"family": "Xenon"}],
            "managingOrganization": {"reference": "Organization/org-z"}}
WAYS = [
    ("GET", "/fhir/Observation/obs-px"),
    ("GET", "/fhir/Observation/obs-px/_history/1"),
    ("GET", "/fhir/Observation/obs-px/_history"),
    ("GET", "/fhir/Observation?subject=Patient/px"),
    ("GET", "/fhir/Observation?code=8867-4&_count=100"),
    ("GET", "/fhir/Patient?_id=px&_revinclude=Observation:subject"),
    ("GET", "/fhir/Observation?_id=obs-px&_include=Observation:subject"),
    ("GET", "/fhir/Observation?subject.name=Xenon"),
    ("GET", "/fhir/Patient?_has:Observation:subject:code=8867-4&_count=100"),
    ("GET", "/fhir/Patient/px/$everything"),
    ("POST", "/fhir/Observation/_search?subject=Patient/px"),
    ("PUT", "/fhir/Observation/obs-px"),
    ("DELETE", "/fhir/Observation/obs-px"),
]
EVERYONE = sorted({**ACTORS, **EXTRA})


@pytest.fixture
def stranger(world):  # noqa: F811 (pytest fixture chaining)
    for resource in (STRANGER, obs("obs-px", "px")):
        done = world.put(f"/fhir/{resource['resourceType']}/{resource['id']}", json=resource, headers=FHIR_JSON)
        assert done.status_code in (200, 201), done.text
    return world


def _stranger_in(body: dict) -> bool:
    """True when body is, or a bundle holds, the stranger or their Observation."""
    resources = [e.get("resource", {}) for e in body.get("entry", [])] if body.get("resourceType") == "Bundle" \
        else [body]
    return any((r.get("resourceType"), r.get("id")) in {("Patient", "px"), ("Observation", "obs-px")}
               or (r.get("subject") or {}).get("reference") == "Patient/px" for r in resources)


def _headers(actor: str) -> dict[str, str]:
    from tests.conftest import bearer

    return bearer(**EXTRA[actor]) if actor in EXTRA else as_(actor)


@pytest.mark.parametrize("actor", EVERYONE)
def test_no_role_reaches_a_strangers_observation_by_any_way(stranger, actor):
    leaks = []
    for method, url in WAYS:
        body = {**obs("obs-px", "px"), "status": "amended"} if method == "PUT" else None
        answer = stranger.request(method, url, json=body, headers={**_headers(actor), **FHIR_JSON})
        if answer.status_code < 300 and _stranger_in(answer.json()):
            leaks.append(f"{method} {url} -> {answer.status_code}")
        elif answer.status_code >= 400:
            assert answer.json()["resourceType"] == "OperationOutcome", (method, url)
    assert leaks == []
    # Nothing was changed either.
    assert stranger.get("/fhir/Observation/obs-px").json()["status"] == "final"


def test_the_platforms_own_client_does_reach_it(stranger):
    # The control: the same ways do find the record for a caller allowed to see it.
    assert stranger.get("/fhir/Observation?subject=Patient/px").json()["entry"][0]["resource"]["id"] == "obs-px"
    assert stranger.get("/fhir/Patient/px/$everything").status_code == 200
