"""Accessioning: a laboratory ServiceRequest becomes a Specimen with an accession number, which is the barcode text.

An accession number is "L", the local date (yymmdd) and a five-digit sequence of that day, e.g. L26112600042.
The next number is one above the highest of the day (read from the store's identifier index: numbers only,
no personal data); the Specimen is created with `ifNoneExist` on its number, so two people accessioning at
the same moment cannot share one: the loser sees the number taken and takes the next. The same transaction
gives the ServiceRequest its placer order number (HL7 ORC-2/OBR-2) when it has none: the order's first
accession number, short enough for every HL7 v2 version's entity identifier. The order then names its specimen
(ServiceRequest.specimen), which is how the HL7 interface finds both in one search.
"""

import re
import uuid
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from smartcare.fhir import gateway
from smartcare.fhir.http import FhirRequest
from smartcare.fhir.tables import idx_token
from smartcare.hospital.lab.outbound_queue import queue_order
from smartcare.knowledge.orders import catalogue
from smartcare.platform import clock
from smartcare.platform.db import unit_of_work
from smartcare.platform.security.context import AccessContext
from smartcare.platform.settings import get_settings

LOCAL = "https://smartcare.example/fhir/"
ACCESSION_SYSTEM = LOCAL + "sid/accession"
PLACER_SYSTEM = LOCAL + "sid/placer-order"
ORDER_SYSTEM = LOCAL + "CodeSystem/order-catalogue"
SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"
HL7_SPECIMEN = "http://terminology.hl7.org/CodeSystem/v2-0487"
LAB_CATEGORY = "108252007"
ACCESSION = re.compile(r"L\d{11}")
RESOURCE_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
MAX_SEQUENCE = 99_999
_ATTEMPTS = 5


