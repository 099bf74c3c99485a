"""Link, unlink, merge, unmerge and review decisions: each kept in the history, nothing ever destroyed."""

import pytest

from smartcare.platform import audit
from smartcare.platform.db import unit_of_work
from smartcare.platform.security.context import SYSTEM, AccessContext
from smartcare.regional.mpi import service

CLERK = AccessContext(kind="user", name="mpi.clerk", roles=frozenset({"regional_admin"}))


def person(res_id: str, text: str, born: str, phone: str) -> dict:
    return {"resourceType": "Patient", "id": res_id, "name": [{"text": text}], "birthDate": born,
            "gender": "female", "telecom": [{"system": "phone", "value": phone}]}


@pytest.fixture
def two_people(engine) -> dict[str, str]:
    """Li Na has records at two hospitals (one identity); Wang Fang has one; returns source -> identity."""
    with unit_of_work(engine) as conn:
        for resource in (person("a1", "李娜", "1975-02-03", "13900001111"),
                         person("b1", "Li Na", "1975-02-03", "13900001111"),
                         person("a2", "王芳", "1990-11-30", "13912345678")):
            service.match_record(conn, SYSTEM, resource)
        found = {s: service.identity_of(conn, s) for s in ("Patient/a1", "Patient/b1", "Patient/a2")}
    assert found["Patient/a1"] == found["Patient/b1"] != found["Patient/a2"]
    return found


def members(engine, source: str) -> list[str]:
    with unit_of_work(engine) as conn:
        return service.sources_of(conn, service.identity_of(conn, source))


def test_merge_joins_two_identities_and_unmerge_restores_both_exactly(engine, two_people):
    li_na, wang_fang = two_people["Patient/a1"], two_people["Patient/a2"]
    with unit_of_work(engine) as conn:
        service.merge(conn, CLERK, keep=li_na, absorb=wang_fang, reason="same person, name changed")
    assert members(engine, "Patient/a2") == ["Patient/a1", "Patient/a2", "Patient/b1"]
    with unit_of_work(engine) as conn:
        assert service.identity_of(conn, "Patient/a2") == li_na
        service.unmerge(conn, CLERK, identity_id=wang_fang, reason="merged by mistake")
    assert members(engine, "Patient/a1") == ["Patient/a1", "Patient/b1"]
    assert members(engine, "Patient/a2") == ["Patient/a2"]
    with unit_of_work(engine) as conn:
        assert {s: service.identity_of(conn, s) for s in two_people} == two_people


def test_a_record_arriving_after_a_merge_joins_the_surviving_identity(engine, two_people):
    with unit_of_work(engine) as conn:
        service.merge(conn, CLERK, keep=two_people["Patient/a1"], absorb=two_people["Patient/a2"])
        result = service.match_record(conn, SYSTEM, person("c2", "Wang Fang", "1990-11-30", "13912345678"))
    assert result.identity_id == two_people["Patient/a1"]


def test_unlink_gives_the_record_an_identity_of_its_own_and_link_puts_it_back(engine, two_people):
    with unit_of_work(engine) as conn:
        alone = service.unlink(conn, CLERK, source="Patient/b1", reason="different mother's name")
    assert alone not in two_people.values()
    assert members(engine, "Patient/a1") == ["Patient/a1"]
    with unit_of_work(engine) as conn:
        service.link(conn, CLERK, source="Patient/b1", identity_id=two_people["Patient/a1"], reason="checked ID card")
    assert members(engine, "Patient/a1") == ["Patient/a1", "Patient/b1"]


def test_history_tells_who_did_what_when_and_why_and_is_never_rewritten(engine, two_people, now):
    li_na, wang_fang = two_people["Patient/a1"], two_people["Patient/a2"]
    with unit_of_work(engine) as conn:
        before = service.history(conn, source="Patient/b1")
        service.unlink(conn, CLERK, source="Patient/b1", reason="different mother's name")
        service.merge(conn, CLERK, keep=li_na, absorb=wang_fang, reason="same person")
        service.unmerge(conn, CLERK, identity_id=wang_fang, reason="mistake")
        after = service.history(conn, source="Patient/b1")
        merges = service.history(conn, identity_id=wang_fang)
    assert after[: len(before)] == before
    unlinked = after[-1]
    assert (unlinked["kind"], unlinked["actor"], unlinked["reason"]) == ("unlink", "user/mpi.clerk",
                                                                         "different mother's name")
    assert unlinked["before"]["identity"] == li_na != unlinked["after"]["identity"]
    assert unlinked["recorded"].startswith("2026-03-02T08:00")
    assert [e["kind"] for e in merges][-2:] == ["merge", "unmerge"]
    assert merges[-2]["after"] == {"status": "merged", "merged_into": li_na}
    assert merges[-1]["after"] == {"status": "active", "merged_into": None}
    with unit_of_work(engine) as conn:
        trail = audit.search(conn, agent="user/mpi.clerk", limit=10)
    assert len(trail) >= 3


