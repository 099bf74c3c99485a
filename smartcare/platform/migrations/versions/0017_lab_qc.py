"""Laboratory quality control: QC materials and their runs with the Westgard verdict

Revision ID: 0017
Revises: 0016
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "lab_qc_material",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("organization", sa.String(200), nullable=False),
        sa.Column("loinc", sa.String(20), nullable=False),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("lot", sa.String(40), nullable=False),
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("target_mean", sa.Float(), nullable=False),
        sa.Column("target_sd", sa.Float(), nullable=False),
        sa.Column("unit", sa.String(40), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("organization", "loinc", "lot", "level", name="uq_lab_qc_material"),
    )
    op.create_index("ix_lab_qc_material_analyte", "lab_qc_material", ["organization", "loinc"])
    op.create_table(
        "lab_qc_run",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("material_id", _ID, nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("run_at", sa.String(32), nullable=False),
        sa.Column("performed_by", sa.String(200), nullable=False),
        sa.Column("verdict", sa.String(10), nullable=False),
        sa.Column("rules", sa.String(100), nullable=False),
        sa.Column("corrective_action", sa.String(500)),
        sa.Column("corrected_at", sa.String(32)),
        sa.Column("corrected_by", sa.String(200)),
        sa.PrimaryKeyConstraint("id"),
        sa.ForeignKeyConstraint(["material_id"], ["lab_qc_material.id"], name="fk_lab_qc_run_material"),
    )
    op.create_index("ix_lab_qc_run_material", "lab_qc_run", ["material_id", "run_at"])


def downgrade() -> None:
    op.drop_index("ix_lab_qc_run_material", table_name="lab_qc_run")
    op.drop_table("lab_qc_run")
    op.drop_index("ix_lab_qc_material_analyte", table_name="lab_qc_material")
    op.drop_table("lab_qc_material")
