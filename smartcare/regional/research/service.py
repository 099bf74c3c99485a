"""A researcher's de-identified dataset: which records, how many, and the records themselves, every extract audited.

The policy decides first (`decide_dataset(ctx, "deidentified")`); only then does the platform read
the store, as itself, and every resource leaves through `deidentify`. Nothing a researcher sends is
passed on to the store as a search parameter name: the type comes from a fixed list and the code
filter is one token value.
"""

import hashlib
import hmac
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Connection

from smartcare.fhir.search.execute import run_search
from smartcare.fhir.search.query import QueryCompiler, SearchRequest
from smartcare.platform import audit, clock
from smartcare.platform.security.context import SYSTEM, AccessContext
from smartcare.platform.security.policy import decide_dataset
from smartcare.platform.security.tokens import signing_key
from smartcare.regional.research.deidentify import deidentify

DATASET = "deidentified"
PURPOSE = "HRESCH"  # v3 ActReason: healthcare research
# The resource types a researcher may extract, and the search parameter their code filter uses.
DATASET_TYPES: dict[str, str | None] = {
    "Patient": None,
    "Observation": "code",
    "Condition": "code",
    "Encounter": "type",
    "MedicationRequest": "code",
    "Procedure": "code",
    "Immunization": "vaccine-code",
    "AllergyIntolerance": "code",
    "DiagnosticReport": "code",
}
DEFAULT_LIMIT = 1000
MAX_LIMIT = 1000
MAX_OFFSET = 10_000_000
PREVIEW_ROWS = 20
QUERY_PARAMETERS = frozenset({"type", "code", "offset", "limit"})
# A token: "system|code" or "code". No ',' (which would OR values), '$' or '\' (search escapes).
_CODE = re.compile(r"(?:[A-Za-z0-9:/._~%+#@-]{1,200}\|)?[A-Za-z0-9._:/+@-]{1,100}")
_DIGITS = re.compile(r"[0-9]{1,9}")
_PSEUDONYM_LABEL = b"smartcare/research/pseudonym-key/v1"


class DatasetRequestInvalid(ValueError):
    """A dataset request that cannot be answered as asked; the message says what to change."""

    status = 400


@dataclass(frozen=True, slots=True)
class DatasetQuery:
    """What a researcher asked for: one resource type, an optional code, and a page."""

    res_type: str
    code: str | None = None
    offset: int = 0
    limit: int = DEFAULT_LIMIT


@dataclass(frozen=True, slots=True)
class DatasetPage:
    """De-identified resources of one page, and where the next page starts (None on the last)."""

    resources: list[dict[str, Any]]
    next_offset: int | None


def pseudonym_key() -> bytes:
    """The research pseudonym key: derived from the platform's token signing key under its own label.

    Deriving (rather than reusing) keeps the two apart: a pseudonym says nothing about the token
    key. Pseudonyms change if the signing key is ever replaced.
    """
    return hmac.new(signing_key(), _PSEUDONYM_LABEL, hashlib.sha256).digest()


def parse_query(params: Iterable[tuple[str, str]]) -> DatasetQuery:
    """Check a dataset request's query parameters and return it; DatasetRequestInvalid otherwise."""
    given: dict[str, str] = {}
    for name, value in params:
        if name not in QUERY_PARAMETERS:
            raise DatasetRequestInvalid(
                f"Unknown parameter '{name[:40]}': a dataset request takes only type, code, offset and limit"
            )
        if name in given:
            raise DatasetRequestInvalid(f"The parameter '{name}' is given more than once")
        given[name] = value
    res_type = given.get("type", "")
    if res_type not in DATASET_TYPES:
        raise DatasetRequestInvalid(f"type must be one of {', '.join(DATASET_TYPES)}")
    code = given.get("code") or None
    if code is not None:
        if DATASET_TYPES[res_type] is None:
            raise DatasetRequestInvalid(f"{res_type} records have no code to filter by")
        if not _CODE.fullmatch(code):
            raise DatasetRequestInvalid("code must be one code, or system|code (for example http://loinc.org|8867-4)")
    return DatasetQuery(res_type, code, _number(given, "offset", 0, MAX_OFFSET),
                        _number(given, "limit", DEFAULT_LIMIT, MAX_LIMIT, least=1))


def _number(given: dict[str, str], name: str, default: int, most: int, *, least: int = 0) -> int:
    if name not in given:
        return default
    value = given[name]
    if not _DIGITS.fullmatch(value) or not least <= int(value) <= most:
        raise DatasetRequestInvalid(f"{name} must be a whole number from {least} to {most}")
    return int(value)


