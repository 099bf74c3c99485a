"""Supervision indicators on a small hand-made region, each expected value worked out by hand; the page, the API and who may open them."""

import uuid
from typing import Any

import pytest

from smartcare.hospital.queue.models import queue_session, queue_ticket
from smartcare.platform import audit
from smartcare.platform.db import unit_of_work
from tests.regional.conftest import FHIR_JSON, user_token
from tests.web_support import browser, make_user, sign_in

API = "/api/supervision/indicators"
PAGE = "/console/supervision/indicators"
PERIOD = {"from": "2026-01", "to": "2026-02"}
ATC = "http://www.whocc.no/atc"
ACT = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
HOSP_A, HOSP_B = "sv-hosp-a", "sv-hosp-b"


def ref(kind: str, rid: str) -> dict[str, str]:
    return {"reference": f"{kind}/{rid}"}


def encounter(eid: str, patient: str, org: str, cls: str, start: str, end: str | None = None,
              status: str = "finished") -> dict[str, Any]:
    period = {"start": start} | ({"end": end} if end else {})
    return {"resourceType": "Encounter", "id": eid, "status": status, "class": {"system": ACT, "code": cls},
            "subject": ref("Patient", patient), "serviceProvider": ref("Organization", org), "period": period}


def prescription(mid: str, enc: str, atc: str, status: str = "active") -> dict[str, Any]:
    return {"resourceType": "MedicationRequest", "id": mid, "status": status, "intent": "order",
            "subject": ref("Patient", "sv-p1"), "encounter": ref("Encounter", enc), "authoredOn": "2026-01-05",
            "medicationCodeableConcept": {"coding": [{"system": ATC, "code": atc}]}}


def lab_report(rid: str, enc: str, issued: str, *, specimen: str | None = None, order: str | None = None,
               status: str = "final") -> dict[str, Any]:
    report = {"resourceType": "DiagnosticReport", "id": rid, "status": status, "code": {"text": "Panel"},
              "subject": ref("Patient", "sv-p1"), "encounter": ref("Encounter", enc), "issued": issued}
    if specimen:
        report["specimen"] = [ref("Specimen", specimen)]
    if order:
        report["basedOn"] = [ref("ServiceRequest", order)]
    return report


def critical_task(tid: str, authored: str, acknowledged: str | None) -> dict[str, Any]:
    task = {"resourceType": "Task", "id": tid, "status": "completed" if acknowledged else "requested",
            "intent": "order", "code": {"coding": [{"system": "https://smartcare.example/fhir/CodeSystem/lab-task",
                                                    "code": "critical-value"}]},
            "for": ref("Patient", "sv-p1"), "basedOn": [ref("ServiceRequest", "sv-sr-1")], "authoredOn": authored}
    if acknowledged:
        task["executionPeriod"] = {"start": authored, "end": acknowledged}
    return task