def test_review_decisions_link_or_keep_apart_and_cannot_be_taken_twice(engine):
    with unit_of_work(engine) as conn:
        service.match_record(conn, SYSTEM, person("a1", "李娜", "1975-02-03", "13900001111"))
        service.match_record(conn, SYSTEM, {**person("b1", "Li Na", "1975-02-08", ""), "telecom": []})
        service.match_record(conn, SYSTEM, {**person("c1", "Li Na", "1975-02-13", ""), "telecom": []})
        queue = {r["source"]: r["review_id"] for r in service.open_reviews(conn)}
    assert set(queue) >= {"Patient/b1", "Patient/c1"}
    with unit_of_work(engine) as conn:
        assert service.review_decide(conn, CLERK, review_id=queue["Patient/b1"], decision="link") == "linked"
        assert service.review_decide(conn, CLERK, review_id=queue["Patient/c1"], decision="reject",
                                     reason="different birth date on ID card") == "rejected"
        assert service.identity_of(conn, "Patient/b1") == service.identity_of(conn, "Patient/a1")
        assert service.identity_of(conn, "Patient/c1") != service.identity_of(conn, "Patient/a1")
        assert [e["kind"] for e in service.history(conn, source="Patient/b1")] == ["link", "review", "link"]
    with pytest.raises(service.IdentityError, match="already decided"), unit_of_work(engine) as conn:
        service.review_decide(conn, CLERK, review_id=queue["Patient/b1"], decision="reject")


@pytest.mark.parametrize(("operation", "message"), [
    (lambda conn, ids: service.merge(conn, CLERK, keep=ids["Patient/a1"], absorb=ids["Patient/a1"]), "itself"),
    (lambda conn, ids: service.merge(conn, CLERK, keep=ids["Patient/a1"], absorb="nope"), "no identity"),
    (lambda conn, ids: service.unmerge(conn, CLERK, identity_id=ids["Patient/a1"]), "not merged"),
    (lambda conn, ids: service.unlink(conn, CLERK, source="Patient/zz"), "no record"),
    (lambda conn, ids: service.link(conn, CLERK, source="Patient/a1", identity_id=ids["Patient/a2"],
                                    reason="x" * 501), "at most 500"),
    (lambda conn, ids: service.review_decide(conn, CLERK, review_id="nope", decision="maybe"), "link.*or.*reject"),
])
def test_impossible_requests_are_refused_with_a_reason_and_change_nothing(engine, two_people, operation, message):
    with pytest.raises(service.IdentityError, match=message), unit_of_work(engine) as conn:
        operation(conn, two_people)
    with unit_of_work(engine) as conn:
        assert {s: service.identity_of(conn, s) for s in two_people} == two_people


@pytest.mark.parametrize(("stored", "code", "about"), [
    ("mpi-reason:best-match Patient/a1", "best-match", "Patient/a1"),
    ("mpi-reason:none-close", "none-close", None),
    # Older rows, worded in English, are read as the code they meant.
    ("same identity number as Patient/a1", "same-id-number", "Patient/a1"),
    ("review 0123456789abcdef0123456789abcdef", "reviewed", "0123456789abcdef0123456789abcdef"),
    ("nothing to match on", "nothing-to-match", None),
    # What people type stays theirs, even when it starts like one of the index's own.
    ("review later", None, None),
    ("best match Patient/x on paper", None, None),
    ("checked ID card", None, None),
])
def test_the_index_own_reasons_are_told_from_what_people_typed(stored, code, about):
    from smartcare.regional.mpi.identities import read_reason

    found = read_reason(stored)
    assert (found.code, found.about) == (code, about) if code else found is None
