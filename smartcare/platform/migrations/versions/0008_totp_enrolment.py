"""TOTP enrolment: secrets stored encrypted (wider column) and confirmed before use

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("user_account", schema=None) as batch_op:
        batch_op.alter_column("totp_secret", existing_type=sa.String(length=64), type_=sa.String(length=200))
        batch_op.add_column(sa.Column("totp_pending", sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("user_account", schema=None) as batch_op:
        batch_op.drop_column("totp_pending")
        batch_op.alter_column("totp_secret", existing_type=sa.String(length=200), type_=sa.String(length=64))
