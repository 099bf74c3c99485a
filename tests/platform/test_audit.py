"""The audit trail chains every entry, catches tampering at the first bad entry, and refuses changes."""

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import orjson
import pytest
import sqlalchemy as sa
from rich.console import Console
from typer.testing import CliRunner

from smartcare.fhir.validation import validate_resource
from smartcare.platform import clock
from smartcare.platform.audit import (
    AuditError,
    append_only_ddl,
    audit_log,
    events_for_patient,
    record,
    search,
    service,
    verify,
)
from smartcare.platform.audit import cli as audit_cli
from smartcare.platform.audit.cli import audit_app
from smartcare.platform.audit.tables import audit_journal
from smartcare.platform.db import unit_of_work, use_engine
from smartcare.platform.security.context import AccessContext

DOCTOR = AccessContext(
    kind="user", name="dr.li", roles=frozenset({"doctor"}), organization="Organization/h1", remote_addr="10.0.0.7"
)
NURSE = AccessContext(kind="user", name="nurse.wang", roles=frozenset({"nurse"}))
runner = CliRunner()


def _drop_append_only(conn: sa.Connection) -> None:
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("DROP TRIGGER IF EXISTS audit_log_no_update")
        conn.exec_driver_sql("DROP TRIGGER IF EXISTS audit_log_no_delete")
    else:
        conn.exec_driver_sql("DROP TRIGGER IF EXISTS audit_log_no_change ON audit_log")
        conn.exec_driver_sql("DROP TRIGGER IF EXISTS audit_log_no_truncate ON audit_log")


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request) -> Iterator[sa.Engine]:
    """An empty, append-only audit_log on SQLite and on PostgreSQL.

    Overrides the shared fixture, whose clean-up cannot empty an append-only table; until the
    migration creates audit_log, the table is created here.
    """
    eng = request.getfixturevalue(f"{'pg' if request.param == 'postgresql' else 'sqlite'}_engine")
    migrated = sa.inspect(eng).has_table("audit_log")
    with eng.begin() as conn:
        audit_log.create(conn, checkfirst=True)
        _drop_append_only(conn)
        conn.execute(audit_log.delete())
        conn.execute(audit_journal.delete())
        for statement in append_only_ddl(eng.dialect.name):
            conn.exec_driver_sql(statement)
    use_engine(eng)
    yield eng
    use_engine(None)
    clock.set_clock(None)
    with eng.begin() as conn:
        # Leave an empty table that the shared clean-up of other tests can handle.
        _drop_append_only(conn)
        conn.execute(audit_log.delete())
        conn.execute(audit_journal.delete())
        if migrated:
            for statement in append_only_ddl(eng.dialect.name):
                conn.exec_driver_sql(statement)


@contextmanager
def tampering(engine: sa.Engine) -> Iterator[sa.Connection]:
    """A connection of an attacker with database access, who first switches the protection off."""
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            _drop_append_only(conn)
        else:
            conn.exec_driver_sql("ALTER TABLE audit_log DISABLE TRIGGER ALL")
        yield conn
        if engine.dialect.name == "postgresql":
            conn.exec_driver_sql("ALTER TABLE audit_log ENABLE TRIGGER ALL")


def _record_reads(engine: sa.Engine, count: int, *, patient: str = "Patient/p1") -> list[dict]:
    entries = []
    for n in range(count):
        with unit_of_work(engine) as conn:
            entries.append(
                record(conn, ctx=DOCTOR, action="R", subtype="read", patient=patient, entities=[f"Observation/o{n}"])
            )
    with unit_of_work(engine) as conn:  # chained now, as any read of the trail would have them
        service.seal_all(conn)
    return entries


def _rows(engine: sa.Engine) -> list[sa.Row]:
    with unit_of_work(engine) as conn:
        service.seal_all(conn)
        return conn.execute(sa.select(audit_log).order_by(audit_log.c.seq)).all()


