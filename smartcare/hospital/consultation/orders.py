"""Tests ordered in an online consultation: the internet-hospital rules first (a follow-up visit under way), then the
workstation's order entry (ordering.place: ServiceRequests with the consultation's Encounter, routed to the
hospital's laboratory or radiology worklist, written in one transaction as the doctor); the patient is told in the
chat by a message that lists each test and where to go, and refers to the ServiceRequests.

The chat stores one text for both sides, who may read different languages, so each line names the test and the
department in English and Chinese, as the hospital's own signs do.
"""

from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Connection

from smartcare.fhir import store
from smartcare.fhir.errors import FhirError
from smartcare.hospital.consultation import rules
from smartcare.hospital.consultation.service import (
    MAX_TEXT,
    ConsultationError,
    _content,
    _side,
    _thread,
    _view,
    store_message,
)
from smartcare.hospital.directory import conventions as directory_conventions
from smartcare.hospital.directory import service as directory
from smartcare.hospital.workstation import ordering
from smartcare.knowledge.diseases import icd10
from smartcare.knowledge.orders import catalogue
from smartcare.platform.db import unit_of_work
from smartcare.platform.security.context import AccessContext

# What may be ordered online: tests and scans the patient goes to have done (no procedures or referrals).
ORDERABLE_KINDS = ("lab", "panel", "imaging")
MAX_ORDERS = ordering.MAX_ORDERS
MAX_NOTE = ordering.MAX_NOTE
MAX_KEY = 80


@dataclass(frozen=True)
class Placed:
    """Orders placed from a consultation: the ServiceRequests and the lines the chat showed the patient."""

    references: list[str]
    lines: list[str]


def orderable(key: str) -> catalogue.Order | None:
    """The catalogue test or scan with this key or code, or None (unknown, or not orderable online)."""
    found = catalogue.find_order(key[:MAX_KEY]) if isinstance(key, str) else None
    return found if found is not None and found.kind in ORDERABLE_KINDS else None


def checked_orders(*, keys: list[str], priority: str, reason: str | None, note: str) -> list[ordering.OrderRequest]:
    """The doctor's choice as order requests, or ConsultationError naming what is wrong (nothing is written)."""
    chosen = list(dict.fromkeys(k.strip() for k in keys if k and k.strip()))
    if not chosen:
        raise ConsultationError("Choose at least one test", code="orders-none", status=400)
    if len(chosen) > MAX_ORDERS:
        raise ConsultationError(f"At most {MAX_ORDERS} tests at once", code="orders-too-many", status=400)
    found: dict[str, catalogue.Order] = {}
    for key in chosen:
        order = orderable(key)
        if order is None:
            raise ConsultationError(f"{key[:40]!r} is not a test or scan in the order catalogue",
                                    code="orders-unknown", status=400)
        found[order.key] = order
    if priority not in ordering.PRIORITIES:
        raise ConsultationError("The priority is routine, urgent or stat", code="orders-bad-priority", status=400)
    if reason and icd10.find(reason) is None:
        raise ConsultationError(f"{reason[:16]!r} is not an ICD-10 code", code="orders-bad-reason", status=400)
    if len(note) > MAX_NOTE or any(ord(ch) < 32 and ch not in "\r\n\t" for ch in note):
        raise ConsultationError(f"A note has at most {MAX_NOTE} characters", code="orders-bad-note", status=400)
    return [ordering.OrderRequest(key=key, priority=priority, reason=reason or None, note=note.strip())
            for key in found]


def follow_up_reason(conn: Connection, ctx: AccessContext, condition_id: str | None) -> str | None:
    """The ICD-10 code of the condition a follow-up rests on (read through the policy), or None."""
    if not condition_id:
        return None
    try:
        condition = store.read(conn, ctx, res_type="Condition", res_id=condition_id).resource
    except FhirError:
        return None
    return next((c["code"] for c in (condition.get("code") or {}).get("coding", [])
                 if c.get("system") == ordering.ICD10 and c.get("code") and icd10.find(c["code"])), None)


