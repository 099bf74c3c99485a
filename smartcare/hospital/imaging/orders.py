"""Imaging orders as the modality sees them: an accession number and a Study Instance UID given at placement.

An accession number is "R", the local date (yymmdd) and a five-digit sequence of that day, e.g. R26112600042,
and fits DICOM's AccessionNumber (SH, 16 characters). As in the laboratory (lab/accession.py) the next number is
one above the highest of the day, read from the store's identifier index (numbers only, no personal data), and
each imaging ServiceRequest is created with `ifNoneExist` on its number: when two doctors place at the same
moment, the loser's transaction finds the number taken (the entry answers 200 with the other order) and that
order alone is placed again with the next number. The Study Instance UID (identifier urn:dicom:uid) is what the
worklist hands the modality, so the images it sends carry the order's own study.
"""

import uuid
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from smartcare.fhir import gateway
from smartcare.fhir.http import FhirRequest
from smartcare.fhir.tables import idx_token
from smartcare.platform import clock
from smartcare.platform.db import unit_of_work
from smartcare.platform.security.context import AccessContext
from smartcare.platform.settings import get_settings

ACCESSION_SYSTEM = "https://smartcare.example/fhir/sid/accession"
DICOM_UID = "urn:dicom:uid"
SNOMED = "http://snomed.info/sct"
IMAGING_CATEGORY = "363679005"
PREFIX = "R"
MAX_SEQUENCE = 99_999
_ATTEMPTS = 5


class AccessionsExhausted(Exception):
    """No accession number could be given (the day's run out, or they are being taken very fast)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
        self.status = 503


def is_imaging_request(request: dict[str, Any]) -> bool:
    """True for an imaging ServiceRequest (category SNOMED 363679005)."""
    return any(c.get("system") == SNOMED and c.get("code") == IMAGING_CATEGORY
               for cat in request.get("category", []) for c in cat.get("coding", []))


def accession_number(day: date, sequence: int) -> str:
    """The accession number of the sequence-th imaging order of a local day: R + yymmdd + five digits."""
    if not 1 <= sequence <= MAX_SEQUENCE:
        raise AccessionsExhausted(f"the day's imaging accession numbers run out at {MAX_SEQUENCE}")
    return f"{PREFIX}{day:%y%m%d}{sequence:05d}"


def new_study_uid() -> str:
    """A fresh Study Instance UID (2.25 and a random UUID as an integer, at most 44 characters)."""
    return f"2.25.{uuid.uuid4().int}"


def identifier(request: dict[str, Any], system: str) -> str | None:
    """The value of the request's identifier in system, if it has one."""
    return next((i.get("value") for i in request.get("identifier", []) if i.get("system") == system), None)


def study_uid_of(request: dict[str, Any]) -> str | None:
    """The Study Instance UID kept on an order (urn:dicom:uid identifier, urn:oid: prefix removed)."""
    value = identifier(request, DICOM_UID)
    return value.removeprefix("urn:oid:") if value else None


def local_day() -> date:
    """Today in the region's time zone (the day an accession number is counted in)."""
    return clock.now().astimezone(ZoneInfo(get_settings().region_timezone)).date()


def highest_today(day: date) -> int:
    """The highest sequence number of the day's imaging accession numbers so far (0 if none)."""
    prefix = f"{PREFIX}{day:%y%m%d}"
    t = idx_token.c
    with unit_of_work() as conn:
        codes = conn.execute(sa.select(t.code).where(t.res_type == "ServiceRequest", t.param == "identifier",
                                                     t.system == ACCESSION_SYSTEM, t.code.like(prefix + "%")))
        numbers = [int(c[len(prefix):]) for c in codes.scalars() if c and c[len(prefix):].isdigit()]
    return max(numbers, default=0)


def _numbered(entry: dict[str, Any], number: str) -> dict[str, Any]:
    resource = entry["resource"]
    kept = [i for i in resource.get("identifier", []) if i.get("system") not in (ACCESSION_SYSTEM, DICOM_UID)]
    uid = identifier(resource, DICOM_UID) or f"urn:oid:{new_study_uid()}"
    identifiers = [*kept, {"system": ACCESSION_SYSTEM, "value": number,
                           "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203",
                                                "code": "ACSN"}]}},
                   {"system": DICOM_UID, "value": uid}]
    return {**entry, "resource": {**resource, "identifier": identifiers},
            "request": {**entry["request"], "ifNoneExist": f"identifier={ACCESSION_SYSTEM}|{number}"}}


def _created(response_entry: dict[str, Any]) -> bool:
    return str((response_entry.get("response") or {}).get("status", "")).startswith("201")


def _place_alone(ctx: AccessContext, entry: dict[str, Any]) -> dict[str, Any]:
    """Place one imaging order whose number was taken, with the day's next free number; its response entry."""
    day = local_day()
    for _ in range(_ATTEMPTS):
        numbered = _numbered(entry, accession_number(day, highest_today(day) + 1))
        bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [numbered]}
        response = gateway.serve(ctx, FhirRequest(method="POST", path="", body=bundle)).body or {}
        first = (response.get("entry") or [{}])[0]
        if _created(first):
            return first
    raise AccessionsExhausted("imaging accession numbers are being taken very fast; try again")


def place_transaction(ctx: AccessContext, bundle: dict[str, Any]) -> dict[str, Any]:
    """Serve a transaction of new orders, giving each imaging ServiceRequest in it an accession number and a
    Study Instance UID; the transaction's response, each entry naming the order actually created."""
    entries = bundle.get("entry", [])
    imaging = [i for i, e in enumerate(entries)
               if e.get("request", {}).get("method") == "POST" and is_imaging_request(e.get("resource") or {})]
    if not imaging:
        return gateway.serve(ctx, FhirRequest(method="POST", path="", body=bundle)).body or {}
    day = local_day()
    first = highest_today(day) + 1
    numbered = list(entries)
    for offset, index in enumerate(imaging):
        numbered[index] = _numbered(entries[index], accession_number(day, first + offset))
    response = gateway.serve(ctx, FhirRequest(method="POST", path="", body={**bundle, "entry": numbered})).body or {}
    answered = list(response.get("entry", []))
    for index in imaging:
        if index < len(answered) and not _created(answered[index]):
            answered[index] = _place_alone(ctx, entries[index])
    return {**response, "entry": answered}
