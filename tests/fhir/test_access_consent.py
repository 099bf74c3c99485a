"""Consent decides what caregivers and other institutions see, and a change of consent counts at once."""

from datetime import UTC, datetime, timedelta

import pytest

from smartcare.platform import clock
from tests.fhir.test_access import FHIR_JSON, as_, build_world, consent, obs, related_person


@pytest.fixture
def world(client):
    return build_world(client)


def put(client, resource: dict) -> None:
    """Write a resource as the platform's backend (how consents and records arrive in these tests)."""
    r = client.put(f"/fhir/{resource['resourceType']}/{resource['id']}", json=resource, headers=FHIR_JSON)
    assert r.status_code in (200, 201), r.text


def found(client, actor: str, url: str, headers: dict | None = None) -> list[str]:
    r = client.get(url, headers=headers or as_(actor))
    assert r.status_code == 200, r.text
    matches = [e["resource"]["id"] for e in r.json().get("entry", []) if e["search"]["mode"] == "match"]
    assert r.json()["total"] == len(matches)
    return sorted(matches)


def test_revoking_a_proxy_consent_closes_the_childs_record_at_once(world):
    assert world.get("/fhir/Patient/pc1", headers=as_("caregiver-parent")).status_code == 200
    put(world, consent("c-parent", "pc1", "proxy-access", actor="RelatedPerson/rp-parent", status="inactive"))
    assert world.get("/fhir/Patient/pc1", headers=as_("caregiver-parent")).status_code == 404
    assert found(world, "caregiver-parent", "/fhir/Observation") == []


def test_a_proxy_consent_stops_counting_the_moment_its_period_ends(world):
    headers = as_("caregiver-parent")  # signed before the clock moves on; it lasts longer than the test
    now = datetime.now(UTC)
    ends = clock.format_instant(now + timedelta(minutes=10))
    put(world, consent("c-parent", "pc1", "proxy-access", actor="RelatedPerson/rp-parent",
                       period={"start": "2020-01-01", "end": ends}))
    assert world.get("/fhir/Observation/obs-pc1", headers=headers).status_code == 200
    clock.set_clock(lambda: now + timedelta(minutes=11))
    try:
        assert world.get("/fhir/Observation/obs-pc1", headers=headers).status_code == 404
    finally:
        clock.set_clock(None)


def test_a_proxy_consent_that_has_not_started_gives_nothing_yet(world):
    starts = (datetime.now(UTC) + timedelta(days=2)).date().isoformat()
    put(world, consent("c-parent", "pc1", "proxy-access", actor="RelatedPerson/rp-parent", period={"start": starts}))
    assert world.get("/fhir/Patient/pc1", headers=as_("caregiver-parent")).status_code == 404


def test_a_consent_must_permit_and_name_a_relative_of_that_patient(world):
    # The aunt is named, but by a consent that denies.
    put(world, consent("c-aunt", "pc1", "proxy-access", actor="RelatedPerson/rp-aunt", provision_type="deny"))
    assert world.get("/fhir/Patient/pc1", headers=as_("caregiver-aunt")).status_code == 404
    # pa1 names the child's parent, but that RelatedPerson is the child's, not pa1's.
    put(world, consent("c-pa1-parent", "pa1", "proxy-access", actor="RelatedPerson/rp-parent"))
    assert world.get("/fhir/Patient/pa1", headers=as_("caregiver-parent")).status_code == 404
    # A regional-sharing consent is not a proxy consent, even if it names the relative.
    put(world, consent("c-aunt", "pc1", "regional-sharing", actor="RelatedPerson/rp-aunt"))
    assert world.get("/fhir/Patient/pc1", headers=as_("caregiver-aunt")).status_code == 404


def test_a_relative_marked_inactive_loses_access(world):
    put(world, {**related_person("rp-parent", "pc1"), "active": False})
    assert world.get("/fhir/Patient/pc1", headers=as_("caregiver-parent")).status_code == 404


def test_caregivers_write_into_the_childs_record_but_never_register_or_delete_patients(world):
    headers = {**as_("caregiver-parent"), **FHIR_JSON}
    assert world.post("/fhir/Observation", json=obs("home-1", "pc1"), headers=headers).status_code == 201
    assert world.post("/fhir/Observation", json=obs("home-2", "pa1"), headers=headers).status_code == 403
    new = {"resourceType": "Patient", "managingOrganization": {"reference": "Organization/org-a"}}
    refused = world.post("/fhir/Patient", json=new, headers=headers)
    assert refused.status_code == 403
    assert "cannot create or delete patient records" in refused.json()["issue"][0]["diagnostics"]
    assert world.delete("/fhir/Patient/pc1", headers=headers).status_code == 403
    assert world.get("/fhir/Patient/pc1", headers=as_("caregiver-parent")).status_code == 200


