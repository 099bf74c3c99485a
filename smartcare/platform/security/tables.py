"""Tables of identity: user accounts, the login-throttling counters and the client assertions already used."""

import sqlalchemy as sa

from smartcare.platform.schema import metadata

# Instants are ISO-8601 UTC text with milliseconds ("2024-05-01T08:00:00.000Z"), as in the FHIR
# store, so they sort as text and read the same on SQLite and PostgreSQL.
user_account = sa.Table(
    "user_account",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("username", sa.String(64), nullable=False),
    # Usernames are unique regardless of case: "Alice" and "alice" are one account.
    sa.Column("username_key", sa.String(64), nullable=False),
    sa.Column("password_hash", sa.String(255), nullable=False),
    sa.Column("role", sa.String(32), nullable=False),
    # The FHIR resource this user is: Patient/..., Practitioner/..., RelatedPerson/..., Device/...
    sa.Column("fhir_ref", sa.String(100)),
    sa.Column("organization", sa.String(100)),
    sa.Column("locale", sa.String(16), nullable=False, default="en"),
    sa.Column("phone", sa.String(32)),
    # Stored lower-cased; several NULLs are allowed by a unique constraint on both databases.
    sa.Column("email", sa.String(254)),
    # An administrator's lock, until an administrator lifts it.
    sa.Column("locked", sa.Boolean, nullable=False, default=False),
    # A temporary lockout after repeated failed logins; it lifts itself at this instant.
    sa.Column("locked_until", sa.String(32)),
    sa.Column("failed_logins", sa.Integer, nullable=False, default=0),
    # The TOTP secret in use, encrypted (see security/secrets.py); None when no second factor is set.
    sa.Column("totp_secret", sa.String(200)),
    # A secret offered at enrolment, encrypted, until the user proves it with a first code.
    sa.Column("totp_pending", sa.String(200)),
    # The last TOTP time step accepted, so a code is good for one login only.
    sa.Column("totp_last_step", sa.BigInteger),
    sa.Column("password_changed", sa.String(32), nullable=False),
    sa.Column("created", sa.String(32), nullable=False),
    sa.Column("last_login", sa.String(32)),
    sa.UniqueConstraint("username_key", name="uq_user_account_username_key"),
    sa.UniqueConstraint("email", name="uq_user_account_email"),
)
sa.Index("ix_user_account_role", user_account.c.role)
# Notifications and booking checks find the accounts of a patient by their record.
sa.Index("ix_user_account_fhir_ref", user_account.c.fhir_ref)

# One row per throttled subject: "user:<id>", "name:<username key>" or "addr:<ip>".
login_throttle = sa.Table(
    "login_throttle",
    metadata,
    sa.Column("key", sa.String(120), primary_key=True),
    sa.Column("window_start", sa.String(32), nullable=False),
    sa.Column("count", sa.Integer, nullable=False),
)

# The jti of every signed client assertion accepted (SMART Backend Services), kept until the assertion
# could no longer be accepted anyway, so the same assertion is refused the second time, whichever
# server process sees it.
oauth_assertion_jti = sa.Table(
    "oauth_assertion_jti",
    metadata,
    sa.Column("client_id", sa.String(64), primary_key=True),
    sa.Column("jti", sa.String(255), primary_key=True),
    sa.Column("expires", sa.String(32), nullable=False),
)
