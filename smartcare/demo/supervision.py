"""The demo region's health supervision: its hospitals and health centres plus water suppliers, schools and public
venues under supervision, their licences (one expiring within 30 days, one expired), six months of inspections with
findings (most rectified at a follow-up, one overdue), and this quarter's routine inspection plan, partly done.

Everything is written through the supervision services, as the inspector (inspector.demo) would, so each record
is validated and audited like one typed in the console.
"""

import random
from datetime import date, timedelta
from typing import Any

from sqlalchemy.engine import Engine

from smartcare.fhir.http import FhirRequest
from smartcare.fhir.interactions import dispatch
from smartcare.platform.db import unit_of_work
from smartcare.platform.security import users
from smartcare.platform.security.context import SYSTEM, AccessContext
from smartcare.regional.public_health.districts import find as find_district
from smartcare.regional.supervision import inspections, registry
from smartcare.regional.supervision import repository as repo
from smartcare.regional.supervision.access import today
from smartcare.regional.supervision.checklists import checklists
from smartcare.regional.supervision.inspections import InspectionForm
from smartcare.regional.supervision.rules import add_years

INSPECTOR = AccessContext(kind="user", name="inspector.demo", roles=frozenset({"health_inspector"}),
                          subject="inspector.demo")
PROVIDER_TYPE = "http://terminology.hl7.org/CodeSystem/organization-type|prov"
GRADE_SYSTEM = "https://smartcare.example/fhir/CodeSystem/cn-institution-grade"
BED_COUNT = "https://smartcare.example/fhir/StructureDefinition/bed-count"
FAILURE_RATE = 0.12
# (kind, name, district code, address): the places the region's inspectors visit besides its health facilities.
PLACES = [
    ("water_supply", "Riverside City No. 1 Water Works", "339901", "88 Binhe Avenue"),
    ("water_supply", "Hexi Water Works", "339902", "12 Jianshe Road"),
    ("water_supply", "Xincheng Garden secondary water supply", "339903", "Xincheng Garden, Block 3 basement"),
    ("school", "Hedong Experimental Primary School", "339901", "21 Renmin Road"),
    ("school", "Hexi No. 2 Middle School", "339902", "5 Wenhua Road"),
    ("school", "Hubin Kindergarten", "339904", "40 Hubin Road"),
    ("school", "Shanqian Middle School", "339905", "2 Shanqian Street"),
    ("public_venue", "Riverside Grand Hotel", "339901", "1 Zhongshan Road"),
    ("public_venue", "Hexi Swimming Pool", "339902", "9 Guangming Road"),
    ("public_venue", "Lotus Bath House", "339903", "66 Xincheng Road"),
    ("public_venue", "Hubin Hair Salon", "339904", "17 Hubin Road"),
    ("public_venue", "Shanqian Fitness and Pool", "339905", "30 Shanqian Street"),
    ("public_venue", "Hedong Cinema", "339901", "8 Dongfeng Road"),
]
EXPIRING, EXPIRED, OVERDUE = "Lotus Bath House", "Hubin Hair Salon", "Hexi Swimming Pool"


def _search(conn: Any, res_type: str, query: list[tuple[str, str]]) -> list[dict[str, Any]]:
    bundle = dispatch(conn, SYSTEM, FhirRequest(method="GET", path=res_type, query=query)).body or {}
    return [e["resource"] for e in bundle.get("entry", []) if (e.get("resource") or {}).get("resourceType") == res_type]


def _beds(conn: Any, organization_id: str) -> int | None:
    """The beds of a hospital's wards (Locations of its departments carrying the bed-count extension)."""
    departments = [o["id"] for o in _search(conn, "Organization", [("partof", f"Organization/{organization_id}"),
                                                                     ("_count", "200")])]
    total = 0
    for department in departments:
        for ward in _search(conn, "Location", [("organization", f"Organization/{department}"), ("_count", "50")]):
            total += sum(int(x.get("valueInteger") or 0) for x in ward.get("extension", []) if x.get("url") == BED_COUNT)
    return total or None


def health_facilities(engine: Engine) -> list[dict[str, Any]]:
    """The region's hospitals and community health centres from the store: name, kind, district, beds, reference."""
    found = []
    with unit_of_work(engine) as conn:
        for org in _search(conn, "Organization", [("type", PROVIDER_TYPE), ("_count", "100")]):
            grades = [c.get("code") for t in org.get("type", []) for c in t.get("coding", [])
                      if c.get("system") == GRADE_SYSTEM]
            address = (org.get("address") or [{}])[0]
            district = find_district(address.get("district")) or find_district(address.get("city"))
            if district is None:
                continue
            found.append({"kind": "clinic" if "CHC" in grades else "hospital", "name": str(org.get("name"))[:200],
                          "district": district.code, "organization_ref": f"Organization/{org['id']}",
                          "address": ", ".join(address.get("line") or [])[:300], "beds": _beds(conn, org["id"])})
    return found


