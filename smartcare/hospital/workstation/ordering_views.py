"""The orders page (tests, imaging, procedures, referrals, follow-up) and the departments' worklists."""

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from smartcare.fhir import gateway
from smartcare.fhir.errors import FhirError
from smartcare.hospital.workstation import ordering
from smartcare.knowledge.orders import catalogue
from smartcare.platform.db import unit_of_work
from smartcare.platform.i18n import current_locale
from smartcare.platform.web import fhir_text, guard
from smartcare.platform.web.pages import render

router = APIRouter(include_in_schema=False)
_ID = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.")
KINDS = ("lab", "panel", "imaging", "procedure", "referral")
# Departments a follow-up is booked with (the directory's department keys), with their names.
FOLLOW_UP_DEPARTMENTS = {
    "general-practice": ("General Practice", "全科医学科"), "internal-medicine": ("Internal Medicine", "内科"),
    "cardiology": ("Cardiology", "心血管内科"), "endocrinology": ("Endocrinology", "内分泌科"),
    "respiratory": ("Respiratory Medicine", "呼吸内科"), "nephrology": ("Nephrology", "肾内科"),
    "neurology": ("Neurology", "神经内科"), "gastroenterology": ("Gastroenterology", "消化内科"),
    "general-surgery": ("General Surgery", "普通外科"), "orthopaedics": ("Orthopaedics", "骨科"),
    "paediatrics": ("Paediatrics", "儿科"), "obstetrics-gynaecology": ("Obstetrics and Gynaecology", "妇产科"),
}
WORKLISTS = {"laboratory": frozenset({"lab_technician", "doctor", "nurse"}),
             "radiology": frozenset({"radiologist", "doctor", "nurse"})}


def _plain_id(value: str) -> str | None:
    return value if value and len(value) <= 64 and set(value) <= _ID else None


def _visitor(request: Request) -> guard.Visitor:
    with unit_of_work() as conn:
        return guard.visitor(conn, request, "workstation")


def _not_found(request: Request) -> HTMLResponse:
    return render(request, "404.html", status_code=404, requested_path=request.url.path[:200])


def _row(order: catalogue.Order, zh: bool) -> dict[str, Any]:
    extra = ""
    if order.kind == "imaging":
        extra = f"{order.modality} · {order.body_part.name_zh if zh else order.body_part.name_en}"
    elif order.kind in ("lab", "panel"):
        extra = order.specimen.name_zh if zh else order.specimen.name_en
    return {"key": order.key, "kind": order.kind, "code": order.code or "", "name": order.name_zh if zh else order.name_en,
            "extra": extra}


def _page(request: Request, v: guard.Visitor, patient: dict[str, Any], *, status_code: int = 200, error: str = "",
          placed: list[str] | None = None, query: str = "", kind: str = "", encounter: str = "") -> HTMLResponse:
    zh = current_locale(request) == "zh-Hans"
    results = [_row(o, zh) for o in catalogue.search_orders(query, kind=kind or None, limit=25)] if query else []
    sets = [{"key": found.key, "name": found.name_zh if zh else found.name_en, "code": code,
             "orders": [o.name_zh if zh else o.name_en for o in found.orders],
             "medicines": len(found.medications), "source": found.source,
             "follow_up": (found.follow_up.note_zh if zh else found.follow_up.note_en) if found.follow_up else ""}
            for found, code in ordering.order_sets_for_patient(v.ctx, patient["id"])]
    response = render(request, "workstation/orders.html", status_code=status_code, user=v.user, error=error,
                      sets=sets,
                      patient={"id": patient["id"], "name": fhir_text.person_name(patient)}, placed=placed or [],
                      query=query, kind=kind, kinds=KINDS, results=results, encounter=encounter,
                      departments=[(k, v[1] if zh else v[0]) for k, v in FOLLOW_UP_DEPARTMENTS.items()], priorities=ordering.PRIORITIES)
    response.headers.update(guard.NO_STORE)
    return response


def _patient(v: guard.Visitor, patient_id: str) -> dict[str, Any] | None:
    pid = _plain_id(patient_id)
    try:
        return gateway.read(v.ctx, f"Patient/{pid}") if pid else None
    except FhirError:
        return None


def _get(request: Request, patient_id: str) -> HTMLResponse:
    v = _visitor(request)
    patient = _patient(v, patient_id)
    if patient is None:
        return _not_found(request)
    kind = request.query_params.get("kind", "")
    return _page(request, v, patient, query=request.query_params.get("q", "").strip()[:100],
                 kind=kind if kind in KINDS else "", encounter=_plain_id(request.query_params.get("encounter", "")) or "")


@router.get("/workstation/patients/{patient_id}/orders", response_class=HTMLResponse)
async def orders_page(request: Request, patient_id: str) -> HTMLResponse:
    """Search the order catalogue (tests, imaging, procedures, referrals) for a patient and choose orders."""
    return await run_in_threadpool(_get, request, patient_id)


