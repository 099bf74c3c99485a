"""Online consultations: the message counter per consultation and each message's client id and receipts

Revision ID: 0021
Revises: 0020
"""

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "consultation_thread",
        sa.Column("encounter_id", sa.String(64), nullable=False),
        sa.Column("patient_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("practitioner_id", sa.String(64), nullable=True),
        sa.Column("department_id", sa.String(64), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("opened", sa.String(32), nullable=False),
        sa.Column("picked_up", sa.String(32), nullable=True),
        sa.Column("closed", sa.String(32), nullable=True),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.Column("doctor_replied", sa.Boolean(), nullable=False),
        sa.Column("rated", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("encounter_id"),
    )
    op.create_index("ix_consultation_thread_patient_id", "consultation_thread", ["patient_id"])
    op.create_index("ix_consultation_thread_practitioner_id", "consultation_thread", ["practitioner_id"])
    op.create_index("ix_consultation_thread_department_id", "consultation_thread", ["department_id"])
    op.create_table(
        "consultation_message",
        sa.Column("encounter_id", sa.String(64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.String(64), nullable=False),
        sa.Column("communication_id", sa.String(64), nullable=False),
        sa.Column("sender", sa.String(80), nullable=False),
        sa.Column("from_patient_side", sa.Boolean(), nullable=False),
        sa.Column("sent", sa.String(32), nullable=False),
        sa.Column("delivered", sa.String(32), nullable=True),
        sa.Column("read", sa.String(32), nullable=True),
        sa.PrimaryKeyConstraint("encounter_id", "seq"),
        sa.UniqueConstraint("encounter_id", "client_id", name="uq_consultation_message_client"),
    )


def downgrade() -> None:
    op.drop_table("consultation_message")
    op.drop_index("ix_consultation_thread_department_id", table_name="consultation_thread")
    op.drop_index("ix_consultation_thread_practitioner_id", table_name="consultation_thread")
    op.drop_index("ix_consultation_thread_patient_id", table_name="consultation_thread")
    op.drop_table("consultation_thread")
