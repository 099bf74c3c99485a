"""The one SQLAlchemy MetaData every table of SmartCare belongs to (FHIR store and platform tables)."""

import sqlalchemy as sa

metadata = sa.MetaData()