def region() -> list[dict[str, Any]]:
    orgs = [{"resourceType": "Organization", "id": HOSP_A, "name": "Riverside First Hospital"},
            {"resourceType": "Organization", "id": "sv-dept-a", "name": "Internal medicine",
             "partOf": ref("Organization", HOSP_A)},
            {"resourceType": "Organization", "id": HOSP_B, "name": "Hexi Clinic"}]
    people = [{"resourceType": "Patient", "id": f"sv-p{n}"} for n in range(1, 5)]
    staff = [{"resourceType": "Practitioner", "id": p} for p in ("sv-doc-a", "sv-doc-b")]
    staff += [{"resourceType": "PractitionerRole", "id": "sv-role-a", "practitioner": ref("Practitioner", "sv-doc-a"),
               "organization": ref("Organization", "sv-dept-a")},
              {"resourceType": "PractitionerRole", "id": "sv-role-b", "practitioner": ref("Practitioner", "sv-doc-b"),
               "organization": ref("Organization", HOSP_B)}]
    visits = [
        # Outpatients, hospital A in January: 4 visits, one with an antibiotic (1/4 = 25.0%). The ibuprofen
        # and the cancelled amoxicillin do not count. February: 1 visit with an antibiotic (100.0%).
        encounter("sv-amb-1", "sv-p1", "sv-dept-a", "AMB", "2026-01-05T09:00:00+08:00"),
        encounter("sv-amb-2", "sv-p2", "sv-dept-a", "AMB", "2026-01-06T09:00:00+08:00"),
        encounter("sv-amb-3", "sv-p3", HOSP_A, "AMB", "2026-01-07T09:00:00+08:00"),
        encounter("sv-amb-4", "sv-p4", HOSP_A, "AMB", "2026-01-08T09:00:00+08:00"),
        encounter("sv-amb-5", "sv-p1", HOSP_A, "AMB", "2026-02-02T09:00:00+08:00"),
        # Hospital B in January: 2 visits, both with an antibiotic (100.0%).
        encounter("sv-amb-6", "sv-p2", HOSP_B, "AMB", "2026-01-09T09:00:00+08:00"),
        encounter("sv-amb-7", "sv-p3", HOSP_B, "AMB", "2026-01-10T09:00:00+08:00"),
        # Inpatients. Hospital A, discharged in January: p1 1-5 Jan (back on 20 Jan: readmitted), p1 20-25 Jan
        # (not again), p2 3-8 Jan (back only on 20 Feb, 43 days on): 1/3 = 33.3%. Discharged in February:
        # p2 20-22 Feb and p3 30 Jan-2 Feb: 0/2 = 0.0%. Hospital B: p3 10-12 Jan, back (at A) on 30 Jan: 1/1.
        encounter("sv-imp-1", "sv-p1", HOSP_A, "IMP", "2026-01-01T08:00:00Z", "2026-01-05T08:00:00Z"),
        encounter("sv-imp-2", "sv-p1", HOSP_A, "IMP", "2026-01-20T08:00:00Z", "2026-01-25T08:00:00Z"),
        encounter("sv-imp-3", "sv-p2", HOSP_A, "IMP", "2026-01-03T08:00:00Z", "2026-01-08T08:00:00Z"),
        encounter("sv-imp-4", "sv-p2", HOSP_A, "IMP", "2026-02-20T08:00:00Z", "2026-02-22T08:00:00Z"),
        encounter("sv-imp-5", "sv-p3", HOSP_B, "IMP", "2026-01-10T08:00:00Z", "2026-01-12T08:00:00Z"),
        encounter("sv-imp-6", "sv-p3", HOSP_A, "IMP", "2026-01-30T08:00:00Z", "2026-02-02T08:00:00Z"),
    ]
    drugs = [prescription("sv-mr-1", "sv-amb-1", "J01CA04"), prescription("sv-mr-2", "sv-amb-2", "M01AE01"),
             prescription("sv-mr-3", "sv-amb-3", "J01CA04", status="cancelled"),
             prescription("sv-mr-4", "sv-amb-5", "J01DC02"), prescription("sv-mr-5", "sv-amb-6", "J01FA10"),
             prescription("sv-mr-6", "sv-amb-7", "J01MA02")]
    lab = [
        {"resourceType": "ServiceRequest", "id": "sv-sr-1", "status": "completed", "intent": "order",
         "subject": ref("Patient", "sv-p1"), "encounter": ref("Encounter", "sv-amb-1"),
         "authoredOn": "2026-01-12T08:00:00Z"},
        {"resourceType": "Specimen", "id": "sv-sp-1", "subject": ref("Patient", "sv-p1"),
         "receivedTime": "2026-01-10T10:00:00Z"},
        {"resourceType": "Specimen", "id": "sv-sp-2", "subject": ref("Patient", "sv-p1"),
         "receivedTime": "2026-01-11T10:00:00Z"},
        # Hospital A, January: 120, 30 and 60 minutes (the last from the order): median 60.0. A preliminary
        # report does not count.
        lab_report("sv-dr-1", "sv-amb-1", "2026-01-10T12:00:00Z", specimen="sv-sp-1"),
        lab_report("sv-dr-2", "sv-amb-1", "2026-01-11T10:30:00Z", specimen="sv-sp-2"),
        lab_report("sv-dr-3", "sv-amb-1", "2026-01-12T09:00:00Z", order="sv-sr-1"),
        lab_report("sv-dr-4", "sv-amb-1", "2026-01-13T09:00:00Z", specimen="sv-sp-1", status="preliminary"),
        # Critical values, hospital A (through the order's encounter), January: 10 and 30 minutes: mean 20.0,
        # half within 15 minutes. One not yet acknowledged does not count.
        critical_task("sv-task-1", "2026-01-15T08:00:00Z", "2026-01-15T08:10:00Z"),
        critical_task("sv-task-2", "2026-01-16T08:00:00Z", "2026-01-16T08:30:00Z"),
        critical_task("sv-task-3", "2026-01-17T08:00:00Z", None),
    ]
    return [*orgs, *people, *staff, *visits, *drugs, *lab]


