"""Break-the-glass: emergency access to a patient outside one's care, with a reason, for a limited time."""

import sqlalchemy as sa

from smartcare.platform.schema import metadata

# One row per emergency access granted; instants are ISO-8601 UTC text as elsewhere.
break_glass_grant = sa.Table(
    "break_glass_grant",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("user_id", sa.String(36), nullable=False),
    sa.Column("username", sa.String(64), nullable=False),
    sa.Column("patient_id", sa.String(64), nullable=False),
    sa.Column("reason", sa.String(500), nullable=False),
    sa.Column("started", sa.String(32), nullable=False),
    sa.Column("expires", sa.String(32), nullable=False),
    # Set when the clinician closes the access before it runs out.
    sa.Column("ended", sa.String(32)),
)
sa.Index("ix_break_glass_grant_user", break_glass_grant.c.user_id, break_glass_grant.c.expires)
sa.Index("ix_break_glass_grant_patient", break_glass_grant.c.patient_id)