def test_entries_chain_from_zeros_and_verify_intact(engine):
    entries = _record_reads(engine, 3)
    rows = _rows(engine)
    assert [r.seq for r in rows] == [1, 2, 3]
    assert rows[0].prev_hash == "0" * 64
    assert [r.prev_hash for r in rows[1:]] == [r.hash for r in rows[:-1]]
    assert [e["event"] for e in entries] == [{k: v for k, v in orjson.loads(r.event).items() if k != "id"}
                                             for r in rows]
    with engine.connect() as conn:
        report = verify(conn)
    assert (report.ok, report.checked, report.first_bad_seq, report.reason) == (True, 3, None, None)
    assert (report.head_seq, report.head_hash) == (3, rows[-1].hash)


def test_stored_event_text_is_exactly_the_hashed_bytes(engine):
    _record_reads(engine, 1)
    row = _rows(engine)[0]
    assert service.chain_hash("0" * 64, 1, row.event.encode()) == row.hash
    assert orjson.loads(row.event)["id"] == "1"


def test_rolled_back_record_leaves_no_gap(engine):
    _record_reads(engine, 1)
    with pytest.raises(RuntimeError), unit_of_work(engine) as conn:
        record(conn, ctx=DOCTOR, action="R", subtype="read", patient="Patient/p1")
        raise RuntimeError("the request failed after auditing")
    _record_reads(engine, 1)
    assert [r.seq for r in _rows(engine)] == [1, 2]
    with engine.connect() as conn:
        assert verify(conn).ok


def test_entries_of_one_transaction_are_journalled_together_in_order_and_read_back_within_it(engine):
    with unit_of_work(engine) as conn:
        for n in range(3):
            record(conn, ctx=DOCTOR, action="R", subtype="read", patient=f"Patient/p{n}")
        # A read of the trail in the same transaction sees them (sealing writes what is waiting first).
        assert service.seal_all(conn) == 3
        record(conn, ctx=DOCTOR, action="R", subtype="read", patient="Patient/p3")
    with engine.connect() as conn:
        # The last entry is in the journal, written just before the commit.
        assert conn.execute(sa.select(sa.func.count()).select_from(audit_journal)).scalar() == 1
    assert [orjson.loads(r.event)["entity"][0]["what"]["reference"] for r in _rows(engine)] == [
        "Patient/p0", "Patient/p1", "Patient/p2", "Patient/p3"]


def test_an_entry_recorded_outside_a_unit_of_work_is_journalled_at_once(engine):
    with engine.begin() as conn:
        record(conn, ctx=DOCTOR, action="R", subtype="read", patient="Patient/p9")
        assert conn.execute(sa.select(sa.func.count()).select_from(audit_journal)).scalar() == 1


def test_altered_event_text_is_caught_at_exactly_that_entry(engine):
    _record_reads(engine, 5)
    with tampering(engine) as conn:
        text = conn.execute(sa.select(audit_log.c.event).where(audit_log.c.seq == 3)).scalar_one()
        forged = text.replace("user/dr.li", "user/nobody")
        assert forged != text
        conn.execute(audit_log.update().where(audit_log.c.seq == 3).values(event=forged))
    with engine.connect() as conn:
        report = verify(conn)
    assert not report.ok
    assert report.first_bad_seq == 3 and report.checked == 2
    assert report.reason == "entry 3 was altered: its hash does not match its content"


def test_altered_indexed_column_is_caught(engine):
    _record_reads(engine, 3)
    with tampering(engine) as conn:
        conn.execute(audit_log.update().where(audit_log.c.seq == 2).values(patient="Patient/someone-else"))
    with engine.connect() as conn:
        report = verify(conn)
    assert report.first_bad_seq == 2
    assert report.reason == "entry 2 was altered: its patient column does not match its content"


def test_rewritten_and_rehashed_entry_breaks_the_link_to_the_next(engine):
    _record_reads(engine, 4)
    with tampering(engine) as conn:
        row = conn.execute(sa.select(audit_log).where(audit_log.c.seq == 2)).one()
        forged = row.event.replace("Observation/o1", "Observation/o9")
        new_hash = service.chain_hash(row.prev_hash, 2, forged.encode())
        conn.execute(audit_log.update().where(audit_log.c.seq == 2).values(event=forged, hash=new_hash))
    with engine.connect() as conn:
        report = verify(conn)
    assert (report.first_bad_seq, report.reason) == (3, "entry 3 does not follow entry 2")


