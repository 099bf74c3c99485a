"""The one SQLAlchemy MetaData every table of SmartCare belongs to (FHIR store and platform tables)."""

import sqlalchemy as sa

metadata = sa.MetaData()


def load_all_tables() -> sa.MetaData:
    """Import every module that defines tables, so migrations and tests see the whole schema."""
    import importlib

    for module in ("smartcare.fhir.tables", "smartcare.platform.security.tables", "smartcare.platform.audit.tables"):
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
    return metadata