def _ordering_doctor(request: Request, patient_id: str, fields: dict[str, str]) -> tuple[guard.Visitor, dict | None]:
    """The signed-in doctor posting orders (CSRF-checked) and the patient, None when out of reach or unknown."""
    v = _visitor(request)
    guard.check_csrf(request, v, fields.get("csrf_token"))
    if "doctor" not in v.ctx.roles:
        raise guard.SurfaceForbidden("Only doctors place orders", ctx=v.ctx, surface="orders")
    return v, _patient(v, patient_id)


def _post(request: Request, patient_id: str, fields: dict[str, str], chosen: list[str]) -> HTMLResponse:
    v, patient = _ordering_doctor(request, patient_id, fields)
    if patient is None:
        return _not_found(request)
    encounter = _plain_id(fields.get("encounter", ""))
    reason = fields.get("reason", "").strip().upper()[:10] or None
    orders = [ordering.OrderRequest(key=key[:80], priority=fields.get("priority", "routine")[:10], reason=reason,
                                    note=fields.get("note", "").strip()[:ordering.MAX_NOTE + 1]) for key in chosen[:50]]
    follow_up = None
    days = fields.get("follow_up_days", "").strip()
    if days:
        if not days.isdigit() or len(days) > 3:
            return _page(request, v, patient, status_code=400, error="a follow-up is 1 to 730 days away",
                         encounter=encounter or "")
        follow_up = ordering.FollowUp(in_days=int(days), department=fields.get("follow_up_department", "")[:40],
                                      note=fields.get("follow_up_note", "").strip()[:ordering.MAX_NOTE + 1])
    try:
        placed = ordering.place(ctx=v.ctx, patient_id=patient["id"], orders=orders, follow_up=follow_up,
                                encounter_id=encounter)
    except ordering.OrderRefused as exc:
        return _page(request, v, patient, status_code=exc.status, error=exc.message, encounter=encounter or "")
    except FhirError as exc:
        return _page(request, v, patient, status_code=exc.status, error=exc.message, encounter=encounter or "")
    return _page(request, v, patient, placed=placed, encounter=encounter or "")


@router.post("/workstation/patients/{patient_id}/orders", response_class=HTMLResponse)
async def place_orders(request: Request, patient_id: str) -> HTMLResponse:
    """Place the chosen orders (and a follow-up visit) for the patient; CSRF-checked."""
    form = await request.form()
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    chosen = [v for v in form.getlist("order") if isinstance(v, str)]
    return await run_in_threadpool(_post, request, patient_id, fields, chosen)


def _place_set(request: Request, patient_id: str, key: str, fields: dict[str, str]) -> HTMLResponse:
    v, patient = _ordering_doctor(request, patient_id, fields)
    if patient is None:
        return _not_found(request)
    encounter = _plain_id(fields.get("encounter", ""))
    department = fields.get("follow_up_department", "")[:40]
    try:
        placed = ordering.place_order_set(
            ctx=v.ctx, patient_id=patient["id"], key=key, reason=fields.get("reason", "").strip().upper()[:10] or None,
            follow_up_department=department if department in FOLLOW_UP_DEPARTMENTS else None, encounter_id=encounter)
    except (ordering.OrderRefused, FhirError) as exc:
        return _page(request, v, patient, status_code=exc.status, error=exc.message, encounter=encounter or "")
    return _page(request, v, patient, placed=placed, encounter=encounter or "")


@router.post("/workstation/patients/{patient_id}/order-sets/{key}", response_class=HTMLResponse)
async def place_order_set(request: Request, patient_id: str, key: str) -> HTMLResponse:
    """Place every order of an order set that fits the patient's diagnoses (and its follow-up); CSRF-checked."""
    fields = await guard.form_fields(request)
    return await run_in_threadpool(_place_set, request, patient_id, key[:60], fields)


def _worklist(request: Request, department: str) -> HTMLResponse:
    v = _visitor(request)
    if department not in WORKLISTS:
        return _not_found(request)
    if not v.ctx.roles & WORKLISTS[department]:
        raise guard.SurfaceForbidden("This worklist is for another department", ctx=v.ctx, surface="worklist")
    rows = []
    for r in ordering.worklist(v.ctx, department=department):
        rows.append({"id": r["id"], "what": fhir_text.concept_text(r.get("code")), "priority": r.get("priority", ""),
                     "patient": (r.get("subject") or {}).get("reference", ""),
                     "when": str(r.get("authoredOn", ""))[:16].replace("T", " "),
                     "requester": (r.get("requester") or {}).get("reference", "")})
    response = render(request, "workstation/worklist.html", user=v.user, department=department, rows=rows)
    response.headers.update(guard.NO_STORE)
    return response


@router.get("/workstation/worklist/{department}", response_class=HTMLResponse)
async def department_worklist(request: Request, department: str) -> HTMLResponse:
    """The orders waiting for the laboratory or radiology of the user's hospital, urgent first."""
    return await run_in_threadpool(_worklist, request, department[:40])
