"""Public health's views of the region: condition counts with small cells hidden, and notifiable-disease case reports.

The policy decides first (`decide_dataset`: "aggregates" for officers, regional administrators and
researchers, "case-reports" for officers only); only then does the platform read the store as
itself. Every listing is written to the audit trail: aggregates once per request, case reports once
per case listed (with the patient, so the person can see that public health opened their report).
"""

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from sqlalchemy.engine import Connection

from smartcare.fhir.search.execute import run_search
from smartcare.fhir.search.query import QueryCompiler
from smartcare.platform import audit
from smartcare.platform.security.context import SYSTEM, AccessContext
from smartcare.platform.security.policy import decide_dataset
from smartcare.regional.public_health.aggregates import AggregateQuery, publish, tally
from smartcare.regional.public_health.case_reports import CaseReport, document_type, read_case_report
from smartcare.regional.public_health.suppression import disclosure_rule

AGGREGATES = "aggregates"
CASE_REPORTS = "case-reports"
PAGE_SIZE = 500
MAX_CONDITIONS = 200_000
DEFAULT_CASE_REPORTS = 50
MAX_CASE_REPORTS = 200


class AggregateTooLarge(ValueError):
    """More conditions match than one request may count; a shorter period or a code narrows it."""

    status = 400


def purpose_of(ctx: AccessContext) -> str:
    """The purpose of use (v3 ActReason) of ctx's request: research for researchers, else public health."""
    return "HRESCH" if ctx.roles == {"researcher"} else "PUBHLTH"


def _pages(conn: Connection, params: list[tuple[str, str]]) -> Iterator[tuple[dict[str, Any], dict[str, Any] | None]]:
    """(Condition, its Patient) for every match of a Condition search, page by page."""
    patients: dict[str, dict[str, Any]] = {}
    offset = 0
    while True:
        request = QueryCompiler(strict=True).parse(
            "Condition", [*params, ("_include", "Condition:subject:Patient")], default_count=PAGE_SIZE,
            max_count=PAGE_SIZE,
        )
        request.offset, request.total = offset, "none"
        result = run_search(conn, SYSTEM, request)
        patients.update({f"Patient/{s.res_id}": s.resource for s in result.included if s.res_type == "Patient"})
        for found in result.matches:
            subject = (found.resource.get("subject") or {}).get("reference")
            yield found.resource, patients.get(subject) if isinstance(subject, str) else None
        if not result.has_next:
            return
        offset += len(result.matches)
        if offset >= MAX_CONDITIONS:
            raise AggregateTooLarge(f"More than {MAX_CONDITIONS} conditions fall in this period: choose a shorter "
                                    "period or an ICD-10 code")


def _conditions(conn: Connection, query: AggregateQuery) -> Iterator[tuple[dict[str, Any], dict[str, Any] | None]]:
    # A day either side, so a dateTime written in another time zone still reaches the exact check in tally().
    low, high = (query.start - timedelta(days=1)).isoformat(), (query.end + timedelta(days=2)).isoformat()
    yield from _pages(conn, [("onset-date", f"ge{low}"), ("onset-date", f"lt{high}")])
    yield from _pages(conn, [("onset-date:missing", "true"), ("recorded-date", f"ge{low}"),
                             ("recorded-date", f"lt{high}")])


def aggregates(conn: Connection, *, ctx: AccessContext, query: AggregateQuery) -> dict[str, Any]:
    """Condition counts by week, district and ICD-10 code with small cells hidden; audited once.

    Raises AccessDenied when the policy refuses ctx the aggregates, AggregateTooLarge when too much matches.
    """
    decide_dataset(ctx, AGGREGATES)
    counts = tally(_conditions(conn, query), query)
    result = publish(counts, query, disclosure_rule())
    entity = f"Condition?onset-date=ge{query.start}&onset-date=le{query.end}"
    audit.record(conn, ctx=ctx, action="R", subtype="search", purpose=purpose_of(ctx),
                 entities=[entity + (f"&code:below={query.code}" if query.code else "")],
                 description=f"condition aggregates: {sum(counts.codes.values())} conditions counted")
    return result


def case_reports(conn: Connection, *, ctx: AccessContext, limit: int = DEFAULT_CASE_REPORTS) -> list[CaseReport]:
    """The newest submitted case reports with the case, condition and reporting organisation; each one listed is audited.

    Raises AccessDenied when the policy refuses ctx the case reports.
    """
    decide_dataset(ctx, CASE_REPORTS)
    wanted = document_type()
    params = [
        ("type", f"{wanted['system']}|{wanted['code']}"),
        # Reported cases only: drafts are still the doctor's, and withdrawn reports (entered-in-error) count for nothing.
        ("status", "final,amended"),
        ("_sort", "-date"),
        ("_include", "Composition:subject:Patient"),
        ("_include", "Composition:author:Organization"),
        ("_include", "Composition:entry:Condition"),
    ]
    count = max(1, min(limit, MAX_CASE_REPORTS))
    request = QueryCompiler(strict=True).parse("Composition", params, default_count=count, max_count=count)
    request.total = "none"
    result = run_search(conn, SYSTEM, request)
    included = {f"{s.res_type}/{s.res_id}": s.resource for s in result.included}
    reports = [read_case_report(found.resource, included) for found in result.matches]
    query = f"Composition?type={wanted['system']}|{wanted['code']}"
    for report in reports:
        patient = report.patient if (report.patient or "").startswith("Patient/") else None
        audit.record(conn, ctx=ctx, action="R", subtype="search", purpose="PUBHLTH", patient=patient,
                     entities=[f"Composition/{report.id}", query], description="public health case report list")
    if not reports:
        audit.record(conn, ctx=ctx, action="R", subtype="search", purpose="PUBHLTH", entities=[query],
                     description="public health case report list: none found")
    return reports
