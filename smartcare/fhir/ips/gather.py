"""Gather what a patient's summary holds from the store, reading as the caller through the access policy."""

from datetime import date
from typing import Any

from sqlalchemy.engine import Connection

from smartcare.fhir import store
from smartcare.fhir.errors import Forbidden, Gone, NotFound
from smartcare.fhir.ips.build import SummaryInput, platform_organization, select_entries
from smartcare.fhir.ips.references import type_and_id, walk_references
from smartcare.fhir.ips.sections import Fill, catalogue
from smartcare.fhir.search.execute import run_search
from smartcare.fhir.search.query import QueryCompiler
from smartcare.platform import clock
from smartcare.platform.security.context import AccessContext

# Records a summary refers to and carries along, so the reader sees what a statement's Medication or a
# report's results are; anything else referred to becomes display text.
SUPPORTING_TYPES = frozenset({"Medication", "Observation", "Device"})
PAGE = 500
# A summary is a summary: past this many records of one search the oldest are left out.
MAX_PER_SEARCH = 2000


def _search(conn: Connection, ctx: AccessContext, patient_id: str, fill: Fill) -> list[dict[str, Any]]:
    """Every record of fill.type for the patient matching fill.search that ctx may see (up to MAX_PER_SEARCH)."""
    found: list[dict[str, Any]] = []
    compiler = QueryCompiler()
    while len(found) < MAX_PER_SEARCH:
        params = [("patient", patient_id), *fill.search, ("_count", str(PAGE)), ("_offset", str(len(found)))]
        sreq = compiler.parse(fill.type, params, default_count=PAGE, max_count=PAGE)
        sreq.total = "none"
        try:
            result = run_search(conn, ctx, sreq)
        except (Forbidden, NotFound):
            return []  # a role that does not see this type of record (a pharmacist and CarePlans) gets none of it
        found += [s.resource for s in result.matches if s.resource is not None]
        if not result.has_next:
            break
    return found


def _readable(conn: Connection, ctx: AccessContext, reference: str) -> dict[str, Any] | None:
    key = type_and_id(reference)
    if key is None:
        return None
    try:
        return store.read(conn, ctx, res_type=key[0], res_id=key[1]).resource
    except (Forbidden, NotFound, Gone):
        return None


def _supporting(conn: Connection, ctx: AccessContext, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The Medications, Devices and Observations the records refer to that ctx may read (one level deep)."""
    have = {(str(r.get("resourceType")), str(r.get("id"))) for r in records}
    wanted: dict[tuple[str, str], str] = {}
    for record in records:
        for _path, ref in walk_references(record):
            key = type_and_id(ref["reference"])
            if key is not None and key[0] in SUPPORTING_TYPES and key not in have:
                wanted.setdefault(key, ref["reference"])
    found = [_readable(conn, ctx, ref) for ref in wanted.values()]
    return [r for r in found if r is not None]


def _author(conn: Connection, ctx: AccessContext, patient: dict[str, Any]) -> dict[str, Any]:
    managing = (patient.get("managingOrganization") or {}).get("reference")
    found = _readable(conn, ctx, managing) if isinstance(managing, str) else None
    return found if found is not None and found.get("resourceType") == "Organization" else platform_organization()


def gather_summary(conn: Connection, ctx: AccessContext, patient_id: str, *, locale: str = "en") -> SummaryInput:
    """The patient and the records of each IPS section that ctx may see; NotFound/Forbidden for the patient."""
    patient = store.read(conn, ctx, res_type="Patient", res_id=patient_id).resource or {}
    today: date = clock.now().date()
    sections: dict[str, list[dict[str, Any]]] = {}
    for section in catalogue().sections:
        records: list[dict[str, Any]] = []
        for fill in section.fill:
            records += select_entries(_search(conn, ctx, patient_id, fill), fill, today)
        sections[section.key] = records
    everything = [r for rs in sections.values() for r in rs]
    return SummaryInput(patient=patient, sections=sections, author=_author(conn, ctx, patient),
                        now=clock.format_instant(clock.now()), locale=locale,
                        supporting=_supporting(conn, ctx, everything))
