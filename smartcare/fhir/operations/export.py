"""$export (FHIR Bulk Data Access 2.0): kick-off, status polling, file download and cancel.

Kick-off records a job in fhir_export_job and raises ExportRequested; once that transaction has
committed, the event starts a background thread that pages through fhir_resource and writes one
NDJSON file per type. Each page is read in its own short unit of work, so a long export never holds
SQLite's write lock for more than a moment, and a resource changed after the kick-off is exported
as it was at the kick-off instant (from the history table), so the files match transactionTime.
"""

import logging
import threading
import uuid
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from smartcare.fhir import access, export_files, store
from smartcare.fhir import tables as t
from smartcare.fhir.errors import (
    BadRequest,
    FhirError,
    NotFound,
    NotSupported,
    information_outcome,
    operation_outcome,
)
from smartcare.fhir.http import FhirRequest, FhirResponse
from smartcare.fhir.operations import operation
from smartcare.fhir.search.registry import patient_compartment_params
from smartcare.fhir.validation import known_resource_types
from smartcare.platform import clock
from smartcare.platform.db import get_engine, pending_events, unit_of_work
from smartcare.platform.events import DomainEvent, subscribe
from smartcare.platform.security.context import AccessContext

log = logging.getLogger(__name__)

NDJSON = "application/fhir+ndjson"
EXPORT_REQUESTED = "ExportRequested"
PAGE_SIZE = 1000
_OUTPUT_FORMATS = frozenset({"application/fhir+ndjson", "application/ndjson", "ndjson"})
_UNSUPPORTED = ("_typeFilter", "_elements", "patient", "includeAssociatedData")
_RUNNING = ("queued", "in-progress")
_job = t.export_job


class _Cancelled(Exception):
    """The job was deleted while it ran."""


@dataclass(frozen=True, slots=True)
class _Plan:
    """What one running export reads: its caller, scope, types and time window."""

    job_id: str
    ctx: AccessContext
    engine: Engine
    level: str  # system, patient or group
    group_pk: int | None
    types: list[str]
    since: str | None
    until: str
    base_url: str


# --- kick-off -----------------------------------------------------------------------------------


@operation("export")
def kick_off(conn: Connection, ctx: AccessContext, req: FhirRequest, target: list[str]) -> FhirResponse:
    """GET $export, Patient/$export or Group/[id]/$export: record an export job and answer 202."""
    if req.method != "GET":
        raise FhirError("Start an export with GET; a POST kick-off is not supported", status=405)
    if "respond-async" not in req.prefer:
        raise BadRequest("$export runs asynchronously: send the header 'Prefer: respond-async'")
    params = _kick_off_params(req)
    fmt = params.get("_outputFormat")
    if fmt is not None and fmt not in _OUTPUT_FORMATS:
        raise BadRequest(f"_outputFormat '{fmt[:60]}' is not supported; use application/fhir+ndjson")
    refused = [name for name in _UNSUPPORTED if name in params]
    if refused:
        raise NotSupported(f"$export does not support {', '.join(refused)}; leave it out")
    level, group_id = _level(conn, ctx, target)
    types = _types(params.get("_type"), level)
    since = _since(params.get("_since"))
    for res_type in types:
        _authorize_export(ctx, res_type)
    request_url = f"{req.base_url}/{req.path.strip('/')}"
    if req.query:
        request_url += f"?{req.query_string()}"
    if len(request_url) > 2048:
        raise BadRequest("The kick-off URL is over 2,048 characters; leave _type out to export every type")
    scope = {"level": level, "group": group_id, "types": types, "since": since, "base_url": req.base_url}
    job_id = _record_job(conn, ctx, request_url, scope)
    status_url = f"{req.base_url}/$export-poll-status?{urlencode({'_jobId': job_id})}"
    outcome = information_outcome(f"Export {job_id} is queued; poll {status_url} for its files")
    return FhirResponse(202, outcome, {"Content-Location": status_url})


def _record_job(conn: Connection, ctx: AccessContext, request_url: str, scope: dict[str, Any]) -> str:
    """Insert a queued job; its thread starts once this transaction commits (ExportRequested)."""
    job_id = uuid.uuid4().hex
    now = clock.format_instant(clock.now())
    conn.execute(
        _job.insert().values(
            id=job_id,
            status="queued",
            request_url=request_url,
            params=scope,
            requested_by=ctx.author[:255],
            created=now,
            transaction_time=now,
        )
    )
    requester = {f.name: getattr(ctx, f.name) for f in fields(ctx)}
    requester["roles"] = sorted(ctx.roles)
    pending_events(conn).append(DomainEvent(EXPORT_REQUESTED, {"job": job_id, "requested_by": requester}))
    return job_id


