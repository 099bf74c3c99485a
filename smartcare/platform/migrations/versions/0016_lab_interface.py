"""HL7 v2 interface: messages received and the error queue

Revision ID: 0016
Revises: 0015
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "hl7_received_message",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("sending_facility", sa.String(227), nullable=False),
        sa.Column("control_id", sa.String(199), nullable=False),
        sa.Column("message_type", sa.String(16), nullable=False),
        sa.Column("ack", sa.Text(), nullable=False),
        sa.Column("resources", sa.Text(), nullable=False),
        sa.Column("received_at", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("sending_facility", "control_id", name="uq_hl7_received_key"),
    )
    op.create_table(
        "hl7_error_queue",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("sending_facility", sa.String(227), nullable=False),
        sa.Column("control_id", sa.String(199), nullable=False),
        sa.Column("message_type", sa.String(16), nullable=False),
        sa.Column("raw", sa.Text(), nullable=False),
        sa.Column("ack_code", sa.String(2), nullable=False),
        sa.Column("error_code", sa.Integer(), nullable=False),
        sa.Column("error_location", sa.String(32), nullable=False),
        sa.Column("error_text", sa.String(500), nullable=False),
        sa.Column("ack", sa.Text(), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("received_at", sa.String(32), nullable=False),
        sa.Column("resolved_at", sa.String(32)),
        sa.Column("resolved_by", sa.String(200)),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_hl7_error_queue_status", "hl7_error_queue", ["status", "received_at"])
    op.create_index("ix_hl7_error_queue_key", "hl7_error_queue", ["sending_facility", "control_id"])


def downgrade() -> None:
    op.drop_index("ix_hl7_error_queue_key", table_name="hl7_error_queue")
    op.drop_index("ix_hl7_error_queue_status", table_name="hl7_error_queue")
    op.drop_table("hl7_error_queue")
    op.drop_table("hl7_received_message")
