"""The console's dead-letter view: jobs that failed, with their error and attempts, and a way to retry one."""

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from smartcare.platform import audit
from smartcare.platform.db import unit_of_work
from smartcare.platform.jobs.service import get_job, retry_now, troubled_jobs
from smartcare.platform.web import guard
from smartcare.platform.web.pages import render

router = APIRouter(include_in_schema=False)
SURFACE = "console/jobs"


@router.get("/console/jobs", response_class=HTMLResponse)
async def jobs_page(request: Request) -> HTMLResponse:
    """Dead jobs and jobs waiting to retry, newest failure first."""
    def show() -> HTMLResponse:
        with unit_of_work() as conn:
            guard.visitor(conn, request, SURFACE)
            found = troubled_jobs(conn)
        shown = [{**j, "error_line": (j["last_error"] or "").split("\n", 1)[0][:300],
                  "retried": request.query_params.get("retried") == j["id"]} for j in found]
        response = render(request, "jobs_console.html", jobs=shown)
        response.headers.update(guard.NO_STORE)
        return response
    return await run_in_threadpool(show)


def _retry(request: Request, job_id: str, token: str | None) -> Response:
    with unit_of_work() as conn:
        v = guard.visitor(conn, request, SURFACE)
        guard.check_csrf(request, v, token)
        found = get_job(conn, job_id=job_id)
        if found is None or not retry_now(conn, job_id=job_id):
            response = render(request, "jobs_console.html", status_code=404, jobs=troubled_jobs(conn),
                              error="missing")
            response.headers.update(guard.NO_STORE)
            return response
        audit.record(conn, ctx=v.ctx, action="E", subtype="security-config",
                     description=f"requeued {found['kind']} job {job_id} after {found['attempts']} attempts"[:200])
    return RedirectResponse(f"/console/jobs?retried={job_id}", status_code=303, headers=guard.NO_STORE)


@router.post("/console/jobs/{job_id}/retry")
async def retry_job(request: Request, job_id: str) -> Response:
    """Requeue a dead or retrying job to run now, with a fresh set of attempts."""
    form = await guard.form_fields(request)
    return await run_in_threadpool(_retry, request, job_id[:36], form.get("csrf_token"))
