"""Tables of the HL7 v2 interface: the messages taken (for answering duplicates) and the error queue.

Kept outside FHIR: they are the interface's own working records. A received message keeps only its key and
the ACK it was given, not its content (the content is in the FHIR resources it became); an erroneous
message keeps its text until an administrator fixes and reprocesses it or dismisses it.
"""

import sqlalchemy as sa

from smartcare.platform.schema import metadata

hl7_received_message = sa.Table(
    "hl7_received_message",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("sending_facility", sa.String(227), nullable=False),
    sa.Column("control_id", sa.String(199), nullable=False),
    sa.Column("message_type", sa.String(16), nullable=False),
    sa.Column("ack", sa.Text, nullable=False),
    # The FHIR resources the message created or changed, space-separated references.
    sa.Column("resources", sa.Text, nullable=False, default=""),
    sa.Column("received_at", sa.String(32), nullable=False),
    sa.UniqueConstraint("sending_facility", "control_id", name="uq_hl7_received_key"),
)

hl7_error_queue = sa.Table(
    "hl7_error_queue",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("sending_facility", sa.String(227), nullable=False),
    sa.Column("control_id", sa.String(199), nullable=False),
    sa.Column("message_type", sa.String(16), nullable=False),
    sa.Column("raw", sa.Text, nullable=False),
    sa.Column("ack_code", sa.String(2), nullable=False),
    sa.Column("error_code", sa.Integer, nullable=False),
    sa.Column("error_location", sa.String(32), nullable=False),
    sa.Column("error_text", sa.String(500), nullable=False),
    sa.Column("ack", sa.Text, nullable=False),
    # open (waiting for an administrator), reprocessed (taken after a fix) or dismissed.
    sa.Column("status", sa.String(12), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, default=1),
    sa.Column("received_at", sa.String(32), nullable=False),
    sa.Column("resolved_at", sa.String(32)),
    sa.Column("resolved_by", sa.String(200)),
)
sa.Index("ix_hl7_error_queue_status", hl7_error_queue.c.status, hl7_error_queue.c.received_at)
sa.Index("ix_hl7_error_queue_key", hl7_error_queue.c.sending_facility, hl7_error_queue.c.control_id)
