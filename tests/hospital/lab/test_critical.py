"""Critical values: on release the ordering doctor is notified, acknowledges with a read-back, or the escalation
job hands it to the department head; every step is a version of the Task."""

from datetime import timedelta

import pytest

import smartcare.hospital.lab.jobs  # noqa: F401  (registers the escalation job)
from smartcare.fhir import gateway, store
from smartcare.fhir.http import FhirRequest
from smartcare.hospital.lab import critical, release, results
from smartcare.hospital.lab.accession import LabRefused
from smartcare.platform.db import unit_of_work
from smartcare.platform.jobs.worker import tick
from smartcare.platform.notifications import service as notifications
from smartcare.platform.security.context import SYSTEM
from tests.hospital.lab.lab_workflow_record import place, received, write_hospital

POTASSIUM = "2823-3"


@pytest.fixture
def lab(engine, now):
    return write_hospital(engine)


def _released(lab, value: str) -> dict:
    specimen = received(lab["tech"], place(lab["doctor"], "potassium"))
    report = results.enter_results(lab["tech"], specimen_id=specimen["id"], values={POTASSIUM: value})
    results.review(lab["tech"], report_id=report["id"])
    return release.release(lab["tech"], report_id=report["id"])


def _open_tasks() -> list[dict]:
    return gateway.search(SYSTEM, "Task", [("code", f"{critical.TASK_SYSTEM}|{critical.CRITICAL}")])


def _inbox(user_id: str) -> list[dict]:
    with unit_of_work() as conn:
        return notifications.inbox(conn, user_id=user_id)


def test_a_critical_result_on_release_opens_a_task_and_notifies_the_ordering_doctor(lab):
    report = _released(lab, "7.0")
    [task] = _open_tasks()
    observation = results.results_of(SYSTEM, report)[0]
    assert results.flag_of(observation) == "HH"
    assert task["status"] == "requested" and task["focus"]["reference"] == f"Observation/{observation['id']}"
    assert task["owner"] == {"reference": "Practitioner/prac-li"} and task["for"] == {"reference": "Patient/p-wang"}
    assert task["input"][0]["valueString"] == "7 mmol/L"
    [notice] = _inbox(lab["doctor_id"])
    assert notice["kind"] == critical.CRITICAL_VALUE.name and notice["link"] == f"/workstation/lab/critical/{task['id']}"
    assert "7 mmol/L" in notice["body"]


def test_a_normal_result_opens_no_task(lab):
    _released(lab, "4.1")
    assert _open_tasks() == [] and _inbox(lab["doctor_id"]) == []


@pytest.mark.parametrize("typed", ["7.0", "7", "7 mmol/L", "7.00 MMOL/L"])
def test_the_doctor_acknowledges_with_a_matching_read_back(lab, typed):
    _released(lab, "7.0")
    [task] = _open_tasks()
    done = critical.acknowledge(lab["doctor"], task_id=task["id"], read_back=typed)
    assert done["status"] == "completed" and done["output"][0]["valueString"] == typed
    assert done["businessStatus"]["text"] == critical.ACKNOWLEDGED and done["executionPeriod"]["end"]
    with pytest.raises(LabRefused, match="already"):
        critical.acknowledge(lab["doctor"], task_id=task["id"], read_back=typed)


@pytest.mark.parametrize("typed", ["6.0", "70", "7.0 mg/dL", "7 or 8", "", "x" * 61, "<script>7</script>"])
def test_a_read_back_that_does_not_match_is_refused_and_the_task_stays_open(lab, typed):
    _released(lab, "7.0")
    [task] = _open_tasks()
    with pytest.raises(LabRefused):
        critical.acknowledge(lab["doctor"], task_id=task["id"], read_back=typed)
    assert gateway.read(SYSTEM, f"Task/{task['id']}")["status"] == "requested"


def test_only_the_doctor_it_is_for_may_acknowledge(lab):
    _released(lab, "7.0")
    [task] = _open_tasks()
    with pytest.raises(LabRefused) as refused:
        critical.acknowledge(lab["head"], task_id=task["id"], read_back="7.0")
    assert refused.value.status == 403


def test_unacknowledged_in_time_it_is_escalated_to_the_department_head_once(lab, engine, now):
    _released(lab, "2.1")
    [task] = _open_tasks()
    now[0] += critical.ACKNOWLEDGE_WITHIN - timedelta(minutes=1)
    tick(engine)
    assert gateway.read(SYSTEM, f"Task/{task['id']}").get("businessStatus") is None
    now[0] += timedelta(minutes=2)
    tick(engine)
    escalated = gateway.read(SYSTEM, f"Task/{task['id']}")
    assert escalated["businessStatus"]["text"] == critical.ESCALATED
    assert escalated["owner"] == {"reference": "Practitioner/prac-head"}
    assert "escalated to Practitioner/prac-head" in escalated["note"][-1]["text"]
    [notice] = _inbox(lab["head_id"])
    assert notice["link"] == f"/workstation/lab/critical/{task['id']}"
    now[0] += timedelta(minutes=5)
    tick(engine)
    assert len(_inbox(lab["head_id"])) == 1
    done = critical.acknowledge(lab["head"], task_id=task["id"], read_back="2.1 mmol/L")
    history = gateway.serve(SYSTEM, FhirRequest(method="GET", path=f"Task/{task['id']}/_history")).body
    assert [e["resource"]["status"] for e in reversed(history["entry"])] == ["requested", "requested", "completed"]
    assert done["owner"] == {"reference": "Practitioner/prac-head"}


def test_without_a_department_head_the_releaser_is_told_to_phone(lab, engine, now):
    with unit_of_work() as conn:
        store.delete(conn, SYSTEM, res_type="PractitionerRole", res_id="pr-head")
    _released(lab, "7.5")
    [task] = _open_tasks()
    now[0] += critical.ACKNOWLEDGE_WITHIN + timedelta(minutes=1)
    tick(engine)
    escalated = gateway.read(SYSTEM, f"Task/{task['id']}")
    assert "no department head" in escalated["note"][-1]["text"]
    assert any(n["title"] == "Critical result not acknowledged" for n in _inbox(lab["tech_id"]))


def test_a_correction_that_makes_a_value_critical_opens_a_task(lab):
    report = _released(lab, "5.0")
    assert _open_tasks() == []
    release.correct(lab["tech"], report_id=report["id"], values={POTASSIUM: "6.9"}, reason="Re-run after dilution")
    [task] = _open_tasks()
    assert task["input"][0]["valueString"] == "6.9 mmol/L"
    assert any(n["kind"] == critical.CORRECTED.name for n in _inbox(lab["doctor_id"]))


@pytest.mark.parametrize("task_id", ["", "../Patient/p-wang", "x" * 65])
def test_hostile_task_ids_are_refused(lab, task_id):
    with pytest.raises(LabRefused):
        critical.acknowledge(lab["doctor"], task_id=task_id, read_back="7")
