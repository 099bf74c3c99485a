"""What a share link's recipient sees without an account: /shared/{token} and its IPS Bundle download.

Every answer is throttled per address, and a token that opens no link counts more heavily, so
guessing tokens stops long before it could succeed (2^256 tokens). A live link's reads go through
the gateway as the link's access context (its one patient, its scope's types), which audits what
was served with the visitor's address; an expired or revoked link answers 410, and the try is
audited for the patient too.
"""

from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from smartcare.fhir import gateway
from smartcare.fhir.errors import FhirError
from smartcare.fhir.http import FhirRequest
from smartcare.fhir.ips.narrative import describe, person_name
from smartcare.patient.sharing import links
from smartcare.patient.sharing.scopes import share_scopes
from smartcare.platform import audit
from smartcare.platform.db import unit_of_work
from smartcare.platform.i18n import current_locale
from smartcare.platform.security import throttle
from smartcare.platform.web import guard
from smartcare.platform.web.pages import render

router = APIRouter(include_in_schema=False)

WINDOW_SECONDS = 10 * 60
REQUESTS_PER_WINDOW = 60  # per address, every answer counted
MISSES_PER_WINDOW = 10  # per address, tokens that open no link
MAX_SERVED = 1000  # records named in one use's audit entry (the audit trail's limit per entry)
# The token is in the URL: it must not leak through the Referer header, caches or search engines.
PRIVATE_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex, nofollow"}


class _Refused(Exception):
    """The answer is a page other than the record: throttled (429), no such link (404), ended (410)."""

    def __init__(self, status: int, reason: str, retry_after: int | None = None):
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.retry_after = retry_after


def _address(request: Request) -> str:
    return (guard.remote(request) or "unknown")[:80]


def _live_link(request: Request, token: str) -> links.ShareLink:
    """The live link token opens, after the address's allowance is counted; _Refused otherwise."""
    address = _address(request)
    with unit_of_work() as conn:
        try:
            missed = throttle.current(conn, f"share-miss:{address}", window_seconds=WINDOW_SECONDS)
            if missed is not None and missed.count >= MISSES_PER_WINDOW:
                raise throttle.Throttled(throttle.retry_after(missed, WINDOW_SECONDS))
            throttle.check_and_count(conn, f"share:{address}", limit=REQUESTS_PER_WINDOW,
                                     window_seconds=WINDOW_SECONDS)
        except throttle.Throttled as exc:
            raise _Refused(429, "throttled", exc.retry_after_seconds) from exc
        link = links.resolve(conn, token[:100])
        if link is None:
            throttle.count_event(conn, f"share-miss:{address}", window_seconds=WINDOW_SECONDS)
            refusal = _Refused(404, "unknown")
        elif link.state() != links.ACTIVE:
            ctx = links.recipient_context(link, address)
            audit.record(conn, ctx=ctx, action="R", subtype="access-refused", outcome="4",
                         patient=link.patient_ref, description=f"share link {link.state()}")
            refusal = _Refused(410, link.state())
        else:
            return link
    raise refusal


def _summary(request: Request, link: links.ShareLink, what: str) -> dict[str, Any]:
    """The IPS document of the link's patient, read as the link through the gateway; the use recorded and counted in
    the same transaction.

    The gateway's entry for the $summary names the patient and the records in the document; the use's own entry
    (an export at the patient's request, naming the link's scope) is what the link's uses and the patient's page
    count as one use of the link.
    """
    ctx = links.recipient_context(link, _address(request))
    freq = FhirRequest(method="GET", path=f"{link.patient_ref}/$summary",
                       query=[("_lang", current_locale(request))], base_url=str(request.base_url).rstrip("/"))
    with unit_of_work() as conn:
        bundle = gateway.serve_within(conn, ctx, freq).body or {}
        served = [f"{r['resourceType']}/{r['id']}" for r in _resources(bundle)
                  if r.get("resourceType") != "Composition" and r.get("id")]
        audit.record(conn, ctx=ctx, action="E", subtype="export", patient=link.patient_ref,
                     entities=served[:MAX_SERVED], purpose="PATRQT", description=f"share link: {what}")
        links.count_use(conn, link)
    return bundle


