"""The reader targeting is matched against, read from the FHIR record: as the signed-in patient themselves on
pages, as the platform (audited) when a publication finds whom to tell."""

import logging
from datetime import date

from sqlalchemy.engine import Connection

from smartcare.fhir import gateway
from smartcare.fhir.errors import FhirError
from smartcare.fhir.gateway import serve_within
from smartcare.fhir.http import FhirRequest
from smartcare.patient.news.targeting import Reader, reader_from
from smartcare.platform import clock
from smartcare.platform.security.context import SYSTEM, AccessContext
from smartcare.platform.settings import get_settings

log = logging.getLogger(__name__)
CONDITIONS_READ = 200


def region_today() -> date:
    """Today's date in the region (ages turn over at local midnight)."""
    from zoneinfo import ZoneInfo

    return clock.now().astimezone(ZoneInfo(get_settings().region_timezone)).date()


def reader_of(ctx: AccessContext) -> Reader:
    """The signed-in patient as targeting sees them, read through the access policy as themselves (audited);
    an empty reader when the account has no own record or its token may not read it."""
    if not ctx.patient:
        return Reader()
    try:
        patient = gateway.read(ctx, ctx.patient)
        conditions = gateway.search(ctx, "Condition", [("patient", ctx.patient), ("_count", str(CONDITIONS_READ))])
    except FhirError:
        return Reader()
    return reader_from(patient, conditions, region_today())


def reader_for(conn: Connection, patient_ref: str, *, conditions_needed: bool) -> Reader | None:
    """A patient as targeting sees them, read by the platform inside conn (each read audited); None when the
    record is gone."""
    try:
        patient = serve_within(conn, SYSTEM, FhirRequest(method="GET", path=patient_ref)).body or {}
        conditions = []
        if conditions_needed:
            bundle = serve_within(conn, SYSTEM, FhirRequest(method="GET", path="Condition", query=[
                ("patient", patient_ref), ("_count", str(CONDITIONS_READ))])).body or {}
            conditions = [e["resource"] for e in bundle.get("entry", [])
                          if e.get("search", {}).get("mode") != "outcome"]
    except FhirError as exc:
        log.info("news targeting skipped %s: %s", patient_ref, exc)
        return None
    return reader_from(patient, conditions, region_today())
