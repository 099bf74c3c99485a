"""The share_link table: links a patient (or their proxy) made for someone outside the region.

Kept outside FHIR: a link is a credential (only the sha256 of its token is stored, like a password's
hash), not a clinical fact. Each use is an AuditEvent in the audit trail, agent `share-link/<id>`;
`uses` and `last_used` here only count them for the patient's list. Instants are stored as
clock.format_instant writes them, so they compare as text in SQL.
"""

import sqlalchemy as sa

from smartcare.platform.schema import metadata

share_link = sa.Table(
    "share_link",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("token_hash", sa.String(64), nullable=False),
    sa.Column("patient_ref", sa.String(80), nullable=False),  # Patient/<id>
    sa.Column("scope", sa.String(32), nullable=False),  # a key of data/scopes.yaml
    sa.Column("label", sa.String(100), nullable=False),  # who it is for, as the patient wrote it ("" if none)
    sa.Column("created", sa.String(32), nullable=False),
    sa.Column("created_by", sa.String(255), nullable=False),  # the maker's audit name, kind/username
    sa.Column("expires", sa.String(32), nullable=False),
    sa.Column("revoked", sa.String(32)),
    sa.Column("uses", sa.Integer, nullable=False),
    sa.Column("last_used", sa.String(32)),
    sa.UniqueConstraint("token_hash", name="uq_share_link_token_hash"),
)
sa.Index("ix_share_link_patient", share_link.c.patient_ref, share_link.c.created)
