"""Tables of laboratory quality control: the control materials each hospital laboratory runs, and their runs.

Kept outside FHIR: QC is the laboratory's own working record about its instruments, not anyone's health
data. A run keeps the Westgard verdict it was given when it was recorded (the rules that fired), so the
chart and the hold on patient results read what the technician saw, even if a later run changes the picture.
"""

import sqlalchemy as sa

from smartcare.platform.schema import metadata

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

lab_qc_material = sa.Table(
    "lab_qc_material",
    metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    # The hospital whose laboratory runs the material, e.g. Organization/org-hosp-1.
    sa.Column("organization", sa.String(200), nullable=False),
    sa.Column("loinc", sa.String(20), nullable=False),
    sa.Column("name", sa.String(120), nullable=False),
    sa.Column("lot", sa.String(40), nullable=False),
    # normal, abnormal-low or abnormal-high (quality.LEVELS).
    sa.Column("level", sa.String(16), nullable=False),
    sa.Column("target_mean", sa.Float, nullable=False),
    sa.Column("target_sd", sa.Float, nullable=False),
    sa.Column("unit", sa.String(40), nullable=False),
    sa.Column("active", sa.Boolean, nullable=False, default=True),
    sa.Column("created_at", sa.String(32), nullable=False),
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.UniqueConstraint("organization", "loinc", "lot", "level", name="uq_lab_qc_material"),
)
sa.Index("ix_lab_qc_material_analyte", lab_qc_material.c.organization, lab_qc_material.c.loinc)

lab_qc_run = sa.Table(
    "lab_qc_run",
    metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("material_id", _ID, sa.ForeignKey("lab_qc_material.id", name="fk_lab_qc_run_material"),
              nullable=False),
    sa.Column("value", sa.Float, nullable=False),
    sa.Column("run_at", sa.String(32), nullable=False),
    sa.Column("performed_by", sa.String(200), nullable=False),
    # accepted, warning or rejected; the Westgard rules that fired, space-separated ("1-2s 2-2s").
    sa.Column("verdict", sa.String(10), nullable=False),
    sa.Column("rules", sa.String(100), nullable=False, default=""),
    sa.Column("corrective_action", sa.String(500)),
    sa.Column("corrected_at", sa.String(32)),
    sa.Column("corrected_by", sa.String(200)),
)
sa.Index("ix_lab_qc_run_material", lab_qc_run.c.material_id, lab_qc_run.c.run_at)
