"""Every table of SmartCare, gathered for migrations and tests (the FHIR store and the platform's)."""

import sqlalchemy as sa

import smartcare.family.devices.tables
import smartcare.fhir.tables
import smartcare.hospital.cds.models
import smartcare.hospital.consultation.models
import smartcare.hospital.imaging.models
import smartcare.hospital.lab.interface_models
import smartcare.hospital.lab.outbound_models
import smartcare.hospital.lab.quality_models
import smartcare.hospital.queue.models
import smartcare.hospital.scheduling.models
import smartcare.patient.news.models
import smartcare.patient.sharing.tables
import smartcare.platform.audit.tables
import smartcare.platform.jobs.tables
import smartcare.platform.notifications.tables
import smartcare.platform.security.break_glass
import smartcare.platform.security.clients
import smartcare.platform.security.tables
import smartcare.platform.security.verification
import smartcare.platform.web.sessions
import smartcare.regional.exchange.tables
import smartcare.regional.mpi.tables
import smartcare.regional.supervision.tables  # noqa: F401  (the imports above register their tables)
from smartcare.platform.schema import metadata


def load_all_tables() -> sa.MetaData:
    """The MetaData holding every table, with every module that defines tables imported."""
    return metadata
