"""Lab orders out to the instrument middleware: OML^O21 and ORM^O01 read back field by field, escaping, and
delivery through jobs to a real MLLP peer (sent once on AA, retried on AE or silence, dead after the last try)."""

from datetime import UTC, datetime, timedelta

import hl7
import pydantic
import pytest
import sqlalchemy as sa

from smartcare.fhir import gateway, store
from smartcare.hospital.lab import accession as acc
from smartcare.hospital.lab import specimens
from smartcare.hospital.lab.hl7_messages import value
from smartcare.hospital.lab.outbound import (
    OrderFacts,
    OutboundSettings,
    PatientId,
    escape,
    new_control_id,
    order_message,
    outbound_settings,
)
from smartcare.hospital.lab.outbound_models import lab_outbound_message
from smartcare.hospital.lab.outbound_queue import SEND_ATTEMPTS, SEND_JOB
from smartcare.hospital.workstation import ordering
from smartcare.platform.db import unit_of_work
from smartcare.platform.jobs import enqueue, job, retry_now, run_due
from smartcare.platform.security.context import SYSTEM
from tests.hospital.lab.lab_workflow_record import place, write_hospital
from tests.hospital.lab.mllp_peer import point_at, running_peer


@pytest.fixture(autouse=True)
def fresh_settings():
    """The outbound settings are read again after each test, so what one pointed at does not outlive it."""
    yield
    outbound_settings.cache_clear()


@pytest.fixture
def lab(engine, now):
    return write_hospital(engine)


@pytest.fixture
def peer(monkeypatch):
    yield from running_peer(monkeypatch)


def _rows() -> list[dict]:
    with unit_of_work() as conn:
        return [dict(r) for r in conn.execute(sa.select(lab_outbound_message).order_by(lab_outbound_message.c.id))
                .mappings()]


def _jobs() -> list[dict]:
    with unit_of_work() as conn:
        return [dict(r) for r in conn.execute(sa.select(job).where(job.c.kind == SEND_JOB)).mappings()]


def _segment(raw: str, name: str) -> hl7.Segment:
    return hl7.parse(raw).segment(name)


def _facts(**changes) -> OrderFacts:
    facts = {
        "facility": "org-h", "placer": "L26030200001", "accession": "L26030200001", "test_code": "2823-3",
        "test_name": "Potassium", "test_system": "LN", "priority": "routine", "specimen_code": "SER",
        "specimen_name": "Serum", "patient_ids": (PatientId("MRN-7", "HIS", "MR"), PatientId("p-1", "SMARTCARE", "PI")),
        "names": (("王", "芳", "I"), ("Wang", "Fang", "A")), "birth_date": "1950-03-01", "sex": "female",
        "patient_class": "O", "visit": "enc-1", "provider_id": "prac-li", "provider_family": "Li",
        "provider_given": "Wei", "ordered": datetime(2026, 3, 2, 7, 30, tzinfo=UTC), "collected": None}
    return OrderFacts(**{**facts, **changes})


NOW = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def test_an_accessioned_order_is_queued_as_an_oml_o21_that_reads_back_field_by_field(lab, peer):
    request_id = place(lab["doctor"], "potassium")
    specimen = acc.accession(lab["tech"], request_id=request_id)
    [row] = _rows()
    number = specimens.accession_of(specimen)
    assert row["status"] == "queued" and row["accession"] == number and row["placer_number"] == number
    assert row["organization"] == "Organization/org-h" and row["patient"] == "Patient/p-wang"
    raw = row["raw"]
    msh, pid, orc = _segment(raw, "MSH"), _segment(raw, "PID"), _segment(raw, "ORC")
    assert [value(msh, i) for i in (3, 4, 5, 6, 10, 11, 12)] == [
        "SMARTCARE", "org-h", "LAB-MIDDLEWARE", "LAB", row["control_id"], "P", "2.5.1"]
    assert str(msh(9)) == "OML^O21^OML_O21" and value(msh, 18) == "UNICODE UTF-8"
    assert value(pid, 3, 1, 1) == "p-wang" and value(pid, 3, 1, 5) == "PI"
    assert value(pid, 5, 1, 1) == "Wang Fang" and value(pid, 7) == "19500301" and value(pid, 8) == "F"
    assert value(orc, 1) == "NW" and value(orc, 2) == number and value(orc, 12, 1, 1) == "prac-li"
    assert value(orc, 12, 1, 2) == "Li Wei"
    obr, spm, tq1 = _segment(raw, "OBR"), _segment(raw, "SPM"), _segment(raw, "TQ1")
    assert value(obr, 2) == number and value(obr, 4) == "2823-3" and value(obr, 4, 1, 3) == "LN"
    assert value(obr, 7) == ""  # not collected yet
    assert value(spm, 2, 1, 1) == number and value(spm, 4) == "SER" and value(spm, 4, 1, 3) == "HL70487"
    assert value(tq1, 9) == "R"
    assert [str(s[0]) for s in hl7.parse(raw)] == [
        "MSH", "PID", "PV1", "ORC", "TQ1", "OBR", "SPM"]
    assert acc.accession(lab["tech"], request_id=request_id)["id"] == specimen["id"]
    assert len(_rows()) == 1  # the order accessioned already is not queued twice


