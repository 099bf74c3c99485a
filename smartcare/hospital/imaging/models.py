"""Tables of the PACS: the study index C-FIND answers from, the known remote AEs, and the reconciliation queue.

Kept outside FHIR: the index is the DICOM service's own working record (each stored instance, where its file
lies, the attributes queries match on). What clinicians see of a study is its FHIR ImagingStudy, written from
this index; a study whose patient could not be matched waits in imaging_reconciliation instead.
Lengths follow the DICOM value representations (UI 64, LO 64, SH 16, PN 64 per component group, DA 8).
"""

import sqlalchemy as sa

from smartcare.platform.schema import metadata

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

imaging_study = sa.Table(
    "imaging_study",
    metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("study_uid", sa.String(64), nullable=False),
    sa.Column("patient_id", sa.String(64), nullable=False),
    sa.Column("patient_name", sa.String(324), nullable=False),
    sa.Column("patient_birth_date", sa.String(8), nullable=False),
    sa.Column("patient_sex", sa.String(16), nullable=False),
    sa.Column("study_date", sa.String(8), nullable=False),
    sa.Column("study_time", sa.String(16), nullable=False),
    sa.Column("accession_number", sa.String(16), nullable=False),
    sa.Column("study_description", sa.String(64), nullable=False),
    # ModalitiesInStudy as DICOM writes it: codes joined by backslashes, in the order first seen.
    sa.Column("modalities", sa.String(160), nullable=False),
    sa.Column("referring_physician", sa.String(324), nullable=False),
    sa.Column("study_id", sa.String(16), nullable=False),
    sa.Column("series_count", sa.Integer, nullable=False),
    sa.Column("instance_count", sa.Integer, nullable=False),
    # The FHIR side: the matched Patient and ServiceRequest, the ImagingStudy written, and the instance count it
    # was last written with (a study whose count differs is due a rewrite, also after a crash).
    sa.Column("patient_ref", sa.String(100)),
    sa.Column("request_ref", sa.String(100)),
    sa.Column("fhir_ref", sa.String(100)),
    sa.Column("fhir_instance_count", sa.Integer, nullable=False),
    sa.Column("created", sa.String(32), nullable=False),
    sa.Column("updated", sa.String(32), nullable=False),
    sa.UniqueConstraint("study_uid", name="uq_imaging_study_uid"),
)
sa.Index("ix_imaging_study_patient", imaging_study.c.patient_id)
sa.Index("ix_imaging_study_date", imaging_study.c.study_date)
sa.Index("ix_imaging_study_accession", imaging_study.c.accession_number)

imaging_series = sa.Table(
    "imaging_series",
    metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("study", _ID, sa.ForeignKey("imaging_study.id", name="fk_imaging_series_study"), nullable=False),
    sa.Column("series_uid", sa.String(64), nullable=False),
    sa.Column("modality", sa.String(16), nullable=False),
    sa.Column("series_number", sa.Integer),
    sa.Column("series_description", sa.String(64), nullable=False),
    sa.Column("body_part", sa.String(16), nullable=False),
    sa.Column("instance_count", sa.Integer, nullable=False),
    sa.UniqueConstraint("series_uid", name="uq_imaging_series_uid"),
)
sa.Index("ix_imaging_series_study", imaging_series.c.study)

imaging_instance = sa.Table(
    "imaging_instance",
    metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("series", _ID, sa.ForeignKey("imaging_series.id", name="fk_imaging_instance_series"), nullable=False),
    sa.Column("sop_instance_uid", sa.String(64), nullable=False),
    sa.Column("sop_class_uid", sa.String(64), nullable=False),
    sa.Column("instance_number", sa.Integer),
    sa.Column("transfer_syntax_uid", sa.String(64), nullable=False),
    # Where the instance store keeps the file (study/series/instance.dcm), its size and SHA-256.
    sa.Column("storage_key", sa.String(200), nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("digest", sa.String(64), nullable=False),
    sa.Column("calling_ae", sa.String(16), nullable=False),
    sa.Column("received", sa.String(32), nullable=False),
    sa.UniqueConstraint("sop_instance_uid", name="uq_imaging_instance_uid"),
)
sa.Index("ix_imaging_instance_series", imaging_instance.c.series, imaging_instance.c.instance_number)

imaging_remote_ae = sa.Table(
    "imaging_remote_ae",
    metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("ae_title", sa.String(16), nullable=False),
    sa.Column("host", sa.String(255), nullable=False),
    sa.Column("port", sa.Integer, nullable=False),
    sa.Column("description", sa.String(200), nullable=False),
    # A known AE that may open associations with us (a modality, another PACS, a workstation).
    sa.Column("allowed", sa.Boolean, nullable=False),
    sa.UniqueConstraint("ae_title", name="uq_imaging_remote_ae_title"),
)

imaging_reconciliation = sa.Table(
    "imaging_reconciliation",
    metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("study", _ID, sa.ForeignKey("imaging_study.id", name="fk_imaging_reconciliation_study"),
              nullable=False),
    sa.Column("reason", sa.String(500), nullable=False),
    # open (waiting for someone to pick the patient) or resolved.
    sa.Column("status", sa.String(12), nullable=False),
    sa.Column("created", sa.String(32), nullable=False),
    sa.Column("resolved_at", sa.String(32)),
    sa.Column("resolved_by", sa.String(200)),
    sa.UniqueConstraint("study", name="uq_imaging_reconciliation_study"),
)
sa.Index("ix_imaging_reconciliation_status", imaging_reconciliation.c.status, imaging_reconciliation.c.created)
