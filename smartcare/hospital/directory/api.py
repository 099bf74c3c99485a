"""The public directory JSON API for the mobile app and partners: organisations, departments and doctor search."""

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query
from starlette.concurrency import run_in_threadpool

from smartcare.hospital.directory import conventions as dc
from smartcare.hospital.directory import schemas, service
from smartcare.hospital.directory.search_index import MAX_QUERY, DoctorQuery, departments_for_symptom

router = APIRouter(prefix="/api/v1", tags=["directory"])

Text = Annotated[str, Query(max_length=MAX_QUERY)]
Key = Annotated[str, Query(max_length=64, pattern=r"^[A-Za-z0-9\-.]*$")]


def money(value: float | None) -> schemas.Money | None:
    """A fee in yuan as Money."""
    return None if value is None else schemas.Money(value=value, currency=dc.CURRENCY)


def hours(available: list[dict[str, Any]]) -> list[schemas.OpeningHours]:
    """FHIR availableTime as opening sessions."""
    return [schemas.OpeningHours(days=a.get("daysOfWeek", []), all_day=bool(a.get("allDay")),
                                 start=(a.get("availableStartTime") or "")[:5] or None,
                                 end=(a.get("availableEndTime") or "")[:5] or None) for a in available]


def fees(values: dict[str, float]) -> list[schemas.VisitFee]:
    """Fees per visit type, in the usual order."""
    return [schemas.VisitFee(visit_type=code, name_en=dc.VISIT_TYPE_LABELS[code][0],
                             name_zh=dc.VISIT_TYPE_LABELS[code][1], price=money(values[code]))
            for code in dc.VISIT_TYPES if code in values]


def doctor(result: service.DoctorResult) -> schemas.Doctor:
    """One search result as the API shows it."""
    d = result.doctor
    title = schemas.Title(code=d.title["code"], name_en=d.title["display"], name_zh=d.title["zh"]) if d.title else None
    return schemas.Doctor(
        id=d.practitioner_id, role_id=d.role_id, name_zh=d.name_zh or None, name_latin=d.name_latin or None,
        title=title, languages=list(d.languages), photo=d.photo, organization_id=d.organization_id,
        organization_en=d.organization_en, organization_zh=d.organization_zh or None, department=d.department,
        department_en=d.department_en, department_zh=d.department_zh or None, room=d.room, room_zh=d.room_zh,
        visit_type=d.visit_type, fee=money(d.fee), next_free_slot=result.next_free)


def _organization(org: dict[str, Any]) -> schemas.Organization:
    grade = next((t for t in org.get("type", []) if any(c.get("code") not in ("prov",) for c in t.get("coding", []))),
                 {})
    address = (org.get("address") or [{}])[0]
    return schemas.Organization(
        id=org["id"], name_en=org.get("name", ""), name_zh=(org.get("alias") or [None])[0],
        grade=(grade.get("coding") or [{}])[0].get("display"), grade_zh=grade.get("text"),
        phone=next((t.get("value") for t in org.get("telecom", []) if t.get("system") == "phone"), None),
        address=address.get("text"))


def department(row: dict[str, Any]) -> schemas.Department:
    """A department row of service.departments as the API shows it."""
    svc, hospital = row["service"], row["hospital"] or {}
    key, name_en, name_zh = service.department_key(svc)
    return schemas.Department(
        id=svc["id"], key=key, name_en=name_en, name_zh=name_zh or None, organization_id=hospital.get("id"),
        organization_en=hospital.get("name"), organization_zh=(hospital.get("alias") or [None])[0],
        specialty=[c["code"] for s in svc.get("specialty", []) for c in s.get("coding", []) if c.get("code")],
        opening_hours=hours(svc.get("availableTime", [])), fees=fees(dc.fees_of(svc)))


@router.get("/organizations", response_model=schemas.OrganizationList, summary="Hospitals and health centres")
async def list_organizations() -> schemas.OrganizationList:
    """The region's hospitals and community health centres (public directory data, no sign-in needed)."""
    found = await run_in_threadpool(service.organizations)
    return schemas.OrganizationList(organizations=[_organization(o) for o in found])


@router.get("/departments", response_model=schemas.DepartmentList, summary="Departments with hours and fees")
async def list_departments(organization: Key = "") -> schemas.DepartmentList:
    """Departments with opening hours and the fee of each visit type; `organization` limits them to one hospital."""
    rows = await run_in_threadpool(lambda: service.departments(organization=organization or None))
    return schemas.DepartmentList(departments=[department(r) for r in rows])


@router.get("/doctors", response_model=schemas.DoctorSearch, summary="Find a doctor")
async def search_doctors(q: Text = "", department: Key = "", specialty: Key = "", symptom: Text = "",
                         organization: Key = "", on: Annotated[date | None, Query(alias="date")] = None,
                         limit: Annotated[int, Query(ge=1, le=service.MAX_RESULTS)] = 20) -> schemas.DoctorSearch:
    """Doctors by name (汉字, full pinyin such as zhangwei, initials such as zw, or a Latin name), department or
    symptom in `q`, or by `department` key, `specialty` (SNOMED code), `symptom`, `organization` id; with `date`
    (YYYY-MM-DD) only doctors with a free slot that day. Each result has the next free slot and the fee.
    """
    query = DoctorQuery(text=q, department=department, specialty=specialty, symptom=symptom,
                        organization=organization)
    results = await run_in_threadpool(lambda: service.find_doctors(query=query, on=on, limit=limit))
    red_flag = any(departments_for_symptom(text)[1] for text in (q, symptom) if text)
    return schemas.DoctorSearch(count=len(results), red_flag=red_flag, doctors=[doctor(r) for r in results])
