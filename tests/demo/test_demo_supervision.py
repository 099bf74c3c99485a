"""The demo's health supervision on a small region: its hospitals and health centres registered with their beds,
licences with one expiring soon and one expired, six months of inspections with one finding overdue, and this
quarter's plan partly done."""

from datetime import UTC, datetime

from smartcare.demo.supervision import EXPIRED, EXPIRING, OVERDUE, PLACES, load_supervision
from smartcare.fhir import bundles
from smartcare.platform.db import unit_of_work
from smartcare.platform.security.context import SYSTEM
from smartcare.regional.supervision import dashboard, inspections, registry
from tests.regional.supervision.conftest import OFFICER
from tests.web_support import make_user

GRADES = "https://smartcare.example/fhir/CodeSystem/cn-institution-grade"
PROV = {"system": "http://terminology.hl7.org/CodeSystem/organization-type", "code": "prov"}


def _organization(oid: str, name: str, grade: str, district: str) -> dict:
    return {"resourceType": "Organization", "id": oid, "name": name, "active": True,
            "type": [{"coding": [PROV]}, {"coding": [{"system": GRADES, "code": grade}]}],
            "address": [{"use": "work", "line": ["1 Test Road"], "city": "Riverside City", "district": district}]}


def _small_region(engine) -> None:
    resources = [
        _organization("org-hosp-1", "Riverside City First People's Hospital", "3A", "Hedong District"),
        _organization("org-chc-2", "Heping Street Community Health Service Centre", "CHC", "Hexi District"),
        {"resourceType": "Organization", "id": "org-hosp-1-im", "name": "Internal medicine",
         "partOf": {"reference": "Organization/org-hosp-1"}},
        {"resourceType": "Location", "id": "ward-im", "name": "Ward 5",
         "managingOrganization": {"reference": "Organization/org-hosp-1-im"},
         "extension": [{"url": "https://smartcare.example/fhir/StructureDefinition/bed-count", "valueInteger": 120}]},
    ]
    entries = [{"resource": r, "request": {"method": "PUT", "url": f"{r['resourceType']}/{r['id']}"}}
               for r in resources]
    with unit_of_work(engine) as conn:
        bundles.transaction(conn, SYSTEM, entries, "")


def test_the_demo_registers_inspects_and_plans_and_loads_once(engine, now):
    now[0] = datetime(2026, 11, 28, 2, tzinfo=UTC)  # in the year's fourth quarter
    _small_region(engine)
    make_user(engine, "health_inspector", username="inspector.demo")
    written = load_supervision(engine, seed=7)
    assert written > 100
    with unit_of_work(engine) as conn:
        listed = {f["name"]: f for f in registry.list_facilities(conn, ctx=OFFICER)}
        figures = dashboard.summary(conn, ctx=OFFICER)
        overdue = inspections.list_findings(conn, ctx=OFFICER, state="overdue")
        rectified = inspections.list_findings(conn, ctx=OFFICER, state="rectified")
        plans = inspections.list_plans(conn, ctx=OFFICER)
    assert len(listed) == len(PLACES) + 2
    hospital = listed["Riverside City First People's Hospital"]
    assert (hospital["kind"], hospital["beds"], hospital["organization_ref"]) == ("hospital", 120, "Organization/org-hosp-1")
    assert hospital["licence"]["status"] in ("valid", "expiring")
    assert listed["Heping Street Community Health Service Centre"]["kind"] == "clinic"
    assert listed[EXPIRING]["licence_state"] == "expiring" and listed[EXPIRING]["licence"]["expires"] == "2026-12-18"
    assert listed[EXPIRED]["licence_state"] == "expired"
    assert [f["facility_name"] for f in overdue if f["item_id"] == "venue-pool-chlorine"] == [OVERDUE]
    assert rectified, "findings rectified at a follow-up"
    assert [p["name"] for p in plans] == ["2026 Q4 routine inspection of public venues and water supplies"]
    assert 0 < plans[0]["progress"]["done"] < plans[0]["progress"]["planned"] == 9
    assert figures["facility_total"] == len(PLACES) + 2 and sum(figures["chart"]["inspections"][-7:]) > 15
    assert load_supervision(engine, seed=7) == 0
