"""Audit: the journal that entries are written to in the caller's transaction before the chain seals them

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

SQLITE_NO_UPDATE = (
    "CREATE TRIGGER IF NOT EXISTS audit_journal_no_update BEFORE UPDATE ON audit_journal "
    "BEGIN SELECT RAISE(ABORT, 'audit_journal entries are not changed'); END"
)
POSTGRESQL_NO_UPDATE = [
    "CREATE OR REPLACE FUNCTION audit_journal_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$ "
    "BEGIN RAISE EXCEPTION 'audit_journal entries are not changed' USING ERRCODE = 'insufficient_privilege'; END $$",
    "CREATE OR REPLACE TRIGGER audit_journal_no_update BEFORE UPDATE ON audit_journal "
    "FOR EACH ROW EXECUTE FUNCTION audit_journal_refuse_change()",
]


def upgrade() -> None:
    op.create_table(
        "audit_journal",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("event", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    if op.get_bind().dialect.name == "sqlite":
        op.execute(SQLITE_NO_UPDATE)
    else:
        for statement in POSTGRESQL_NO_UPDATE:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION audit_journal_refuse_change() CASCADE")
    op.drop_table("audit_journal")