def _kick_off_params(req: FhirRequest) -> dict[str, str]:
    params: dict[str, str] = {}
    for name, value in req.query:
        # _type may be repeated; every other parameter is taken once (the last one wins).
        params[name] = f"{params[name]},{value}" if name == "_type" and name in params else value
    return params


def _level(conn: Connection, ctx: AccessContext, target: list[str]) -> tuple[str, str | None]:
    if not target:
        return "system", None
    if target == ["Patient"]:
        return "patient", None
    if len(target) == 2 and target[0] == "Group":
        store.check_id(target[1])
        store.read(conn, ctx, res_type="Group", res_id=target[1])
        return "group", target[1]
    raise NotSupported("$export is answered at [base]/$export, Patient/$export and Group/[id]/$export only")


def _compartment_types() -> set[str]:
    return {"Patient"} | {name for name in known_resource_types() if patient_compartment_params(name)}


def _types(raw: str | None, level: str) -> list[str]:
    allowed = known_resource_types() if level == "system" else _compartment_types()
    if raw is None:
        return sorted(allowed)
    if len(raw) > 4000:
        raise BadRequest("_type is over 4,000 characters; leave it out to export every type")
    names = list(dict.fromkeys(name.strip() for name in raw.split(",") if name.strip()))
    if not names:
        raise BadRequest("_type is empty; name resource types separated by commas, or leave it out")
    unknown = [name[:64] for name in names if name not in known_resource_types()]
    if unknown:
        raise BadRequest(f"_type names unknown resource types: {', '.join(unknown[:5])}")
    outside = [name for name in names if name not in allowed]
    if outside:
        raise BadRequest(
            f"{', '.join(outside[:5])} are not in the Patient compartment, so a {level}-level export cannot hold them"
        )
    return names


def _since(raw: str | None) -> str | None:
    if raw is None:
        return None
    # An unescaped '+' in the query string arrives as a space.
    text = raw.strip().replace(" ", "+")
    try:
        moment = datetime.fromisoformat(text) if 10 < len(text) <= 40 else None
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise BadRequest(
            f"_since must be an instant with a time zone, like 2024-01-31T08:00:00Z, not '{raw[:40]}'"
        )
    moment = moment.astimezone(UTC)
    # Stored instants have milliseconds; round a finer _since up so nothing earlier slips in.
    if moment.microsecond % 1000:
        moment += timedelta(microseconds=1000 - moment.microsecond % 1000)
    return clock.format_instant(moment)


def _authorize_export(ctx: AccessContext, res_type: str) -> None:
    access.decision(ctx, "export", res_type)


# --- status, cancel and download ----------------------------------------------------------------


@operation("export-poll-status")
def poll_status(conn: Connection, ctx: AccessContext, req: FhirRequest, target: list[str]) -> FhirResponse:
    """GET $export-poll-status?_jobId=: progress, the manifest or the failure; DELETE cancels the job."""
    if target or req.method not in ("GET", "DELETE"):
        raise FhirError(
            "Poll an export with GET [base]/$export-poll-status?_jobId=, cancel it with DELETE", status=405
        )
    job = _job_for(conn, ctx, req)
    if req.method == "DELETE":
        conn.execute(_job.delete().where(_job.c.id == job.id))
        export_files.remove_job_files(job.id)
        return FhirResponse(202, information_outcome(f"Export {job.id} and its files are deleted"))
    if job.status in _RUNNING:
        return FhirResponse(202, None, {"X-Progress": _progress(job), "Retry-After": "1"})
    if job.status == "failed":
        return FhirResponse(
            500,
            operation_outcome(
                [
                    {
                        "severity": "error",
                        "code": "exception",
                        "diagnostics": f"Export {job.id} failed: {job.error}",
                    }
                ]
            ),
        )
    manifest = {
        "transactionTime": job.transaction_time,
        "request": job.request_url,
        "requiresAccessToken": True,
        "output": job.output or [],
        "error": [],
    }
    return FhirResponse(200, manifest)


