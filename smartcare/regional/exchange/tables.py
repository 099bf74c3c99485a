"""Exchange tables outside FHIR: member institutions' credentials and pull state, and one row per submission.

The member itself is FHIR (its Organization and Endpoints); this row ties it to its OAuth client, its HL7
sending facility and the state of pulling from its server. A submission row keeps the sha256 of what was sent,
so the same content sent again is answered with the stored report instead of being written twice.
"""

import sqlalchemy as sa

from smartcare.platform.schema import metadata

exchange_member = sa.Table(
    "exchange_member",
    metadata,
    sa.Column("organization", sa.String(128), primary_key=True),  # Organization/<id>
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("client_id", sa.String(64), nullable=False, unique=True),
    sa.Column("sends", sa.Text, nullable=False),  # JSON list: resource types and feeds ("hl7v2:ADT")
    sa.Column("hl7_facility", sa.String(227), nullable=True),  # MSH-4 of the member's HL7 v2 feed
    sa.Column("pull_base", sa.String(500), nullable=True),  # the member's FHIR base URL, when we pull
    sa.Column("pull_token_url", sa.String(500), nullable=True),
    sa.Column("pull_client_id", sa.String(200), nullable=True),
    sa.Column("pull_secret", sa.Text, nullable=True),  # sealed (platform/security/sealing.py)
    # The platform's private key (PEM, sealed) for signed assertions to the member's token endpoint.
    sa.Column("pull_key", sa.Text, nullable=True),
    sa.Column("pull_since", sa.String(40), nullable=True),  # the newest meta.lastUpdated pulled so far
    sa.Column("registered", sa.String(32), nullable=False),
)

exchange_submission = sa.Table(
    "exchange_submission",
    metadata,
    sa.Column("submission_id", sa.String(64), primary_key=True),
    sa.Column("member", sa.String(128), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),  # batch | transaction | ndjson | hl7 | pull
    sa.Column("content_sha256", sa.String(64), nullable=False),
    sa.Column("received", sa.String(32), nullable=False),
    sa.Column("accepted", sa.Integer, nullable=False),
    sa.Column("rejected", sa.Integer, nullable=False),
    sa.Column("warnings", sa.Integer, nullable=False),
    sa.Column("report", sa.Text, nullable=False),  # the report JSON sent back
    sa.UniqueConstraint("member", "kind", "content_sha256", name="uq_exchange_submission_content"),
)
sa.Index("ix_exchange_submission_member_received", exchange_submission.c.member, exchange_submission.c.received)
