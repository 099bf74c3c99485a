"""Booking's jobs: confirmations, reminders and notices of cancellations, releases and waitlist offers.

Every notice is a job written in the transaction that changed the booking (the outbox), so a
committed booking always gets its notices and a rolled-back one never does. Each handler reads the
booking again when it runs and does nothing when it no longer applies: a reminder for a booking
that was cancelled, released or moved to another time since it was scheduled is skipped.
Messages go to every account linked to the Patient, each in that account's language.
"""

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Protocol

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from smartcare.hospital.scheduling import scheduled, service
from smartcare.hospital.scheduling.models import booking, booking_slot
from smartcare.hospital.scheduling.schedules import region_zone
from smartcare.platform import clock, i18n
from smartcare.platform.jobs import Job, enqueue, handler, periodic
from smartcare.platform.notifications import notification_kind, notify
from smartcare.platform.security.tables import user_account

BOOKED_JOB = "scheduling.booked"
REMINDER_JOB = "scheduling.reminder"
ENDED_JOB = "scheduling.ended"
OFFERED_JOB = "scheduling.offered"
RELEASE_JOB = "scheduling.release_unpaid"
# The evening reminder goes out at this local time on the day before the visit.
EVE_REMINDER_AT = time(18, 0)
HOUR_REMINDER_BEFORE = timedelta(hours=1)
EVE, HOUR = "eve", "hour"


def _(message: str) -> str:
    """Mark a label for the catalog; it is translated where it is shown."""
    return message


CONFIRMED = notification_kind("appointment.confirmed", label=_("Appointment confirmations"),
                              default_channels=("sms",))
REMINDER = notification_kind("appointment.reminder", label=_("Appointment reminders"), default_channels=("sms",))
CANCELLED = notification_kind("appointment.cancelled", label=_("Appointment cancellations"),
                              default_channels=("sms",))
OFFERED = notification_kind("appointment.waitlist", label=_("Waitlist places"), default_channels=("sms",))

periodic(RELEASE_JOB, kind=RELEASE_JOB, every_minutes=1)


class Booked(Protocol):
    """What enqueue_booking_jobs needs of a booking (a BookingView has it)."""

    id: str
    start: str


@dataclass(frozen=True, slots=True)
class Visit:
    """A booking as the notices describe it, read when the job runs."""

    id: str
    patient_id: str
    status: str
    channel: str
    payment_status: str
    doctor: str
    start: str


def enqueue_booking_jobs(conn: Connection, booked: Booked) -> None:
    """In the booking's transaction: a job to confirm the booking (at its current time) and schedule its reminders."""
    enqueue(conn, kind=BOOKED_JOB, payload={"booking": booked.id, "start": booked.start},
            key=f"scheduling:booked:{booked.id}:{booked.start}")


def enqueue_ended_notice(conn: Connection, *, booking_id: str, reason: str) -> None:
    """In the transaction that cancelled or released a booking: a job to tell the patient why."""
    enqueue(conn, kind=ENDED_JOB, payload={"booking": booking_id, "reason": reason},
            key=f"scheduling:ended:{booking_id}")


def enqueue_offer_notice(conn: Connection, *, booking_id: str) -> None:
    """In the transaction that booked a waitlist place for someone: a job to tell them to confirm it."""
    enqueue(conn, kind=OFFERED_JOB, payload={"booking": booking_id}, key=f"scheduling:offered:{booking_id}")


def reminder_times(start: datetime) -> dict[str, datetime]:
    """When to remind of a visit starting at start: 18:00 local the day before, and an hour before."""
    local_day = start.astimezone(region_zone()).date()
    eve = datetime.combine(local_day - timedelta(days=1), EVE_REMINDER_AT, region_zone())
    return {EVE: eve, HOUR: start - HOUR_REMINDER_BEFORE}


def _visit(conn: Connection, booking_id: str) -> Visit | None:
    b, s = booking.c, booking_slot.c
    row = conn.execute(sa.select(b.id, b.patient_id, b.status, b.channel, b.payment_status, s.practitioner_name,
                                 s.start).join_from(booking, booking_slot, b.slot_id == s.slot_id)
                       .where(b.id == booking_id)).first()
    return Visit(*row) if row is not None else None


