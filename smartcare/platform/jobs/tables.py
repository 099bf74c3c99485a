"""The `job` table: the transactional outbox and the state of every job, from queued to done or dead."""

import sqlalchemy as sa

from smartcare.platform.schema import metadata

QUEUED, RUNNING, DONE, DEAD = "queued", "running", "done", "dead"
STATES = (QUEUED, RUNNING, DONE, DEAD)

job = sa.Table(
    "job",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("kind", sa.String(64), nullable=False),
    sa.Column("payload", sa.JSON, nullable=False),
    # Enqueueing twice with the same key gives one job (periodic runs, one delivery per channel ...).
    sa.Column("key", sa.String(200), unique=True),
    sa.Column("state", sa.String(16), nullable=False),
    # Instants are text in clock.format_instant's form, so they compare and sort as strings.
    sa.Column("run_at", sa.String(32), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("max_attempts", sa.Integer, nullable=False),
    sa.Column("last_error", sa.Text),
    # A running job whose lease ran out belongs to a worker that died: another may take it over.
    sa.Column("locked_by", sa.String(64)),
    sa.Column("locked_until", sa.String(32)),
    # When the job was last handed to the message broker (production); None: not yet, or due again.
    sa.Column("relayed", sa.String(32)),
    sa.Column("created", sa.String(32), nullable=False),
    sa.Column("updated", sa.String(32), nullable=False),
)
sa.Index("ix_job_state_run_at", job.c.state, job.c.run_at)
