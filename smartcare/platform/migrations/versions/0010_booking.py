"""Booking: slot capacity counters, bookings, daily counters, waitlist

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "booking_slot",
        sa.Column("slot_id", sa.String(length=64), nullable=False),
        sa.Column("schedule_id", sa.String(length=64), nullable=False),
        sa.Column("practitioner_id", sa.String(length=64), nullable=False),
        sa.Column("practitioner_name", sa.String(length=200), nullable=False),
        sa.Column("role_id", sa.String(length=64), nullable=False),
        sa.Column("service_id", sa.String(length=64), nullable=False),
        sa.Column("organization_id", sa.String(length=64), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("session", sa.String(length=16), nullable=False),
        sa.Column("start", sa.String(length=32), nullable=False),
        sa.Column("end", sa.String(length=32), nullable=False),
        sa.Column("visit_type", sa.String(length=16), nullable=False),
        sa.Column("fee", sa.Integer(), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("booked", sa.Integer(), nullable=False),
        sa.Column("blocked", sa.Boolean(), nullable=False),
        sa.Column("block_reason", sa.String(length=200), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint("booked >= 0 AND booked <= capacity", name="ck_booking_slot_capacity"),
        sa.PrimaryKeyConstraint("slot_id"),
    )
    op.create_index("ix_booking_slot_practitioner_day", "booking_slot", ["practitioner_id", "day"])
    op.create_index("ix_booking_slot_service_day", "booking_slot", ["service_id", "day"])
    op.create_table(
        "booking",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("slot_id", sa.String(length=64), nullable=False),
        sa.Column("patient_id", sa.String(length=64), nullable=False),
        sa.Column("practitioner_id", sa.String(length=64), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("live_session", sa.String(length=120), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("requested_by", sa.String(length=255), nullable=False),
        sa.Column("idempotency_key", sa.String(length=128), nullable=True),
        sa.Column("created", sa.String(length=32), nullable=False),
        sa.Column("ended", sa.String(length=32), nullable=True),
        sa.Column("payment_status", sa.String(length=16), nullable=False),
        sa.Column("payment_provider", sa.String(length=32), nullable=True),
        sa.Column("payment_reference", sa.String(length=128), nullable=True),
        sa.Column("amount", sa.Integer(), nullable=False),
        sa.Column("paid_at", sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("patient_id", "live_session", name="uq_booking_patient_session"),
        sa.UniqueConstraint("idempotency_key", name="uq_booking_request"),
    )
    op.create_index("ix_booking_slot", "booking", ["slot_id", "status"])
    op.create_index("ix_booking_unpaid", "booking", ["payment_status", "created"])
    op.create_table(
        "booking_day",
        sa.Column("patient_id", sa.String(length=64), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("booked", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("patient_id", "day"),
    )
    op.create_table(
        "booking_waitlist",
        sa.Column("seq", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("practitioner_id", sa.String(length=64), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("patient_id", sa.String(length=64), nullable=False),
        sa.Column("requested_by", sa.String(length=255), nullable=False),
        sa.Column("joined", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("appointment_id", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("seq"),
        sa.UniqueConstraint("id"),
    )
    op.create_index("ix_booking_waitlist_queue", "booking_waitlist", ["practitioner_id", "day", "status"])


def downgrade() -> None:
    op.drop_index("ix_booking_waitlist_queue", table_name="booking_waitlist")
    op.drop_table("booking_waitlist")
    op.drop_table("booking_day")
    op.drop_index("ix_booking_unpaid", table_name="booking")
    op.drop_index("ix_booking_slot", table_name="booking")
    op.drop_table("booking")
    op.drop_index("ix_booking_slot_service_day", table_name="booking_slot")
    op.drop_index("ix_booking_slot_practitioner_day", table_name="booking_slot")
    op.drop_table("booking_slot")