def test_another_institutions_records_open_with_regional_consent_and_close_when_it_is_withdrawn(world):
    assert found(world, "doctor-a", "/fhir/Observation?subject=Patient/pa3") == ["obs-pa3-own"]
    put(world, consent("c-share-pa3", "pa3", "regional-sharing"))
    assert found(world, "doctor-a", "/fhir/Observation?subject=Patient/pa3") == ["obs-pa3-from-c", "obs-pa3-own"]
    put(world, consent("c-share-pa3", "pa3", "regional-sharing", status="inactive"))
    assert found(world, "doctor-a", "/fhir/Observation?subject=Patient/pa3") == ["obs-pa3-own"]
    assert world.get("/fhir/Observation/obs-pa3-from-c", headers=as_("doctor-a")).status_code == 404


def test_a_regional_sharing_consent_stops_counting_when_its_period_ends_for_a_search_asked_before(world):
    # The policy's SQL is built once per caller and kept; the time in it must still be the time each search runs.
    headers = as_("doctor-a")
    now = datetime.now(UTC)
    ends = clock.format_instant(now + timedelta(minutes=10))
    put(world, consent("c-share-pa3", "pa3", "regional-sharing", period={"start": "2020-01-01", "end": ends}))
    assert "obs-pa3-from-c" in found(world, "doctor-a", "/fhir/Observation")
    assert world.get("/fhir/Observation/obs-pa3-from-c", headers=headers).status_code == 200
    clock.set_clock(lambda: now + timedelta(minutes=11))
    try:
        after = found(world, "doctor-a", "/fhir/Observation", headers)  # a token signed now, before the clock moved
        assert "obs-pa3-from-c" not in after and "obs-pa3-own" in after
        assert world.get("/fhir/Observation/obs-pa3-from-c", headers=headers).status_code == 404
    finally:
        clock.set_clock(None)


def test_regional_consent_does_not_widen_whose_records_a_clinician_reaches(world):
    # pa4 shares regionally, but is not doctor-b's patient: consent opens records, not patients.
    assert world.get("/fhir/Observation/obs-pa4-from-c", headers=as_("doctor-a")).status_code == 200
    assert world.get("/fhir/Observation/obs-pa4-from-c", headers=as_("doctor-b")).status_code == 404
    assert world.get("/fhir/Patient/pa4", headers=as_("doctor-b")).status_code == 404


def test_history_and_everything_leave_out_records_another_institution_sent(world):
    history = world.get("/fhir/Observation/_history", headers=as_("doctor-a"))
    assert history.status_code == 200
    ids = {e["resource"]["id"] for e in history.json()["entry"]}
    assert "obs-pa3-own" in ids and "obs-pa3-from-c" not in ids
    everything = world.get("/fhir/Patient/pa3/$everything", headers=as_("doctor-a"))
    assert everything.status_code == 200
    ids = {e["resource"]["id"] for e in everything.json()["entry"]}
    assert "obs-pa3-own" in ids and "obs-pa3-from-c" not in ids


def test_staff_writes_are_sent_as_their_organisation_whatever_the_body_claims(world):
    claimed = obs("new-1", "pa3", "Organization/org-c")
    r = world.post("/fhir/Observation", json=claimed, headers={**as_("doctor-a"), **FHIR_JSON})
    assert r.status_code == 201, r.text
    assert r.json()["meta"]["source"] == "Organization/org-a"
    new_id = r.json()["id"]
    assert world.get(f"/fhir/Observation/{new_id}", headers=as_("doctor-a")).status_code == 200
    # What pa3 reports at home comes from no institution, so every clinician caring for them sees it.
    own = world.post("/fhir/Observation", json=obs("home", "pa3", "Organization/org-c"),
                     headers={**as_("patient-pa3"), **FHIR_JSON})
    assert own.status_code == 201
    assert "source" not in own.json()["meta"]
    assert world.get(f"/fhir/Observation/{own.json()['id']}", headers=as_("doctor-a")).status_code == 200