def test_the_row_and_its_job_are_written_together(lab, peer):
    acc.accession(lab["tech"], request_id=place(lab["doctor"], "potassium"))
    [row], [queued] = _rows(), _jobs()
    assert queued["id"] == row["job_id"] and queued["payload"] == {"control_id": row["control_id"]}
    assert queued["state"] == "queued"


def test_orm_o01_v231_carries_the_accession_as_filler_number_and_the_priority_in_the_timing(monkeypatch):
    settings = OutboundSettings(outbound="127.0.0.1:2576", message_type="ORM^O01", receiving_application="MW",
                                receiving_facility="CORE-LAB")
    collected = datetime(2026, 3, 2, 7, 45, tzinfo=UTC)
    raw = order_message(_facts(priority="stat", collected=collected), settings, control_id="C1", now=NOW)
    assert [str(s[0]) for s in hl7.parse(raw)] == ["MSH", "PID", "PV1", "ORC", "OBR"]
    msh, orc, obr = _segment(raw, "MSH"), _segment(raw, "ORC"), _segment(raw, "OBR")
    assert str(msh(9)) == "ORM^O01^ORM_O01" and value(msh, 12) == "2.3.1" and value(msh, 5) == "MW"
    assert value(msh, 6) == "CORE-LAB" and value(msh, 7) == "20260302160000+0800"
    assert value(orc, 3) == "L26030200001" and value(obr, 3) == "L26030200001"
    assert value(orc, 7, 1, 6) == "S" and value(obr, 27, 1, 6) == "S"
    assert value(obr, 7) == "20260302154500+0800" and value(obr, 15) == "SER"
    pid = _segment(raw, "PID")
    assert (value(pid, 3, 1, 1), value(pid, 3, 1, 4), value(pid, 3, 1, 5)) == ("MRN-7", "HIS", "MR")
    assert (value(pid, 5, 1, 1), value(pid, 5, 1, 8), value(pid, 5, 2, 1)) == ("王", "I", "Wang")


def test_oml_stat_and_collected_and_a_cancel(monkeypatch):
    settings = OutboundSettings()
    collected = datetime(2026, 3, 2, 7, 45, tzinfo=UTC)
    raw = order_message(_facts(priority="stat", collected=collected), settings, control_id="C2", now=NOW,
                        control="CA")
    assert value(_segment(raw, "ORC"), 1) == "CA"
    assert value(_segment(raw, "TQ1"), 9) == "S" and value(_segment(raw, "TQ1"), 9, 1, 3) == "HL70485"
    assert value(_segment(raw, "SPM"), 17) == value(_segment(raw, "OBR"), 7) == "20260302154500+0800"
    assert value(_segment(raw, "PV1"), 2) == "O" and value(_segment(raw, "PV1"), 19) == "enc-1"


@pytest.mark.parametrize("text", ["Wang|Fang", "A^B&C~D", "back\\slash", "O'Brien <b>", "\\F\\ already escaped"])
def test_escaping_keeps_delimiters_inside_the_field(text):
    assert "|" not in escape(text) and "^" not in escape(text)
    raw = order_message(_facts(names=((text, "Given", ""),), test_name=text), OutboundSettings(), control_id="C3",
                        now=NOW)
    pid, obr = _segment(raw, "PID"), _segment(raw, "OBR")
    assert value(pid, 5, 1, 1) == text and value(pid, 5, 1, 2) == "Given" and value(pid, 7) == "19500301"
    assert value(obr, 4, 1, 2) == text and value(obr, 4, 1, 3) == "LN"


def test_line_breaks_and_control_characters_cannot_start_a_segment():
    raw = order_message(_facts(names=(("Wang\rOBX|1|ST|evil", "\nFang\x00", ""),)), OutboundSettings(),
                        control_id="C4", now=NOW)
    assert [str(s[0]) for s in hl7.parse(raw)] == ["MSH", "PID", "PV1", "ORC", "TQ1", "OBR", "SPM"]
    assert value(_segment(raw, "PID"), 5, 1, 1) == "Wang OBX|1|ST|evil"


def test_control_ids_are_unique_and_fit_v231():
    ids = {new_control_id(NOW) for _ in range(500)}
    assert len(ids) == 500 and all(len(i) == 20 for i in ids)


@pytest.mark.parametrize("endpoint", ["nohost", "host:0", "host:70000", "a b:1", "host:12:13", "http://x:1"])
def test_a_malformed_endpoint_setting_is_refused(endpoint):
    with pytest.raises(pydantic.ValidationError):
        OutboundSettings(outbound=endpoint)


def test_endpoint_forms():
    assert OutboundSettings(outbound=" mw.lab.local:2576 ").destination == ("mw.lab.local", 2576)
    assert OutboundSettings(outbound="[fd00::5]:2576").destination == ("fd00::5", 2576)
    assert OutboundSettings(outbound="").destination is None
    with pytest.raises(pydantic.ValidationError):
        OutboundSettings(message_type="ORU^R01")


