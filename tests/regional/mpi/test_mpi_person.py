"""Each golden identity joining records is a FHIR Person naming them, kept in step with link, unlink, merge and
unmerge; the access policy follows it, so a resident sees their records from every institution and a clinician
the resident's records elsewhere (under consent)."""

import pytest

from smartcare.fhir import store
from smartcare.fhir.errors import NotFound
from smartcare.platform.db import unit_of_work
from smartcare.platform.security.context import SYSTEM, AccessContext
from smartcare.platform.security.scopes import parse_scopes
from smartcare.regional.mpi import service
from tests.regional.mpi.test_mpi_history import CLERK, person


def linked_to(engine, identity_id: str) -> tuple[bool, list[str]] | None:
    """(active, the Patient references) of the identity's Person, or None if there is none."""
    with unit_of_work(engine) as conn:
        try:
            found = store.read(conn, SYSTEM, res_type="Person", res_id=identity_id)
        except NotFound:
            return None
    body = found.resource
    return body["active"], [link["target"]["reference"] for link in body.get("link", [])]


@pytest.fixture
def two_people(engine) -> dict[str, str]:
    """Li Na registered at two institutions (a1, b1: one identity) and Wang Fang (a2), stored and matched."""
    people = (person("a1", "李娜", "1975-02-03", "13900001111"), person("b1", "Li Na", "1975-02-03", "13900001111"),
              person("a2", "王芳", "1990-11-30", "13912345678"))
    with unit_of_work(engine) as conn:
        store.write_batch(conn, SYSTEM, [store.Write("PUT", "Patient", p["id"], p) for p in people])
        for resource in people:
            service.match_record(conn, SYSTEM, resource)
        return {s: service.identity_of(conn, s) for s in ("Patient/a1", "Patient/b1", "Patient/a2")}


def test_an_identity_joining_two_records_is_a_person_naming_both(engine, two_people):
    li_na, wang_fang = two_people["Patient/a1"], two_people["Patient/a2"]
    assert linked_to(engine, li_na) == (True, ["Patient/a1", "Patient/b1"])
    assert linked_to(engine, wang_fang) is None  # one record alone: nothing to join


def test_the_person_follows_unlink_merge_and_unmerge(engine, two_people):
    li_na, wang_fang = two_people["Patient/a1"], two_people["Patient/a2"]
    with unit_of_work(engine) as conn:
        service.merge(conn, CLERK, keep=li_na, absorb=wang_fang, reason="same person")
    assert linked_to(engine, li_na) == (True, ["Patient/a1", "Patient/a2", "Patient/b1"])
    with unit_of_work(engine) as conn:
        service.unmerge(conn, CLERK, identity_id=wang_fang, reason="merged by mistake")
    assert linked_to(engine, li_na) == (True, ["Patient/a1", "Patient/b1"])
    assert linked_to(engine, wang_fang) in (None, (True, ["Patient/a2"]))
    with unit_of_work(engine) as conn:
        service.unlink(conn, CLERK, source="Patient/b1", reason="different mother's name")
    assert linked_to(engine, li_na) == (True, ["Patient/a1"])


def test_a_resident_reaches_their_records_at_the_other_institution_while_linked(engine, two_people):
    resident = AccessContext(kind="user", name="li.na", roles=frozenset({"patient"}), patient="Patient/a1",
                             fhir_user="Patient/a1", scopes=parse_scopes("patient/*.cruds"))
    with unit_of_work(engine) as conn:
        store.write_batch(conn, SYSTEM, [store.Write("PUT", "Observation", "bp-b1", {
            "resourceType": "Observation", "id": "bp-b1", "status": "final", "code": {"text": "blood pressure"},
            "subject": {"reference": "Patient/b1"}, "meta": {"source": "Organization/org-b"}})])
    with unit_of_work(engine) as conn:
        assert store.read(conn, resident, res_type="Observation", res_id="bp-b1").resource["id"] == "bp-b1"
        service.unlink(conn, CLERK, source="Patient/b1", reason="not the same person")
    with unit_of_work(engine) as conn, pytest.raises(NotFound):
        store.read(conn, resident, res_type="Observation", res_id="bp-b1")
