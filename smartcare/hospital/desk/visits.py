"""A patient's visits as the desk sees them: the Appointments the clerk may read, with payment and queue state.

Appointments are read through the FHIR gateway as the clerk (the access policy decides and audits);
the booking rows and queue tickets behind them are looked up only for the Appointments that came back.
"""

from dataclasses import dataclass
from datetime import datetime, time
from typing import Any

from smartcare.fhir import gateway
from smartcare.fhir.errors import FhirError
from smartcare.hospital.directory import places
from smartcare.hospital.queue.service import tickets_of
from smartcare.hospital.scheduling import queries
from smartcare.hospital.scheduling.schedules import region_zone
from smartcare.platform.db import unit_of_work
from smartcare.platform.security.context import AccessContext

VISITS_SHOWN = 50
# The Appointment statuses a visit can still be checked in from (a skipped patient checks in again).
CHECK_IN_FROM = frozenset({"booked", "arrived", "noshow"})


@dataclass(frozen=True, slots=True)
class DeskVisit:
    """One visit of the patient, with what the clerk may do about it now."""

    id: str
    status: str  # the FHIR Appointment's status
    starts: datetime | None  # in the region's time
    place: places.Place
    fee: str | None
    payment: str | None  # free, pending, paid, refunded; None when not booked through scheduling
    ticket: dict[str, Any] | None
    today: bool

    @property
    def can_pay(self) -> bool:
        """The fee is due and the visit still stands."""
        return self.payment == "pending" and self.status in ("booked", "arrived")

    @property
    def can_check_in(self) -> bool:
        """Today's visit, paid or free, not already waiting in the queue."""
        waiting = self.ticket is not None and self.ticket["status"] in ("waiting", "called")
        return self.today and self.status in CHECK_IN_FROM and not waiting and self.payment != "pending"

    @property
    def can_cancel(self) -> bool:
        """A booking not yet checked in (the service still applies the cut-off)."""
        return self.status == "booked" and self.payment is not None and self.ticket is None


def _participant(appointment: dict[str, Any], res_type: str) -> dict[str, Any]:
    return next((p.get("actor", {}) for p in appointment.get("participant", [])
                 if p.get("actor", {}).get("reference", "").startswith(f"{res_type}/")), {})


def patient_of(appointment: dict[str, Any]) -> str:
    """The id of the Appointment's patient, or ""."""
    return _participant(appointment, "Patient").get("reference", "").removeprefix("Patient/")


def _visit(appointment: dict[str, Any], row: Any, ticket: dict | None, locale: str) -> DeskVisit:
    practitioner = _participant(appointment, "Practitioner")
    practitioner_id = row.practitioner_id if row else practitioner.get("reference", "").removeprefix("Practitioner/")
    start = appointment.get("start") or (row.start if row else "")
    starts = places.local_time(start) if start else None
    return DeskVisit(
        id=appointment["id"], status=appointment.get("status", ""), starts=starts,
        place=places.place_of(practitioner_id, row.service_id if row else "", locale, practitioner.get("display", "")),
        fee=places.money(row.amount) if row else None, payment=row.payment_status if row else None,
        ticket=ticket,
        today=starts is not None and starts.date() == places.today(),
    )


def _day_start() -> str:
    return datetime.combine(places.today(), time(0), region_zone()).isoformat()


def visits_of(ctx: AccessContext, patient_id: str, locale: str) -> list[DeskVisit]:
    """The patient's visits from today on, earliest first, as far as the clerk may see them."""
    found = gateway.search(ctx, "Appointment", [
        ("patient", f"Patient/{patient_id}"), ("date", f"ge{_day_start()}"), ("_sort", "date"),
        ("_count", str(VISITS_SHOWN))])
    with unit_of_work() as conn:
        rows = queries.bookings(conn, [a["id"] for a in found])
        tickets = {t["appointment"]: t for t in tickets_of(conn, [patient_id])} if found else {}
    return [_visit(a, rows.get(a["id"]), tickets.get(a["id"]), locale) for a in found]


def visit_of(ctx: AccessContext, patient_id: str, appointment_id: str, locale: str) -> DeskVisit | None:
    """One visit of the patient, if the clerk may read it and it is this patient's; None otherwise."""
    try:
        appointment = gateway.read(ctx, f"Appointment/{appointment_id}")
    except FhirError:
        return None
    if patient_of(appointment) != patient_id:
        return None
    with unit_of_work() as conn:
        row = queries.bookings(conn, [appointment_id]).get(appointment_id)
        day = row.day if row else None
        ticket = next((t for t in tickets_of(conn, [patient_id], day=day) if t["appointment"] == appointment_id), None)
    return _visit(appointment, row, ticket, locale)
