"""Outpatient queue: sessions and tickets

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "queue_session",
        sa.Column("key", sa.String(length=120), nullable=False),
        sa.Column("practitioner_id", sa.String(length=64), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("half", sa.String(length=2), nullable=False),
        sa.Column("room", sa.String(length=100), nullable=True),
        sa.Column("last_number", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_table(
        "queue_ticket",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("session_key", sa.String(length=120), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("appointment_id", sa.String(length=64), nullable=False),
        sa.Column("patient_id", sa.String(length=64), nullable=False),
        sa.Column("appointment_start", sa.String(length=32), nullable=False),
        sa.Column("arrived", sa.String(length=32), nullable=False),
        sa.Column("priority", sa.String(length=16), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("called_at", sa.String(length=32), nullable=True),
        sa.Column("recalls", sa.Integer(), nullable=False),
        sa.Column("finished_at", sa.String(length=32), nullable=True),
        sa.Column("returned_at", sa.String(length=32), nullable=True),
        sa.Column("near_notice", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("session_key", "number", name="uq_queue_ticket_number"),
        sa.UniqueConstraint("appointment_id", name="uq_queue_ticket_appointment"),
    )
    op.create_index("ix_queue_ticket_session_status", "queue_ticket", ["session_key", "status"])
    op.create_index("ix_queue_ticket_patient", "queue_ticket", ["patient_id"])


def downgrade() -> None:
    op.drop_index("ix_queue_ticket_patient", table_name="queue_ticket")
    op.drop_index("ix_queue_ticket_session_status", table_name="queue_ticket")
    op.drop_table("queue_ticket")
    op.drop_table("queue_session")
