"""Master patient index: golden identities, links of source Patients, blocking keys, history, review queue

Revision ID: 0024
Revises: 0023
"""

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mpi_identity",
        sa.Column("identity_id", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("merged_into", sa.String(64), nullable=True),
        sa.Column("created", sa.String(32), nullable=False),
        sa.Column("updated", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("identity_id"),
    )
    op.create_index("ix_mpi_identity_merged_into", "mpi_identity", ["merged_into"])
    op.create_table(
        "mpi_link",
        sa.Column("source", sa.String(80), nullable=False),
        sa.Column("identity_id", sa.String(64), nullable=False),
        sa.Column("method", sa.String(16), nullable=False),
        sa.Column("probability", sa.Float(), nullable=True),
        sa.Column("person", sa.Text(), nullable=False),
        sa.Column("source_version", sa.Integer(), nullable=True),
        sa.Column("updated", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("source"),
    )
    op.create_index("ix_mpi_link_identity_id", "mpi_link", ["identity_id"])
    op.create_table(
        "mpi_block",
        sa.Column("block_key", sa.String(200), nullable=False),
        sa.Column("source", sa.String(80), nullable=False),
        sa.PrimaryKeyConstraint("block_key", "source"),
    )
    op.create_index("ix_mpi_block_source", "mpi_block", ["source"])
    op.create_table(
        "mpi_event",
        sa.Column("seq", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("recorded", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("source", sa.String(80), nullable=True),
        sa.Column("identity_id", sa.String(64), nullable=True),
        sa.Column("other_identity", sa.String(64), nullable=True),
        sa.Column("before", sa.Text(), nullable=False),
        sa.Column("after", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("seq"),
    )
    op.create_index("ix_mpi_event_source", "mpi_event", ["source"])
    op.create_index("ix_mpi_event_identity_id", "mpi_event", ["identity_id"])
    op.create_table(
        "mpi_review",
        sa.Column("review_id", sa.String(64), nullable=False),
        sa.Column("source", sa.String(80), nullable=False),
        sa.Column("candidate", sa.String(80), nullable=False),
        sa.Column("probability", sa.Float(), nullable=False),
        sa.Column("match_weight", sa.Float(), nullable=False),
        sa.Column("field_weights", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created", sa.String(32), nullable=False),
        sa.Column("decided", sa.String(32), nullable=True),
        sa.Column("decided_by", sa.String(200), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("review_id"),
    )
    op.create_index("ix_mpi_review_status", "mpi_review", ["status"])
    op.create_index("ix_mpi_review_source", "mpi_review", ["source"])


def downgrade() -> None:
    op.drop_index("ix_mpi_review_source", table_name="mpi_review")
    op.drop_index("ix_mpi_review_status", table_name="mpi_review")
    op.drop_table("mpi_review")
    op.drop_index("ix_mpi_event_identity_id", table_name="mpi_event")
    op.drop_index("ix_mpi_event_source", table_name="mpi_event")
    op.drop_table("mpi_event")
    op.drop_index("ix_mpi_block_source", table_name="mpi_block")
    op.drop_table("mpi_block")
    op.drop_index("ix_mpi_link_identity_id", table_name="mpi_link")
    op.drop_table("mpi_link")
    op.drop_index("ix_mpi_identity_merged_into", table_name="mpi_identity")
    op.drop_table("mpi_identity")