@operation("export-file")
def download(conn: Connection, ctx: AccessContext, req: FhirRequest, target: list[str]) -> FhirResponse:
    """GET $export-file?_jobId=&_type=: one NDJSON file of a completed export."""
    if target or req.method != "GET":
        raise FhirError("Download an export file with GET [base]/$export-file?_jobId=&_type=", status=405)
    job = _job_for(conn, ctx, req)
    res_type = dict(req.query).get("_type", "")
    listed = {item["type"] for item in job.output or []} if job.status == "completed" else set()
    if res_type not in listed:
        raise NotFound(f"Export {job.id} has no file of '{res_type[:64]}'")
    _authorize_export(ctx, res_type)
    try:
        path = export_files.type_file(job.id, res_type)
    except ValueError as exc:
        raise NotFound(f"Export {job.id} has no file of '{res_type[:64]}'") from exc
    if not path.is_file():
        raise NotFound(f"The {res_type} file of export {job.id} is no longer on the server")
    return FhirResponse(200, None, file=path, media_type=NDJSON)


def _job_for(conn: Connection, ctx: AccessContext, req: FhirRequest) -> sa.Row:
    job_id = dict(req.query).get("_jobId")
    if not job_id:
        raise BadRequest("Name the export job with _jobId")
    job = None
    if export_files.is_job_id(job_id):
        job = conn.execute(sa.select(_job).where(_job.c.id == job_id)).first()
    # Someone else's job is as unknown as a job that never existed.
    if job is None or job.requested_by != ctx.author[:255]:
        raise NotFound(f"No export job '{job_id[:64]}'")
    return job


def _progress(job: sa.Row) -> str:
    if job.status == "queued":
        return "queued"
    done = sum(item.get("count", 0) for item in job.output or [])
    return f"in progress: {done:,} resources exported so far"


def file_url(base_url: str, job_id: str, res_type: str) -> str:
    """Where a client downloads one NDJSON file of a job."""
    return f"{base_url}/$export-file?{urlencode({'_jobId': job_id, '_type': res_type})}"


# --- the export itself, in a background thread -----------------------------------------------------


def _on_export_requested(event: DomainEvent) -> None:
    requester = event.payload["requested_by"]
    ctx = AccessContext(**{**requester, "roles": frozenset(requester["roles"])})
    job_id = event.payload["job"]
    worker = threading.Thread(
        target=run_export, args=(job_id, ctx, get_engine()), name=f"fhir-export-{job_id[:8]}", daemon=True
    )
    worker.start()


subscribe(EXPORT_REQUESTED, _on_export_requested)


def run_export(job_id: str, ctx: AccessContext, engine: Engine) -> None:
    """Carry out a queued export job: write its files, then record the manifest or the failure."""
    plan = _start(job_id, ctx, engine)
    if plan is None:
        return
    try:
        recorded = _finish(engine, job_id, "completed", output=_write_files(plan))
    except _Cancelled:
        recorded = False
    except Exception as exc:
        log.exception("Bulk export %s failed", job_id)
        _finish(engine, job_id, "failed", error=_describe(exc))
        recorded = False
    if not recorded:
        export_files.remove_job_files(job_id)


def _describe(exc: Exception) -> str:
    if isinstance(exc, OSError):
        return f"the export files could not be written ({exc.strerror or exc.__class__.__name__})"
    return f"the server hit an internal error ({exc.__class__.__name__}); its log has the details"


def _start(job_id: str, ctx: AccessContext, engine: Engine) -> _Plan | None:
    with unit_of_work(engine) as conn:
        moved = conn.execute(
            _job.update()
            .where(_job.c.id == job_id, _job.c.status == "queued")
            .values(status="in-progress", output=[])
        ).rowcount
        job = conn.execute(sa.select(_job).where(_job.c.id == job_id)).first()
        if not moved or job is None:
            return None
        params = job.params
        group_pk = None
        if params["level"] == "group":
            r = t.resource.c
            group_pk = conn.execute(
                sa.select(r.pk).where(r.res_type == "Group", r.res_id == params["group"])
            ).scalar()
    return _Plan(
        job_id=job_id,
        ctx=ctx,
        engine=engine,
        level=params["level"],
        group_pk=group_pk,
        types=params["types"],
        since=params["since"],
        until=job.transaction_time,
        base_url=params["base_url"],
    )


def _finish(
    engine: Engine, job_id: str, status: str, *, output: Any = None, error: str | None = None
) -> bool:
    with unit_of_work(engine) as conn:
        result = conn.execute(
            _job.update()
            .where(_job.c.id == job_id, _job.c.status == "in-progress")
            .values(status=status, completed=clock.format_instant(clock.now()), output=output, error=error)
        )
        return result.rowcount == 1


