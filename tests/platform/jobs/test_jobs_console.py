"""The console's failed-jobs page: administrators see dead jobs with their error and retry them."""

from datetime import timedelta

import sqlalchemy as sa

from smartcare.platform import audit
from smartcare.platform.db import unit_of_work
from smartcare.platform.jobs import enqueue, handler, run_due
from smartcare.platform.jobs.tables import job
from tests.web_support import browser, form_token, make_user, sign_in


@handler("test.broken", max_attempts=2, backoff=timedelta(seconds=10))
def broken(conn, job) -> None:
    raise ConnectionError("SMS gateway refused the <b>message</b>")


def _dead_job(engine, now) -> str:
    with unit_of_work(engine) as conn:
        job_id = enqueue(conn, kind="test.broken", payload={})
    run_due(engine)
    now[0] += timedelta(seconds=10)
    run_due(engine)
    return job_id


def test_an_administrator_sees_a_dead_job_and_retries_it(engine, now):
    job_id = _dead_job(engine, now)
    make_user(engine, "hospital_admin")
    with browser() as web:
        sign_in(web, "hospital.admin.test")
        page = web.get("/console/jobs")
        assert page.status_code == 200
        assert job_id in page.text and "test.broken" in page.text and "2 / 2" in page.text
        assert "SMS gateway refused the &lt;b&gt;message&lt;/b&gt;" in page.text
        done = web.post(f"/console/jobs/{job_id}/retry", data={"csrf_token": form_token(page)})
        assert done.status_code == 303
    with engine.connect() as conn:
        row = conn.execute(sa.select(job).where(job.c.id == job_id)).one()
        assert (row.state, row.attempts) == ("queued", 0)
        assert len(audit.search(conn, subtype="security-config")) == 1


def test_retrying_needs_the_forms_csrf_token(engine, now):
    job_id = _dead_job(engine, now)
    make_user(engine, "regional_admin")
    with browser() as web:
        sign_in(web, "regional.admin.test")
        refused = web.post(f"/console/jobs/{job_id}/retry", data={"csrf_token": "forged"})
    assert refused.status_code == 403
    with engine.connect() as conn:
        assert conn.execute(sa.select(job.c.state)).scalar_one() == "dead"


def test_only_administrators_open_the_failed_jobs(engine, now):
    make_user(engine, "doctor")
    with browser() as web:
        sign_in(web, "doctor.test")
        assert web.get("/console/jobs").status_code == 403
    with browser() as web:
        assert web.get("/console/jobs").status_code == 303