@pytest.mark.parametrize("deleted", [1, 3])
def test_deleted_entry_is_caught_at_that_entry(engine, deleted):
    _record_reads(engine, 5)
    with tampering(engine) as conn:
        conn.execute(audit_log.delete().where(audit_log.c.seq == deleted))
    with engine.connect() as conn:
        report = verify(conn)
    assert (report.ok, report.first_bad_seq, report.reason) == (False, deleted, f"entry {deleted} is missing")


def test_cut_off_tail_is_caught_only_against_an_anchor(engine):
    _record_reads(engine, 4)
    with engine.connect() as conn:
        before = verify(conn)
    anchor = (before.head_seq, before.head_hash)
    with tampering(engine) as conn:
        conn.execute(audit_log.delete().where(audit_log.c.seq >= 3))
    with engine.connect() as conn:
        alone = verify(conn)
        anchored = verify(conn, anchor=anchor)
    # Without an anchor a shorter chain is indistinguishable from an intact one; the report shows the
    # head so operators notice it moved backwards.
    assert (alone.ok, alone.checked, alone.head_seq) == (True, 2, 2)
    assert (anchored.ok, anchored.first_bad_seq) == (False, 3)
    assert anchored.reason == "entry 3 is missing: the trail ends at entry 2 but entry 4 was anchored"


def test_anchor_catches_a_trail_rewritten_up_to_it(engine):
    _record_reads(engine, 2)
    with engine.connect() as conn:
        report = verify(conn, anchor=(2, "f" * 64))
    assert (report.ok, report.first_bad_seq) == (False, 2)
    assert "does not match its anchor" in report.reason


def test_append_only_trigger_refuses_update_and_delete(engine):
    _record_reads(engine, 2)
    for statement in (
        audit_log.update().where(audit_log.c.seq == 1).values(agent="user/nobody"),
        audit_log.delete().where(audit_log.c.seq == 2),
    ):
        with pytest.raises(sa.exc.DBAPIError, match="audit_log is append-only"), engine.begin() as conn:
            conn.execute(statement)
    if engine.dialect.name == "postgresql":
        with pytest.raises(sa.exc.DBAPIError, match="audit_log is append-only"), engine.begin() as conn:
            conn.exec_driver_sql("TRUNCATE audit_log")
    assert [r.agent for r in _rows(engine)] == ["user/dr.li", "user/dr.li"]


def _errors(event: dict) -> list[str]:
    return [issue.diagnostics for issue in validate_resource(event) if issue.severity == "error"]


