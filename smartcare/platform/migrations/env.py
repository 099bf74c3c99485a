"""Alembic environment: migrations run on the connection the caller hands over (SQLite or PostgreSQL)."""

from alembic import context

from smartcare.schema import load_all_tables

config = context.config
connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError("Run migrations through `smartcare db upgrade`, which supplies the connection")
context.configure(
    connection=connection,
    target_metadata=load_all_tables(),
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
