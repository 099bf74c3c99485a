"""What matters now, from FHIR resources: next appointment and its queue session, new results, medicines due
today, alerts."""

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from smartcare.patient.app import now

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)


def _appointment(status: str, start: str = "2026-11-20T01:30:00Z") -> dict:
    return {"resourceType": "Appointment", "id": "ap1", "status": status, "start": start,
            "serviceType": [{"text": "Cardiology"}],
            "participant": [{"actor": {"reference": "Patient/pa1"}},
                            {"actor": {"reference": "Practitioner/doc-a"}}]}


def test_a_checked_in_appointment_names_its_queue_session_in_local_time():
    found = now.next_appointment([_appointment("cancelled"), _appointment("arrived")], SHANGHAI)
    assert found["checked_in"] is True and found["what"] == "Cardiology"
    assert found["session"] == "doc-a:2026-11-20:am"  # 09:30 in Shanghai
    afternoon = now.next_appointment([_appointment("booked", "2026-11-20T06:00:00Z")], SHANGHAI)
    assert afternoon["checked_in"] is False and afternoon["session"] == "doc-a:2026-11-20:pm"


def test_no_appointment_when_all_are_cancelled_or_without_a_doctor_no_session():
    assert now.next_appointment([_appointment("cancelled")], SHANGHAI) is None
    bare = {**_appointment("booked"), "participant": []}
    assert now.next_appointment([bare], SHANGHAI)["session"] is None


def _report(report_id: str, issued: str, status: str = "final") -> dict:
    return {"resourceType": "DiagnosticReport", "id": report_id, "status": status, "issued": issued,
            "code": {"text": f"Panel {report_id}"}}


def test_new_results_are_final_reports_issued_after_the_last_visit():
    visits = [{"period": {"start": "2026-11-10T01:00:00Z"}}, {"period": {"start": "2026-10-01T01:00:00Z"}}]
    since = now.last_visit(visits)
    reports = [_report("old", "2026-11-09T00:00:00Z"), _report("new", "2026-11-12T00:00:00Z"),
               _report("draft", "2026-11-13T00:00:00Z", status="preliminary")]
    assert [r["id"] for r in now.new_results(reports, since=since, now=NOW)] == ["new"]


def test_without_any_visit_new_results_are_those_of_the_last_30_days():
    reports = [_report("recent", "2026-11-01T00:00:00Z"), _report("older", "2026-09-01T00:00:00Z")]
    assert [r["id"] for r in now.new_results(reports, since=None, now=NOW)] == ["recent"]


def _request(timing: dict, **extra) -> dict:
    return {"resourceType": "MedicationRequest", "status": "active", "intent": "order",
            "medicationCodeableConcept": {"text": "Metformin 500 mg"},
            "dosageInstruction": [{"text": "1 tablet", "timing": timing, **extra}], **{}}


def test_medicines_due_today_come_from_the_dosage_timing():
    due = now.medication_due_today([
        _request({"repeat": {"timeOfDay": ["20:00:00", "08:00:00"]}}),
        _request({"code": {"coding": [{"code": "TID"}]}}),
        _request({"repeat": {"frequency": 2, "period": 1, "periodUnit": "d"}}),
    ], date(2026, 11, 20))
    assert due[0]["times"] == ["08:00", "20:00"] and due[0]["per_day"] == 2
    assert due[1]["per_day"] == 3 and due[2]["per_day"] == 2


def test_as_needed_stopped_and_out_of_bounds_medicines_are_not_due_today():
    today = date(2026, 11, 20)
    ended = _request({"repeat": {"timeOfDay": ["08:00"], "boundsPeriod": {"end": "2026-11-19"}}})
    later = _request({"repeat": {"timeOfDay": ["08:00"], "boundsPeriod": {"start": "2026-11-21"}}})
    prn = _request({"repeat": {"timeOfDay": ["08:00"]}}, asNeededBoolean=True)
    stopped = {**_request({"repeat": {"timeOfDay": ["08:00"]}}), "status": "stopped"}
    assert now.medication_due_today([ended, later, prn, stopped], today) == []


def test_alerts_are_abnormal_results_urgent_open_tasks_and_active_flags():
    high = {"code": {"text": "Potassium"}, "valueQuantity": {"value": 6.4, "unit": "mmol/L"},
            "interpretation": [{"coding": [{"code": "HH"}]}]}
    normal = {"code": {"text": "Sodium"}, "valueQuantity": {"value": 140, "unit": "mmol/L"},
              "interpretation": [{"coding": [{"code": "N"}]}]}
    tasks = [{"status": "requested", "priority": "stat", "description": "Call your doctor about your blood pressure"},
             {"status": "completed", "priority": "stat", "description": "Done already"},
             {"status": "requested", "priority": "routine", "description": "Routine"}]
    flags = [{"status": "active", "code": {"text": "Fall risk"}}, {"status": "inactive", "code": {"text": "Old"}}]
    assert now.alerts([high, normal], tasks, flags) == [
        "Potassium: 6.4 mmol/L", "Call your doctor about your blood pressure", "Fall risk"]