def test_events_are_valid_fhir_r4_audit_events_with_the_right_codes(engine):
    with unit_of_work(engine) as conn:
        read = record(conn, ctx=DOCTOR, action="R", subtype="read", patient="Patient/p1",
                      entities=["Observation/o1", "Patient/p1"])
        found = record(conn, ctx=DOCTOR, action="R", subtype="search", patient="Patient/p1",
                       entities=["Observation?patient=Patient/p1&code=8867-4"])
        failed = record(conn, ctx=NURSE, action="E", subtype="login-failed", outcome="4",
                        description="wrong password", remote_addr="2001:db8::1")
        glass = record(conn, ctx=DOCTOR, action="E", subtype="break-the-glass", patient="Patient/p2",
                       purpose="ETREAT", description="unconscious in the emergency department")
        exported = record(conn, ctx=DOCTOR, action="R", subtype="export", entities=["Group/g1"])
        operation = record(conn, ctx=NURSE, action="E", subtype="operation", remote_addr="ward-3-pc")
    for entry in (read, found, failed, glass, exported, operation):
        assert _errors(entry["event"]) == [], entry["subtype"]
    event = read["event"]
    assert event["type"]["code"] == "rest"
    assert event["subtype"] == [{"system": "http://hl7.org/fhir/restful-interaction", "code": "read", "display": "read"}]
    assert event["agent"][0]["who"] == {"display": "user/dr.li"} and event["agent"][0]["requestor"] is True
    assert event["agent"][0]["network"] == {"address": "10.0.0.7", "type": "2"}
    assert event["source"]["observer"] == {"display": "SmartCare"}
    assert [(e.get("what", {}).get("reference"), e["role"]["code"]) for e in event["entity"]] == [
        ("Patient/p1", "1"), ("Observation/o1", "4")
    ]
    assert found["event"]["entity"][1]["role"]["code"] == "24"
    assert failed["event"]["type"]["code"] == "110114" and failed["event"]["subtype"][0]["code"] == "110122"
    assert failed["event"]["outcome"] == "4" and failed["event"]["outcomeDesc"] == "wrong password"
    assert failed["event"]["agent"][0]["network"] == {"address": "2001:db8::1", "type": "2"}
    purposes = [p["coding"][0]["code"] for p in glass["event"]["purposeOfEvent"]]
    assert purposes == ["BTG", "ETREAT"]
    assert glass["event"]["purposeOfEvent"][0]["text"] == "unconscious in the emergency department"
    assert glass["event"]["type"]["code"] == "110113" and glass["event"]["subtype"][0]["code"] == "110127"
    assert exported["event"]["type"]["code"] == "110106"
    assert operation["event"]["agent"][0]["network"]["type"] == "1"
    with engine.connect() as conn:
        assert verify(conn).checked == 6


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"subtype": "peek"}, "unknown audit subtype"),
        ({"action": "C"}, "does not fit a read"),
        ({"outcome": "1"}, "unknown audit outcome"),
        ({"subtype": "login-failed", "action": "E"}, "failed login needs a failure outcome"),
        ({"subtype": "break-the-glass", "action": "E", "description": "  "}, "needs a reason"),
        ({"patient": "Patient/1' OR '1'='1"}, "is not a Patient reference"),
        ({"patient": "Observation/1"}, "is not a Patient reference"),
        ({"entities": ["<script>alert(1)</script>"]}, "is not a resource reference"),
        ({"entities": ["x" * 5000]}, "1 to 1000 characters"),
        ({"purpose": "BECAUSE"}, "unknown purpose of use"),
        ({"description": "x" * 1001}, "longer than 1000"),
        ({"remote_addr": "1" * 300}, "network address is longer"),
    ],
)
def test_record_refuses_input_that_makes_no_sense(engine, changes, message):
    arguments = {"ctx": DOCTOR, "action": "R", "subtype": "read", "patient": "Patient/p1", **changes}
    with pytest.raises(AuditError, match=message), unit_of_work(engine) as conn:
        record(conn, **arguments)
    assert _rows(engine) == []


def test_concurrent_records_form_one_linear_chain(engine):
    start = threading.Barrier(20)
    failures: list[BaseException] = []

    def write(n: int) -> None:
        try:
            start.wait()
            with unit_of_work(engine) as conn:
                record(conn, ctx=DOCTOR, action="R", subtype="read", patient=f"Patient/p{n}")
        except BaseException as exc:  # noqa: BLE001 (reported by the main thread)
            failures.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    rows = _rows(engine)
    assert [r.seq for r in rows] == list(range(1, 21))
    assert {r.patient for r in rows} == {f"Patient/p{n}" for n in range(20)}
    with engine.connect() as conn:
        report = verify(conn)
    assert (report.ok, report.checked) == (True, 20)


def test_events_for_patient_lists_newest_first_and_pages(engine):
    _record_reads(engine, 3, patient="Patient/p1")
    _record_reads(engine, 1, patient="Patient/p2")
    with engine.connect() as conn:
        mine = events_for_patient(conn, "Patient/p1")
        second_page = events_for_patient(conn, "Patient/p1", limit=2, offset=2)
        with pytest.raises(AuditError):
            events_for_patient(conn, "Patient/p1 OR 1=1")
    assert [e["seq"] for e in mine] == [3, 2, 1]
    assert [e["seq"] for e in second_page] == [1]
    assert mine[0]["event"]["resourceType"] == "AuditEvent" and mine[0]["agent"] == "user/dr.li"


