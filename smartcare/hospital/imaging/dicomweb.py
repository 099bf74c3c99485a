"""DICOMweb at /dicomweb (PS3.18): QIDO-RS search, WADO-RS retrieve and rendered frames, STOW-RS store.

Every request is made by someone: a bearer token (as for /fhir) or a signed-in session. A study is visible to a
caller exactly when the caller may read its FHIR ImagingStudy through the gateway (the one access policy, each
look audited), found by its identifier urn:oid:<StudyInstanceUID>; a study still waiting in the reconciliation
queue has no ImagingStudy and so is visible to nobody here. Whatever is out of reach answers 404, as if it did not
exist. Searches ask the gateway for the caller's ImagingStudy identifiers first and match the index within them.
A search without matches answers 200 with [] (CP-2473 corrects PS3.18 8.3.4.4.1's 204: RFC 9110 gives 204 no
body). Instances are served as stored: a request for another transfer syntax is answered 406, not transcoded.
STOW-RS stores each part through service.store_instance, with the DIMSE service's checks and DICOM statuses.
"""

import logging
import secrets
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import orjson
import sqlalchemy as sa
from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse
from pydicom.datadict import dictionary_VR, keyword_for_tag, tag_for_keyword
from pydicom.dataset import Dataset
from pydicom.uid import DeflatedExplicitVRLittleEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian
from starlette.concurrency import run_in_threadpool

from smartcare.fhir import gateway
from smartcare.fhir.errors import FhirError
from smartcare.hospital.imaging import rendering, service
from smartcare.hospital.imaging.imaging_study import DICOM_UID
from smartcare.hospital.imaging.models import imaging_instance, imaging_series, imaging_study
from smartcare.hospital.imaging.query import KEYS, LEVELS, condition
from smartcare.hospital.imaging.storage import default_store, is_uid
from smartcare.platform import audit
from smartcare.platform.db import unit_of_work
from smartcare.platform.security import users
from smartcare.platform.security.context import AccessContext
from smartcare.platform.security.policy import CLINICAL_ROLES, AccessDenied, decide
from smartcare.platform.security.tokens import InvalidToken, verify_access_token
from smartcare.platform.settings import get_settings
from smartcare.platform.web import guard

router = APIRouter(prefix="/dicomweb", include_in_schema=False)
DICOM_JSON = "application/dicom+json"
CALLING_AE = "DICOMWEB"
MAX_LIMIT = 1000
MAX_VISIBLE = 5000  # ImagingStudy identifiers one search considers (five gateway pages)
# Always by BulkDataURI, whatever their size (viewers fetch pixels as frames); other binaries stay inline.
BULK_TAGS = (0x7FE00010, 0x7FE00008, 0x7FE00009, 0x00420011)  # pixel data (int, float, double), document
_NATIVE = frozenset({ExplicitVRLittleEndian, ImplicitVRLittleEndian, DeflatedExplicitVRLittleEndian})
_STAFF_WRITERS = CLINICAL_ROLES | {"hospital_admin"}
_SAFE = frozenset({"GET", "HEAD"})
_s, _r, _i = imaging_study.c, imaging_series.c, imaging_instance.c
DEFAULT_FIELDS = {
    "STUDY": ("StudyDate", "StudyTime", "AccessionNumber", "ModalitiesInStudy", "ReferringPhysicianName",
              "PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyInstanceUID", "StudyID",
              "StudyDescription", "NumberOfStudyRelatedSeries", "NumberOfStudyRelatedInstances"),
    "SERIES": ("StudyInstanceUID", "Modality", "SeriesDescription", "SeriesNumber", "SeriesInstanceUID",
               "BodyPartExamined", "NumberOfSeriesRelatedInstances"),
    "IMAGE": ("StudyInstanceUID", "SeriesInstanceUID", "SOPClassUID", "SOPInstanceUID", "InstanceNumber"),
}
log = logging.getLogger(__name__)

# Query parameters that steer the search rather than match attributes.
_QIDO_CONTROLS = frozenset({"includefield", "limit", "offset", "fuzzymatching"})


