"""Imaging: the PACS study index (studies, series, instances), known remote AEs, the reconciliation queue

Revision ID: 0019
Revises: 0018
"""

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _study() -> None:
    op.create_table(
        "imaging_study",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("study_uid", sa.String(64), nullable=False),
        sa.Column("patient_id", sa.String(64), nullable=False),
        sa.Column("patient_name", sa.String(324), nullable=False),
        sa.Column("patient_birth_date", sa.String(8), nullable=False),
        sa.Column("patient_sex", sa.String(16), nullable=False),
        sa.Column("study_date", sa.String(8), nullable=False),
        sa.Column("study_time", sa.String(16), nullable=False),
        sa.Column("accession_number", sa.String(16), nullable=False),
        sa.Column("study_description", sa.String(64), nullable=False),
        sa.Column("modalities", sa.String(160), nullable=False),
        sa.Column("referring_physician", sa.String(324), nullable=False),
        sa.Column("study_id", sa.String(16), nullable=False),
        sa.Column("series_count", sa.Integer(), nullable=False),
        sa.Column("instance_count", sa.Integer(), nullable=False),
        sa.Column("patient_ref", sa.String(100)),
        sa.Column("request_ref", sa.String(100)),
        sa.Column("fhir_ref", sa.String(100)),
        sa.Column("fhir_instance_count", sa.Integer(), nullable=False),
        sa.Column("created", sa.String(32), nullable=False),
        sa.Column("updated", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("study_uid", name="uq_imaging_study_uid"),
    )
    op.create_index("ix_imaging_study_patient", "imaging_study", ["patient_id"])
    op.create_index("ix_imaging_study_date", "imaging_study", ["study_date"])
    op.create_index("ix_imaging_study_accession", "imaging_study", ["accession_number"])


def _series_and_instances() -> None:
    op.create_table(
        "imaging_series",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("study", _ID, nullable=False),
        sa.Column("series_uid", sa.String(64), nullable=False),
        sa.Column("modality", sa.String(16), nullable=False),
        sa.Column("series_number", sa.Integer()),
        sa.Column("series_description", sa.String(64), nullable=False),
        sa.Column("body_part", sa.String(16), nullable=False),
        sa.Column("instance_count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.ForeignKeyConstraint(["study"], ["imaging_study.id"], name="fk_imaging_series_study"),
        sa.UniqueConstraint("series_uid", name="uq_imaging_series_uid"),
    )
    op.create_index("ix_imaging_series_study", "imaging_series", ["study"])
    op.create_table(
        "imaging_instance",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("series", _ID, nullable=False),
        sa.Column("sop_instance_uid", sa.String(64), nullable=False),
        sa.Column("sop_class_uid", sa.String(64), nullable=False),
        sa.Column("instance_number", sa.Integer()),
        sa.Column("transfer_syntax_uid", sa.String(64), nullable=False),
        sa.Column("storage_key", sa.String(200), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("calling_ae", sa.String(16), nullable=False),
        sa.Column("received", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.ForeignKeyConstraint(["series"], ["imaging_series.id"], name="fk_imaging_instance_series"),
        sa.UniqueConstraint("sop_instance_uid", name="uq_imaging_instance_uid"),
    )
    op.create_index("ix_imaging_instance_series", "imaging_instance", ["series", "instance_number"])


def _peers_and_queue() -> None:
    op.create_table(
        "imaging_remote_ae",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("ae_title", sa.String(16), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("port", sa.Integer(), nullable=False),
        sa.Column("description", sa.String(200), nullable=False),
        sa.Column("allowed", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("ae_title", name="uq_imaging_remote_ae_title"),
    )
    op.create_table(
        "imaging_reconciliation",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("study", _ID, nullable=False),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("created", sa.String(32), nullable=False),
        sa.Column("resolved_at", sa.String(32)),
        sa.Column("resolved_by", sa.String(200)),
        sa.PrimaryKeyConstraint("id"),
        sa.ForeignKeyConstraint(["study"], ["imaging_study.id"], name="fk_imaging_reconciliation_study"),
        sa.UniqueConstraint("study", name="uq_imaging_reconciliation_study"),
    )
    op.create_index("ix_imaging_reconciliation_status", "imaging_reconciliation", ["status", "created"])


def upgrade() -> None:
    _study()
    _series_and_instances()
    _peers_and_queue()


def downgrade() -> None:
    for index, table in (("ix_imaging_reconciliation_status", "imaging_reconciliation"),
                         ("ix_imaging_instance_series", "imaging_instance"),
                         ("ix_imaging_series_study", "imaging_series"),
                         ("ix_imaging_study_accession", "imaging_study"),
                         ("ix_imaging_study_date", "imaging_study"),
                         ("ix_imaging_study_patient", "imaging_study")):
        op.drop_index(index, table_name=table)
    for table in ("imaging_reconciliation", "imaging_remote_ae", "imaging_instance", "imaging_series",
                  "imaging_study"):
        op.drop_table(table)