def test_search_combines_filters(engine):
    start = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
    moments = iter(start + timedelta(hours=n) for n in range(10))
    clock.set_clock(lambda: next(moments))
    with unit_of_work(engine) as conn:
        record(conn, ctx=DOCTOR, action="R", subtype="read", patient="Patient/p1")
        record(conn, ctx=NURSE, action="R", subtype="search", patient="Patient/p1")
        record(conn, ctx=NURSE, action="E", subtype="login-failed", outcome="4")
        record(conn, ctx=DOCTOR, action="U", subtype="update", patient="Patient/p2")
    with engine.connect() as conn:
        assert [e["seq"] for e in search(conn, agent="user/nurse.wang")] == [3, 2]
        assert [e["seq"] for e in search(conn, patient="Patient/p1", subtype="read")] == [1]
        assert [e["seq"] for e in search(conn, outcome="4")] == [3]
        assert [e["seq"] for e in search(conn, since="2025-03-01T09:00:00Z", until=start + timedelta(hours=3))] == [
            3, 2
        ]
        assert [e["seq"] for e in search(conn, since="2025-03-01")] == [4, 3, 2, 1]
        assert [e["seq"] for e in search(conn, limit=1, offset=1)] == [3]
        assert search(conn, agent="x'; DROP TABLE audit_log; --") == []
        for hostile in ({"agent": "u" * 10_000}, {"since": "yesterday"}, {"since": "2" * 100},
                        {"subtype": "read' OR 1=1"}, {"outcome": "0 OR 1=1"}, {"limit": 10_000}, {"offset": -1}):
            with pytest.raises(AuditError):
                search(conn, **hostile)
    assert len(_rows(engine)) == 4


def test_cli_verify_says_intact_then_fails_after_tampering(engine):
    _record_reads(engine, 3)
    result = runner.invoke(audit_app, ["verify"])
    assert result.exit_code == 0, result.output
    assert "Audit trail intact: 3 entries" in result.output
    head = next(line.split()[1] for line in result.output.splitlines() if line.startswith("Head "))
    with tampering(engine) as conn:
        conn.execute(audit_log.delete().where(audit_log.c.seq == 3))
    assert runner.invoke(audit_app, ["verify"]).exit_code == 0
    anchored = runner.invoke(audit_app, ["verify", "--anchor", head])
    assert anchored.exit_code == 1
    assert "entry 3 is missing" in anchored.output
    with tampering(engine) as conn:
        conn.execute(audit_log.delete().where(audit_log.c.seq == 1))
    broken = runner.invoke(audit_app, ["verify"])
    assert broken.exit_code == 1 and "entry 1 is missing" in broken.output
    assert runner.invoke(audit_app, ["verify", "--anchor", "not-an-anchor"]).exit_code == 2


def test_cli_verify_shows_progress_on_a_long_trail(engine, monkeypatch):
    _record_reads(engine, 5)
    monkeypatch.setattr(audit_cli, "PROGRESS_FROM", 2)
    monkeypatch.setattr(service, "PAGE_SIZE", 2)
    result = runner.invoke(audit_app, ["verify"])
    assert result.exit_code == 0, result.output
    assert "Audit trail intact: 5 entries" in result.output


def test_cli_search_prints_a_table_of_matching_entries(engine, monkeypatch):
    monkeypatch.setattr(audit_cli, "console", Console(width=200))
    _record_reads(engine, 1)
    with unit_of_work(engine) as conn:
        record(conn, ctx=NURSE, action="E", subtype="login-failed", outcome="4")
    result = runner.invoke(audit_app, ["search", "--subtype", "login-failed"])
    assert result.exit_code == 0, result.output
    assert "user/nurse.wang" in result.output and "minor failure" in result.output
    assert "user/dr.li" not in result.output
    assert "No audit entries match." in runner.invoke(audit_app, ["search", "--agent", "[bold]x"]).output
    assert runner.invoke(audit_app, ["search", "--outcome", "7"]).exit_code == 2


def test_an_entry_names_the_persons_record_account_and_organisation(engine):
    ctx = AccessContext(kind="user", name="dr.li", roles=frozenset({"doctor"}), organization="Organization/h1",
                        subject="user-123", fhir_user="Practitioner/pr-9", remote_addr="10.0.0.7")
    with unit_of_work(engine) as conn:
        entry = record(conn, ctx=ctx, action="R", subtype="read", patient="Patient/p1", entities=["Observation/o1"])
    requestor, organisation = entry["event"]["agent"]
    assert requestor["who"] == {"display": "user/dr.li", "reference": "Practitioner/pr-9"}
    assert requestor["altId"] == "user-123" and requestor["requestor"] is True
    assert organisation["who"] == {"reference": "Organization/h1"} and organisation["requestor"] is False
    assert [i for i in validate_resource(entry["event"]) if i.severity == "error"] == []
