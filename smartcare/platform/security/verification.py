"""One-time verification codes for sign-up and password reset, delivered through a pluggable channel."""

import sqlalchemy as sa

from smartcare.platform.schema import metadata

# One row per code sent; only a hash of the code is kept.
verification_code = sa.Table(
    "verification_code",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("purpose", sa.String(16), nullable=False),  # "signup" or "reset"
    sa.Column("channel", sa.String(16), nullable=False),  # "sms" or "email"
    sa.Column("address", sa.String(254), nullable=False),  # the phone number or e-mail address
    sa.Column("code_hash", sa.String(128), nullable=False),
    sa.Column("created", sa.String(32), nullable=False),
    sa.Column("expires", sa.String(32), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("consumed", sa.String(32)),
)
sa.Index("ix_verification_code_address", verification_code.c.address, verification_code.c.purpose)
