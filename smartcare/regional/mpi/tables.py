"""MPI tables outside FHIR: golden identities, links of source Patients to them, blocking keys, history, review queue.

A golden identity is one resident; each source record (an institution's Patient/<id>) links to exactly one.
Nothing is deleted: a merge marks the absorbed identity `merged` with `merged_into`, and its links stay
pointing at it, so an unmerge restores both identities with their links exactly as they were. The
effective identity of a link follows `merged_into` to an active identity. Instants are ISO-8601 UTC text
with milliseconds, as in the FHIR store.
"""

import sqlalchemy as sa

from smartcare.platform.schema import metadata

mpi_identity = sa.Table(
    "mpi_identity",
    metadata,
    sa.Column("identity_id", sa.String(64), primary_key=True),
    sa.Column("status", sa.String(16), nullable=False),  # active | merged
    sa.Column("merged_into", sa.String(64)),
    sa.Column("created", sa.String(32), nullable=False),
    sa.Column("updated", sa.String(32), nullable=False),
)
sa.Index("ix_mpi_identity_merged_into", mpi_identity.c.merged_into)

# One row per source record: its identity, how it was linked, and its normalised demographics (JSON) so that
# scoring candidates needs no FHIR read.
mpi_link = sa.Table(
    "mpi_link",
    metadata,
    sa.Column("source", sa.String(80), primary_key=True),  # Patient/<id>
    sa.Column("identity_id", sa.String(64), nullable=False),
    sa.Column("method", sa.String(16), nullable=False),  # national-id | probabilistic | manual | new
    sa.Column("probability", sa.Float, nullable=True),
    sa.Column("person", sa.Text, nullable=False),
    sa.Column("source_version", sa.Integer, nullable=True),
    sa.Column("updated", sa.String(32), nullable=False),
)
sa.Index("ix_mpi_link_identity_id", mpi_link.c.identity_id)

# The blocking keys of each source record ("<rule number>:<key>"), for real-time candidate retrieval.
mpi_block = sa.Table(
    "mpi_block",
    metadata,
    sa.Column("block_key", sa.String(200), primary_key=True),
    sa.Column("source", sa.String(80), primary_key=True),
)
sa.Index("ix_mpi_block_source", mpi_block.c.source)

# Append-only history: every link, unlink, merge, unmerge and review decision, with before and after (JSON).
mpi_event = sa.Table(
    "mpi_event",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("recorded", sa.String(32), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),  # link | unlink | merge | unmerge | review
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("source", sa.String(80)),
    sa.Column("identity_id", sa.String(64)),
    sa.Column("other_identity", sa.String(64)),
    sa.Column("before", sa.Text, nullable=False),
    sa.Column("after", sa.Text, nullable=False),
    sa.Column("reason", sa.Text),
)
sa.Index("ix_mpi_event_source", mpi_event.c.source)
sa.Index("ix_mpi_event_identity_id", mpi_event.c.identity_id)

# Candidate pairs in the review band, with the model's per-field match weights (JSON) for a side-by-side view.
mpi_review = sa.Table(
    "mpi_review",
    metadata,
    sa.Column("review_id", sa.String(64), primary_key=True),
    sa.Column("source", sa.String(80), nullable=False),
    sa.Column("candidate", sa.String(80), nullable=False),
    sa.Column("probability", sa.Float, nullable=False),
    sa.Column("match_weight", sa.Float, nullable=False),
    sa.Column("field_weights", sa.Text, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # open | linked | rejected
    sa.Column("created", sa.String(32), nullable=False),
    sa.Column("decided", sa.String(32)),
    sa.Column("decided_by", sa.String(200)),
    sa.Column("reason", sa.Text),
)
sa.Index("ix_mpi_review_status", mpi_review.c.status)
sa.Index("ix_mpi_review_source", mpi_review.c.source)
