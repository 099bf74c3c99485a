"""Scheduling: stored schedule templates and the blocked periods (leave, holidays)

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "schedule_template",
        sa.Column("role_id", sa.String(length=64), nullable=False),
        sa.Column("practitioner_id", sa.String(length=64), nullable=False),
        sa.Column("practitioner_name", sa.String(length=200), nullable=False),
        sa.Column("service_id", sa.String(length=64), nullable=False),
        sa.Column("organization_id", sa.String(length=64), nullable=False),
        sa.Column("weekdays", sa.String(length=16), nullable=False),
        sa.Column("sessions", sa.String(length=400), nullable=False),
        sa.Column("slot_minutes", sa.Integer(), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("visit_type", sa.String(length=16), nullable=False),
        sa.Column("appointment_type", sa.String(length=16), nullable=False),
        sa.Column("fee", sa.Integer(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("updated_by", sa.String(length=255), nullable=False),
        sa.Column("updated_at", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("role_id"),
    )
    op.create_index("ix_schedule_template_organization", "schedule_template", ["organization_id", "active"])
    op.create_table(
        "schedule_block",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("organization_id", sa.String(length=64), nullable=False),
        sa.Column("practitioner_id", sa.String(length=64), nullable=True),
        sa.Column("start", sa.String(length=32), nullable=False),
        sa.Column("end", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("cancelled", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_schedule_block_organization", "schedule_block", ["organization_id", "end"])


def downgrade() -> None:
    op.drop_index("ix_schedule_block_organization", table_name="schedule_block")
    op.drop_table("schedule_block")
    op.drop_index("ix_schedule_template_organization", table_name="schedule_template")
    op.drop_table("schedule_template")
