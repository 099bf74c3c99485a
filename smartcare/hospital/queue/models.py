"""Tables of the outpatient queue: one counter per clinic session and one ticket per checked-in visit.

These are working state, not clinical record (ARCHITECTURE.md: queue counters live outside FHIR);
the FHIR Appointment carries the clinical status (arrived, fulfilled, noshow) alongside.
"""

import sqlalchemy as sa

from smartcare.platform.schema import metadata

# A clinic session: one doctor, one local date, morning or afternoon ("prac-1:2026-11-26:am").
queue_session = sa.Table(
    "queue_session",
    metadata,
    sa.Column("key", sa.String(120), primary_key=True),
    sa.Column("practitioner_id", sa.String(64), nullable=False),
    sa.Column("day", sa.String(10), nullable=False),
    sa.Column("half", sa.String(2), nullable=False),
    sa.Column("room", sa.String(100)),
    sa.Column("last_number", sa.Integer, nullable=False, default=0),
)

queue_ticket = sa.Table(
    "queue_ticket",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("session_key", sa.String(120), nullable=False),
    sa.Column("number", sa.Integer, nullable=False),
    sa.Column("appointment_id", sa.String(64), nullable=False),
    sa.Column("patient_id", sa.String(64), nullable=False),
    sa.Column("appointment_start", sa.String(32), nullable=False),
    sa.Column("arrived", sa.String(32), nullable=False),
    # Why the patient goes ahead: elderly, disabled, results; None for everyone else.
    sa.Column("priority", sa.String(16)),
    # waiting, called, done, skipped (called and did not come), transferred
    sa.Column("status", sa.String(12), nullable=False),
    sa.Column("called_at", sa.String(32)),
    sa.Column("recalls", sa.Integer, nullable=False, default=0),
    sa.Column("finished_at", sa.String(32)),
    # For a skipped patient who checked in again: the turn they were given (see ordering.turn_on_return).
    sa.Column("returned_at", sa.String(32)),
    # Set once the patient has been told that three are ahead, so they are told once.
    sa.Column("near_notice", sa.Boolean, nullable=False, default=False),
    sa.UniqueConstraint("session_key", "number", name="uq_queue_ticket_number"),
    sa.UniqueConstraint("appointment_id", name="uq_queue_ticket_appointment"),
)
sa.Index("ix_queue_ticket_session_status", queue_ticket.c.session_key, queue_ticket.c.status)
sa.Index("ix_queue_ticket_patient", queue_ticket.c.patient_id)
