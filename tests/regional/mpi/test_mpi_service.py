"""Real-time matching of stored Patients to golden identities, on SQLite and PostgreSQL."""

import random

import pytest

from smartcare.fhir import store
from smartcare.platform import audit
from smartcare.platform.db import unit_of_work
from smartcare.platform.jobs import run_due
from smartcare.platform.security.context import SYSTEM
from smartcare.platform.security.signup import RESIDENT_ID_SYSTEM
from smartcare.regional.mpi import service
from smartcare.regional.mpi.synthetic import identity_number

ZHANG_ID = identity_number(random.Random(1), "1980-04-17", "male")


def patient(res_id: str, **fields) -> dict:
    """Zhang Wei (张伟), born 1980-04-17, with the changes given."""
    resource = {
        "resourceType": "Patient", "id": res_id,
        "name": [{"use": "official", "text": "张伟", "family": "张", "given": ["伟"]}],
        "gender": "male", "birthDate": "1980-04-17",
        "telecom": [{"system": "phone", "value": "+86 138 0013 8000"}],
        "address": [{"use": "home", "line": ["解放路12号"], "city": "杭州市", "postalCode": "310002"}],
        "identifier": [{"system": RESIDENT_ID_SYSTEM, "value": ZHANG_ID}],
    }
    resource.update(fields)
    return {k: v for k, v in resource.items() if v is not None}


def match(engine, resource: dict) -> service.MatchResult:
    with unit_of_work(engine) as conn:
        return service.match_record(conn, SYSTEM, resource)


def test_a_shared_valid_identity_number_links_outright_even_with_a_different_name(engine):
    first = match(engine, patient("h1-1"))
    second = match(engine, patient("h2-1", name=[{"family": "Li", "given": ["Ming"]}], telecom=None, address=None))
    assert first.decision == "new"
    assert second.decision == "national-id"
    assert second.identity_id == first.identity_id


def test_pinyin_with_a_typo_finds_the_record_in_characters(engine):
    first = match(engine, patient("h1-1"))
    other = match(engine, patient("h1-2", name=[{"text": "李娜"}], birthDate="1975-02-03", gender="female",
                                  telecom=[{"system": "phone", "value": "13900001111"}], identifier=None))
    second = match(engine, patient("h2-1", name=[{"family": "Zhang", "given": ["Wie"]}], identifier=None,
                                   telecom=None))
    assert second.decision == "probabilistic"
    assert second.identity_id == first.identity_id != other.identity_id
    assert second.probability >= service.thresholds().auto_link


def test_names_in_western_order_and_no_identity_number_still_link(engine):
    first = match(engine, patient("h1-1", identifier=None))
    second = match(engine, patient("h2-1", name=[{"family": "Wei", "given": ["Zhang"]}], identifier=None))
    assert (second.decision, second.identity_id) == ("probabilistic", first.identity_id)


def test_a_doubtful_pair_gets_a_new_identity_and_waits_in_the_review_queue(engine):
    first = match(engine, patient("h1-1", identifier=None))
    # Same name and sex, birth date one typo away, no phone or address to confirm it.
    doubtful = match(engine, patient("h2-1", identifier=None, birthDate="1980-04-18", telecom=None, address=None))
    assert doubtful.decision == "review"
    assert doubtful.identity_id != first.identity_id
    with unit_of_work(engine) as conn:
        queue = service.open_reviews(conn)
    assert [(r["source"], r["candidate"]) for r in queue] == [("Patient/h2-1", "Patient/h1-1")]
    weights = queue[0]["field_weights"]
    exact_birth_date = service.model().weights[2][-1]
    assert weights["given_name"] > 0 and weights["birth_date"] < exact_birth_date
    assert queue[0]["field_weights"]["phone"] is None


def test_a_different_person_gets_a_new_identity_and_no_review(engine):
    first = match(engine, patient("h1-1"))
    other = match(engine, patient("h1-2", name=[{"text": "王芳"}], gender="female", birthDate="1990-11-30",
                                  telecom=[{"system": "phone", "value": "13912345678"}], identifier=None))
    assert other.decision == "new" and other.identity_id != first.identity_id
    with unit_of_work(engine) as conn:
        assert service.open_reviews(conn) == []


