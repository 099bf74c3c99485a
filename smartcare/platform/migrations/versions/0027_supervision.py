"""Health supervision: supervised facilities, licences, inspection plans, inspections, answers and findings

Revision ID: 0027
Revises: 0026
"""

import sqlalchemy as sa
from alembic import op

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "supervised_facility",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("address", sa.String(300), nullable=False),
        sa.Column("district", sa.String(12), nullable=False),
        sa.Column("organization_ref", sa.String(80), nullable=True),
        sa.Column("beds", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("created", sa.String(32), nullable=False),
        sa.Column("created_by", sa.String(255), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("organization_ref", name="uq_supervised_facility_organization"),
    )
    op.create_index("ix_supervised_facility_kind_district", "supervised_facility", ["kind", "district"])
    op.create_table(
        "facility_licence",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("facility_id", sa.String(36), sa.ForeignKey("supervised_facility.id"), nullable=False),
        sa.Column("kind", sa.String(30), nullable=False),
        sa.Column("number", sa.String(60), nullable=False),
        sa.Column("issued", sa.String(10), nullable=False),
        sa.Column("expires", sa.String(10), nullable=False),
        sa.Column("revoked_on", sa.String(10), nullable=True),
        sa.Column("revoked_reason", sa.String(300), nullable=True),
        sa.Column("created", sa.String(32), nullable=False),
        sa.Column("created_by", sa.String(255), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_facility_licence_facility", "facility_licence", ["facility_id", "issued"])
    op.create_index("ix_facility_licence_expires", "facility_licence", ["expires"])
    op.create_table(
        "inspection_plan",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("starts", sa.String(10), nullable=False),
        sa.Column("ends", sa.String(10), nullable=False),
        sa.Column("kinds", sa.String(120), nullable=False),
        sa.Column("district", sa.String(12), nullable=True),
        sa.Column("inspectors", sa.String(400), nullable=False),
        sa.Column("created", sa.String(32), nullable=False),
        sa.Column("created_by", sa.String(255), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "inspection_plan_item",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("plan_id", sa.String(36), sa.ForeignKey("inspection_plan.id"), nullable=False),
        sa.Column("facility_id", sa.String(36), sa.ForeignKey("supervised_facility.id"), nullable=False),
        sa.Column("due", sa.String(10), nullable=False),
        sa.Column("inspection_id", sa.String(36), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("plan_id", "facility_id", name="uq_inspection_plan_item_facility"),
    )
    op.create_index("ix_inspection_plan_item_due", "inspection_plan_item", ["due"])
    op.create_table(
        "inspection",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("facility_id", sa.String(36), sa.ForeignKey("supervised_facility.id"), nullable=False),
        sa.Column("plan_item_id", sa.String(36), sa.ForeignKey("inspection_plan_item.id"), nullable=True),
        sa.Column("inspected_on", sa.String(10), nullable=False),
        sa.Column("inspectors", sa.String(400), nullable=False),
        sa.Column("kind", sa.String(12), nullable=False),
        sa.Column("notes", sa.String(2000), nullable=False),
        sa.Column("created", sa.String(32), nullable=False),
        sa.Column("created_by", sa.String(255), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_inspection_facility", "inspection", ["facility_id", "inspected_on"])
    op.create_index("ix_inspection_inspected_on", "inspection", ["inspected_on"])
    op.create_table(
        "inspection_answer",
        sa.Column("inspection_id", sa.String(36), sa.ForeignKey("inspection.id"), nullable=False),
        sa.Column("item_id", sa.String(40), nullable=False),
        sa.Column("result", sa.String(16), nullable=False),
        sa.Column("note", sa.String(500), nullable=False),
        sa.PrimaryKeyConstraint("inspection_id", "item_id"),
    )
    op.create_table(
        "finding",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("inspection_id", sa.String(36), sa.ForeignKey("inspection.id"), nullable=False),
        sa.Column("facility_id", sa.String(36), sa.ForeignKey("supervised_facility.id"), nullable=False),
        sa.Column("item_id", sa.String(40), nullable=True),
        sa.Column("description", sa.String(1000), nullable=False),
        sa.Column("severity", sa.String(10), nullable=False),
        sa.Column("is_violation", sa.Boolean(), nullable=False),
        sa.Column("legal_basis", sa.String(300), nullable=True),
        sa.Column("rectify_by", sa.String(10), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("closed_by_inspection_id", sa.String(36), sa.ForeignKey("inspection.id"), nullable=True),
        sa.Column("closed_on", sa.String(10), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_finding_facility_status", "finding", ["facility_id", "status"])
    op.create_index("ix_finding_rectify_by", "finding", ["rectify_by"])


def downgrade() -> None:
    for name in ("finding", "inspection_answer", "inspection", "inspection_plan_item", "inspection_plan",
                 "facility_licence", "supervised_facility"):
        op.drop_table(name)
