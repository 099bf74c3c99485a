"""The record's export page and downloads (the IPS as FHIR JSON and as a PDF, the full record as a Bundle and as
NDJSON) and the upload of a summary from elsewhere, for the person chosen at the top of the app."""

from typing import Any
from urllib.parse import urlencode

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from smartcare.fhir.errors import FhirError
from smartcare.patient.record import exports, summary_pdf
from smartcare.patient.record.views import NotInReach, Reader, reader
from smartcare.platform import clock, i18n
from smartcare.platform.web import guard
from smartcare.platform.web.pages import not_found, render_private

router = APIRouter(include_in_schema=False)
UPLOAD_FIELD = "bundle"
DOWNLOADS = ("summary.json", "summary.pdf", "everything.json", "everything.ndjson")


def _page(request: Request, r: Reader, *, status_code: int = 200, problems: list[dict[str, str]] | None = None,
          imported: dict[str, int] | None = None) -> HTMLResponse:
    return r.page(request, "record/export.html", status_code=status_code, tab="export", problems=problems or [],
                  imported=imported, limit_mb=exports.MAX_UPLOAD // (1024 * 1024),
                  person_query=urlencode({"person": r.person.id}) if r.person else "")


def _export_page(request: Request) -> HTMLResponse:
    return _page(request, reader(request))


def _attachment(body: bytes, media_type: str, name: str) -> Response:
    return Response(body, media_type=media_type, headers={
        **guard.NO_STORE, "Content-Disposition": f'attachment; filename="{name}"'})


def _file_name(r: Reader, what: str, extension: str) -> str:
    day = clock.now().date().isoformat()
    return f"{what}-{r.person.id if r.person else 'none'}-{day}.{extension}"


def _download(request: Request, what: str) -> Response:
    r = reader(request)  # the guard first: a stranger is sent to sign in whatever they ask for
    if r.person is None or what not in DOWNLOADS:
        return not_found(request)
    locale = i18n.current_locale(request)
    try:
        if what in ("summary.json", "summary.pdf"):
            bundle = exports.summary(r.visitor.ctx, r.person, locale=locale)
            if what == "summary.pdf":
                return _attachment(summary_pdf.render(bundle, locale=locale), summary_pdf.MEDIA_TYPE,
                                   _file_name(r, "patient-summary", "pdf"))
            return _attachment(orjson.dumps(bundle), exports.FHIR_JSON, _file_name(r, "patient-summary", "json"))
        resources = exports.everything(r.visitor.ctx, r.person)
    except FhirError:
        return render_private(request, "403.html", status_code=403)
    if what == "everything.ndjson":
        return StreamingResponse(exports.as_ndjson(resources), media_type=exports.NDJSON, headers={
            **guard.NO_STORE, "Content-Disposition": f'attachment; filename="{_file_name(r, "record", "ndjson")}"'})
    bundle = exports.as_bundle(resources, base=str(request.base_url).rstrip("/"))
    return _attachment(orjson.dumps(bundle), exports.FHIR_JSON, _file_name(r, "record", "json"))


def _shown(request: Request, issues: list[tuple[str, dict[str, Any], str]]) -> list[dict[str, str]]:
    words = i18n.translations(i18n.current_locale(request))
    return [{"message": words.gettext(message) % values, "detail": detail} for message, values, detail in issues]


def _import(request: Request, content: bytes | None, token: str | None) -> HTMLResponse:
    r = reader(request)
    if content is None or len(content) <= exports.MAX_UPLOAD:
        # An upload too large was not read, its token neither; it is refused below and nothing is written.
        guard.check_csrf(request, r.visitor, token)
    if r.person is None:
        return not_found(request)
    try:
        counts = exports.import_upload(r.visitor.ctx, r.person, content)
    except exports.ImportRefused as exc:
        return _page(request, r, status_code=400 if exc.issues[0][0] != exports.TOO_BIG else 413,
                     problems=_shown(request, exc.issues))
    return _page(request, r, imported=counts)


async def _read_upload(request: Request) -> tuple[bytes | None, str | None]:
    """The uploaded file's bytes (at most MAX_UPLOAD and one byte, to tell a file too large) and the CSRF token."""
    length = request.headers.get("content-length") or "0"
    if not length.isdigit() or int(length) > exports.MAX_UPLOAD * 2:
        return bytes(exports.MAX_UPLOAD + 1), None
    form = await request.form(max_files=1, max_fields=5)
    upload = form.get(UPLOAD_FIELD)
    token = form.get("csrf_token")
    content = await upload.read(exports.MAX_UPLOAD + 1) if hasattr(upload, "read") else None
    return content, token if isinstance(token, str) else None


@router.get("/app/record/export", response_class=HTMLResponse)
async def record_export(request: Request) -> Response:
    """The exports of the record and the form to import a summary from elsewhere."""
    try:
        return await run_in_threadpool(_export_page, request)
    except NotInReach:
        return not_found(request)


@router.get("/app/record/export/{what}")
async def record_download(request: Request, what: str) -> Response:
    """A download: summary.json (IPS), summary.pdf, everything.json (Bundle) or everything.ndjson."""
    try:
        return await run_in_threadpool(_download, request, what[:40])
    except NotInReach:
        return not_found(request)


@router.post("/app/record/import", response_class=HTMLResponse)
async def record_import(request: Request) -> Response:
    """Import an uploaded IPS or FHIR Bundle (CSRF-checked, size-limited); a refusal lists its issues in words."""
    content, token = await _read_upload(request)
    try:
        return await run_in_threadpool(_import, request, content, token)
    except NotInReach:
        return not_found(request)
