"""Tables of the FHIR store: current resources, full history, and typed search-index tables.

The layout follows HAPI FHIR's JPA server: one row per resource in `fhir_resource`, every
version in `fhir_resource_history`, and one row per extracted search value in the index table
of its parameter type. Index rows point at `fhir_resource.pk` and are replaced on every write.
Index and history rows carry fhir_resource.pk without a foreign-key constraint: only the store
writes them, in the same transaction as the resource row, and resources are never hard-deleted,
so a per-row constraint check would only slow ingest (it dominated bulk loads on PostgreSQL).
Composite parameters store each component in its own type table under the parameter name
suffixed with `#<component number>`, rows of one repetition sharing `grp`.
"""

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

from smartcare.platform.schema import metadata

Pk = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
# Values searched with LIKE 'prefix%': byte-order collation on PostgreSQL so a B-tree index
# answers the prefix (under a linguistic collation PostgreSQL must scan and filter instead).


def searchable_string(length: int) -> sa.types.TypeEngine:
    """A string column whose index can answer prefix LIKE on both databases."""
    return sa.String(length).with_variant(sa.String(length, collation="C"), "postgresql")


Json = sa.JSON().with_variant(JSONB(), "postgresql")

resource = sa.Table(
    "fhir_resource",
    metadata,
    sa.Column("pk", Pk, primary_key=True, autoincrement=True),
    sa.Column("res_type", sa.String(64), nullable=False),
    sa.Column("res_id", sa.String(64), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    # ISO-8601 instant with milliseconds, exactly as in meta.lastUpdated (sortable as text).
    sa.Column("last_updated", sa.String(32), nullable=False),
    sa.Column("deleted", sa.Boolean, nullable=False, default=False),
    # The organisation that sent the resource (tenancy); from meta.source.
    sa.Column("source", sa.String(255)),
    sa.Column("content", Json),
    sa.UniqueConstraint("res_type", "res_id", name="uq_fhir_resource_type_id"),
)
sa.Index("ix_fhir_resource_type_updated", resource.c.res_type, resource.c.last_updated)

history = sa.Table(
    "fhir_resource_history",
    metadata,
    sa.Column("hid", Pk, primary_key=True, autoincrement=True),
    sa.Column("pk", Pk, nullable=False, index=True),
    sa.Column("res_type", sa.String(64), nullable=False),
    sa.Column("res_id", sa.String(64), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("last_updated", sa.String(32), nullable=False),
    sa.Column("deleted", sa.Boolean, nullable=False, default=False),
    # POST, PUT, PATCH or DELETE: the interaction that made this version.
    sa.Column("method", sa.String(8), nullable=False),
    # Who made it (AccessContext.author) so every write records who, what and when.
    sa.Column("author", sa.String(255), nullable=False),
    sa.Column("content", Json),
    sa.UniqueConstraint("res_type", "res_id", "version", name="uq_fhir_history_type_id_version"),
)
sa.Index("ix_fhir_history_type_updated", history.c.res_type, history.c.last_updated)
sa.Index("ix_fhir_history_updated", history.c.last_updated)


def _index_table(name: str, *columns: sa.Column, indexes: list[tuple[str, ...]]) -> sa.Table:
    table = sa.Table(
        name,
        metadata,
        sa.Column("res_pk", Pk, nullable=False),
        sa.Column("res_type", sa.String(64), nullable=False),
        sa.Column("param", sa.String(100), nullable=False),
        sa.Column("grp", sa.Integer),
        *columns,
    )
    sa.Index(f"ix_{name}_pk", table.c.res_pk)
    # Each value index ends with res_pk so searches are answered from the index alone and, for an
    # equality match, come out in res_pk order (which is the default result order).
    for cols in indexes:
        sa.Index(f"ix_{name}_{'_'.join(cols[:-1])}", *[table.c[c] for c in cols])
    return table


# value: normalised for matching (case- and accent-folded); exact: as written.
idx_string = _index_table(
    "fhir_idx_string",
    sa.Column("value", searchable_string(255), nullable=False),
    sa.Column("exact", sa.String(255), nullable=False),
    indexes=[("res_type", "param", "value", "res_pk")],
)
# text: the normalised display/text of the coding or CodeableConcept, for the :text modifier.
idx_token = _index_table(
    "fhir_idx_token",
    sa.Column("system", sa.String(255)),
    sa.Column("code", sa.String(255)),
    sa.Column("text", sa.String(255)),
    indexes=[("res_type", "param", "code", "system", "res_pk")],
)
# low/high: the period the value covers, as seconds since the epoch (UTC); open ends are +-inf.
idx_date = _index_table(
    "fhir_idx_date",
    sa.Column("low", sa.Float, nullable=False),
    sa.Column("high", sa.Float, nullable=False),
    indexes=[("res_type", "param", "low", "high", "res_pk")],
)
# value as written; low/high: the range implied by its precision (1.5 covers 1.45..1.55).
idx_number = _index_table(
    "fhir_idx_number",
    sa.Column("value", sa.Float, nullable=False),
    sa.Column("low", sa.Float, nullable=False),
    sa.Column("high", sa.Float, nullable=False),
    indexes=[("res_type", "param", "value", "res_pk")],
)
idx_quantity = _index_table(
    "fhir_idx_quantity",
    sa.Column("system", sa.String(255)),
    sa.Column("code", sa.String(255)),
    sa.Column("unit", sa.String(255)),
    sa.Column("value", sa.Float, nullable=False),
    sa.Column("low", sa.Float, nullable=False),
    sa.Column("high", sa.Float, nullable=False),
    indexes=[("res_type", "param", "code", "value", "res_pk")],
)
# A local reference has target_type and target_id; an absolute or canonical one keeps url.
idx_reference = _index_table(
    "fhir_idx_reference",
    sa.Column("target_type", sa.String(64)),
    sa.Column("target_id", sa.String(64)),
    sa.Column("url", sa.String(1024)),
    indexes=[("res_type", "param", "target_id", "target_type", "res_pk")],
)
idx_uri = _index_table(
    "fhir_idx_uri",
    sa.Column("value", searchable_string(1024), nullable=False),
    indexes=[("res_type", "param", "value", "res_pk")],
)

INDEX_TABLES: dict[str, sa.Table] = {
    "string": idx_string,
    "token": idx_token,
    "date": idx_date,
    "number": idx_number,
    "quantity": idx_quantity,
    "reference": idx_reference,
    "uri": idx_uri,
}

# Bulk Data $export jobs: kick-off, status polling and the NDJSON files they wrote.
export_job = sa.Table(
    "fhir_export_job",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("request_url", sa.String(2048), nullable=False),
    sa.Column("params", Json, nullable=False),
    sa.Column("requested_by", sa.String(255), nullable=False),
    sa.Column("created", sa.String(32), nullable=False),
    sa.Column("transaction_time", sa.String(32), nullable=False),
    sa.Column("completed", sa.String(32)),
    sa.Column("output", Json),
    sa.Column("error", sa.Text),
)
