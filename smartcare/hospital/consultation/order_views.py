"""The doctor's "Order tests" page of a follow-up consultation: search or pick lab tests, panels and scans from the
order catalogue, then place them through orders.py (the internet-hospital rules, then the workstation's order
entry); the patient is told in the chat which tests and where to go."""

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from smartcare.hospital.consultation import orders, service
from smartcare.hospital.consultation.page_parts import clean_id, names, not_found, page, refusal
from smartcare.hospital.consultation.workstation_views import _doctor
from smartcare.knowledge.orders import catalogue
from smartcare.platform import i18n
from smartcare.platform.db import unit_of_work
from smartcare.platform.web import guard

router = APIRouter(include_in_schema=False)
MAX_QUERY = 100
MAX_RESULTS = 25


def _row(order: catalogue.Order, zh: bool) -> dict[str, Any]:
    if order.kind == "imaging":
        extra = f"{order.modality} · {order.body_part.name_zh if zh else order.body_part.name_en}"
    else:
        extra = order.specimen.name_zh if zh else order.specimen.name_en
    return {"key": order.key, "kind": order.kind, "code": order.code or "", "extra": extra,
            "name": order.name_zh if zh else order.name_en}


def _choices(query: str, kind: str, zh: bool) -> list[dict[str, Any]]:
    """What the doctor may tick: the catalogue's matches for the query, or else the common lab panels."""
    if not query:
        return [_row(o, zh) for o in catalogue.lab_panels()]
    kinds = (kind,) if kind else orders.ORDERABLE_KINDS
    found = [o for k in kinds for o in catalogue.search_orders(query, kind=k, limit=MAX_RESULTS)]
    return [_row(o, zh) for o in found[:MAX_RESULTS]]


def _orders_page(request: Request, v: guard.Visitor, consultation_id: str, *, status_code: int = 200,
                 error: dict | None = None, placed: orders.Placed | None = None,
                 fields: dict[str, Any] | None = None) -> Response:
    fields = fields or {}
    try:
        with unit_of_work() as conn:
            c = service.consultation_view(conn, v.ctx, consultation_id=consultation_id)
            who = names(conn, {f"Patient/{c['patient']}"})[f"Patient/{c['patient']}"]
    except service.ConsultationError:
        return not_found(request)
    can_order = True
    reason = fields.get("reason")
    try:
        suggested = orders.suggested_reason(ctx=v.ctx, consultation_id=consultation_id)
    except service.ConsultationError as exc:
        can_order, suggested = False, None
        if error is None:
            status_code, error = exc.status, refusal(request, exc)
    query = str(fields.get("q", "")).strip()[:MAX_QUERY]
    kind = fields.get("kind") if fields.get("kind") in orders.ORDERABLE_KINDS else ""
    zh = i18n.current_locale(request) == "zh-Hans"
    return page(request, "consultation/orders.html", status_code=status_code, error=error, c=c, who=who,
                placed=placed, can_order=can_order, query=query, kind=kind, kinds=orders.ORDERABLE_KINDS,
                choices=_choices(query, kind, zh) if can_order else [], chosen=set(fields.get("order", [])),
                priorities=orders.ordering.PRIORITIES, priority=fields.get("priority", "routine"),
                reason=suggested if reason is None else reason, note=fields.get("note", ""))


@router.get("/workstation/consultations/{consultation_id}/orders", response_class=HTMLResponse)
async def orders_page(request: Request, consultation_id: str) -> Response:
    """The order form of a follow-up consultation: search the catalogue (or pick a common panel) and order."""
    fields = {"q": request.query_params.get("q", ""), "kind": request.query_params.get("kind", "")}
    return await run_in_threadpool(lambda: _orders_page(request, _doctor(request), clean_id(consultation_id),
                                                        fields=fields))


def _place(request: Request, consultation_id: str, fields: dict[str, Any]) -> Response:
    v = _doctor(request)
    guard.check_csrf(request, v, fields.get("csrf_token"))
    try:
        placed = orders.order_tests(ctx=v.ctx, consultation_id=consultation_id, keys=fields["order"],
                                    priority=fields["priority"], reason=fields["reason"], note=fields["note"])
    except service.ConsultationError as exc:
        if exc.status == 404:
            return not_found(request)
        error = refusal(request, exc)
        if exc.code == "orders-refused":
            error["detail"] = str(exc)
        return _orders_page(request, v, consultation_id, status_code=exc.status, error=error, fields=fields)
    return _orders_page(request, v, consultation_id, status_code=201, placed=placed)


@router.post("/workstation/consultations/{consultation_id}/orders", response_class=HTMLResponse)
async def place_orders(request: Request, consultation_id: str) -> Response:
    """Place the ticked tests and scans for the consultation's patient (CSRF-checked) and tell the patient."""
    form = await request.form()
    text = {k: v for k, v in form.items() if isinstance(v, str)}
    fields: dict[str, Any] = {
        "csrf_token": text.get("csrf_token"), "q": text.get("q", ""), "kind": text.get("kind", ""),
        "order": [k[:orders.MAX_KEY] for k in form.getlist("order") if isinstance(k, str)][:orders.MAX_ORDERS + 1],
        "priority": text.get("priority", "routine")[:10], "reason": text.get("reason", "").strip()[:16],
        "note": text.get("note", "")[:orders.MAX_NOTE + 1],
    }
    return await run_in_threadpool(_place, request, clean_id(consultation_id), fields)