def _write_files(plan: _Plan) -> list[dict[str, Any]]:
    outputs: list[dict[str, Any]] = []
    with export_files.NdjsonWriter(plan.job_id) as writer:
        for res_type in plan.types:
            after: int | None = 0
            while after is not None:
                progress = [*outputs, {"type": res_type, "count": writer.counts.get(res_type, 0)}]
                page, after = _read_page(plan, res_type, after, progress)
                for resource in page:
                    writer.write(res_type, resource)
            writer.finish(res_type)
            count = writer.counts.get(res_type, 0)
            if count:
                outputs.append(
                    {"type": res_type, "url": file_url(plan.base_url, plan.job_id, res_type), "count": count}
                )
    return outputs


def _read_page(
    plan: _Plan, res_type: str, after_pk: int, progress: list[dict]
) -> tuple[list[dict], int | None]:
    """One page of res_type as it was at the kick-off, and the pk to read on from (None at the end)."""
    with unit_of_work(plan.engine) as conn:
        still_wanted = conn.execute(
            _job.update()
            .where(_job.c.id == plan.job_id, _job.c.status == "in-progress")
            .values(output=progress)
        ).rowcount
        if not still_wanted:
            raise _Cancelled(plan.job_id)
        rows = conn.execute(_page_query(plan, res_type, after_pk)).all()
        changed = [row.pk for row in rows if row.last_updated > plan.until]
        earlier = _versions_at(conn, changed, plan.until, plan.since) if changed else {}
    resources = [row.content if row.last_updated <= plan.until else earlier.get(row.pk) for row in rows]
    next_pk = rows[-1].pk if len(rows) == PAGE_SIZE else None
    return [resource for resource in resources if resource is not None], next_pk


def _page_query(plan: _Plan, res_type: str, after_pk: int) -> sa.Select:
    r = t.resource.c
    query = (
        sa.select(r.pk, r.last_updated, r.content)
        # A resource deleted after the kick-off still counts: its earlier version is exported.
        .where(
            r.res_type == res_type,
            r.pk > after_pk,
            sa.or_(r.deleted == sa.false(), r.last_updated > plan.until),
        )
        .order_by(r.pk)
        .limit(PAGE_SIZE)
    )
    if plan.since is not None:
        query = query.where(r.last_updated >= plan.since)
    restriction = access.search_restriction(plan.ctx, res_type, t.resource)
    if restriction is not None:
        query = query.where(restriction)
    scope = _compartment_scope(plan, res_type)
    if scope is not None:
        query = query.where(scope)
    return query


def _compartment_scope(plan: _Plan, res_type: str) -> sa.ColumnElement | None:
    """Limit a patient- or group-level export to the compartments of its patients (None: no limit)."""
    if plan.level == "system":
        return None
    r = t.resource.c
    members = None
    if plan.level == "group":
        member = t.idx_reference.alias("group_member")
        members = sa.select(member.c.target_id).where(
            member.c.res_pk == plan.group_pk, member.c.param == "member", member.c.target_type == "Patient"
        )
    if res_type == "Patient":
        return None if members is None else r.res_id.in_(members)
    ref = t.idx_reference.c
    linked = sa.select(ref.res_pk).where(
        ref.res_type == res_type,
        ref.param.in_(patient_compartment_params(res_type)),
        ref.target_type == "Patient",
    )
    if members is not None:
        linked = linked.where(ref.target_id.in_(members))
    return r.pk.in_(linked)


def _versions_at(conn: Connection, pks: list[int], until: str, since: str | None) -> dict[int, dict]:
    """The content of each resource as it was at `until` (absent if it did not exist or was deleted)."""
    h = t.history
    latest = (
        sa.select(h.c.pk, sa.func.max(h.c.version).label("version"))
        .where(h.c.pk.in_(pks), h.c.last_updated <= until)
        .group_by(h.c.pk)
        .subquery()
    )
    query = (
        sa.select(h.c.pk, h.c.content)
        .select_from(h.join(latest, sa.and_(h.c.pk == latest.c.pk, h.c.version == latest.c.version)))
        .where(h.c.deleted == sa.false())
    )
    if since is not None:
        query = query.where(h.c.last_updated >= since)
    return {row.pk: row.content for row in conn.execute(query)}


def fail_interrupted_exports(engine: Engine) -> int:
    """Mark jobs left queued or running by a stopped process as failed, so clients stop polling; returns how many.

    Their threads died with the process that ran them. This assumes one server process runs
    exports (the embedded default); with several, the sweep must move to the job worker.
    """
    with unit_of_work(engine) as conn:
        done = conn.execute(
            _job.update()
            .where(_job.c.status.in_(_RUNNING))
            .values(status="failed", completed=clock.format_instant(clock.now()),
                    error="the server stopped before the export finished; start it again")
        )
    if done.rowcount:
        log.warning("%d unfinished exports were marked failed after a restart", done.rowcount)
    return done.rowcount