def _open_follow_up(conn: Connection, ctx: AccessContext, consultation_id: str) -> tuple[Any, str | None]:
    """The consultation, if the caller is its doctor and it is a follow-up under way; and its condition's code."""
    thread = _thread(conn, consultation_id)
    if _side(conn, ctx, thread, "update") != "doctor":
        raise ConsultationError("Only the consultation's doctor orders tests", code="forbidden", status=403)
    if thread.status in ("closed", "refunded"):
        raise ConsultationError("The consultation is closed", code="closed")
    if thread.status != "in_progress":
        raise ConsultationError("Order tests while the consultation is under way", code="orders-not-in-progress")
    try:
        rules.check_online_orders(thread.kind)
    except rules.RuleRefused as exc:
        raise ConsultationError(str(exc), code=exc.code, status=422) from exc
    return thread, follow_up_reason(conn, ctx, _view(conn, thread)["condition"])


def suggested_reason(*, ctx: AccessContext, consultation_id: str) -> str | None:
    """The reason the order form starts with: the ICD-10 code of the condition the follow-up is about."""
    with unit_of_work() as conn:
        return _open_follow_up(conn, ctx, consultation_id)[1]


def order_tests(*, ctx: AccessContext, consultation_id: str, keys: list[str], priority: str = "routine",
                reason: str | None = None, note: str = "") -> Placed:
    """The consultation's doctor orders tests and scans for the patient; the patient is told where to go.

    Refused, with nothing written, outside a follow-up under way or for anything the catalogue does not hold.
    Without a reason the orders give the follow-up's diagnosis.
    """
    with unit_of_work() as conn:
        thread, condition_code = _open_follow_up(conn, ctx, consultation_id)
    wanted = checked_orders(keys=keys, priority=priority, reason=(reason or "").strip().upper() or condition_code,
                            note=note)
    try:
        placed = ordering.place(ctx=ctx, patient_id=thread.patient_id, orders=wanted, encounter_id=thread.encounter_id)
    except ordering.OrderRefused as exc:
        raise ConsultationError(exc.message, code="orders-refused", status=exc.status) from exc
    except FhirError as exc:
        raise ConsultationError(exc.message, code="orders-refused", status=exc.status) from exc
    with unit_of_work() as conn:
        lines = [order_line(conn, ctx, ref, orderable(w.key)) for ref, w in zip(placed, wanted, strict=False)]
        store_message(conn, ctx, thread=_thread(conn, consultation_id), side="doctor",
                      client_id=f"orders-{placed[0].removeprefix('ServiceRequest/')}"[:64],
                      text="\n".join(lines)[:MAX_TEXT], category="orders", references=placed)
    return Placed(references=placed, lines=lines)


def _both(english: str, chinese: str) -> str:
    return f"{english} ({chinese})" if chinese and chinese != english else english


def order_line(conn: Connection, ctx: AccessContext, reference: str, order: catalogue.Order | None) -> str:
    """One ordered test as the chat shows it: "CBC panel (血常规) · Laboratory (检验科) · Main Building (门诊楼)"."""
    if order is None:
        return reference
    parts = [_both(order.name_en, order.name_zh)]
    if order.kind in ("lab", "panel") and order.fasting:
        parts.append(_both("fasting", "空腹"))
    parts += where_to_go(conn, ctx, reference)
    return " · ".join(parts)


def where_to_go(conn: Connection, ctx: AccessContext, reference: str) -> list[str]:
    """The performing department of a placed order and its place, from the public directory, when it has them."""
    try:
        request = store.read(conn, ctx, res_type="ServiceRequest", res_id=reference.removeprefix("ServiceRequest/"))
    except FhirError:
        return []
    performer = ((request.resource.get("performer") or [{}])[0].get("reference") or "")
    if not performer.startswith("HealthcareService/"):
        return []
    service = _content(conn, "HealthcareService", performer.removeprefix("HealthcareService/")) or {}
    _code, english, chinese = directory.department_key(service)
    found = [_both(english, chinese)] if english else []
    for ref in service.get("location", [])[:1]:
        location = _content(conn, "Location", (ref.get("reference") or "").removeprefix("Location/")) or {}
        if location.get("name"):
            found.append(_both(location["name"], (location.get("alias") or [""])[0]))
            floor = directory_conventions.floor_of(location)
            if floor is not None:
                found.append(_both(f"floor {floor}", f"{floor}楼"))
    return found