def test_different_valid_identity_numbers_are_never_linked_automatically(engine):
    first = match(engine, patient("h1-1"))
    twin_id = identity_number(random.Random(2), "1980-04-17", "male")
    twin = match(engine, patient("h2-1", identifier=[{"system": RESIDENT_ID_SYSTEM, "value": twin_id}]))
    assert twin.identity_id != first.identity_id
    assert twin.decision == "review"


@pytest.mark.parametrize("resource", [
    {"resourceType": "Patient", "id": "empty"},
    {"resourceType": "Patient", "id": "junk", "name": "not a list", "birthDate": 19800417, "telecom": [7, None],
     "address": [{"line": "x"}], "identifier": [{"system": RESIDENT_ID_SYSTEM, "value": "12345"}]},
    {"resourceType": "Patient", "id": "long", "name": [{"text": "张" * 10_000}]},
])
def test_a_patient_with_nothing_usable_gets_an_identity_of_its_own_without_a_crash(engine, resource):
    match(engine, patient("h1-1"))
    result = match(engine, resource)
    assert result.decision == "unusable"
    with unit_of_work(engine) as conn:
        assert service.identity_of(conn, f"Patient/{resource['id']}") == result.identity_id


def test_a_resource_that_is_not_a_stored_patient_is_refused_with_a_reason(engine):
    with pytest.raises(service.MatchError, match="Patient resources only"), unit_of_work(engine) as conn:
        service.match_record(conn, SYSTEM, {"resourceType": "Observation", "id": "x"})
    with pytest.raises(service.MatchError, match="needs its id"), unit_of_work(engine) as conn:
        service.match_record(conn, SYSTEM, {"resourceType": "Patient"})


def test_a_rematched_record_keeps_its_identity_and_refreshes_its_details(engine):
    first = match(engine, patient("h1-1", identifier=None))
    again = match(engine, patient("h1-1", identifier=None, birthDate="1980-04-18"))
    assert (again.decision, again.identity_id) == ("kept", first.identity_id)
    later = match(engine, patient("h2-1", identifier=None, birthDate="1980-04-18", telecom=None))
    assert later.identity_id == first.identity_id


def test_storing_a_patient_matches_it_through_a_job_and_audits_the_match(engine):
    import smartcare.regional.mpi.jobs  # noqa: F401  (the worker imports it; its import subscribes to Patient writes)

    with unit_of_work(engine) as conn:
        store.update(conn, SYSTEM, patient("h1-1"), res_type="Patient", res_id="h1-1")
    with unit_of_work(engine) as conn:
        store.update(conn, SYSTEM, patient("h2-1", name=[{"family": "Zhang", "given": ["Wei"]}]),
                     res_type="Patient", res_id="h2-1")
        assert service.identity_of(conn, "Patient/h2-1") is None  # the write itself does not wait for matching
    assert run_due(engine) >= 2
    with unit_of_work(engine) as conn:
        assert service.identity_of(conn, "Patient/h2-1") == service.identity_of(conn, "Patient/h1-1") is not None
        assert service.sources_of(conn, service.identity_of(conn, "Patient/h1-1")) == ["Patient/h1-1",
                                                                                     "Patient/h2-1"]
        trail = audit.search(conn, patient="Patient/h2-1")
    assert any(e["subtype"] == "operation" for e in trail)


@pytest.mark.parametrize("engine", ["postgresql"], indirect=True)
def test_two_institutions_registering_the_same_new_person_at_once_get_one_identity(engine):
    """Both matches start together; without serialising them each would find no candidate and make an identity."""
    import threading

    first, second = patient("h1-1", identifier=None), patient("h2-1", identifier=None)
    start = threading.Barrier(2)
    results: dict[str, service.MatchResult] = {}
    errors: list[BaseException] = []

    def run(resource: dict) -> None:
        try:
            with unit_of_work(engine) as conn:
                start.wait(timeout=30)
                results[resource["id"]] = service.match_record(conn, SYSTEM, resource)
        except BaseException as error:  # reported in the main thread
            errors.append(error)

    threads = [threading.Thread(target=run, args=(r,)) for r in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    assert sorted(r.decision for r in results.values()) == ["new", "probabilistic"]
    with unit_of_work(engine) as conn:
        assert service.identity_of(conn, "Patient/h1-1") == service.identity_of(conn, "Patient/h2-1")
        assert service.sources_of(conn, service.identity_of(conn, "Patient/h1-1")) == ["Patient/h1-1",
                                                                                       "Patient/h2-1"]