def test_with_outbound_off_nothing_is_queued(lab, monkeypatch):
    point_at(monkeypatch, "")
    acc.accession(lab["tech"], request_id=place(lab["doctor"], "potassium"))
    assert _rows() == [] and _jobs() == []


def test_an_aa_marks_it_sent_with_the_ack_and_it_is_never_sent_again(lab, peer, engine):
    acc.accession(lab["tech"], request_id=place(lab["doctor"], "potassium"))
    # Other modules' jobs may be due too (the record's conditions queue medicine reviews): this one is sent once.
    run_due(engine)
    [row] = _rows()
    assert row["status"] == "sent" and row["attempts"] == 1 and f"MSA|AA|{row['control_id']}" in row["ack"]
    assert row["sent_at"] and len(peer.received) == 1 and peer.received[0].startswith("MSH|^~\\&|SMARTCARE|")
    with unit_of_work() as conn:  # a second job for the same message (a redelivery) finds it sent
        enqueue(conn, kind=SEND_JOB, payload={"control_id": row["control_id"]})
    run_due(engine)
    assert len(peer.received) == 1 and _rows()[0]["status"] == "sent"


@pytest.mark.parametrize("answer", ["AE", "close", "other"])
def test_no_acceptance_is_retried_with_backoff_then_dead_after_the_last_attempt(lab, peer, engine, now, answer):
    peer.answer = answer
    acc.accession(lab["tech"], request_id=place(lab["doctor"], "potassium"))
    run_due(engine)
    [row] = _rows()
    assert row["status"] == "failed" and row["attempts"] == 1
    expected = {"AE": "answered AE: test code not set up", "close": "no acknowledgement from 127.0.0.1",
                "other": "answers message 'SOMETHING-ELSE'"}[answer]
    assert expected in row["last_error"]
    assert (row["ack"] is not None) == (answer != "close")
    assert run_due(engine) == 0  # waiting for its backoff
    for _ in range(SEND_ATTEMPTS - 1):
        now[0] += timedelta(minutes=11)
        run_due(engine)
    [row] = _rows()
    assert row["status"] == "dead" and row["attempts"] == SEND_ATTEMPTS and expected in row["last_error"]
    assert len(peer.received) == SEND_ATTEMPTS and len(set(peer.received)) == 1  # the same message each time
    assert _jobs()[0]["state"] == "dead"


def test_a_refused_connection_fails_and_is_retried(lab, monkeypatch, engine, now):
    point_at(monkeypatch, "127.0.0.1:1")
    acc.accession(lab["tech"], request_id=place(lab["doctor"], "potassium"))
    run_due(engine)
    [row] = _rows()
    assert row["status"] == "failed" and "no acknowledgement from 127.0.0.1:1" in row["last_error"]
    assert _jobs()[0]["state"] == "queued"


def test_an_order_with_a_stat_priority_says_so(lab, peer):
    placed = ordering.place(ctx=lab["doctor"], patient_id="p-wang",
                            orders=[ordering.OrderRequest("potassium", priority="stat")])
    request_id = placed[0].split("/")[1]
    acc.accession(lab["tech"], request_id=request_id)
    assert value(_segment(_rows()[0]["raw"], "TQ1"), 9) == "S"
    assert gateway.read(SYSTEM, f"ServiceRequest/{request_id}")["priority"] == "stat"


def test_a_peer_that_never_answers_times_out_and_the_order_is_retried(lab, peer, engine, monkeypatch):
    point_at(monkeypatch, outbound_settings().outbound, timeout="0.5")
    peer.answer = "silent"
    acc.accession(lab["tech"], request_id=place(lab["doctor"], "potassium"))
    run_due(engine)
    [row] = _rows()
    assert row["status"] == "failed" and "no acknowledgement" in row["last_error"] and len(peer.received) == 1


def test_an_order_whose_orderer_record_is_gone_is_still_sent_naming_the_orderer_by_id(lab, peer):
    request_id = place(lab["doctor"], "potassium")
    with unit_of_work() as conn:
        store.delete(conn, SYSTEM, res_type="Practitioner", res_id="prac-li")
    acc.accession(lab["tech"], request_id=request_id)
    orc = _segment(_rows()[0]["raw"], "ORC")
    assert value(orc, 12, 1, 1) == "prac-li" and value(orc, 12, 1, 2) == ""


def test_a_dead_order_retried_from_the_jobs_console_is_sent(lab, peer, engine, now):
    peer.answer = "close"
    acc.accession(lab["tech"], request_id=place(lab["doctor"], "potassium"))
    for _ in range(SEND_ATTEMPTS):
        run_due(engine)
        now[0] += timedelta(minutes=11)
    [row] = _rows()
    assert row["status"] == "dead"
    peer.answer = "AA"
    with unit_of_work() as conn:
        assert retry_now(conn, job_id=row["job_id"])
    run_due(engine)
    assert _rows()[0]["status"] == "sent" and len(peer.received) == SEND_ATTEMPTS + 1
