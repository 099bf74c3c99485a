"""Working tables of online consultations: the per-consultation message counter and each message's keys.

The clinical record is FHIR (an Encounter per consultation, a Communication per message). These rows
exist because FHIR cannot give two things atomically: the next sequence number of a conversation and
"this client's message was already stored" (a unique key on the client-generated id), so a retried send
is never stored twice and two sends never share a number. They also make the inbox a plain query.
"""

import sqlalchemy as sa

from smartcare.platform.schema import metadata

# One row per consultation (Encounter id): who it is between, its status and its last message number.
consultation_thread = sa.Table(
    "consultation_thread",
    metadata,
    sa.Column("encounter_id", sa.String(64), primary_key=True),
    sa.Column("patient_id", sa.String(64), nullable=False, index=True),
    sa.Column("kind", sa.String(16), nullable=False),  # advice | follow_up
    sa.Column("practitioner_id", sa.String(64), index=True),  # the doctor, once chosen or picked up
    sa.Column("department_id", sa.String(64), index=True),  # the on-duty pool (an Organization)
    sa.Column("status", sa.String(16), nullable=False),  # waiting | in_progress | closed | refunded
    sa.Column("opened", sa.String(32), nullable=False),
    sa.Column("picked_up", sa.String(32)),
    sa.Column("closed", sa.String(32)),
    sa.Column("last_seq", sa.Integer, nullable=False, default=0),
    sa.Column("doctor_replied", sa.Boolean, nullable=False, default=False),
    sa.Column("rated", sa.Boolean, nullable=False, default=False),
    # Not picked up in time: offered to the doctor on duty (duty.py); offers counts the offers made so far.
    sa.Column("offered_to", sa.String(64), index=True),
    sa.Column("offered_at", sa.String(32)),
    sa.Column("offers", sa.Integer, nullable=False, default=0, server_default="0"),
)

# One row per stored message: its number, the client's id for it, and its receipts.
consultation_message = sa.Table(
    "consultation_message",
    metadata,
    sa.Column("encounter_id", sa.String(64), nullable=False),
    sa.Column("seq", sa.Integer, nullable=False),
    sa.Column("client_id", sa.String(64), nullable=False),
    sa.Column("communication_id", sa.String(64), nullable=False),
    sa.Column("sender", sa.String(80), nullable=False),  # Patient/.., RelatedPerson/.., Practitioner/..
    sa.Column("from_patient_side", sa.Boolean, nullable=False),
    sa.Column("sent", sa.String(32), nullable=False),
    sa.Column("delivered", sa.String(32)),
    sa.Column("read", sa.String(32)),
    sa.PrimaryKeyConstraint("encounter_id", "seq"),
    sa.UniqueConstraint("encounter_id", "client_id", name="uq_consultation_message_client"),
)

# The on-duty roster of online consultations: who answers a department's pool when (UTC instants, [starts, ends)).
# Clinic sessions in scheduling are daytime outpatient places keyed by HealthcareService; online duty runs round
# the clock for an Organization (the pool), so it has its own rows.
consultation_duty = sa.Table(
    "consultation_duty",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("department_id", sa.String(64), nullable=False),
    sa.Column("practitioner_id", sa.String(64), nullable=False),
    sa.Column("starts", sa.String(32), nullable=False),
    sa.Column("ends", sa.String(32), nullable=False),
    sa.Index("ix_consultation_duty_department", "department_id", "starts"),
)
