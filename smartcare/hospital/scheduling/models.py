"""Booking tables outside FHIR: per-slot capacity counters, bookings, daily counters and the waitlist.

FHIR Slot and Appointment stay the clinical record; these rows are what makes taking the last place
atomic: a conditional UPDATE on the slot's counter decides, in the transaction that writes the
Appointment, whether there is still room.
"""

import sqlalchemy as sa

from smartcare.platform.schema import metadata

booking_slot = sa.Table(
    "booking_slot",
    metadata,
    sa.Column("slot_id", sa.String(64), primary_key=True),  # the FHIR Slot's id
    sa.Column("schedule_id", sa.String(64), nullable=False),
    sa.Column("practitioner_id", sa.String(64), nullable=False),
    sa.Column("practitioner_name", sa.String(200), nullable=False),
    sa.Column("role_id", sa.String(64), nullable=False),
    sa.Column("service_id", sa.String(64), nullable=False),  # the department's HealthcareService
    sa.Column("organization_id", sa.String(64), nullable=False),
    sa.Column("day", sa.String(10), nullable=False),  # local date, YYYY-MM-DD
    sa.Column("session", sa.String(16), nullable=False),  # e.g. "am", "pm"
    sa.Column("start", sa.String(32), nullable=False),  # UTC instant (clock.format_instant)
    sa.Column("end", sa.String(32), nullable=False),
    sa.Column("visit_type", sa.String(16), nullable=False),
    sa.Column("fee", sa.Integer, nullable=False),  # registration fee in fen (0.01 CNY)
    sa.Column("capacity", sa.Integer, nullable=False),
    sa.Column("booked", sa.Integer, nullable=False),
    sa.Column("blocked", sa.Boolean, nullable=False),
    sa.Column("block_reason", sa.String(200), nullable=True),
    sa.Column("version", sa.Integer, nullable=False),
    sa.CheckConstraint("booked >= 0 AND booked <= capacity", name="ck_booking_slot_capacity"),
)
sa.Index("ix_booking_slot_practitioner_day", booking_slot.c.practitioner_id, booking_slot.c.day)
sa.Index("ix_booking_slot_service_day", booking_slot.c.service_id, booking_slot.c.day)

booking = sa.Table(
    "booking",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),  # the FHIR Appointment's id
    sa.Column("slot_id", sa.String(64), nullable=False),
    sa.Column("patient_id", sa.String(64), nullable=False),
    sa.Column("practitioner_id", sa.String(64), nullable=False),
    sa.Column("day", sa.String(10), nullable=False),
    # "<practitioner>|<day>|<session>" while the booking stands, NULL once cancelled or released:
    # the unique constraint below allows one standing booking per patient per doctor per session.
    sa.Column("live_session", sa.String(120), nullable=True),
    sa.Column("status", sa.String(16), nullable=False),  # booked, cancelled, released
    sa.Column("channel", sa.String(16), nullable=False),  # app, desk, waitlist
    sa.Column("requested_by", sa.String(255), nullable=False),  # kind/name of the caller
    sa.Column("idempotency_key", sa.String(128), nullable=True),  # "<requested_by>|<client key>"
    sa.Column("created", sa.String(32), nullable=False),
    sa.Column("ended", sa.String(32), nullable=True),
    sa.Column("payment_status", sa.String(16), nullable=False),  # free, pending, paid, refunded
    sa.Column("payment_provider", sa.String(32), nullable=True),
    sa.Column("payment_reference", sa.String(128), nullable=True),
    sa.Column("amount", sa.Integer, nullable=False),
    sa.Column("paid_at", sa.String(32), nullable=True),
    sa.UniqueConstraint("patient_id", "live_session", name="uq_booking_patient_session"),
    sa.UniqueConstraint("idempotency_key", name="uq_booking_request"),
)
sa.Index("ix_booking_slot", booking.c.slot_id, booking.c.status)
sa.Index("ix_booking_unpaid", booking.c.payment_status, booking.c.created)

booking_day = sa.Table(
    "booking_day",
    metadata,
    sa.Column("patient_id", sa.String(64), primary_key=True),
    sa.Column("day", sa.String(10), primary_key=True),
    sa.Column("booked", sa.Integer, nullable=False),
)

booking_waitlist = sa.Table(
    "booking_waitlist",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),  # the order of joining
    sa.Column("id", sa.String(36), nullable=False, unique=True),
    sa.Column("practitioner_id", sa.String(64), nullable=False),
    sa.Column("day", sa.String(10), nullable=False),
    sa.Column("patient_id", sa.String(64), nullable=False),
    sa.Column("requested_by", sa.String(255), nullable=False),
    sa.Column("joined", sa.String(32), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # waiting, offered, left
    sa.Column("appointment_id", sa.String(64), nullable=True),
)
sa.Index("ix_booking_waitlist_queue", booking_waitlist.c.practitioner_id, booking_waitlist.c.day,
         booking_waitlist.c.status)

# A practitioner role's schedule template (one per role), which the nightly job turns into slots.
# weekdays: digits 0-6 (0 = Monday); sessions: "name=HH:MM-HH:MM" joined by ";" in local time.
# visit_type is the directory's (ordinary, specialist, expert) and decides the fee; appointment_type is
# the HL7 v2 table 0276 code the Slots carry. fee NULL: the department's fee for the visit type.
schedule_template = sa.Table(
    "schedule_template",
    metadata,
    sa.Column("role_id", sa.String(64), primary_key=True),  # the FHIR PractitionerRole's id
    sa.Column("practitioner_id", sa.String(64), nullable=False),
    sa.Column("practitioner_name", sa.String(200), nullable=False),
    sa.Column("service_id", sa.String(64), nullable=False),
    sa.Column("organization_id", sa.String(64), nullable=False),
    sa.Column("weekdays", sa.String(16), nullable=False),
    sa.Column("sessions", sa.String(400), nullable=False),
    sa.Column("slot_minutes", sa.Integer, nullable=False),
    sa.Column("capacity", sa.Integer, nullable=False),
    sa.Column("visit_type", sa.String(16), nullable=False),
    sa.Column("appointment_type", sa.String(16), nullable=False),
    sa.Column("fee", sa.Integer, nullable=True),  # fen; NULL follows the department
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("updated_by", sa.String(255), nullable=False),
    sa.Column("updated_at", sa.String(32), nullable=False),
)
sa.Index("ix_schedule_template_organization", schedule_template.c.organization_id, schedule_template.c.active)

# A doctor's leave (practitioner_id set) or a hospital's holiday (NULL): slots in [start, end) are blocked,
# also those generated later inside the period.
schedule_block = sa.Table(
    "schedule_block",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("organization_id", sa.String(64), nullable=False),
    sa.Column("practitioner_id", sa.String(64), nullable=True),
    sa.Column("start", sa.String(32), nullable=False),  # UTC instant
    sa.Column("end", sa.String(32), nullable=False),
    sa.Column("reason", sa.String(200), nullable=False),
    sa.Column("cancelled", sa.Integer, nullable=False),  # bookings cancelled when it was entered
    sa.Column("created_by", sa.String(255), nullable=False),
    sa.Column("created_at", sa.String(32), nullable=False),
)
sa.Index("ix_schedule_block_organization", schedule_block.c.organization_id, schedule_block.c.end)
