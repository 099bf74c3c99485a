"""The migrations build exactly the tables, columns and indexes the code declares, on both databases."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from smartcare.schema import load_all_tables


def test_migrated_database_matches_the_declared_tables(engine):
    with engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), load_all_tables())
    assert differences == []