class DicomwebError(Exception):
    """A request answered with an HTTP error status and a message for the caller."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


def _error_response(exc: DicomwebError) -> Response:
    return Response(orjson.dumps({"status": exc.status, "message": exc.message}), status_code=exc.status,
                    media_type="application/json", headers={**guard.NO_STORE, **exc.headers})


# --- who is asking, and what they may see -------------------------------------------------------------------------

def server_base(request: Request) -> str:
    """This server's address as clients know it: the configured base URL, else the request's.

    Some clients (dicomweb-client among them) send a Host header without the port; the port the request came in
    on is put back then, so tokens issued for this address are taken and the URLs in answers lead back here."""
    configured = get_settings().base_url.rstrip("/")
    if configured:
        return configured
    base = request.base_url
    server = request.scope.get("server")
    if base.port is None and server and server[1] not in (80, 443):
        base = base.replace(port=server[1])
    return str(base).rstrip("/")


def _bearer_context(request: Request, token: str) -> AccessContext:
    audiences = dict.fromkeys((str(request.base_url).rstrip("/") + "/fhir", server_base(request) + "/fhir"))
    claims = None
    for audience in audiences:
        try:
            claims = verify_access_token(token, audience=audience)
            break
        except InvalidToken as exc:
            refusal = exc
    if claims is None:
        raise DicomwebError(401, str(refusal), {"WWW-Authenticate": 'Bearer realm="smartcare"'}) from refusal
    return AccessContext(kind=claims.kind, name=claims.name, roles=claims.roles, organization=claims.organization,
                         remote_addr=guard.remote(request), subject=claims.subject, fhir_user=claims.fhir_user,
                         patient=claims.patient, scopes=claims.scopes)


def caller(request: Request) -> AccessContext:
    """The caller: a bearer token, else this browser's session (with its CSRF header on writes); 401 otherwise."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return _bearer_context(request, token.strip())
    with unit_of_work() as conn:
        found = guard.signed_in(conn, request)
    if found is None:
        raise DicomwebError(401, "Sign in, or send Authorization: Bearer <token> (from /auth/token)",
                            {"WWW-Authenticate": 'Bearer realm="smartcare"'})
    session, user = found
    if request.method not in _SAFE and not guard.same_token(session.csrf_token, request.headers.get(guard.CSRF_HEADER)):
        raise DicomwebError(403, "Send the session's CSRF token in the X-CSRF-Token header")
    return users.context_for(user, guard.remote(request))


def _imaging_studies(ctx: AccessContext, query: list[tuple[str, str]]) -> list[dict]:
    try:
        return gateway.search(ctx, "ImagingStudy", [*query, ("_elements", "identifier")])
    except FhirError as exc:
        if exc.status in (401, 403):
            raise DicomwebError(403, f"You may not see imaging studies: {exc.message}") from exc
        raise


def _study_uids(resources: Iterable[dict]) -> set[str]:
    found = set()
    for resource in resources:
        for identifier in resource.get("identifier", []):
            value = identifier.get("value", "")
            if identifier.get("system") == DICOM_UID and value.startswith("urn:oid:"):
                found.add(value[len("urn:oid:"):])
    return found


def visible_among(ctx: AccessContext, study_uids: Iterable[str]) -> set[str]:
    """Those of study_uids whose ImagingStudy ctx may read (one audited gateway search per hundred)."""
    seen: set[str] = set()
    unique = list(dict.fromkeys(study_uids))
    for chunk in (unique[start:start + 100] for start in range(0, len(unique), 100)):
        value = ",".join(f"{DICOM_UID}|urn:oid:{uid}" for uid in chunk)
        seen |= _study_uids(_imaging_studies(ctx, [("identifier", value), ("_count", str(len(chunk)))]))
    return seen


def visible_studies(ctx: AccessContext) -> set[str]:
    """The study UIDs of every ImagingStudy ctx may read (at most MAX_VISIBLE)."""
    seen: set[str] = set()
    for offset in range(0, MAX_VISIBLE, MAX_LIMIT):
        page = _imaging_studies(ctx, [("_count", str(MAX_LIMIT)), ("_offset", str(offset))])
        seen |= _study_uids(page)
        if len(page) < MAX_LIMIT:
            break
    return seen


def checked(uid: str, name: str) -> str:
    """uid when it is a DICOM UID; 400 otherwise (a hostile path part never reaches the index or the files)."""
    if not is_uid(uid):
        raise DicomwebError(400, f"{name} is not a valid DICOM UID ({uid[:70]!r})")
    return uid


