"""Tables of the CDS service: the cards it issued, and what clinicians did with them.

Working records of the decision support (which card, accepted or overridden, and why), kept outside
FHIR; the override that matters clinically is also written on the DetectedIssue when orders are signed.
"""

import sqlalchemy as sa

from smartcare.platform.schema import metadata

cds_card = sa.Table(
    "cds_card",
    metadata,
    sa.Column("uuid", sa.String(36), primary_key=True),
    sa.Column("service_id", sa.String(64), nullable=False),
    sa.Column("hook_instance", sa.String(36), nullable=False),
    sa.Column("patient_id", sa.String(64), nullable=False),
    sa.Column("user_ref", sa.String(140), nullable=False),
    sa.Column("rule", sa.String(64), nullable=False),
    sa.Column("indicator", sa.String(10), nullable=False),
    sa.Column("summary", sa.String(200), nullable=False),
    # The UUIDs of the card's suggestions, comma-separated, so feedback can be checked against them.
    sa.Column("suggestions", sa.Text, nullable=False, default=""),
    sa.Column("issued_at", sa.String(32), nullable=False),
)
sa.Index("ix_cds_card_patient", cds_card.c.patient_id, cds_card.c.issued_at)

cds_feedback = sa.Table(
    "cds_feedback",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("card_uuid", sa.String(36), nullable=False),
    sa.Column("service_id", sa.String(64), nullable=False),
    sa.Column("outcome", sa.String(12), nullable=False),
    sa.Column("accepted_suggestions", sa.Text, nullable=False, default=""),
    sa.Column("override_code", sa.String(64)),
    sa.Column("override_display", sa.String(256)),
    sa.Column("override_comment", sa.String(1000)),
    sa.Column("outcome_at", sa.String(40), nullable=False),
    sa.Column("recorded_by", sa.String(200), nullable=False),
    sa.Column("recorded_at", sa.String(32), nullable=False),
)
sa.Index("ix_cds_feedback_card", cds_feedback.c.card_uuid)
