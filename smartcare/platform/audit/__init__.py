"""The tamper-evident audit trail: every access to personal health data as a hash-chained FHIR AuditEvent."""

from smartcare.platform.audit.service import (
    AuditError,
    ChainReport,
    events_for_patient,
    record,
    seal,
    seal_all,
    search,
    verify,
)
from smartcare.platform.audit.tables import append_only_ddl, audit_log

__all__ = [
    "AuditError",
    "ChainReport",
    "append_only_ddl",
    "audit_log",
    "events_for_patient",
    "record",
    "seal",
    "seal_all",
    "search",
    "verify",
]
