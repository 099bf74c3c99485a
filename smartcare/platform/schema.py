"""The one SQLAlchemy MetaData every table of SmartCare belongs to (FHIR store and platform tables)."""

import sqlalchemy as sa

metadata = sa.MetaData()


def load_all_tables() -> sa.MetaData:
    """Import every module that defines tables, so migrations and tests see the whole schema."""
    import smartcare.fhir.tables  # noqa: F401
    import smartcare.platform.audit.tables  # noqa: F401
    import smartcare.platform.security.clients  # noqa: F401
    import smartcare.platform.security.tables  # noqa: F401
    import smartcare.platform.web.sessions  # noqa: F401

    return metadata
