"""The public-health API: aggregates for officers, regional administrators and researchers; case reports for officers only."""

import pytest

from smartcare.platform import audit
from smartcare.platform.db import unit_of_work
from tests.regional.conftest import HEDONG, HEXI, IDENTIFYING, case_report, user_token

AGGREGATES = "/api/public-health/aggregates"
CASE_REPORTS = "/api/public-health/case-reports"
JANUARY = {"from": "2026-01-05", "to": "2026-01-18"}
ROLES = ["public_health_officer", "regional_admin", "researcher", "hospital_admin", "doctor", "patient"]


@pytest.mark.parametrize("role", ROLES)
def test_aggregates_go_to_officers_regional_administrators_and_researchers(region, client, role):
    answer = client.get(AGGREGATES, params=JANUARY, headers=user_token(role))
    if role in ("public_health_officer", "regional_admin", "researcher"):
        assert answer.status_code == 200
        assert answer.headers["cache-control"] == "no-store"
        assert answer.json()["total"] == 21
    else:
        assert answer.status_code == 403 and answer.json()["error"] == "forbidden"
    assert [secret for secret in IDENTIFYING if secret in answer.text] == []


@pytest.mark.parametrize("role", ROLES)
def test_case_reports_go_to_public_health_officers_only(region, client, role):
    answer = client.get(CASE_REPORTS, headers=user_token(role))
    if role == "public_health_officer":
        assert answer.status_code == 200
    else:
        assert answer.status_code == 403
        assert [secret for secret in IDENTIFYING if secret in answer.text] == []


def test_strangers_and_backend_clients_are_refused(region, client, anonymous):
    assert anonymous.get(AGGREGATES).status_code == 401
    assert anonymous.get(CASE_REPORTS).status_code == 401
    assert client.get(CASE_REPORTS).status_code == 403  # the system client is no public-health officer


def test_aggregates_hide_small_cells_and_what_would_give_them_away(region, client):
    body = client.get(AGGREGATES, params=JANUARY, headers=user_token("regional_admin")).json()
    cells = {(c["week"], c["district"]): c["count"] for c in body["cells"]}
    assert cells == {("2026-01-05", HEDONG): "suppressed", ("2026-01-05", HEXI): "<5",
                     ("2026-01-12", HEDONG): "suppressed", ("2026-01-12", HEXI): "suppressed"}
    assert [w["count"] for w in body["weeks"]] == [9, 12]
    assert {d["district"]: d["count"] for d in body["districts"]} == {HEDONG: 13, HEXI: 8}
    assert {c["code"]: c["count"] for c in body["codes"]} == {"J10.1": 16, "A09": 5}
    assert (body["from"], body["to"], body["threshold"], body["shown_as"]) == ("2026-01-05", "2026-01-18", 5, "<5")


def test_a_code_narrows_the_counts(region, client):
    body = client.get(AGGREGATES, params={**JANUARY, "code": "A09"}, headers=user_token("public_health_officer")).json()
    assert body["code"] == "A09" and body["total"] == 5
    cells = {(c["week"], c["district"]): c["count"] for c in body["cells"]}
    assert cells == {("2026-01-05", HEXI): 0, ("2026-01-12", HEXI): 5}


@pytest.mark.parametrize("params", [{"code": "J10'--"}, {"from": "yesterday"}, {"district": "Hexi"},
                                    {"from": "2020-01-01", "to": "2026-01-01"}, {"code": "J" * 300}])
def test_bad_aggregate_requests_get_400_with_a_message(region, client, params):
    answer = client.get(AGGREGATES, params=params, headers=user_token("public_health_officer"))
    assert answer.status_code == 400 and answer.json()["message"]


def test_case_reports_name_the_case_the_condition_and_the_reporting_organisation(region, client):
    body = client.get(CASE_REPORTS, headers=user_token("public_health_officer")).json()
    reports = body["case_reports"]
    assert [r["id"] for r in reports] == ["ph-report-2", "ph-report-1"], "newest first; other documents left out"
    first = reports[1]
    assert first["patient"] == "Patient/ph-pat-1" and first["name"] == "张1"
    assert first["identifier"] == "330199000000000001" and first["district"] == HEDONG
    assert (first["condition_code"], first["condition_display"]) == ("J10.1", "Influenza")
    assert first["organization_name"] == "Riverside First Hospital"
    assert reports[0]["condition_code"] == "A09" and reports[0]["district"] == HEXI


@pytest.mark.parametrize("query", ["limit=0", "limit=201", "limit=abc", "limit=²", "_include=Composition:subject",
                                   "limit=1&patient=ph-pat-1"])
def test_bad_case_report_requests_get_400(region, client, query):
    assert client.get(f"{CASE_REPORTS}?{query}", headers=user_token("public_health_officer")).status_code == 400


def test_listing_case_reports_is_audited_in_each_persons_record(region, client, engine):
    client.get(CASE_REPORTS, params={"limit": "5"}, headers=user_token("public_health_officer", name="olivia"))
    with unit_of_work(engine) as conn:
        listed = audit.search(conn, agent="user/olivia", subtype="search")
        seen_by_patient = audit.events_for_patient(conn, "Patient/ph-pat-1")
    assert {entry["patient"] for entry in listed} == {"Patient/ph-pat-1", "Patient/ph-pat-20"}
    assert all(e["event"]["purposeOfEvent"][0]["coding"][0]["code"] == "PUBHLTH" for e in listed)
    officers = [e for e in seen_by_patient if e["agent"] == "user/olivia"]
    assert len(officers) == 1 and officers[0]["event"]["purposeOfEvent"][0]["coding"][0]["code"] == "PUBHLTH"


def test_aggregates_are_audited_once_with_the_purpose_of_the_caller(region, client, engine):
    client.get(AGGREGATES, params=JANUARY, headers=user_token("researcher", name="rita"))
    client.get(AGGREGATES, params=JANUARY, headers=user_token("public_health_officer", name="olivia"))
    with unit_of_work(engine) as conn:
        rita = audit.search(conn, agent="user/rita", subtype="search")
        olivia = audit.search(conn, agent="user/olivia", subtype="search")
    assert len(rita) == 1 and len(olivia) == 1
    assert rita[0]["event"]["purposeOfEvent"][0]["coding"][0]["code"] == "HRESCH"
    assert olivia[0]["event"]["purposeOfEvent"][0]["coding"][0]["code"] == "PUBHLTH"
    assert "21 conditions counted" in olivia[0]["event"]["purposeOfEvent"][0]["text"]
    assert rita[0]["patient"] is None, "aggregates name nobody"


def test_a_refused_listing_is_audited(region, client, engine):
    assert client.get(CASE_REPORTS, headers=user_token("regional_admin", name="reggie")).status_code == 403
    with unit_of_work(engine) as conn:
        refused = audit.search(conn, agent="user/reggie", subtype="access-refused")
    assert len(refused) == 1 and "case-reports" in refused[0]["event"]["outcomeDesc"]


def test_drafts_and_withdrawn_reports_are_not_listed_as_reported_cases(region, client):
    for rid, status in (("ph-draft", "preliminary"), ("ph-withdrawn", "entered-in-error")):
        report = case_report(rid, "ph-pat-1", "ph-cond-1", "2026-01-25T08:00:00+08:00")
        report["status"] = status
        assert client.put(f"/fhir/Composition/{rid}", json=report).status_code in (200, 201)
    body = client.get(CASE_REPORTS, headers=user_token("public_health_officer")).json()
    assert [r["id"] for r in body["case_reports"]] == ["ph-report-2", "ph-report-1"]