def _tell(conn: Connection, visit: Visit, kind: str, *, title: str, body: str, reason: str | None = None) -> None:
    """Notify every account linked to the visit's patient, each in its language (messages marked with _()).

    A reason is translated too when it is a catalog message (the reasons the console offers); typed
    reasons are shown as typed.
    """
    local = clock.parse_instant(visit.start).astimezone(region_zone()).strftime("%Y-%m-%d %H:%M")
    values = {"doctor": visit.doctor, "time": local}
    accounts = conn.execute(sa.select(user_account.c.id, user_account.c.locale).where(
        user_account.c.fhir_ref == f"Patient/{visit.patient_id}")).all()
    for account in accounts:
        t = i18n.translations(account.locale)
        if reason is not None:
            values["reason"] = t.gettext(reason)
        notify(conn, user_id=account.id, kind=kind, title=t.gettext(title), body=t.gettext(body) % values,
               link=f"/app/visits/{visit.id}", data={"appointment": f"Appointment/{visit.id}", "start": visit.start})


def _standing(conn: Connection, payload: dict) -> Visit | None:
    """The booking of payload, if it still stands at the time the job was made for."""
    visit = _visit(conn, str(payload["booking"]))
    if visit is None or visit.status != service.LIVE or visit.start != payload["start"]:
        return None
    return visit


@handler(BOOKED_JOB)
def confirm_booking(conn: Connection, job: Job) -> None:
    """Confirm a booking to the patient (a waitlist offer has its own notice) and schedule its two reminders."""
    visit = _standing(conn, job.payload)
    if visit is None:
        return
    if visit.channel != "waitlist":
        body = _("%(doctor)s, %(time)s. Please pay the registration fee soon, or the place will be released.") \
            if visit.payment_status == "pending" else _("%(doctor)s, %(time)s.")
        _tell(conn, visit, CONFIRMED.name, title=_("Your appointment is booked"), body=body)
    now = clock.now()
    for which, run_at in reminder_times(clock.parse_instant(visit.start)).items():
        if run_at > now:
            enqueue(conn, kind=REMINDER_JOB, payload={"booking": visit.id, "start": visit.start, "which": which},
                    run_at=run_at, key=f"scheduling:reminder:{which}:{visit.id}:{visit.start}")


@handler(REMINDER_JOB)
def remind(conn: Connection, job: Job) -> None:
    """Remind the patient of a visit tomorrow or in an hour, unless it was cancelled or moved since."""
    visit = _standing(conn, job.payload)
    if visit is None:
        return
    title = _("Reminder: your appointment is tomorrow") if job.payload["which"] == EVE else \
        _("Reminder: your appointment is in one hour")
    _tell(conn, visit, REMINDER.name, title=title, body=_("%(doctor)s, %(time)s."))


@handler(ENDED_JOB)
def tell_ended(conn: Connection, job: Job) -> None:
    """Tell the patient their booking was cancelled (by them or the hospital) or released for not paying."""
    visit = _visit(conn, str(job.payload["booking"]))
    if visit is None or visit.status == service.LIVE:
        return
    if visit.status == "released":
        _tell(conn, visit, CANCELLED.name, title=_("Your booking was released"),
              body=_("The registration fee for %(doctor)s, %(time)s was not paid in time."))
    elif job.payload["reason"] == "prov":
        why = conn.execute(sa.select(booking_slot.c.block_reason).join_from(
            booking, booking_slot, booking.c.slot_id == booking_slot.c.slot_id).where(booking.c.id == visit.id)).scalar()
        if why:
            _tell(conn, visit, CANCELLED.name, title=_("The hospital cancelled your appointment"),
                  body=_("%(doctor)s is not available at %(time)s (%(reason)s). Please book another time."), reason=why)
        else:
            _tell(conn, visit, CANCELLED.name, title=_("The hospital cancelled your appointment"),
                  body=_("%(doctor)s is not available at %(time)s. Please book another time."))
    else:
        _tell(conn, visit, CANCELLED.name, title=_("Your appointment is cancelled"), body=_("%(doctor)s, %(time)s."))


@handler(OFFERED_JOB)
def tell_offered(conn: Connection, job: Job) -> None:
    """Tell a waiting patient that a place was booked for them and stays theirs once they pay."""
    visit = _visit(conn, str(job.payload["booking"]))
    if visit is None or visit.status != service.LIVE:
        return
    _tell(conn, visit, OFFERED.name, title=_("A place from the waitlist is yours"),
          body=_("%(doctor)s, %(time)s. Please pay the registration fee soon to keep it."))


@handler(RELEASE_JOB)
def release_unpaid(conn: Connection, _job: Job) -> None:
    """Release unpaid bookings past the timeout; the patients released and those offered the places are told
    (release_unpaid writes their notices as jobs in this transaction)."""
    scheduled.release_unpaid(conn)
