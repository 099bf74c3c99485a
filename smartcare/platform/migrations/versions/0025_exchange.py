"""Regional data exchange: member institutions and their submissions

Revision ID: 0025
Revises: 0024
"""

import sqlalchemy as sa
from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "exchange_member",
        sa.Column("organization", sa.String(128), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("client_id", sa.String(64), nullable=False),
        sa.Column("sends", sa.Text(), nullable=False),
        sa.Column("hl7_facility", sa.String(227), nullable=True),
        sa.Column("pull_base", sa.String(500), nullable=True),
        sa.Column("pull_token_url", sa.String(500), nullable=True),
        sa.Column("pull_client_id", sa.String(200), nullable=True),
        sa.Column("pull_secret", sa.Text(), nullable=True),
        sa.Column("pull_since", sa.String(40), nullable=True),
        sa.Column("registered", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("organization"),
        sa.UniqueConstraint("client_id"),
    )
    op.create_table(
        "exchange_submission",
        sa.Column("submission_id", sa.String(64), nullable=False),
        sa.Column("member", sa.String(128), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("content_sha256", sa.String(64), nullable=False),
        sa.Column("received", sa.String(32), nullable=False),
        sa.Column("accepted", sa.Integer(), nullable=False),
        sa.Column("rejected", sa.Integer(), nullable=False),
        sa.Column("warnings", sa.Integer(), nullable=False),
        sa.Column("report", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("submission_id"),
        sa.UniqueConstraint("member", "kind", "content_sha256", name="uq_exchange_submission_content"),
    )
    op.create_index("ix_exchange_submission_member_received", "exchange_submission", ["member", "received"])


def downgrade() -> None:
    op.drop_index("ix_exchange_submission_member_received", table_name="exchange_submission")
    op.drop_table("exchange_submission")
    op.drop_table("exchange_member")