def require_study(ctx: AccessContext, study_uid: str) -> None:
    """404 unless the study exists for ctx (its ImagingStudy is in ctx's reach)."""
    if study_uid not in visible_among(ctx, [checked(study_uid, "StudyInstanceUID")]):
        raise DicomwebError(404, f"There is no study {study_uid} you may see")


def _may_store(ctx: AccessContext, request: Request) -> None:
    try:
        if ctx.kind == "user" and not ctx.roles & _STAFF_WRITERS:
            raise AccessDenied("only staff store images")
        decide(ctx, "create", "ImagingStudy", personal=True)
    except AccessDenied as exc:
        with unit_of_work() as conn:
            audit.record(conn, ctx=ctx, action="C", subtype="access-refused", outcome="4",
                         description=f"STOW-RS {request.url.path[:120]}: {exc}"[:200])
        raise DicomwebError(403, f"You may not store images: {exc}") from exc


# --- the DICOM JSON model ----------------------------------------------------------------------------------------

def _json_value(vr: str, value: Any) -> list | None:
    if value is None or value == "":
        return None
    if vr == "PN":
        groups = str(value).split("=")
        names = dict(zip(("Alphabetic", "Ideographic", "Phonetic"), groups, strict=False))
        return [{k: v for k, v in names.items() if v}]
    if vr in ("IS", "US", "UL", "SS", "SL"):
        return [int(value)]
    if vr == "CS" and isinstance(value, str) and "\\" in value:
        return [v for v in value.split("\\") if v]
    return [str(value)]


def attribute(keyword: str, value: Any) -> tuple[str, dict]:
    """The DICOM JSON member (tag, {"vr", "Value"}) of an attribute's value."""
    vr = dictionary_VR(keyword)
    member: dict[str, Any] = {"vr": vr}
    values = _json_value(vr, value)
    if values is not None:
        member["Value"] = values
    return f"{tag_for_keyword(keyword):08X}", member


def keyword_of(name: str) -> str:
    """The keyword of a query or includefield name given as keyword or tag (8 hex digits); 400 otherwise."""
    if len(name) == 8 and all(c in "0123456789abcdefABCDEF" for c in name):
        keyword = keyword_for_tag(int(name, 16))
        if keyword:
            return keyword
    elif tag_for_keyword(name) is not None:
        return name
    raise DicomwebError(400, f"{name[:70]!r} is not a DICOM attribute keyword or tag")


# --- QIDO-RS -----------------------------------------------------------------------------------------------------

