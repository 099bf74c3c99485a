"""CDS Hooks: the cards issued and the feedback on them

Revision ID: 0015
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cds_card",
        sa.Column("uuid", sa.String(36), nullable=False),
        sa.Column("service_id", sa.String(64), nullable=False),
        sa.Column("hook_instance", sa.String(36), nullable=False),
        sa.Column("patient_id", sa.String(64), nullable=False),
        sa.Column("user_ref", sa.String(140), nullable=False),
        sa.Column("rule", sa.String(64), nullable=False),
        sa.Column("indicator", sa.String(10), nullable=False),
        sa.Column("summary", sa.String(200), nullable=False),
        sa.Column("suggestions", sa.Text(), nullable=False),
        sa.Column("issued_at", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("uuid"),
    )
    op.create_index("ix_cds_card_patient", "cds_card", ["patient_id", "issued_at"])
    op.create_table(
        "cds_feedback",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("card_uuid", sa.String(36), nullable=False),
        sa.Column("service_id", sa.String(64), nullable=False),
        sa.Column("outcome", sa.String(12), nullable=False),
        sa.Column("accepted_suggestions", sa.Text(), nullable=False),
        sa.Column("override_code", sa.String(64)),
        sa.Column("override_display", sa.String(256)),
        sa.Column("override_comment", sa.String(1000)),
        sa.Column("outcome_at", sa.String(40), nullable=False),
        sa.Column("recorded_by", sa.String(200), nullable=False),
        sa.Column("recorded_at", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_cds_feedback_card", "cds_feedback", ["card_uuid"])


def downgrade() -> None:
    op.drop_index("ix_cds_feedback_card", table_name="cds_feedback")
    op.drop_table("cds_feedback")
    op.drop_index("ix_cds_card_patient", table_name="cds_card")
    op.drop_table("cds_card")
