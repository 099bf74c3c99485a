"""Audit entries are journalled in the caller's transaction and sealed into the chain afterwards, none lost."""

import threading

import pytest
import sqlalchemy as sa

from smartcare.platform.audit import audit_log, record, sealer, search, verify
from smartcare.platform.audit.tables import audit_journal
from smartcare.platform.db import unit_of_work
from smartcare.platform.security.context import AccessContext

DOCTOR = AccessContext(kind="user", name="dr.li", roles=frozenset({"doctor"}), organization="Organization/h1")


def _chained(engine) -> list[sa.Row]:
    """The sealed entries, read straight from the table (without sealing first, as the reads do)."""
    with engine.connect() as conn:
        return conn.execute(sa.select(audit_log.c.seq, audit_log.c.patient).order_by(audit_log.c.seq)).all()


def _waiting(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(audit_journal)).scalar_one()


def test_an_entry_waits_in_the_journal_until_a_read_of_the_trail_seals_it(engine):
    with unit_of_work(engine) as conn:
        record(conn, ctx=DOCTOR, action="R", subtype="read", patient="Patient/p1")
    assert (_waiting(engine), _chained(engine)) == (1, [])
    with unit_of_work(engine) as conn:
        found = search(conn, patient="Patient/p1")
    assert [e["seq"] for e in found] == [1]
    assert (_waiting(engine), [r.seq for r in _chained(engine)]) == (0, [1])


def test_a_rolled_back_change_leaves_no_entry_and_no_gap(engine):
    with pytest.raises(RuntimeError), unit_of_work(engine) as conn:
        record(conn, ctx=DOCTOR, action="R", subtype="read", patient="Patient/gone")
        raise RuntimeError("the request failed after auditing")
    with unit_of_work(engine) as conn:
        record(conn, ctx=DOCTOR, action="R", subtype="read", patient="Patient/p1")
    with unit_of_work(engine) as conn:
        report = verify(conn)
    assert (report.ok, report.checked) == (True, 1)
    assert [(r.seq, r.patient) for r in _chained(engine)] == [(1, "Patient/p1")]


def test_entries_written_at_the_same_time_are_all_chained_once_in_order(engine):
    """Ten requests at once each journal five entries; sealing gives 50 entries numbered 1..50, intact."""
    start = threading.Barrier(10)
    failures: list[BaseException] = []

    def request(n: int) -> None:
        try:
            start.wait()
            for k in range(5):
                with unit_of_work(engine) as conn:
                    record(conn, ctx=DOCTOR, action="R", subtype="read", patient=f"Patient/p{n}-{k}")
        except BaseException as exc:  # noqa: BLE001 (reported by the assertion below)
            failures.append(exc)

    threads = [threading.Thread(target=request, args=(n,)) for n in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    with unit_of_work(engine) as conn:
        report = verify(conn)
    rows = _chained(engine)
    assert (report.ok, report.checked) == (True, 50)
    assert [r.seq for r in rows] == list(range(1, 51))
    assert sorted(r.patient for r in rows) == sorted(f"Patient/p{n}-{k}" for n in range(10) for k in range(5))


def test_a_waiting_entry_cannot_be_changed(engine):
    with unit_of_work(engine) as conn:
        record(conn, ctx=DOCTOR, action="R", subtype="read", patient="Patient/p1")
    with pytest.raises(sa.exc.DBAPIError, match="not changed"), engine.begin() as conn:
        conn.execute(audit_journal.update().values(event="{}"))


def test_the_background_sealer_chains_entries_soon_after_their_commit(engine):
    sealer.set_enabled(True)
    try:
        for n in range(3):
            with unit_of_work(engine) as conn:
                record(conn, ctx=DOCTOR, action="R", subtype="read", patient=f"Patient/p{n}")
        assert sealer.idle(timeout=10)
    finally:
        sealer.set_enabled(False)
    assert _waiting(engine) == 0
    assert [(r.seq, r.patient) for r in _chained(engine)] == [(1, "Patient/p0"), (2, "Patient/p1"), (3, "Patient/p2")]
