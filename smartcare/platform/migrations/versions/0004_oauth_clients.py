"""OAuth clients and rotating refresh tokens

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "oauth_client",
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=True),
        sa.Column("scopes", sa.String(length=2048), nullable=False),
        sa.Column("fhir_ref", sa.String(length=128), nullable=True),
        sa.Column("organization", sa.String(length=128), nullable=True),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("created", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("client_id"),
    )
    op.create_table(
        "oauth_refresh_token",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("family", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=True),
        sa.Column("scopes", sa.String(length=2048), nullable=False),
        sa.Column("expires", sa.String(length=32), nullable=False),
        sa.Column("revoked", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("token_hash"),
    )
    with op.batch_alter_table("oauth_refresh_token", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_oauth_refresh_token_family"), ["family"], unique=False)
        batch_op.create_index(batch_op.f("ix_oauth_refresh_token_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("oauth_refresh_token", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_oauth_refresh_token_user_id"))
        batch_op.drop_index(batch_op.f("ix_oauth_refresh_token_family"))

    op.drop_table("oauth_refresh_token")
    op.drop_table("oauth_client")
