"""The review's JSON API: the list and one report (its version as ETag), acts guarded by If-Match (428 without, 412
when stale, 409 for a move the state does not allow), the investigation Questionnaire, officers only."""

import pytest

from tests.regional.conftest import user_token
from tests.regional.public_health.test_review import case, institutions, link, person, put, read

pytestmark = pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
# Tokens are made before a test stands the clock still: they are checked against real time.
OFFICER = user_token("public_health_officer")
OTHERS = {role: user_token(role) for role in ("regional_admin", "researcher", "doctor")}
API = "/api/public-health/cases"


@pytest.fixture
def reports(engine, now):
    a, b = person("h1-1"), person("h2-1", name=[{"family": "Zhang", "given": ["Wei"]}])
    put(engine, *institutions(), a, b, case("rep-a", "h1-1"),
        case("rep-b", "h2-1", hospital="org-b", doctor="doc-b", diagnosed="2026-02-22T10:00:00+08:00"))
    link(engine, a, b)
    return engine


def test_an_officer_lists_and_reads_reports_with_their_version_and_possible_duplicates(reports, client):
    listed = client.get(API, params={"from": "2026-02-01", "to": "2026-02-28", "duplicates": "true"}, headers=OFFICER)
    assert listed.status_code == 200 and listed.headers["cache-control"] == "no-store"
    assert [(c["id"], c["possible_duplicates"]) for c in listed.json()["cases"]] == [
        ("rep-b", [{"report": "rep-a", "reason": "mpi-link"}]), ("rep-a", [{"report": "rep-b", "reason": "mpi-link"}])]
    one = client.get(f"{API}/rep-a", headers=OFFICER)
    assert one.status_code == 200 and one.headers["etag"] == 'W/"1"'
    assert one.json()["history"][0]["state"] == "submitted"


def test_an_act_needs_if_match_and_a_stale_one_is_refused_with_a_clear_message(reports, client):
    missing = client.post(f"{API}/rep-a/verify", json={}, headers=OFFICER)
    assert missing.status_code == 428
    done = client.post(f"{API}/rep-a/verify", json={}, headers={**OFFICER, "If-Match": 'W/"1"'})
    assert done.status_code == 200 and done.headers["etag"] == 'W/"2"' and done.json()["state"] == "verified"
    stale = client.post(f"{API}/rep-a/request-correction", json={"text": "check onset"},
                        headers={**OFFICER, "If-Match": 'W/"1"'})
    assert stale.status_code == 412 and "you saw version 1, it is now version 2" in stale.json()["message"]
    assert read(reports, "rep-a").facts.state == "verified"


def test_a_move_the_state_does_not_allow_is_409_and_bad_input_400(reports, client):
    refused = client.post(f"{API}/rep-a/close", json={"outcome": "died"}, headers={**OFFICER, "If-Match": 'W/"1"'})
    assert refused.status_code == 409 and refused.json()["message"] == \
        "This act is not open to a report that is submitted."
    for body in ([1, 2], {"text": "x" * 5000}, {"text": 7}):
        bad = client.post(f"{API}/rep-a/request-correction", json=body, headers={**OFFICER, "If-Match": 'W/"1"'})
        assert bad.status_code == 400
    assert client.get(API, params={"from": "junk"}, headers=OFFICER).status_code == 400
    assert client.get(API, params={"sort": "x"}, headers=OFFICER).status_code == 400
    assert read(reports, "rep-a").version == 1


def test_the_investigation_questionnaire_is_served_as_fhir(reports, client):
    answer = client.get("/api/public-health/questionnaires/case-investigation", headers=OFFICER)
    assert answer.status_code == 200 and answer.json()["resourceType"] == "Questionnaire"


@pytest.mark.parametrize("role", sorted(OTHERS))
def test_others_are_refused(reports, client, anonymous, role):
    assert client.get(API, headers=OTHERS[role]).status_code == 403
    assert client.post(f"{API}/rep-a/verify", json={}, headers={**OTHERS[role], "If-Match": 'W/"1"'}).status_code \
        == 403
    assert anonymous.get(f"{API}/rep-a").status_code == 401
    assert read(reports, "rep-a").version == 1
