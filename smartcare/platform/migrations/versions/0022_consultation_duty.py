"""Online consultations round the clock: the on-duty roster, and offers of consultations not picked up in time

Revision ID: 0022
Revises: 0021
"""

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("consultation_thread") as batch:
        batch.add_column(sa.Column("offered_to", sa.String(64), nullable=True))
        batch.add_column(sa.Column("offered_at", sa.String(32), nullable=True))
        batch.add_column(sa.Column("offers", sa.Integer(), nullable=False, server_default="0"))
    op.create_index("ix_consultation_thread_offered_to", "consultation_thread", ["offered_to"])
    op.create_table(
        "consultation_duty",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("department_id", sa.String(64), nullable=False),
        sa.Column("practitioner_id", sa.String(64), nullable=False),
        sa.Column("starts", sa.String(32), nullable=False),
        sa.Column("ends", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_consultation_duty_department", "consultation_duty", ["department_id", "starts"])


def downgrade() -> None:
    op.drop_index("ix_consultation_duty_department", table_name="consultation_duty")
    op.drop_table("consultation_duty")
    op.drop_index("ix_consultation_thread_offered_to", table_name="consultation_thread")
    with op.batch_alter_table("consultation_thread") as batch:
        batch.drop_column("offers")
        batch.drop_column("offered_at")
        batch.drop_column("offered_to")