def ticket(session: str, n: int, arrived: str, called: str | None, *, returned: bool = False) -> dict[str, Any]:
    return {"id": str(uuid.uuid4()), "session_key": session, "number": n, "appointment_id": f"sv-appt-{session}-{n}",
            "patient_id": "sv-p1", "appointment_start": arrived, "arrived": arrived,
            "status": "done" if called else "waiting", "called_at": called, "recalls": 0,
            "returned_at": arrived if returned else None, "near_notice": False}


@pytest.fixture
def supervised(client, engine) -> None:
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": r, "request": {"method": "PUT", "url": f"{r['resourceType']}/{r['id']}"}} for r in region()]}
    answer = client.post("/fhir", json=bundle, headers=FHIR_JSON)
    assert answer.status_code == 200, answer.text[:500]
    # Waits: doctor A (hospital A) in January 20 and 30 minutes (mean 25.0); one skipped and back, one never
    # called, do not count. Doctor B (hospital B): 10 minutes.
    with unit_of_work(engine) as conn:
        conn.execute(queue_session.insert(), [
            {"key": "sv-doc-a:2026-01-05:am", "practitioner_id": "sv-doc-a", "day": "2026-01-05", "half": "am",
             "last_number": 4},
            {"key": "sv-doc-b:2026-01-05:am", "practitioner_id": "sv-doc-b", "day": "2026-01-05", "half": "am",
             "last_number": 1}])
        conn.execute(queue_ticket.insert(), [
            ticket("sv-doc-a:2026-01-05:am", 1, "2026-01-05T01:00:00.000Z", "2026-01-05T01:20:00.000Z"),
            ticket("sv-doc-a:2026-01-05:am", 2, "2026-01-05T01:10:00.000Z", "2026-01-05T01:40:00.000Z"),
            ticket("sv-doc-a:2026-01-05:am", 3, "2026-01-05T01:15:00.000Z", "2026-01-05T03:15:00.000Z", returned=True),
            ticket("sv-doc-a:2026-01-05:am", 4, "2026-01-05T01:30:00.000Z", None),
            ticket("sv-doc-b:2026-01-05:am", 1, "2026-01-05T02:00:00.000Z", "2026-01-05T02:10:00.000Z")])


def values(feed: dict, code: str) -> dict[tuple[str, str], Any]:
    indicator = next(i for i in feed["indicators"] if i["code"] == code)
    return {(line["facility"], cell["month"]): cell for line in indicator["series"] for cell in line["values"] if cell}


@pytest.fixture
def feed(client, supervised) -> dict:
    answer = client.get(API, params=PERIOD, headers=user_token("regional_admin", name="ada"))
    assert answer.status_code == 200, answer.text[:300]
    return answer.json()


def test_antibiotic_prescribing_rate_counts_outpatient_visits_with_a_j01_drug(feed):
    found = values(feed, "antibiotic-rate")
    assert {k: (c["value"], c["numerator"], c["denominator"]) for k, c in found.items()} == {
        (HOSP_A, "2026-01"): (25.0, 1, 4), (HOSP_A, "2026-02"): (100.0, 1, 1), (HOSP_B, "2026-01"): (100.0, 2, 2)}


def test_average_outpatient_wait_is_check_in_to_first_call(feed):
    found = values(feed, "outpatient-wait")
    assert {k: (c["value"], c["denominator"]) for k, c in found.items()} == {
        (HOSP_A, "2026-01"): (25.0, 2), (HOSP_B, "2026-01"): (10.0, 1)}


def test_report_turnaround_is_the_median_from_receipt_or_order_to_issue(feed):
    found = values(feed, "report-turnaround")
    assert {k: (c["value"], c["denominator"]) for k, c in found.items()} == {(HOSP_A, "2026-01"): (60.0, 3)}


