"""Break-the-glass grants

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "break_glass_grant",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("patient_id", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("started", sa.String(length=32), nullable=False),
        sa.Column("expires", sa.String(length=32), nullable=False),
        sa.Column("ended", sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_break_glass_grant_user", "break_glass_grant", ["user_id", "expires"])
    op.create_index("ix_break_glass_grant_patient", "break_glass_grant", ["patient_id"])


def downgrade() -> None:
    op.drop_index("ix_break_glass_grant_patient", table_name="break_glass_grant")
    op.drop_index("ix_break_glass_grant_user", table_name="break_glass_grant")
    op.drop_table("break_glass_grant")
