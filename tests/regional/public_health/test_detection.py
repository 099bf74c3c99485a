"""The detection run: a spike in one district raises one signal per series and method however often the run runs, a
flat series raises none, the case reports are read once per run, weekly Noufaily takes over with years of history,
the run records what it looked at, the daily job runs once a day, and only officers may run it."""

from collections import Counter
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from smartcare.platform.db import unit_of_work
from smartcare.platform.jobs import Job, schedules
from smartcare.platform.jobs.tables import job
from smartcare.platform.security.context import AccessContext
from smartcare.platform.security.policy import AccessDenied
from smartcare.regional.public_health import case_model as model
from smartcare.regional.public_health import case_series, detection, signals
from smartcare.regional.public_health.releases import search_as_platform
from smartcare.regional.public_health.signals import SeriesKey
from tests.regional.public_health.test_review import case, put

# The store is tested on both databases elsewhere; these run on SQLite to keep the suite fast.
ONE_STORE = pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
OFFICER = AccessContext(kind="user", name="officer.li", roles=frozenset({"public_health_officer"}))
HEDONG, HEXI = "339901", "339902"
YESTERDAY = date(2026, 3, 1)  # the `now` fixture stands at 2 March 2026, 16:00 in the region


def daily_reports(district: str, counts: list[int], *, prefix: str, end: date = YESTERDAY,
                  disease: str = "influenza", **fields) -> list[dict]:
    """Case reports diagnosed on each of len(counts) days up to end, counts[i] on the i-th day."""
    found = []
    for i, n in enumerate(counts):
        day = end - timedelta(days=len(counts) - 1 - i)
        for k in range(n):
            found.append(case(f"{prefix}-{i}-{k}", f"pat-{prefix}-{i}-{k}", disease=disease, district=district,
                              diagnosed=f"{day.isoformat()}T09:00:00+08:00", **fields))
    return found


def run(engine, ctx: AccessContext = OFFICER, **given) -> detection.RunOutcome:
    with unit_of_work(engine) as conn:
        return detection.run(conn, ctx=ctx, **given)


def all_signals(engine) -> list[signals.Signal]:
    with unit_of_work(engine) as conn:
        return signals.listed(conn, ctx=OFFICER)


def task(engine, task_id: str) -> dict:
    with unit_of_work(engine) as conn:
        found = search_as_platform(conn, "Task", [("_id", task_id)], count=1).matches
    return detection._run_of(found[0].resource)


@ONE_STORE
def test_a_spike_in_one_district_raises_one_signal_per_series_and_method_however_often_the_run_runs(engine, now):
    put(engine, *daily_reports(HEDONG, [1] * 83 + [8], prefix="a"), *daily_reports(HEXI, [1] * 84, prefix="b"))
    first = run(engine)
    now[0] += timedelta(days=1)
    second = run(engine)
    found = all_signals(engine)
    per_series = Counter((s.key.place, s.method) for s in found)
    assert first.signals and second.signals == []
    assert {place for place, _method in per_series} == {HEDONG, case_series.REGION}
    assert set(per_series.values()) == {1}
    assert {"ears-c1", "ears-c2", "cusum"} <= {m for place, m in per_series if place == HEDONG}
    c1 = next(s for s in found if s.key.place == HEDONG and s.method == "ears-c1")
    assert c1.key == SeriesKey("disease", "influenza", HEDONG, "onset", "daily") and c1.state == "new"
    assert (c1.observed, c1.expected, c1.period_start, c1.label) == (8, 1.0, YESTERDAY, "2026-03-01")
    assert c1.reason("en").startswith("Influenza, Hedong District: 8 cases with onset on 2026-03-01, above the upper")
    assert c1.reason("zh").startswith("流行性感冒，河东区：2026-03-01发病 8 例")


@ONE_STORE
def test_a_flat_series_raises_no_signal_and_the_run_records_what_it_looked_at(engine, now):
    put(engine, *daily_reports(HEDONG, [2] * 84, prefix="f"),
        *daily_reports(HEXI, [3], prefix="x", state="discarded"))
    outcome = run(engine, basis="report")
    figures = task(engine, outcome.task_id)
    assert outcome.signals == [] and all_signals(engine) == []
    assert figures["trigger"] == "officer" and figures["by"] == "officer.li" and figures["basis"] == "report"
    assert figures["through"] == "2026-03-01" and figures["frequency"] == "daily"
    assert (figures["case-reports-read"], figures["cases-counted"], figures["disease-series"]) == (171, 168, 2)
    assert figures["alarms"] == 0 and figures["signals"] == 0 and figures["history-from"] == "2025-12-08"


@ONE_STORE
def test_the_case_reports_are_read_once_per_run(engine, now, monkeypatch):
    put(engine, *daily_reports(HEDONG, [1] * 30 + [9], prefix="o"))
    reads = []

    def counted(conn, res_type, params, **kw):
        reads.append((res_type, dict(params).get("type")))
        return search_as_platform(conn, res_type, params, **kw)

    monkeypatch.setattr(case_series, "search_as_platform", counted)
    run(engine)
    assert reads == [("Composition", "http://loinc.org|55751-2")]


