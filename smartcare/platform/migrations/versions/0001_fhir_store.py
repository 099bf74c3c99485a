"""FHIR store: resources, history, search indexes, export jobs

Revision ID: 0001
Revises: (none)
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "fhir_export_job",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("request_url", sa.String(length=2048), nullable=False),
        sa.Column(
            "params",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("requested_by", sa.String(length=255), nullable=False),
        sa.Column("created", sa.String(length=32), nullable=False),
        sa.Column("transaction_time", sa.String(length=32), nullable=False),
        sa.Column("completed", sa.String(length=32), nullable=True),
        sa.Column(
            "output",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "fhir_idx_date",
        sa.Column("res_pk", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("res_type", sa.String(length=64), nullable=False),
        sa.Column("param", sa.String(length=100), nullable=False),
        sa.Column("grp", sa.Integer(), nullable=True),
        sa.Column("low", sa.Float(), nullable=False),
        sa.Column("high", sa.Float(), nullable=False),
    )
    with op.batch_alter_table("fhir_idx_date", schema=None) as batch_op:
        batch_op.create_index("ix_fhir_idx_date_pk", ["res_pk"], unique=False)
        batch_op.create_index(
            "ix_fhir_idx_date_res_type_param_low_high",
            ["res_type", "param", "low", "high", "res_pk"],
            unique=False,
        )

    op.create_table(
        "fhir_idx_number",
        sa.Column("res_pk", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("res_type", sa.String(length=64), nullable=False),
        sa.Column("param", sa.String(length=100), nullable=False),
        sa.Column("grp", sa.Integer(), nullable=True),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("low", sa.Float(), nullable=False),
        sa.Column("high", sa.Float(), nullable=False),
    )
    with op.batch_alter_table("fhir_idx_number", schema=None) as batch_op:
        batch_op.create_index("ix_fhir_idx_number_pk", ["res_pk"], unique=False)
        batch_op.create_index(
            "ix_fhir_idx_number_res_type_param_value", ["res_type", "param", "value", "res_pk"], unique=False
        )

    op.create_table(
        "fhir_idx_quantity",
        sa.Column("res_pk", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("res_type", sa.String(length=64), nullable=False),
        sa.Column("param", sa.String(length=100), nullable=False),
        sa.Column("grp", sa.Integer(), nullable=True),
        sa.Column("system", sa.String(length=255), nullable=True),
        sa.Column("code", sa.String(length=255), nullable=True),
        sa.Column("unit", sa.String(length=255), nullable=True),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("low", sa.Float(), nullable=False),
        sa.Column("high", sa.Float(), nullable=False),
    )
    with op.batch_alter_table("fhir_idx_quantity", schema=None) as batch_op:
        batch_op.create_index("ix_fhir_idx_quantity_pk", ["res_pk"], unique=False)
        batch_op.create_index(
            "ix_fhir_idx_quantity_res_type_param_code_value",
            ["res_type", "param", "code", "value", "res_pk"],
            unique=False,
        )

    op.create_table(
        "fhir_idx_reference",
        sa.Column("res_pk", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("res_type", sa.String(length=64), nullable=False),
        sa.Column("param", sa.String(length=100), nullable=False),
        sa.Column("grp", sa.Integer(), nullable=True),
        sa.Column("target_type", sa.String(length=64), nullable=True),
        sa.Column("target_id", sa.String(length=64), nullable=True),
        sa.Column("url", sa.String(length=1024), nullable=True),
    )
    with op.batch_alter_table("fhir_idx_reference", schema=None) as batch_op:
        batch_op.create_index("ix_fhir_idx_reference_pk", ["res_pk"], unique=False)
        batch_op.create_index(
            "ix_fhir_idx_reference_res_type_param_target_id_target_type",
            ["res_type", "param", "target_id", "target_type", "res_pk"],
            unique=False,
        )

    op.create_table(
        "fhir_idx_string",
        sa.Column("res_pk", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("res_type", sa.String(length=64), nullable=False),
        sa.Column("param", sa.String(length=100), nullable=False),
        sa.Column("grp", sa.Integer(), nullable=True),
        sa.Column(
            "value",
            sa.String(length=255).with_variant(sa.String(length=255, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column("exact", sa.String(length=255), nullable=False),
    )
    with op.batch_alter_table("fhir_idx_string", schema=None) as batch_op:
        batch_op.create_index("ix_fhir_idx_string_pk", ["res_pk"], unique=False)
        batch_op.create_index(
            "ix_fhir_idx_string_res_type_param_value", ["res_type", "param", "value", "res_pk"], unique=False
        )

    op.create_table(
        "fhir_idx_token",
        sa.Column("res_pk", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("res_type", sa.String(length=64), nullable=False),
        sa.Column("param", sa.String(length=100), nullable=False),
        sa.Column("grp", sa.Integer(), nullable=True),
        sa.Column("system", sa.String(length=255), nullable=True),
        sa.Column("code", sa.String(length=255), nullable=True),
        sa.Column("text", sa.String(length=255), nullable=True),
    )
    with op.batch_alter_table("fhir_idx_token", schema=None) as batch_op:
        batch_op.create_index("ix_fhir_idx_token_pk", ["res_pk"], unique=False)
        batch_op.create_index(
            "ix_fhir_idx_token_res_type_param_code_system",
            ["res_type", "param", "code", "system", "res_pk"],
            unique=False,
        )

    op.create_table(
        "fhir_idx_uri",
        sa.Column("res_pk", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("res_type", sa.String(length=64), nullable=False),
        sa.Column("param", sa.String(length=100), nullable=False),
        sa.Column("grp", sa.Integer(), nullable=True),
        sa.Column(
            "value",
            sa.String(length=1024).with_variant(sa.String(length=1024, collation="C"), "postgresql"),
            nullable=False,
        ),
    )
    with op.batch_alter_table("fhir_idx_uri", schema=None) as batch_op:
        batch_op.create_index("ix_fhir_idx_uri_pk", ["res_pk"], unique=False)
        batch_op.create_index(
            "ix_fhir_idx_uri_res_type_param_value", ["res_type", "param", "value", "res_pk"], unique=False
        )

    op.create_table(
        "fhir_resource",
        sa.Column(
            "pk", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("res_type", sa.String(length=64), nullable=False),
        sa.Column("res_id", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("last_updated", sa.String(length=32), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("source", sa.String(length=255), nullable=True),
        sa.Column(
            "content",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.PrimaryKeyConstraint("pk"),
        sa.UniqueConstraint("res_type", "res_id", name="uq_fhir_resource_type_id"),
    )
    with op.batch_alter_table("fhir_resource", schema=None) as batch_op:
        batch_op.create_index("ix_fhir_resource_type_updated", ["res_type", "last_updated"], unique=False)

    op.create_table(
        "fhir_resource_history",
        sa.Column(
            "hid", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("pk", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("res_type", sa.String(length=64), nullable=False),
        sa.Column("res_id", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("last_updated", sa.String(length=32), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("method", sa.String(length=8), nullable=False),
        sa.Column("author", sa.String(length=255), nullable=False),
        sa.Column(
            "content",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.PrimaryKeyConstraint("hid"),
        sa.UniqueConstraint("res_type", "res_id", "version", name="uq_fhir_history_type_id_version"),
    )
    with op.batch_alter_table("fhir_resource_history", schema=None) as batch_op:
        batch_op.create_index("ix_fhir_history_type_updated", ["res_type", "last_updated"], unique=False)
        batch_op.create_index("ix_fhir_history_updated", ["last_updated"], unique=False)
        batch_op.create_index(batch_op.f("ix_fhir_resource_history_pk"), ["pk"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("fhir_resource_history", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_fhir_resource_history_pk"))
        batch_op.drop_index("ix_fhir_history_updated")
        batch_op.drop_index("ix_fhir_history_type_updated")

    op.drop_table("fhir_resource_history")
    with op.batch_alter_table("fhir_resource", schema=None) as batch_op:
        batch_op.drop_index("ix_fhir_resource_type_updated")

    op.drop_table("fhir_resource")
    with op.batch_alter_table("fhir_idx_uri", schema=None) as batch_op:
        batch_op.drop_index("ix_fhir_idx_uri_res_type_param_value")
        batch_op.drop_index("ix_fhir_idx_uri_pk")

    op.drop_table("fhir_idx_uri")
    with op.batch_alter_table("fhir_idx_token", schema=None) as batch_op:
        batch_op.drop_index("ix_fhir_idx_token_res_type_param_code_system")
        batch_op.drop_index("ix_fhir_idx_token_pk")

    op.drop_table("fhir_idx_token")
    with op.batch_alter_table("fhir_idx_string", schema=None) as batch_op:
        batch_op.drop_index("ix_fhir_idx_string_res_type_param_value")
        batch_op.drop_index("ix_fhir_idx_string_pk")

    op.drop_table("fhir_idx_string")
    with op.batch_alter_table("fhir_idx_reference", schema=None) as batch_op:
        batch_op.drop_index("ix_fhir_idx_reference_res_type_param_target_id_target_type")
        batch_op.drop_index("ix_fhir_idx_reference_pk")

    op.drop_table("fhir_idx_reference")
    with op.batch_alter_table("fhir_idx_quantity", schema=None) as batch_op:
        batch_op.drop_index("ix_fhir_idx_quantity_res_type_param_code_value")
        batch_op.drop_index("ix_fhir_idx_quantity_pk")

    op.drop_table("fhir_idx_quantity")
    with op.batch_alter_table("fhir_idx_number", schema=None) as batch_op:
        batch_op.drop_index("ix_fhir_idx_number_res_type_param_value")
        batch_op.drop_index("ix_fhir_idx_number_pk")

    op.drop_table("fhir_idx_number")
    with op.batch_alter_table("fhir_idx_date", schema=None) as batch_op:
        batch_op.drop_index("ix_fhir_idx_date_res_type_param_low_high")
        batch_op.drop_index("ix_fhir_idx_date_pk")

    op.drop_table("fhir_idx_date")
    op.drop_table("fhir_export_job")
