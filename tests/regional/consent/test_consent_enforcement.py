"""A resident's regional-sharing choices hide what they should on every path: read, search, _include, _revinclude,
history, $everything and Bulk export; break-the-glass still opens the record; the region's default applies to those
who have not chosen. The choices are FHIR Consents (regional/consent/service.py), enforced in SQL (fhir/access.py)."""

import time

import pytest

from smartcare.platform.settings import get_settings
from tests.fhir.test_access import FHIR_JSON, as_, build_world, consent, obs

ACT = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
ASYNC = {"Accept": "application/fhir+json", "Prefer": "respond-async"}


def depression(cid: str, patient: str, source: str) -> dict:
    return {"resourceType": "Condition", "id": cid, "meta": {"source": source},
            "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": "F32.1",
                                 "display": "Moderate depressive episode"}]},
            "subject": {"reference": f"Patient/{patient}"}}


def asthma(cid: str, patient: str, source: str) -> dict:
    return {"resourceType": "Condition", "id": cid, "meta": {"source": source},
            "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": "J45.9"}]},
            "subject": {"reference": f"Patient/{patient}"}}


def deny(cid: str, patient: str, *, recipients: tuple[str, ...] = (), senders: tuple[str, ...] = (),
         labels: tuple[str, ...] = (), status: str = "active") -> dict:
    made = consent(cid, patient, "regional-sharing", provision_type="deny", status=status)
    if recipients:
        made["provision"]["actor"] = [{"role": {"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "code": "IRCP"}]},
            "reference": {"reference": f"Organization/{r}"}} for r in recipients]
    if senders:
        made["provision"]["data"] = [{"meaning": "authoredby", "reference": {"reference": f"Organization/{s}"}}
                                     for s in senders]
    if labels:
        made["provision"]["securityLabel"] = [{"system": ACT, "code": code} for code in labels]
    return made


def put(client, resource: dict) -> dict:
    r = client.put(f"/fhir/{resource['resourceType']}/{resource['id']}", json=resource, headers=FHIR_JSON)
    assert r.status_code in (200, 201), r.text
    return r.json()


def found(client, actor: str, url: str) -> set[str]:
    r = client.get(url, headers=as_(actor))
    assert r.status_code == 200, r.text
    return {e["resource"]["id"] for e in r.json().get("entry", []) if e["search"]["mode"] in ("match", "include")}


@pytest.fixture
def world(client):
    """pa4 shares regionally (c-share-pa4); add what three institutions sent about pa4 and pa3."""
    build_world(client)
    for resource in (depression("dep-pa4-c", "pa4", "Organization/org-c"), asthma("ast-pa4-c", "pa4", "Organization/org-c"),
                     obs("obs-pa4-from-b", "pa4", "Organization/org-b"),
                     depression("dep-pa3-c", "pa3", "Organization/org-c")):
        put(client, resource)
    return client


def test_a_depression_diagnosis_is_labelled_psychiatric_when_it_is_stored(world):
    stored = world.get("/fhir/Condition/dep-pa4-c").json()
    assert {"system": ACT, "code": "PSY"} in stored["meta"]["security"]
    assert "security" not in world.get("/fhir/Condition/ast-pa4-c").json()["meta"]
    assert found(world, "doctor-a", "/fhir/Condition?_security=PSY&subject=Patient/pa4") == {"dep-pa4-c"}


def test_withholding_mental_health_hides_only_that_category_from_other_institutions(world):
    assert found(world, "doctor-a", "/fhir/Condition?subject=Patient/pa4") == {"dep-pa4-c", "ast-pa4-c"}
    put(world, deny("rs-pa4-labels", "pa4", labels=("PSY",)))
    assert found(world, "doctor-a", "/fhir/Condition?subject=Patient/pa4") == {"ast-pa4-c"}
    assert found(world, "doctor-a", "/fhir/Condition") >= {"ast-pa4-c"}
    assert "dep-pa4-c" not in found(world, "doctor-a", "/fhir/Condition")
    assert world.get("/fhir/Condition/dep-pa4-c", headers=as_("doctor-a")).status_code == 404
    assert world.get("/fhir/Condition/dep-pa4-c/_history/1", headers=as_("doctor-a")).status_code == 404
    # The resident still sees everything about themselves; lifting the choice shows it again at once.
    put(world, deny("rs-pa4-labels", "pa4", labels=("PSY",), status="inactive"))
    assert world.get("/fhir/Condition/dep-pa4-c", headers=as_("doctor-a")).status_code == 200


def test_a_withheld_record_does_not_come_back_through_include_revinclude_history_or_everything(world):
    put(world, deny("rs-pa4-labels", "pa4", labels=("PSY",)))
    included = found(world, "doctor-a", "/fhir/Patient?_id=pa4&_revinclude=Condition:subject")
    assert "ast-pa4-c" in included and "dep-pa4-c" not in included
    included = found(world, "doctor-a", "/fhir/Condition?subject=Patient/pa4&_include=Condition:subject")
    assert "dep-pa4-c" not in included and "pa4" in included
    history = world.get("/fhir/Condition/_history", headers=as_("doctor-a")).json()
    assert "dep-pa4-c" not in {e["resource"]["id"] for e in history.get("entry", []) if "resource" in e}
    everything = world.get("/fhir/Patient/pa4/$everything", headers=as_("doctor-a")).json()
    ids = {e["resource"]["id"] for e in everything["entry"]}
    assert "ast-pa4-c" in ids and "obs-pa4-from-b" in ids and "dep-pa4-c" not in ids


def test_a_withheld_record_is_left_out_of_a_clinicians_bulk_export(world):
    put(world, deny("rs-pa4-labels", "pa4", labels=("PSY",)))
    kicked = world.get("/fhir/Patient/$export", params={"_type": "Condition"}, headers={**as_("doctor-a"), **ASYNC})
    assert kicked.status_code == 202, kicked.text
    status_url = kicked.headers["Content-Location"]
    deadline = time.monotonic() + 20
    while (r := world.get(status_url, headers=as_("doctor-a"))).status_code == 202:
        assert time.monotonic() < deadline, "the export did not finish"
        time.sleep(0.05)
    assert r.status_code == 200, r.text
    exported: set[str] = set()
    for item in r.json()["output"]:
        body = world.get(item["url"], headers={**as_("doctor-a"), "Accept": "application/fhir+ndjson"})
        assert body.status_code == 200
        exported |= {line.split('"id":"', 1)[1].split('"', 1)[0] for line in body.text.splitlines() if line}
    assert "ast-pa4-c" in exported and "dep-pa4-c" not in exported


def test_one_institution_can_be_kept_from_another_institutions_records(world):
    # pa4: org-a may not see what org-c sent; what org-b sent stays visible to org-a.
    put(world, deny("rs-pa4-to-org-a", "pa4", recipients=("org-a",), senders=("org-c",)))
    assert found(world, "doctor-a", "/fhir/Condition?subject=Patient/pa4") == set()
    assert found(world, "doctor-a", "/fhir/Observation?subject=Patient/pa4") == {"obs-pa4-from-b"}
    # A rule naming another recipient leaves org-a alone.
    put(world, deny("rs-pa4-to-org-a", "pa4", recipients=("org-b",), senders=("org-c",)))
    assert found(world, "doctor-a", "/fhir/Condition?subject=Patient/pa4") == {"dep-pa4-c", "ast-pa4-c"}


def test_a_sender_kept_from_everyone_and_a_blanket_refusal(world):
    put(world, deny("rs-pa4-from-c", "pa4", senders=("org-c",)))
    assert found(world, "doctor-a", "/fhir/Condition?subject=Patient/pa4") == set()
    assert found(world, "doctor-a", "/fhir/Observation?subject=Patient/pa4") == {"obs-pa4-from-b"}
    put(world, deny("rs-pa4-from-c", "pa4", status="inactive"))
    put(world, deny("rs-pa4-none", "pa4"))  # a deny with no restriction: share nothing, whatever else says yes
    assert found(world, "doctor-a", "/fhir/Observation?subject=Patient/pa4") == set()
    assert found(world, "doctor-a", "/fhir/Patient?_id=pa4") == {"pa4"}  # the patient themselves is not hidden


def test_break_the_glass_opens_even_withheld_categories(world):
    # pa3 shares, but withholds mental health; doctor-c of org-b broke the glass for pa3 (build_world).
    put(world, consent("rs-pa3", "pa3", "regional-sharing"))
    put(world, deny("rs-pa3-labels", "pa3", labels=("PSY",)))
    assert world.get("/fhir/Condition/dep-pa3-c", headers=as_("doctor-a")).status_code == 404
    assert world.get("/fhir/Condition/dep-pa3-c", headers=as_("doctor-c")).status_code == 200


def test_the_resident_always_sees_their_own_withheld_records(world):
    put(world, consent("rs-pa3", "pa3", "regional-sharing"))
    put(world, deny("rs-pa3-labels", "pa3", labels=("PSY",)))
    assert world.get("/fhir/Condition/dep-pa3-c", headers=as_("patient-pa3")).status_code == 200


@pytest.fixture
def opt_out(monkeypatch):
    """The region's default: share unless the resident says no, with HIV and mental health withheld until released."""
    monkeypatch.setattr(get_settings(), "regional_sharing", "opt-out")
    monkeypatch.setattr(get_settings(), "regional_withheld", "hiv,mental_health")


def test_under_an_opt_out_region_records_are_shared_but_default_categories_wait_for_the_resident(world, opt_out):
    # pa3 has not chosen: org-c's asthma would be shared, its depression is withheld by the regional default.
    put(world, asthma("ast-pa3-c", "pa3", "Organization/org-c"))
    assert found(world, "doctor-a", "/fhir/Condition?subject=Patient/pa3") == {"ast-pa3-c"}
    # pa3 chooses to share everything (a permit Consent, no label rule): the depression shows.
    put(world, consent("rs-pa3", "pa3", "regional-sharing"))
    assert found(world, "doctor-a", "/fhir/Condition?subject=Patient/pa3") == {"ast-pa3-c", "dep-pa3-c"}
    # pa3 says no to sharing at all.
    put(world, consent("rs-pa3", "pa3", "regional-sharing", provision_type="deny"))
    assert found(world, "doctor-a", "/fhir/Condition?subject=Patient/pa3") == set()


def test_under_the_opt_in_default_nothing_another_institution_sent_shows_without_consent(world):
    assert get_settings().regional_sharing == "opt-in"
    assert found(world, "doctor-a", "/fhir/Condition?subject=Patient/pa3") == set()


def person(pid: str, *patients: str) -> dict:
    """A golden identity of the master patient index, as the FHIR Person it keeps (links to source records)."""
    return {"resourceType": "Person", "id": pid, "link": [
        {"target": {"reference": f"Patient/{p}"}, "assurance": "level3"} for p in patients]}


@pytest.fixture
def linked(world):
    """pa3 (registered at org-a) is also registered at org-b as pb-dup, where org-b recorded asthma; the MPI links them."""
    put(world, {"resourceType": "Patient", "id": "pb-dup", "name": [{"family": "PA3"}],
                "managingOrganization": {"reference": "Organization/org-b"}})
    put(world, asthma("ast-dup-b", "pb-dup", "Organization/org-b"))
    put(world, person("per-pa3", "pa3", "pb-dup"))
    return world


def test_the_same_persons_records_at_another_institution_follow_the_choice_made_on_any_of_their_records(linked):
    # Not shared yet: doctor-a reaches pb-dup (the same person) but not what org-b sent.
    assert linked.get("/fhir/Patient/pb-dup", headers=as_("doctor-a")).status_code == 200
    assert found(linked, "doctor-a", "/fhir/Condition?subject=Patient/pb-dup") == set()
    # pa3 agrees to share, on their org-a record: org-b's records of pb-dup show to doctor-a.
    put(linked, consent("rs-pa3", "pa3", "regional-sharing"))
    assert found(linked, "doctor-a", "/fhir/Condition?subject=Patient/pb-dup") == {"ast-dup-b"}
    assert "ast-dup-b" in found(linked, "doctor-a", "/fhir/Condition")
    # Keeping org-b's records from org-a, again on the org-a record, hides them.
    put(linked, deny("rs-pa3-to-org-a", "pa3", recipients=("org-a",), senders=("org-b",)))
    assert found(linked, "doctor-a", "/fhir/Condition?subject=Patient/pb-dup") == set()
    assert linked.get("/fhir/Condition/ast-dup-b", headers=as_("doctor-a")).status_code == 404


def test_the_resident_sees_their_records_from_every_institution_they_are_registered_at(linked):
    assert linked.get("/fhir/Condition/ast-dup-b", headers=as_("patient-pa3")).status_code == 200
    assert "ast-dup-b" in found(linked, "patient-pa3", "/fhir/Condition")
    # Unlinked by the MPI: no longer theirs.
    put(linked, person("per-pa3", "pa3"))
    assert linked.get("/fhir/Condition/ast-dup-b", headers=as_("patient-pa3")).status_code == 404


def test_only_the_platform_writes_the_identities_that_join_records(world):
    made = person("per-forged", "pa1", "pb1")
    r = world.put("/fhir/Person/per-forged", json=made, headers={**as_("doctor-a"), **FHIR_JSON})
    assert r.status_code == 403
    assert "master patient index" in r.text
    mine = world.put("/fhir/Person/per-mine", json=person("per-mine", "pa3", "pb1"),
                     headers={**as_("patient-pa3"), **FHIR_JSON})
    assert mine.status_code == 403
    assert world.get("/fhir/Condition/ast-pa4-c", headers=as_("patient-pa3")).status_code == 404


def test_staff_cannot_write_a_residents_sharing_choice_for_them(world):
    forged = consent("rs-pa3", "pa3", "regional-sharing")
    r = world.put("/fhir/Consent/rs-pa3", json=forged, headers={**as_("doctor-a"), **FHIR_JSON})
    assert r.status_code == 403 and "Only the resident" in r.text
    assert world.get("/fhir/Observation/obs-pa3-from-c", headers=as_("doctor-a")).status_code == 404
    # The resident can.
    mine = world.put("/fhir/Consent/rs-pa3", json=forged, headers={**as_("patient-pa3"), **FHIR_JSON})
    assert mine.status_code in (200, 201), mine.text
    assert world.get("/fhir/Observation/obs-pa3-from-c", headers=as_("doctor-a")).status_code == 200