def _int_param(params: dict[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = params.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise DicomwebError(400, f"{name} must be a whole number from {low} to {high}")
    return int(raw)


def _values(pairs: list[tuple[str, str]], keyword: str) -> list[str]:
    tag = f"{tag_for_keyword(keyword):08X}"
    return [v for k, v in pairs if k == keyword or k.upper() == tag]


def _fields(values: list[str], level: str) -> tuple[str, ...]:
    depth = LEVELS.index(level)
    names = [n.strip() for v in values for n in v.split(",") if n.strip()]
    if "all" in names:
        return tuple(k for k, key in KEYS.items()
                     if LEVELS.index(key.level) <= depth and k != "NumberOfPatientRelatedStudies")
    return (*DEFAULT_FIELDS[level], *(keyword_of(n) for n in names))


def _matches(pairs: list[tuple[str, str]], level: str) -> list[Any]:
    depth = LEVELS.index(level)
    conditions = []
    for name, value in pairs:
        if name in _QIDO_CONTROLS:
            continue
        if "." in name:
            raise DicomwebError(400, f"matching on sequence attributes ({name[:60]}) is not supported")
        keyword = keyword_of(name)
        key = KEYS.get(keyword)
        if key is None or key.kind == "count" or keyword == "NumberOfPatientRelatedStudies":
            raise DicomwebError(400, f"{keyword} is not an attribute this archive matches on")
        if LEVELS.index(key.level) > depth:
            raise DicomwebError(400, f"{keyword} is an attribute below the {level.lower()} level")
        where = condition(key, value[:1024])
        if where is not None:
            conditions.append(where)
    return conditions


def _select(level: str) -> Any:
    depth = LEVELS.index(level)
    columns = [key.column.label(name) for name, key in KEYS.items()
               if key.kind != "count" and LEVELS.index(key.level) <= depth]
    columns += [KEYS[n].column.label(n) for n in ("NumberOfStudyRelatedSeries", "NumberOfStudyRelatedInstances")]
    if depth >= 2:
        columns.append(KEYS["NumberOfSeriesRelatedInstances"].column.label("NumberOfSeriesRelatedInstances"))
    query = sa.select(*columns).select_from(imaging_study)
    if depth >= 2:
        query = query.join(imaging_series, _r.study == _s.id)
    if depth >= 3:
        query = query.join(imaging_instance, _i.series == _r.id)
    order = {"STUDY": (_s.study_date.desc(), _s.study_time.desc(), _s.id),
             "SERIES": (_s.id, _r.series_number, _r.id), "IMAGE": (_r.id, _i.instance_number, _i.id)}[level]
    return query.order_by(*order)


def _retrieve_url(base: str, row: Any, level: str) -> str:
    url = f"{base}/studies/{row.StudyInstanceUID}"
    if level in ("SERIES", "IMAGE"):
        url += f"/series/{row.SeriesInstanceUID}"
    if level == "IMAGE":
        url += f"/instances/{row.SOPInstanceUID}"
    return url


def _qido_answer(row: Any, fields: tuple[str, ...], level: str, base: str) -> dict:
    values = row._mapping
    out: dict[str, dict] = {}
    for keyword in dict.fromkeys(fields):
        if keyword in values:
            tag, member = attribute(keyword, values[keyword])
            out[tag] = member
    tag, member = attribute("RetrieveURL", _retrieve_url(base, row, level))
    out[tag] = member
    return dict(sorted(out.items()))


def search(ctx: AccessContext, *, level: str, pairs: list[tuple[str, str]], base: str,
           within: dict[str, str] | None = None) -> tuple[list[dict], dict[str, str]]:
    """The QIDO-RS answer (DICOM JSON objects) and headers for a search at level, in ctx's reach."""
    params = dict(pairs)
    fuzzy = params.get("fuzzymatching", "false").lower()
    if fuzzy not in ("true", "false"):
        raise DicomwebError(400, "fuzzymatching must be true or false")
    limit = _int_param(params, "limit", MAX_LIMIT, 1, MAX_LIMIT)
    offset = _int_param(params, "offset", 0, 0, 10**6)
    fields = _fields([v for k, v in pairs if k == "includefield"], level)
    conditions = _matches(pairs, level)
    scope = [KEYS[name].column == uid for name, uid in (within or {}).items()]
    if within:
        require_study(ctx, within["StudyInstanceUID"])
        visible = {within["StudyInstanceUID"]}
    elif asked := [u.strip() for v in _values(pairs, "StudyInstanceUID") for u in v.split("\\") if u.strip()]:
        visible = visible_among(ctx, [u for u in asked if is_uid(u)][:MAX_LIMIT])
    else:
        visible = visible_studies(ctx)
    query = _select(level).where(_s.study_uid.in_(sorted(visible)), *scope, *conditions)
    with unit_of_work() as conn:
        rows = conn.execute(query.limit(limit + 1).offset(offset)).all()
    headers = {}
    if fuzzy == "true":
        headers["Warning"] = '299 SmartCare: "fuzzymatching is not supported; only literal matching was done"'
    if len(rows) > limit:
        headers["Warning"] = f'299 SmartCare: "There are more results; ask again with offset={offset + limit}"'
    return [_qido_answer(row, fields, level, base) for row in rows[:limit]], headers


# --- WADO-RS -----------------------------------------------------------------------------------------------------

def instances(ctx: AccessContext, study_uid: str, series_uid: str | None = None,
              sop_uid: str | None = None) -> list[Any]:
    """The index rows of a study's (series', instance's) instances; 404 when none is in ctx's reach."""
    require_study(ctx, study_uid)
    query = (sa.select(_s.study_uid, _r.series_uid, _i.sop_instance_uid, _i.sop_class_uid,
                       _i.transfer_syntax_uid, _i.storage_key)
             .join(imaging_series, _r.study == _s.id).join(imaging_instance, _i.series == _r.id)
             .where(_s.study_uid == study_uid).order_by(_r.series_number, _r.id, _i.instance_number, _i.id))
    if series_uid is not None:
        query = query.where(_r.series_uid == checked(series_uid, "SeriesInstanceUID"))
    if sop_uid is not None:
        query = query.where(_i.sop_instance_uid == checked(sop_uid, "SOPInstanceUID"))
    with unit_of_work() as conn:
        rows = conn.execute(query).all()
    if not rows:
        raise DicomwebError(404, "There is no such series or instance in the study")
    return rows


def _accepts(request: Request, media: str) -> dict[str, str] | None:
    """The parameters of the Accept entry that admits multipart/related with parts of media, if one does."""
    header = request.headers.get("accept", "") or "*/*"
    for entry in header.split(","):
        kind, *raw = [p.strip() for p in entry.split(";")]
        params = {k.strip().lower(): v.strip().strip('"') for k, _, v in (p.partition("=") for p in raw)}
        if kind in ("*/*", "multipart/*") or kind == "multipart/related" and params.get("type", media) in (
                media, "*/*"):
            return params
    return None


def _multipart(parts: Iterator[tuple[str, bytes]], part_type: str) -> StreamingResponse:
    boundary = secrets.token_hex(16)

    def body() -> Iterator[bytes]:
        for content_type, data in parts:
            yield f"--{boundary}\r\nContent-Type: {content_type}\r\n\r\n".encode() + data + b"\r\n"
        yield f"--{boundary}--\r\n".encode()

    return StreamingResponse(body(), headers=guard.NO_STORE,
                             media_type=f'multipart/related; type="{part_type}"; boundary={boundary}')


def retrieve(request: Request, rows: list[Any]) -> StreamingResponse:
    """The instances as stored, as multipart/related; type="application/dicom" (406 for another syntax)."""
    params = _accepts(request, "application/dicom")
    if params is None:
        raise DicomwebError(406, 'Ask for multipart/related; type="application/dicom"')
    wanted = params.get("transfer-syntax", "*")
    if wanted != "*" and any(row.transfer_syntax_uid != wanted for row in rows):
        raise DicomwebError(406, f"Instances are served as stored (transfer syntax "
                            f"{rows[0].transfer_syntax_uid}); ask with transfer-syntax=* or none")
    files = default_store()
    return _multipart(((f"application/dicom; transfer-syntax={r.transfer_syntax_uid}", files.get(r.storage_key))
                       for r in rows), "application/dicom")


def _dataset(row: Any) -> Dataset:
    return service.decode(default_store().get(row.storage_key))


def _instance_url(base: str, row: Any) -> str:
    return f"{base}/studies/{row.study_uid}/series/{row.series_uid}/instances/{row.sop_instance_uid}"


def metadata(rows: list[Any], base: str) -> list[dict]:
    """The instances' attributes in the DICOM JSON model, with BulkDataURI in place of pixel data."""
    out = []
    for row in rows:
        ds = _dataset(row)
        bulk = {}
        for tag in BULK_TAGS:
            if tag in ds and ds[tag].value:
                bulk[f"{tag:08X}"] = {"vr": ds[tag].VR,
                                      "BulkDataURI": f"{_instance_url(base, row)}/bulkdata/{tag:08X}"}
                del ds[tag]
        out.append(dict(sorted({**ds.to_json_dict(), **bulk}.items())))
    return out


def bulk_data(row: Any, tag_text: str) -> bytes:
    """The raw value of one top-level bulk data element of an instance (404 when it has none such)."""
    tag = int(tag_text, 16) if len(tag_text) == 8 and all(c in "0123456789abcdefABCDEF" for c in tag_text) else -1
    if tag not in BULK_TAGS:
        raise DicomwebError(404, f"There is no bulk data {tag_text[:20]!r} in this instance")
    ds = _dataset(row)
    if tag not in ds:
        raise DicomwebError(404, f"There is no bulk data {tag_text[:20]!r} in this instance")
    return bytes(ds[tag].value)


def frames(row: Any, numbers: list[int]) -> list[bytes]:
    """The native (uncompressed) pixel bytes of frames of an instance; 406 for compressed pixel data."""
    ds = _dataset(row)
    if row.transfer_syntax_uid not in _NATIVE or "PixelData" not in ds:
        raise DicomwebError(406, "Frames of compressed instances are served rendered only (…/frames/N/rendered)")
    size = int(ds.Rows) * int(ds.Columns) * int(ds.get("SamplesPerPixel", 1)) * int(ds.BitsAllocated) // 8
    count = rendering.frame_count(ds)
    if any(not 1 <= n <= count for n in numbers):
        raise DicomwebError(404, f"The instance has {count} frame(s)")
    data = bytes(ds.PixelData)
    return [data[(n - 1) * size:n * size] for n in numbers]


def _render_media(request: Request) -> str:
    for entry in (request.headers.get("accept", "") or "image/png").split(","):
        kind = entry.split(";")[0].strip().lower()
        if kind in rendering.MEDIA_TYPES:
            return kind
        if kind in ("*/*", "image/*"):
            return "image/png"
    raise DicomwebError(406, "Rendered images are image/png or image/jpeg")


def rendered(request: Request, row: Any, frame: int) -> Response:
    """One frame rendered as PNG or JPEG (Accept), with window= and viewport= from the query."""
    media = _render_media(request)
    try:
        window = rendering.parse_window(request.query_params.get("window"))
        viewport = rendering.parse_viewport(request.query_params.get("viewport"))
        image = rendering.render(_dataset(row), frame=frame, media_type=media, window=window, viewport=viewport)
    except rendering.BadRenderParameter as exc:
        raise DicomwebError(400, str(exc)) from exc
    except rendering.RenderRefused as exc:
        raise DicomwebError(exc.status, str(exc)) from exc
    return Response(image, media_type=media, headers=guard.NO_STORE)


# --- STOW-RS -----------------------------------------------------------------------------------------------------

def _boundary(content_type: str) -> str:
    kind, *raw = [p.strip() for p in content_type.split(";")]
    params = {k.strip().lower(): v.strip().strip('"') for k, _, v in (p.partition("=") for p in raw)}
    if kind.lower() != "multipart/related":
        raise DicomwebError(415, 'Send multipart/related; type="application/dicom"')
    if params.get("type", "application/dicom").lower() != "application/dicom":
        raise DicomwebError(415, 'Only application/dicom parts are taken (type="application/dicom")')
    boundary = params.get("boundary", "")
    if not 1 <= len(boundary) <= 70:
        raise DicomwebError(400, "The multipart boundary is missing or longer than 70 characters")
    return boundary


def split_parts(body: bytes, boundary: str) -> list[tuple[dict[str, str], bytes]]:
    """The (headers, content) of each part of a multipart body (RFC 2046); 400 when there is no part."""
    delimiter = b"\r\n--" + boundary.encode()
    chunks = (b"\r\n" + body).split(delimiter)[1:]
    parts = []
    for chunk in chunks:
        if chunk.startswith(b"--"):
            break
        head, _, content = chunk.partition(b"\r\n\r\n")
        headers = {}
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        parts.append((headers, content))
    if not parts:
        raise DicomwebError(400, "The body has no parts under the boundary it names")
    return parts


async def read_body(request: Request) -> bytes:
    """The request body, refused with 413 past settings.max_request_bytes."""
    limit = get_settings().max_request_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise DicomwebError(413, f"The request body is over the {limit:,}-byte limit")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise DicomwebError(413, f"The request body is over the {limit:,}-byte limit")
        chunks.append(chunk)
    return b"".join(chunks)


def _store_part(headers: dict[str, str], content: bytes, study_uid: str | None,
                batch: service.Batch) -> tuple[service.StoreOutcome, Dataset | None]:
    kind = headers.get("content-type", "application/dicom").split(";")[0].strip().lower()
    if kind != "application/dicom":
        return service.StoreOutcome(service.CANNOT_UNDERSTAND, f"a part of type {kind[:60]!r}"), None
    try:
        ds = service.decode(content)
    except service.Refused as refused:
        return service.StoreOutcome(refused.status, refused.reason), None
    if study_uid is not None and str(ds.get("StudyInstanceUID", "")) != study_uid:
        return service.StoreOutcome(service.NOT_MATCHING_SOP_CLASS, "the instance belongs to another study"), ds
    return service.store_instance(ds, calling_ae=CALLING_AE, encoded=content, batch=batch), ds


def _referenced(ds: Dataset | None) -> dict[str, dict]:
    out = {}
    for keyword, source in (("ReferencedSOPClassUID", "SOPClassUID"), ("ReferencedSOPInstanceUID",
                                                                        "SOPInstanceUID")):
        value = str(ds.get(source, "")) if ds is not None else ""
        if is_uid(value):
            tag, member = attribute(keyword, value)
            out[tag] = member
    return out


def store(ctx: AccessContext, parts: list[tuple[dict[str, str], bytes]], study_uid: str | None,
          base: str) -> tuple[int, dict]:
    """Store each part; the HTTP status (200 all, 202 some, 409 none) and the STOW-RS response dataset."""
    batch = service.Batch()
    referenced, failed = [], []
    for headers, content in parts:
        outcome, ds = _store_part(headers, content, study_uid, batch)
        item = _referenced(ds)
        if outcome.stored:
            item.update((attribute("RetrieveURL", f"{base}/studies/{ds.StudyInstanceUID}/series/"
                                   f"{ds.SeriesInstanceUID}/instances/{ds.SOPInstanceUID}"),))
            if outcome.status != service.SUCCESS:
                item.update((attribute("WarningReason", outcome.status),))
            referenced.append(dict(sorted(item.items())))
        else:
            item.update((attribute("FailureReason", outcome.status),))
            failed.append(dict(sorted(item.items())))
    service.publish_now(batch.studies)
    with unit_of_work() as conn:
        for uid in sorted(batch.studies):
            audit.record(conn, ctx=ctx, action="C", subtype="create",
                         entities=[f"ImagingStudy?identifier={DICOM_UID}|urn:oid:{uid}"])
    answer: dict[str, dict] = {}
    if study_uid is not None:
        answer.update((attribute("RetrieveURL", f"{base}/studies/{study_uid}"),))
    if failed:
        answer["00081198"] = {"vr": "SQ", "Value": failed}
    if referenced:
        answer["00081199"] = {"vr": "SQ", "Value": referenced}
    status = 409 if not referenced else 202 if failed or any("00081196" in r for r in referenced) else 200
    return status, answer


# --- routes ------------------------------------------------------------------------------------------------------

def _base(request: Request) -> str:
    return server_base(request) + "/dicomweb"


async def _answer(request: Request, work: Callable[[AccessContext], Response]) -> Response:
    try:
        ctx = await run_in_threadpool(caller, request)
        return await run_in_threadpool(work, ctx)
    except DicomwebError as exc:
        return _error_response(exc)
    except OSError as exc:  # the instance store (disk or object store) failed: the archive is there, try later
        log.exception("DICOMweb %s could not read the instance store", request.url.path)
        return _error_response(DicomwebError(503, f"The image archive cannot be read now ({exc.strerror or exc}); "
                                             "try again shortly", {"Retry-After": "30"}))


def _json(body: Any, headers: dict[str, str] | None = None, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type=DICOM_JSON,
                    headers={**guard.NO_STORE, **(headers or {})})


def _qido(request: Request, level: str, **within: str) -> Callable[[AccessContext], Response]:
    pairs = [(k, v) for k, v in request.query_params.multi_items()]

    def work(ctx: AccessContext) -> Response:
        for name, uid in within.items():
            checked(uid, name)
        found, headers = search(ctx, level=level, pairs=pairs, base=_base(request), within=within or None)
        return _json(found, headers)
    return work


@router.get("/studies")
async def search_studies(request: Request) -> Response:
    """QIDO-RS: the studies in the caller's reach matching the query."""
    return await _answer(request, _qido(request, "STUDY"))


@router.get("/series")
async def search_all_series(request: Request) -> Response:
    """QIDO-RS: series of every study in the caller's reach."""
    return await _answer(request, _qido(request, "SERIES"))


@router.get("/instances")
async def search_all_instances(request: Request) -> Response:
    """QIDO-RS: instances of every study in the caller's reach."""
    return await _answer(request, _qido(request, "IMAGE"))


@router.get("/studies/{study}/series")
async def search_series(study: str, request: Request) -> Response:
    """QIDO-RS: the series of one study."""
    return await _answer(request, _qido(request, "SERIES", StudyInstanceUID=study))


@router.get("/studies/{study}/instances")
async def search_study_instances(study: str, request: Request) -> Response:
    """QIDO-RS: the instances of one study."""
    return await _answer(request, _qido(request, "IMAGE", StudyInstanceUID=study))


@router.get("/studies/{study}/series/{series}/instances")
async def search_instances(study: str, series: str, request: Request) -> Response:
    """QIDO-RS: the instances of one series."""
    return await _answer(request, _qido(request, "IMAGE", StudyInstanceUID=study, SeriesInstanceUID=series))


@router.get("/studies/{study}")
@router.get("/studies/{study}/series/{series}")
@router.get("/studies/{study}/series/{series}/instances/{instance}")
async def retrieve_instances(request: Request, study: str, series: str | None = None,
                             instance: str | None = None) -> Response:
    """WADO-RS: a study, series or instance as stored, multipart/related; type="application/dicom"."""
    return await _answer(request, lambda ctx: retrieve(request, instances(ctx, study, series, instance)))


@router.get("/studies/{study}/metadata")
@router.get("/studies/{study}/series/{series}/metadata")
@router.get("/studies/{study}/series/{series}/instances/{instance}/metadata")
async def retrieve_metadata(request: Request, study: str, series: str | None = None,
                            instance: str | None = None) -> Response:
    """WADO-RS: the instances' attributes as DICOM JSON, pixel data by BulkDataURI."""
    return await _answer(request, lambda ctx: _json(metadata(instances(ctx, study, series, instance),
                                                             _base(request))))


@router.get("/studies/{study}/series/{series}/instances/{instance}/bulkdata/{tag}")
async def retrieve_bulk_data(request: Request, study: str, series: str, instance: str, tag: str) -> Response:
    """WADO-RS: one bulk data element of an instance, multipart/related; type="application/octet-stream"."""
    def work(ctx: AccessContext) -> Response:
        [row] = instances(ctx, study, series, instance)
        data = bulk_data(row, tag)
        return _multipart(iter([("application/octet-stream", data)]), "application/octet-stream")
    return await _answer(request, work)


def _frame_numbers(text: str) -> list[int]:
    parts = text.split(",")
    if not 1 <= len(parts) <= 1000 or not all(p.isdigit() and 0 < int(p) < 2**31 for p in parts):
        raise DicomwebError(400, "Frames are numbers from 1, separated by commas (for example frames/1,2)")
    return [int(p) for p in parts]


@router.get("/studies/{study}/series/{series}/instances/{instance}/frames/{numbers}")
async def retrieve_frames(request: Request, study: str, series: str, instance: str, numbers: str) -> Response:
    """WADO-RS: uncompressed frames of an instance, multipart/related; type="application/octet-stream"."""
    def work(ctx: AccessContext) -> Response:
        wanted = _frame_numbers(numbers)
        [row] = instances(ctx, study, series, instance)
        data = frames(row, wanted)
        return _multipart(iter([("application/octet-stream", d) for d in data]), "application/octet-stream")
    return await _answer(request, work)


@router.get("/studies/{study}/series/{series}/instances/{instance}/rendered")
async def render_instance(request: Request, study: str, series: str, instance: str) -> Response:
    """WADO-RS: an instance's (first) frame as PNG or JPEG."""
    def work(ctx: AccessContext) -> Response:
        [row] = instances(ctx, study, series, instance)
        return rendered(request, row, 1)
    return await _answer(request, work)


@router.get("/studies/{study}/series/{series}/instances/{instance}/frames/{number}/rendered")
async def render_frame(request: Request, study: str, series: str, instance: str, number: str) -> Response:
    """WADO-RS: one frame of an instance as PNG or JPEG."""
    def work(ctx: AccessContext) -> Response:
        wanted = _frame_numbers(number)
        if len(wanted) != 1:
            raise DicomwebError(400, "Render one frame at a time")
        [row] = instances(ctx, study, series, instance)
        return rendered(request, row, wanted[0])
    return await _answer(request, work)


@router.post("/studies")
@router.post("/studies/{study}")
async def store_instances(request: Request, study: str | None = None) -> Response:
    """STOW-RS: store the application/dicom parts of a multipart/related body."""
    try:
        ctx = await run_in_threadpool(caller, request)
        await run_in_threadpool(_may_store, ctx, request)
        if study is not None:
            checked(study, "StudyInstanceUID")
        boundary = _boundary(request.headers.get("content-type", ""))
        parts = split_parts(await read_body(request), boundary)
        status, answer = await run_in_threadpool(store, ctx, parts, study, _base(request))
    except DicomwebError as exc:
        return _error_response(exc)
    return _json(answer, status=status)

