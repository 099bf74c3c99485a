"""Backend clients that authenticate with signed assertions: their key sets, the assertions already used, and the
platform's own signing key for pulling from each exchange member

Revision ID: 0026
Revises: 0025
"""

import sqlalchemy as sa
from alembic import op

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("oauth_client") as batch:
        batch.add_column(sa.Column("jwks", sa.Text(), nullable=True))
    op.create_table(
        "oauth_assertion_jti",
        sa.Column("client_id", sa.String(64), nullable=False),
        sa.Column("jti", sa.String(255), nullable=False),
        sa.Column("expires", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("client_id", "jti"),
    )
    with op.batch_alter_table("exchange_member") as batch:
        batch.add_column(sa.Column("pull_key", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("exchange_member") as batch:
        batch.drop_column("pull_key")
    op.drop_table("oauth_assertion_jti")
    with op.batch_alter_table("oauth_client") as batch:
        batch.drop_column("jwks")