def _search(query: DatasetQuery) -> SearchRequest:
    param = DATASET_TYPES[query.res_type]
    params = [(param, query.code)] if query.code and param else []
    request = QueryCompiler(strict=True).parse(query.res_type, params, default_count=query.limit,
                                               max_count=MAX_LIMIT)
    request.count, request.offset, request.total = query.limit, query.offset, "none"
    return request


def _query_entity(query: DatasetQuery) -> str:
    param = DATASET_TYPES[query.res_type]
    return f"{query.res_type}?{param}={query.code}" if query.code and param else f"{query.res_type}?"


def extract(conn: Connection, *, ctx: AccessContext, query: DatasetQuery) -> DatasetPage:
    """One page of de-identified resources for a researcher; the extract is audited with its count.

    Raises AccessDenied when the policy refuses ctx the de-identified dataset.
    """
    decide_dataset(ctx, DATASET)
    result = run_search(conn, SYSTEM, _search(query))
    key, year = pseudonym_key(), clock.now().year
    resources = [deidentify(found.resource, key=key, as_of_year=year) for found in result.matches]
    audit.record(conn, ctx=ctx, action="R", subtype="export", purpose=PURPOSE, entities=[_query_entity(query)],
                 description=f"de-identified {query.res_type} extract: {len(resources)} resources "
                             f"from offset {query.offset}")
    return DatasetPage(resources, query.offset + len(resources) if result.has_next else None)


def counts_by_type(conn: Connection, *, ctx: AccessContext) -> dict[str, int]:
    """How many records of each dataset type there are (counts only; audited as one search)."""
    decide_dataset(ctx, DATASET)
    counts = {}
    for res_type in DATASET_TYPES:
        request = QueryCompiler(strict=True).parse(res_type, [("_summary", "count")], default_count=0,
                                                   max_count=MAX_LIMIT)
        request.total = "accurate"
        counts[res_type] = run_search(conn, SYSTEM, request).total or 0
    audit.record(conn, ctx=ctx, action="R", subtype="search", purpose=PURPOSE,
                 entities=[f"{res_type}?_summary=count" for res_type in DATASET_TYPES],
                 description="de-identified dataset: record counts by type")
    return counts


def _first_coding(concept: Any) -> dict[str, Any]:
    codings = concept.get("coding") if isinstance(concept, dict) else None
    return codings[0] if isinstance(codings, list) and codings and isinstance(codings[0], dict) else {}


def _concept(resource: dict[str, Any]) -> dict[str, Any]:
    for name in ("code", "vaccineCode", "medicationCodeableConcept"):
        if name in resource:
            return _first_coding(resource[name])
    types = resource.get("type")
    if isinstance(types, list) and types:
        return _first_coding(types[0])
    encounter_class = resource.get("class")  # Encounter.class is a Coding
    return encounter_class if isinstance(encounter_class, dict) else {}


def _value(resource: dict[str, Any]) -> str:
    quantity = resource.get("valueQuantity")
    if isinstance(quantity, dict) and "value" in quantity:
        unit = quantity.get("unit") or quantity.get("code") or ""
        return f"{quantity.get('comparator', '')}{quantity['value']} {unit}".strip()
    coded = _first_coding(resource.get("valueCodeableConcept"))
    if coded:
        return str(coded.get("display") or coded.get("code") or "")
    if resource.get("resourceType") == "Patient":
        return str(resource.get("gender") or "")
    return ""


def _year(resource: dict[str, Any]) -> str:
    for name in ("effectiveDateTime", "onsetDateTime", "recordedDate", "authoredOn", "occurrenceDateTime",
                 "performedDateTime", "issued", "birthDate"):
        if isinstance(resource.get(name), str):
            return resource[name]
    for name in ("effectivePeriod", "period", "performedPeriod"):
        period = resource.get(name)
        if isinstance(period, dict) and isinstance(period.get("start"), str):
            return period["start"]
    extensions = resource.get("extension") or []
    return next((e.get("valueString", "") for e in extensions if isinstance(e, dict)), "")


def _status(resource: dict[str, Any]) -> str:
    if isinstance(resource.get("status"), str):
        return resource["status"]
    coded = _first_coding(resource.get("clinicalStatus"))
    return str(coded.get("code") or "")


def preview_row(resource: dict[str, Any]) -> dict[str, str]:
    """One de-identified resource as a row of the preview table: pseudonyms, code, value, status, year."""
    subject = resource.get("subject") or resource.get("patient") or {}
    patient = subject.get("reference", "") if isinstance(subject, dict) else ""
    if resource.get("resourceType") == "Patient":
        patient = f"Patient/{resource.get('id', '')}"
    concept = _concept(resource)
    return {
        "id": str(resource.get("id", "")),
        "patient": patient.split("/", 1)[-1],
        "code": str(concept.get("code") or ""),
        "display": str(concept.get("display") or ""),
        "value": _value(resource),
        "status": _status(resource),
        "year": _year(resource),
    }
