"""The table of HL7 v2 orders sent to the laboratory's instrument middleware, from queued to sent or dead.

Kept outside FHIR: it is the interface's own working record. Each row holds the message exactly as it goes out
(so a retry sends the same control id, which lets the peer spot a duplicate), the ACK the peer gave, and the job
that delivers it; a row the jobs gave up on is the dead letter an administrator resends or discards.
"""

import sqlalchemy as sa

from smartcare.platform.schema import metadata

QUEUED, SENT, FAILED, DEAD, DISCARDED = "queued", "sent", "failed", "dead", "discarded"
STATUSES = (QUEUED, FAILED, DEAD, SENT, DISCARDED)

lab_outbound_message = sa.Table(
    "lab_outbound_message",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
    # The hospital that sent it (Organization/<id>): its administrators see it in the console.
    sa.Column("organization", sa.String(80), nullable=False),
    sa.Column("message_type", sa.String(16), nullable=False),
    # ORC-1: NW (new order) or CA (cancel).
    sa.Column("order_control", sa.String(2), nullable=False),
    sa.Column("control_id", sa.String(20), nullable=False),
    sa.Column("placer_number", sa.String(64), nullable=False),
    sa.Column("accession", sa.String(64), nullable=False),
    sa.Column("request", sa.String(100), nullable=False),
    sa.Column("patient", sa.String(100), nullable=False),
    sa.Column("raw", sa.Text, nullable=False),
    # queued (waiting for its job), failed (will be tried again), sent (acknowledged AA/CA), dead (the jobs gave
    # up: resend or discard), discarded (an administrator decided it is not to be sent).
    sa.Column("status", sa.String(12), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("last_error", sa.String(500)),
    sa.Column("ack", sa.Text),
    sa.Column("job_id", sa.String(36), nullable=False),
    sa.Column("created", sa.String(32), nullable=False),
    sa.Column("updated", sa.String(32), nullable=False),
    sa.Column("sent_at", sa.String(32)),
    sa.UniqueConstraint("control_id", name="uq_lab_outbound_control_id"),
)
sa.Index("ix_lab_outbound_status", lab_outbound_message.c.organization, lab_outbound_message.c.status,
         lab_outbound_message.c.created)
