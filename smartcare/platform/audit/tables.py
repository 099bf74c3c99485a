"""The append-only, hash-chained `audit_log` table and the DDL that forbids changing its rows."""

import sqlalchemy as sa

from smartcare.platform.schema import metadata

Seq = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

audit_log = sa.Table(
    "audit_log",
    metadata,
    # Assigned by record() as the last seq + 1 under the chain lock, never by a database sequence:
    # a sequence value consumed by a rolled-back transaction would leave a gap that verify reports.
    sa.Column("seq", Seq, primary_key=True, autoincrement=True),
    # ISO-8601 instant with milliseconds and Z, exactly as in AuditEvent.recorded (sortable as text).
    sa.Column("recorded", sa.String(32), nullable=False, index=True),
    # The Patient reference the event concerns, for the patient's "who opened my record" page.
    sa.Column("patient", sa.String(255)),
    # Who acted: AccessContext.author (kind/name).
    sa.Column("agent", sa.String(255), nullable=False),
    sa.Column("action", sa.String(1), nullable=False),
    sa.Column("subtype", sa.String(32), nullable=False),
    sa.Column("outcome", sa.String(2), nullable=False),
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
    # The AuditEvent as canonical JSON text: the hashed bytes are exactly the stored bytes.
    sa.Column("event", sa.Text, nullable=False),
    sa.UniqueConstraint("hash", name="uq_audit_log_hash"),
)
sa.Index("ix_audit_log_patient_seq", audit_log.c.patient, audit_log.c.seq)
sa.Index("ix_audit_log_agent_seq", audit_log.c.agent, audit_log.c.seq)

# Entries written in the caller's transaction, waiting for the sealer to number and chain them into
# audit_log (and then remove them here): appending to the chain takes a lock held to the commit, so
# writing the chain in every request made all audited requests wait for each other.
audit_journal = sa.Table(
    "audit_journal",
    metadata,
    sa.Column("id", Seq, primary_key=True, autoincrement=True),
    # The AuditEvent as JSON, all but its id (the entry number the sealer gives it).
    sa.Column("event", sa.Text, nullable=False),
)

APPEND_ONLY_MESSAGE = "audit_log is append-only"


def append_only_ddl(dialect_name: str) -> list[str]:
    """SQL statements that make audit_log refuse UPDATE and DELETE (and TRUNCATE on PostgreSQL)."""
    if dialect_name == "sqlite":
        return [
            f"CREATE TRIGGER IF NOT EXISTS audit_log_no_{verb.lower()} BEFORE {verb} ON audit_log "
            f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY_MESSAGE}'); END"
            for verb in ("UPDATE", "DELETE")
        ]
    if dialect_name == "postgresql":
        return [
            "CREATE OR REPLACE FUNCTION audit_log_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN RAISE EXCEPTION '{APPEND_ONLY_MESSAGE}' USING ERRCODE = 'insufficient_privilege'; END $$",
            "CREATE OR REPLACE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log "
            "FOR EACH ROW EXECUTE FUNCTION audit_log_refuse_change()",
            # TRUNCATE fires no row triggers; without this one it would empty the trail silently.
            "CREATE OR REPLACE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
            "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse_change()",
        ]
    raise ValueError(f"no append-only DDL for the {dialect_name!r} database")