def _resources(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle.get("entry", []) if isinstance(e.get("resource"), dict)]


def _sections(bundle: dict[str, Any], scope_types: tuple[str, ...]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The patient and the document's sections as lines of text; sections of types outside the scope left out."""
    entries = [e for e in bundle.get("entry", []) if isinstance(e.get("resource"), dict)]
    by_url = {e.get("fullUrl"): e["resource"] for e in entries}
    composition = entries[0]["resource"] if entries else {}
    patient = by_url.get((composition.get("subject") or {}).get("reference"), {})
    shown = []
    for section in composition.get("section", []):
        records = [by_url[r["reference"]] for r in section.get("entry", []) if r.get("reference") in by_url]
        if not records and not section.get("emptyReason"):
            continue
        if records or _section_in_scope(section, scope_types):
            shown.append({"title": section.get("title", ""), "lines": [describe(r) for r in records]})
    return patient, shown


_SECTION_TYPES = {"11450-4": "Condition", "48765-2": "AllergyIntolerance", "10160-0": "MedicationStatement"}


def _section_in_scope(section: dict[str, Any], scope_types: tuple[str, ...]) -> bool:
    """An empty required section is shown ("no information") only when the link's scope covers its records."""
    codes = [c.get("code") for c in (section.get("code") or {}).get("coding", [])]
    return any(_SECTION_TYPES.get(code) in scope_types for code in codes)


def _refused_page(request: Request, exc: _Refused) -> HTMLResponse:
    response = render(request, "sharing/shared_refused.html", status_code=exc.status, reason=exc.reason)
    response.headers.update(PRIVATE_HEADERS)
    if exc.retry_after:
        response.headers["Retry-After"] = str(exc.retry_after)
    return response


def _shared_page(request: Request, token: str) -> HTMLResponse:
    try:
        link = _live_link(request, token)
        bundle = _summary(request, link, "page")
    except _Refused as exc:
        return _refused_page(request, exc)
    except FhirError:
        return _refused_page(request, _Refused(410, "unavailable"))
    scope = share_scopes()[link.scope]
    patient, sections = _sections(bundle, scope.types)
    response = render(request, "sharing/shared.html", patient_name=person_name(patient) if patient else "",
                      birth_date=patient.get("birthDate", ""), gender=patient.get("gender", ""),
                      sections=sections, scope_title=scope.title(current_locale(request)), link=link,
                      download=f"/shared/{token}/ips.json", made=bundle.get("timestamp", ""))
    response.headers.update(PRIVATE_HEADERS)
    return response


@router.get("/shared/{token}", response_class=HTMLResponse)
async def shared_record(request: Request, token: str) -> HTMLResponse:
    """The shared part of a person's record, read-only, for whoever holds the link (no account needed)."""
    return await run_in_threadpool(_shared_page, request, token)


def _shared_bundle(request: Request, token: str) -> Response:
    try:
        link = _live_link(request, token)
        bundle = _summary(request, link, "IPS download")
    except _Refused as exc:
        return _refused_page(request, exc)
    except FhirError:
        return _refused_page(request, _Refused(410, "unavailable"))
    headers = {**PRIVATE_HEADERS, "Content-Disposition": 'attachment; filename="patient-summary.json"'}
    return Response(orjson.dumps(bundle), media_type="application/fhir+json", headers=headers)


@router.get("/shared/{token}/ips.json")
async def shared_summary_bundle(request: Request, token: str) -> Response:
    """The same shared part as an International Patient Summary (FHIR document Bundle) to download."""
    return await run_in_threadpool(_shared_bundle, request, token)