@ONE_STORE
def test_with_years_of_history_the_weekly_series_are_judged_by_noufaily(engine, now):
    last_week = date(2026, 2, 23)  # the last complete ISO week by 1 March 2026 (a Sunday): 2026-W09
    reports = []
    for n in range(300):
        wednesday = last_week - timedelta(weeks=n) + timedelta(days=2)
        for k in range(12 if n == 0 else 1 + n % 3):
            reports.append(case(f"w-{n}-{k}", f"pat-w-{n}-{k}", district=HEDONG,
                                diagnosed=f"{wednesday.isoformat()}T10:00:00+08:00"))
    put(engine, *reports)
    outcome = run(engine)
    raised = [signals.read_signal(r, 1) for r in outcome.signals]
    assert task(engine, outcome.task_id)["frequency"] == "weekly"
    assert {(s.key.place, s.method, s.key.frequency, s.label) for s in raised} == {
        (HEDONG, "noufaily", "weekly", "2026-W09"), (case_series.REGION, "noufaily", "weekly", "2026-W09")}
    assert raised[0].observed == 12 and "week 2026-W09" in raised[0].reason("en")


@ONE_STORE
def test_imported_weekly_history_lets_noufaily_judge_a_region_with_only_weeks_of_case_reports(engine, now):
    from smartcare.platform.security.context import SYSTEM
    from smartcare.regional.public_health import history

    last_week = date(2026, 2, 23)  # 2026-W09
    first_reported = last_week - timedelta(weeks=3)
    weeks = [history.WeekCount("influenza", HEDONG, first_reported - timedelta(weeks=n), 1 + n % 3)
             for n in range(1, 300)]
    with unit_of_work(engine) as conn:
        history.import_history(conn, ctx=SYSTEM, counts=weeks, source="before SmartCare")
    reports = [case(f"h-{n}-{k}", f"pat-h-{n}-{k}", district=HEDONG,
                    diagnosed=f"{(last_week - timedelta(weeks=n) + timedelta(days=2)).isoformat()}T10:00:00+08:00")
               for n in range(4) for k in range(12 if n == 0 else 1 + n % 3)]
    put(engine, *reports)
    outcome = run(engine)
    figures = task(engine, outcome.task_id)
    assert figures["frequency"] == "weekly" and figures["cases-counted"] == len(reports)
    raised = [signals.read_signal(r, 1) for r in outcome.signals]
    assert {(s.key.place, s.method, s.label) for s in raised} == {
        (HEDONG, "noufaily", "2026-W09"), (case_series.REGION, "noufaily", "2026-W09")}


@ONE_STORE
def test_the_daily_job_is_written_once_a_day_and_runs_once_for_its_day(engine, now):
    morning = datetime(2026, 3, 1, 22, 30, tzinfo=UTC)  # 06:30 on 2 March in the region
    with unit_of_work(engine) as conn:
        for moment in (morning, morning + timedelta(hours=5), morning + timedelta(days=1)):
            schedules.materialise(conn, now=moment)
        keys = sorted(conn.execute(sa.select(job.c.key).where(job.c.kind == detection.DAILY_JOB)).scalars())
    assert keys == [f"periodic:{detection.DAILY_JOB}:2026-03-01T22:00:00.000Z",
                    f"periodic:{detection.DAILY_JOB}:2026-03-02T22:00:00.000Z"]
    scheduled = Job(id="j1", kind=detection.DAILY_JOB, payload={"period": "2026-03-01T22:00:00.000Z"}, key=keys[0],
                    attempts=1, max_attempts=5)
    for _ in range(2):
        with unit_of_work(engine) as conn:
            detection.daily_run(conn, scheduled)
    with unit_of_work(engine) as conn:
        runs = detection.recent_runs(conn, ctx=OFFICER)
    assert [(r["trigger"], r["by"], r["through"]) for r in runs] == [("schedule", "smartcare", "2026-03-01")]


@ONE_STORE
@pytest.mark.parametrize("role", ["researcher", "doctor", "regional_admin"])
def test_only_public_health_officers_may_run_the_detection(engine, now, role):
    with pytest.raises(AccessDenied):
        run(engine, AccessContext(kind="user", name="someone", roles=frozenset({role})))


def test_cases_count_on_onset_or_on_the_day_they_were_reported():
    reported = model.facts(case("r1", "p1", diagnosed="2026-02-27T23:30:00Z", submitted="2026-03-01T02:00:00Z"))
    with_onset = model.facts({**case("r2", "p2"), "extension": [
        *case("r2", "p2")["extension"], {"url": model.ONSET, "valueDate": "2026-02-15"}]})
    assert case_series.case_day(reported, "onset") == date(2026, 2, 28)  # 07:30 on 28 February in the region
    assert case_series.case_day(reported, "report") == date(2026, 3, 1)
    assert case_series.case_day(with_onset, "onset") == date(2026, 2, 15)
    counts, first = case_series.daily_counts([reported, with_onset], basis="onset")
    assert first == date(2026, 2, 15) and counts[("influenza", HEDONG)] == Counter(
        {date(2026, 2, 28): 1, date(2026, 2, 15): 1})


def test_the_configuration_names_real_methods_with_windows_long_enough_for_them(tmp_path):
    cfg = detection.config()
    assert [m for m, _p in cfg.daily.methods] == ["ears-c1", "ears-c2", "ears-c3", "cusum"]
    assert [m for m, _p in cfg.weekly.methods] == ["noufaily"] and cfg.run_at == "06:00" and cfg.source
    broken = tmp_path / "detection.yaml"
    broken.write_text(detection.CONFIG_FILE.read_text(encoding="utf-8").replace("window: 275", "window: 100"),
                      encoding="utf-8")
    with pytest.raises(detection.DetectionConfigInvalid, match="too short for noufaily"):
        detection.load_config(broken)
