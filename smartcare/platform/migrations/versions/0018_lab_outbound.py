"""HL7 v2 orders to the laboratory's instrument middleware: queued, sent, failed or dead

Revision ID: 0018
Revises: 0017
"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "lab_outbound_message",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("organization", sa.String(80), nullable=False),
        sa.Column("message_type", sa.String(16), nullable=False),
        sa.Column("order_control", sa.String(2), nullable=False),
        sa.Column("control_id", sa.String(20), nullable=False),
        sa.Column("placer_number", sa.String(64), nullable=False),
        sa.Column("accession", sa.String(64), nullable=False),
        sa.Column("request", sa.String(100), nullable=False),
        sa.Column("patient", sa.String(100), nullable=False),
        sa.Column("raw", sa.Text(), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(500)),
        sa.Column("ack", sa.Text()),
        sa.Column("job_id", sa.String(36), nullable=False),
        sa.Column("created", sa.String(32), nullable=False),
        sa.Column("updated", sa.String(32), nullable=False),
        sa.Column("sent_at", sa.String(32)),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("control_id", name="uq_lab_outbound_control_id"),
    )
    op.create_index("ix_lab_outbound_status", "lab_outbound_message", ["organization", "status", "created"])


def downgrade() -> None:
    op.drop_index("ix_lab_outbound_status", table_name="lab_outbound_message")
    op.drop_table("lab_outbound_message")