def _licence_issued(rng: random.Random, facility: dict[str, Any], on: date) -> date:
    years = checklists().licences[checklists().kind(facility["kind"]).licence].years_for(facility["beds"])
    if facility["name"] == EXPIRING:
        return add_years(on + timedelta(days=20), -years)
    if facility["name"] == EXPIRED:
        return add_years(on - timedelta(days=15), -years)
    return on - timedelta(days=rng.randint(30, 365 * years - 120))


def _inspect(engine: Engine, facility: dict[str, Any], day: date, kind: str, failed: set[str],
             decisions: dict[str, str] | None = None) -> dict[str, Any]:
    items = [item.id for item in checklists().kind(facility["kind"]).items]
    form = InspectionForm(inspected_on=day.isoformat(), kind=kind, decisions=decisions or {},
                          results={i: "fail" if i in failed else "pass" for i in items})
    with unit_of_work(engine) as conn:
        return inspections.record_inspection(conn, ctx=INSPECTOR, facility_id=facility["id"], form=form)


def _rows(done: dict[str, Any]) -> int:
    return 1 + len(done["answers"]) + len(done["findings"])


def _history(engine: Engine, rng: random.Random, facilities: list[dict[str, Any]], on: date, before: date) -> int:
    """One routine inspection of each facility in the six months before `before`; failures followed up 2-4 weeks
    later and found rectified, except at OVERDUE, whose critical pool-water finding is still open."""
    written = 0
    for facility in facilities:
        latest = min(before, on) - timedelta(days=1)
        day = latest - timedelta(days=rng.randint(0, 150)) if facility["name"] != OVERDUE else on - timedelta(days=40)
        items = [item.id for item in checklists().kind(facility["kind"]).items]
        failed = {i for i in items if rng.random() < FAILURE_RATE}
        if facility["name"] == OVERDUE:
            failed = {"venue-pool-chlorine"}
        done = _inspect(engine, facility, day, "routine", failed)
        written += _rows(done)
        follow_on = day + timedelta(days=rng.randint(14, 28))
        if done["findings"] and facility["name"] != OVERDUE and follow_on < on:
            decisions = {f["id"]: "rectified" for f in done["findings"]}
            written += _rows(_inspect(engine, facility, follow_on, "follow-up", set(), decisions))
    return written


def _plan(engine: Engine, rng: random.Random, on: date, inspectors: list[str]) -> int:
    """This quarter's routine inspection of public venues and water supplies; the items due so far done."""
    quarter = (on.month - 1) // 3
    starts = date(on.year, quarter * 3 + 1, 1)
    ends = (date(on.year + (quarter == 3), (quarter * 3 + 3) % 12 + 1, 1)) - timedelta(days=1)
    with unit_of_work(engine) as conn:
        plan = inspections.create_plan(conn, ctx=INSPECTOR, name=f"{on.year} Q{quarter + 1} routine inspection of "
                                       "public venues and water supplies", starts=starts.isoformat(),
                                       ends=ends.isoformat(), kinds=["public_venue", "water_supply"],
                                       inspectors=inspectors)
        facilities = {f["id"]: f for f in repo.facilities(conn)}
    written = 1 + len(plan["items"])
    due = sorted(plan["items"], key=lambda i: i["due"])
    done = [i for i in due if i["due"] < on.isoformat()] or due[:2]
    for item in done:
        day = max(starts, min(date.fromisoformat(item["due"]), on - timedelta(days=1)))
        facility = facilities[item["facility_id"]]
        items = [x.id for x in checklists().kind(facility["kind"]).items]
        written += _rows(_inspect(engine, facility, day, "routine", {i for i in items if rng.random() < FAILURE_RATE}))
    return written


def load_supervision(engine: Engine, *, seed: int) -> int:
    """Register the facilities, licences, inspections, findings and this quarter's plan (once); rows written."""
    with unit_of_work(engine) as conn:
        if repo.facilities(conn):
            return 0
        inspectors = [u.username for u in users.list_users(conn, role="health_inspector")] or [
            u.username for u in users.list_users(conn, role="regional_admin")]
    rng = random.Random(seed + 13)
    on = today()
    wanted = health_facilities(engine) + [
        {"kind": kind, "name": name, "district": code, "address": address, "beds": None, "organization_ref": None}
        for kind, name, code, address in PLACES]
    facilities, written = [], 0
    with unit_of_work(engine) as conn:
        for place in wanted:
            facilities.append(registry.register_facility(conn, ctx=INSPECTOR, **{
                **place, "beds": None if place["beds"] is None else str(place["beds"])}))
        for facility in facilities:
            if checklists().kind(facility["kind"]).licence:
                registry.add_licence(conn, ctx=INSPECTOR, facility_id=facility["id"],
                                     number=f"{facility['district']}-{rng.randint(10000, 99999)}",
                                     issued=_licence_issued(rng, facility, on))
                written += 1
    written += len(facilities)
    quarter_start = date(on.year, (on.month - 1) // 3 * 3 + 1, 1)
    written += _history(engine, rng, facilities, on, before=quarter_start if quarter_start < on else on)
    if inspectors:
        written += _plan(engine, rng, on, inspectors[:3])
    return written