def test_readmission_within_30_days_counts_against_the_discharging_facility(feed):
    found = values(feed, "readmission-30d")
    assert {k: (c["value"], c["numerator"], c["denominator"]) for k, c in found.items()} == {
        (HOSP_A, "2026-01"): (33.3, 1, 3), (HOSP_A, "2026-02"): (0.0, 0, 2), (HOSP_B, "2026-01"): (100.0, 1, 1)}


def test_critical_value_acknowledgement_time_and_share_within_15_minutes(feed):
    found = values(feed, "critical-ack")
    assert {k: (c["value"], c["denominator"], c["within_deadline_percent"]) for k, c in found.items()} == {
        (HOSP_A, "2026-01"): (20.0, 2, 50.0)}


def test_the_feed_names_facilities_cites_its_definitions_and_holds_no_person(feed):
    assert feed["months"] == ["2026-01", "2026-02"]
    assert {f["id"]: f["name"] for f in feed["facilities"]} == {HOSP_A: "Riverside First Hospital",
                                                                 HOSP_B: "Hexi Clinic"}
    assert all(i["source"] and i["definition"] for i in feed["indicators"])
    text = str(feed)
    assert "sv-p1" not in text and "sv-amb" not in text and "sv-doc" not in text


def test_each_request_is_audited(client, engine, supervised):
    client.get(API, params=PERIOD, headers=user_token("public_health_officer", name="olga"))
    with unit_of_work(engine) as conn:
        entries = audit.search(conn, agent="user/olga", subtype="search")
    assert len(entries) == 1
    assert "supervision quality indicators 2026-01 to 2026-02" in entries[0]["event"]["purposeOfEvent"][0]["text"]


@pytest.mark.parametrize("params", [{"from": "2026-13"}, {"from": "2026-03", "to": "2026-01"}, {"to": "26-01"},
                                    {"from": "2020-01", "to": "2026-01"}, {"code": "x"}])
def test_bad_periods_get_a_400_saying_what_to_change(client, params):
    answer = client.get(API, params=params, headers=user_token("regional_admin"))
    assert answer.status_code == 400 and answer.json()["error"] == "invalid"


@pytest.mark.parametrize(("role", "status"), [("regional_admin", 200), ("public_health_officer", 200),
                                              ("doctor", 403), ("researcher", 403), ("hospital_admin", 403),
                                              ("patient", 403)])
def test_only_the_supervision_roles_get_the_feed(client, role, status):
    assert client.get(API, headers=user_token(role)).status_code == status


def _web(engine, role: str):
    make_user(engine, role)
    web = browser()
    sign_in(web, role.replace("_", ".") + ".test")
    return web


def test_the_page_shows_every_indicator_with_its_figures(engine, supervised):
    with _web(engine, "regional_admin") as web:
        page = web.get(PAGE, params=PERIOD)
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    html = page.text
    assert '<h1 id="sv-title">Health supervision</h1>' in html
    for title in ("Outpatient antibiotic prescribing rate", "Average outpatient wait", "Laboratory report turnaround",
                  "Readmission within 30 days", "Critical-value acknowledgement time"):
        assert title in html
    assert "Riverside First Hospital" in html and ">33.3</span>" in html and ">25.0</span>" in html
    assert "(50.0%)" in html and 'class="chart supervision-chart"' in html


def test_the_page_speaks_chinese(engine, supervised):
    with _web(engine, "public_health_officer") as web:
        page = web.get(PAGE, params={**PERIOD, "lang": "zh-Hans"})
    assert page.status_code == 200
    assert "卫生监督" in page.text and "门诊抗菌药物处方率" in page.text and "30天内再入院率" in page.text


def test_a_bad_period_on_the_page_gets_a_readable_message(engine):
    with _web(engine, "regional_admin") as web:
        page = web.get(PAGE, params={"from": "<script>alert(1)</script>"})
    assert page.status_code == 400 and 'role="alert"' in page.text and "alert(1)" not in page.text


@pytest.mark.parametrize("role", ["doctor", "researcher", "hospital_admin"])
def test_a_doctor_and_other_roles_cannot_reach_the_supervision_page(engine, role):
    with _web(engine, role) as web:
        assert web.get(PAGE).status_code == 403
