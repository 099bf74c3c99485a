"""Index user accounts by the FHIR record they are linked to

Revision ID: 0012
Revises: 0011

Notifications and booking checks look accounts up by their Patient reference.
"""

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_user_account_fhir_ref", "user_account", ["fhir_ref"])


def downgrade() -> None:
    op.drop_index("ix_user_account_fhir_ref", table_name="user_account")