class LabRefused(Exception):
    """A laboratory step that cannot be done as asked, with what was wrong and the HTTP status it means."""

    def __init__(self, message: str, *, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def accession_number(day: date, sequence: int) -> str:
    """The accession number of the sequence-th specimen of a local day: L + yymmdd + five digits."""
    if not 1 <= sequence <= MAX_SEQUENCE:
        raise LabRefused(f"the day's accession numbers run out at {MAX_SEQUENCE}", status=503)
    return f"L{day:%y%m%d}{sequence:05d}"


def checked_id(resource_id: str, what: str) -> str:
    """resource_id if it can be a FHIR id; LabRefused (404) for anything else."""
    if not isinstance(resource_id, str) or not RESOURCE_ID.fullmatch(resource_id):
        raise LabRefused(f"no such {what}", status=404)
    return resource_id


def identifier(resource: dict[str, Any], system: str) -> str | None:
    """The value of the resource's identifier in system, if it has one."""
    return next((i.get("value") for i in resource.get("identifier", []) if i.get("system") == system), None)


def order_of(request: dict[str, Any]) -> catalogue.LabTest | catalogue.LabPanel | None:
    """The lab catalogue entry a ServiceRequest orders: by its LOINC code, else by its catalogue key."""
    for system in (LOINC, ORDER_SYSTEM):
        for coding in (request.get("code") or {}).get("coding", []):
            if coding.get("system") == system and coding.get("code"):
                found = catalogue.find_order(coding["code"])
                if isinstance(found, catalogue.LabTest | catalogue.LabPanel):
                    return found
    return None


def is_lab_request(request: dict[str, Any]) -> bool:
    """True for a laboratory ServiceRequest (category SNOMED 108252007)."""
    return any(c.get("system") == SNOMED and c.get("code") == LAB_CATEGORY
               for cat in request.get("category", []) for c in cat.get("coding", []))


def specimens_of(ctx: AccessContext, request: dict[str, Any]) -> list[dict[str, Any]]:
    """The specimens taken for an order, newest first (R4 has no Specimen search by request: by patient, then here)."""
    wanted = f"ServiceRequest/{request['id']}"
    found = gateway.search(ctx, "Specimen", [("subject", request["subject"]["reference"]), ("_sort", "-_lastUpdated"),
                                             ("_count", "200")])
    return [s for s in found if wanted in {r.get("reference") for r in s.get("request", [])}]


def _highest_today(day: date) -> int:
    prefix = f"L{day:%y%m%d}"
    t = idx_token.c
    with unit_of_work() as conn:
        codes = conn.execute(sa.select(t.code).where(t.res_type == "Specimen", t.param == "identifier",
                                                     t.system == ACCESSION_SYSTEM, t.code.like(prefix + "%"))).scalars()
        numbers = [int(c[len(prefix):]) for c in codes if c and ACCESSION.fullmatch(c.upper())]
    return max(numbers, default=0)


def specimen_for(request: dict[str, Any], order: catalogue.LabTest | catalogue.LabPanel, *,
                 number: str) -> dict[str, Any]:
    """A new Specimen for the request: its accession number, type and container from the catalogue."""
    kind = order.specimen
    codings = [{"system": SNOMED, "code": kind.snomed, "display": kind.name_en}]
    if kind.hl7:
        codings.append({"system": HL7_SPECIMEN, "code": kind.hl7})
    return {
        "resourceType": "Specimen", "status": "unavailable",
        "identifier": [{"system": ACCESSION_SYSTEM, "value": number}],
        "accessionIdentifier": {"system": ACCESSION_SYSTEM, "value": number},
        "type": {"coding": codings, "text": kind.name_en},
        "subject": request["subject"], "request": [{"reference": f"ServiceRequest/{request['id']}"}],
        "container": [{"description": order.container.name_en}],
    }


def accession(ctx: AccessContext, *, request_id: str) -> dict[str, Any]:
    """Give a lab order its specimen and accession number (once: an order accessioned already keeps its own)."""
    request = gateway.read(ctx, f"ServiceRequest/{checked_id(request_id, 'order')}")
    if not is_lab_request(request):
        raise LabRefused("that order is not a laboratory order", status=404)
    if request.get("status") != "active":
        raise LabRefused(f"the order is {request.get('status')}, not active", status=409)
    order = order_of(request)
    if order is None:
        raise LabRefused("the order's test is not in the laboratory catalogue")
    existing = [s for s in specimens_of(ctx, request) if s.get("status") != "unsatisfactory"]
    if existing:
        return existing[0]
    day = clock.now().astimezone(ZoneInfo(get_settings().region_timezone)).date()
    for _ in range(_ATTEMPTS):
        number = accession_number(day, _highest_today(day) + 1)
        created = _create(ctx, request, order, number)
        if created is not None:
            queue_order(ctx, request_id=request["id"], specimen=created)  # to the instrument middleware, if set
            return created
        request = gateway.read(ctx, f"ServiceRequest/{request_id}")
    raise LabRefused("accession numbers are being taken very fast; try again", status=503)


def _create(ctx: AccessContext, request: dict[str, Any], order: catalogue.LabTest | catalogue.LabPanel,
            number: str) -> dict[str, Any] | None:
    """Create the specimen (and the placer number) in one transaction; None when the number was taken."""
    specimen_url = f"urn:uuid:{uuid.uuid4()}"
    entries: list[dict[str, Any]] = [{
        "fullUrl": specimen_url, "resource": specimen_for(request, order, number=number),
        "request": {"method": "POST", "url": "Specimen", "ifNoneExist": f"identifier={ACCESSION_SYSTEM}|{number}"}}]
    if identifier(request, PLACER_SYSTEM) is None:
        placed = {**request, "identifier": [*request.get("identifier", []),
                                            {"system": PLACER_SYSTEM, "value": number}]}
        entries.append({"resource": placed, "request": {
            "method": "PUT", "url": f"ServiceRequest/{request['id']}",
            "ifMatch": f'W/"{(request.get("meta") or {}).get("versionId", "1")}"'}})
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": entries}
    response = gateway.serve(ctx, FhirRequest(method="POST", path="", body=bundle)).body or {}
    first = (response.get("entry") or [{}])[0]
    if not str((first.get("response") or {}).get("status", "")).startswith("201"):
        return None
    location = (first.get("response") or {}).get("location", "")
    specimen = gateway.read(ctx, "/".join(location.split("/_history")[0].split("/")[-2:]))
    _link(ctx, request["id"], specimen["id"])
    return specimen


def _link(ctx: AccessContext, request_id: str, specimen_id: str) -> None:
    """Name the specimen on its order (ServiceRequest.specimen), so one search with _include brings both.

    A second write rather than a reference inside the creating transaction: there a number taken meanwhile would
    resolve the reference to the other order's specimen. A concurrent change to the order is re-read and retried.
    """
    wanted = f"Specimen/{specimen_id}"
    for _ in range(_ATTEMPTS):
        request = gateway.read(ctx, f"ServiceRequest/{request_id}")
        if wanted in {s.get("reference") for s in request.get("specimen", [])}:
            return
        linked = {**request, "specimen": [*request.get("specimen", []), {"reference": wanted}]}
        bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [{"resource": linked, "request": {
            "method": "PUT", "url": f"ServiceRequest/{request_id}",
            "ifMatch": f'W/"{(request.get("meta") or {}).get("versionId", "1")}"'}}]}
        response = gateway.serve(ctx, FhirRequest(method="POST", path="", body=bundle))
        if response.status < 300:
            return
