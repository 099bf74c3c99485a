"""The detection run: every notifiable disease (and subtype) per district and for the whole region, judged by the
detectors configured in data/detection.yaml, and the day's syndromic series (syndromes.py); alarms that no signal
stands for yet become signals (signals.py), and the officers are told.

The case reports are read once per run (case_series.read_cases). A series is judged weekly by the weekly methods when
the region's case reports go back over their whole window (Noufaily: 5 years and 3 weeks before the weeks judged),
else daily by the daily methods. A day counts once it is over: a run judges up to yesterday in the region's time zone.
A run is a FHIR Task (code surveillance-run) that records what it looked at: who or what started it, the count basis,
the last day judged, the case reports and complaints read, the series judged, the alarms and the signals raised. The
daily run is a periodic job at run_at (06:00 region time); officers can start one from the signals page.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy.engine import Connection

from smartcare.fhir import store
from smartcare.knowledge.surveillance import METHODS, detect
from smartcare.platform import audit, clock
from smartcare.platform.jobs import Job, handler, periodic
from smartcare.platform.security.context import SYSTEM, AccessContext
from smartcare.platform.security.policy import decide_dataset
from smartcare.platform.settings import get_settings
from smartcare.regional.public_health import case_series, history, outbreaks, signals, syndromes
from smartcare.regional.public_health.aggregates import week_of
from smartcare.regional.public_health.case_model import LOCAL
from smartcare.regional.public_health.case_reports import document_type
from smartcare.regional.public_health.releases import search_as_platform
from smartcare.regional.public_health.signals import Alarm, SeriesKey

CONFIG_FILE = Path(__file__).resolve().parent / "data" / "detection.yaml"
DAILY_JOB = "public-health.detection-run"
RUN_CODE = "surveillance-run"
RUN_ID = LOCAL + "sid/surveillance-run"
PARAMETER_SYSTEM = LOCAL + "CodeSystem/surveillance-run-parameter"
TRIGGERS = ("schedule", "officer")
RECENT_RUNS = 5


class DetectionConfigInvalid(ValueError):
    """A detection configuration that cannot be used as given."""


@dataclass(frozen=True, slots=True)
class Plan:
    """Which detectors judge one kind of series, over how many periods, and when an alarm raises a signal."""

    frequency: int
    window: int
    lookback: int
    min_count: int
    hold: int
    methods: tuple[tuple[str, dict[str, Any]], ...]


@dataclass(frozen=True, slots=True)
class Config:
    """The detection configuration (data/detection.yaml)."""

    basis: str
    run_at: str
    daily: Plan
    weekly: Plan
    syndromic: Plan
    outbreak_window: dict[str, int]
    source: str


def _plan(name: str, entry: Any) -> Plan:
    if not isinstance(entry, dict) or not isinstance(entry.get("methods"), dict) or not entry["methods"]:
        raise DetectionConfigInvalid(f"{name}: needs frequency, window, lookback, min_count, hold and methods")
    plan = Plan(int(entry["frequency"]), int(entry["window"]), int(entry["lookback"]), int(entry["min_count"]),
                int(entry["hold"]), tuple((str(m), dict(p or {})) for m, p in entry["methods"].items()))
    for method, params in plan.methods:
        if method not in METHODS:
            raise DetectionConfigInvalid(f"{name}: unknown method {method}")
        values = METHODS[method].resolve(params, plan.frequency)
        if METHODS[method].first_judged(plan.frequency, values) + plan.lookback > plan.window:
            raise DetectionConfigInvalid(f"{name}: a window of {plan.window} is too short for {method}")
    return plan


def load_config(path: Path = CONFIG_FILE) -> Config:
    """Read and check a detection configuration; DetectionConfigInvalid (or the detectors' error) when wrong."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if data.get("basis") not in case_series.BASES:
        raise DetectionConfigInvalid(f"basis must be one of {', '.join(case_series.BASES)}")
    return Config(basis=data["basis"], run_at=str(data["run_at"]), daily=_plan("daily", data.get("daily")),
                  weekly=_plan("weekly", data.get("weekly")), syndromic=_plan("syndromic", data.get("syndromic")),
                  outbreak_window={k: int(v) for k, v in data["outbreak_window"].items()},
                  source=" ".join(str(data["source"]).split()))


@cache
def config() -> Config:
    """The detection configuration, read once."""
    return load_config()


def region_yesterday() -> date:
    """The last complete day in the region: yesterday in its time zone."""
    return clock.now().astimezone(case_series.zone()).date() - timedelta(days=1)


def judge(key: SeriesKey, start: date, counts: list[int], plan: Plan) -> list[Alarm]:
    """The alarms of every configured method in the last lookback periods with at least min_count cases."""
    if max(counts[-plan.lookback:], default=0) < plan.min_count:
        return []
    step = 7 if key.frequency == "weekly" else 1
    labels = [(start + timedelta(days=n * step)).isoformat() for n in range(len(counts))]
    found = []
    for method, params in plan.methods:
        # CUSUM standardises by the in-control mean: with no case in its training periods there is none to use.
        if method == "cusum" and not sum(counts[: params.get("training", plan.frequency)]):
            continue
        rows = detect(method, counts, periods=labels, frequency=plan.frequency, **params)
        found += [Alarm(key, method, start, i, rows) for i in range(len(rows) - plan.lookback, len(rows))
                  if rows[i].alarm and rows[i].count >= plan.min_count]
    return found


def daily_series(counts: dict[tuple[str, str], Any], *, kind: str, basis: str, through: date,
                 plan: Plan) -> Iterable[tuple[SeriesKey, date, list[int]]]:
    """Each (subject, place)'s daily counts over the plan's window ending through."""
    start = through - timedelta(days=plan.window - 1)
    for (subject, place), days in sorted(counts.items()):
        yield SeriesKey(kind, subject, place, basis, "daily"), start, case_series.series_of(days, start, plan.window)


def weekly_start(through: date, plan: Plan) -> date:
    """The Monday of the first week of a weekly window whose last week is the last complete one by through."""
    return week_of(through - timedelta(days=6)) - timedelta(weeks=plan.window - 1)


def weekly_series(counts: dict[tuple[str, str], Any], *, basis: str, through: date,
                  plan: Plan) -> Iterable[tuple[SeriesKey, date, list[int]]]:
    """Each (subject, place)'s counts by ISO week over the plan's window, ending with the last complete week."""
    start = weekly_start(through, plan)
    for (subject, place), days in sorted(counts.items()):
        weeks = [0] * plan.window
        for day, n in days.items():
            index = (week_of(day) - start).days // 7
            if 0 <= index < plan.window:
                weeks[index] += n
        yield SeriesKey("disease", subject, place, basis, "weekly"), start, weeks


@dataclass(frozen=True, slots=True)
class RunOutcome:
    """What a run did: its Task, the signals it raised and its figures."""

    task_id: str
    signals: list[dict[str, Any]]
    figures: dict[str, Any]
    skipped: bool = False


def _parameter(code: str, value: dict[str, Any]) -> dict[str, Any]:
    return {"type": {"coding": [{"system": PARAMETER_SYSTEM, "code": code}]}, **value}


def _task(*, run_id: str, started: datetime, trigger: str, by: str, basis: str, through: date, key: str | None,
          figures: dict[str, Any], signal_ids: list[str]) -> dict[str, Any]:
    ints = ("case-reports-read", "cases-counted", "disease-series", "complaints-read", "syndromic-series", "alarms")
    return {
        "resourceType": "Task", "id": run_id, "status": "completed", "intent": "order",
        **({"identifier": [{"system": RUN_ID, "value": key}]} if key else {}),
        "code": {"coding": [{"system": signals.SYSTEM_URL, "code": RUN_CODE, "display": "Outbreak detection run"}]},
        "authoredOn": clock.format_instant(started),
        "executionPeriod": {"start": clock.format_instant(started), "end": clock.format_instant(clock.now())},
        "input": [_parameter("trigger", {"valueCode": trigger}), _parameter("by", {"valueString": by[:200]}),
                  _parameter("basis", {"valueCode": basis}), _parameter("through", {"valueDate": through.isoformat()})],
        "output": [*(_parameter(name, {"valueInteger": int(figures[name])}) for name in ints),
                   _parameter("frequency", {"valueCode": figures["frequency"]}),
                   *([_parameter("history-from", {"valueDate": figures["history-from"]})]
                     if figures["history-from"] else []),
                   *(_parameter("signal", {"valueReference": {"reference": f"DetectedIssue/{i}"}})
                     for i in signal_ids)],
    }


def _scheduled_done(conn: Connection, key: str) -> bool:
    found = search_as_platform(conn, "Task", [("identifier", f"{RUN_ID}|{key}")], count=1)
    return bool(found.matches)


def _disease_alarms(conn: Connection, *, basis: str, through: date, cfg: Config) -> tuple[list, dict[str, Any]]:
    cases = list(case_series.read_cases(conn))
    daily, first = case_series.daily_counts(cases, basis=basis)
    # The weeks imported from before SmartCare (history.py) lengthen the series back to where weekly methods apply.
    lengthened, history_first = case_series.with_history(
        daily, history.weekly_history(conn), before=week_of(first) if first else week_of(through))
    first = history_first or first
    weekly = first is not None and week_of(first) <= weekly_start(through, cfg.weekly)
    plan = cfg.weekly if weekly else cfg.daily
    series = list(weekly_series(lengthened, basis=basis, through=through, plan=plan) if weekly else
                  daily_series(daily, kind="disease", basis=basis, through=through, plan=plan))
    alarms = [(alarm, plan.hold) for key, start, values in series for alarm in judge(key, start, values, plan)]
    figures = {"case-reports-read": len(cases), "cases-counted": sum(sum(d.values()) for (s, p), d in daily.items()
                                                                   if p == case_series.REGION and "/" not in s),
               "disease-series": len(series), "frequency": "weekly" if weekly else "daily",
               "history-from": first.isoformat() if first else ""}
    return alarms, figures


def run(conn: Connection, *, ctx: AccessContext, basis: str | None = None, trigger: str = "officer",
        through: date | None = None, key: str | None = None) -> RunOutcome:
    """Run the detection over the store now; a scheduled run (key given) runs once per key. Audited.

    Raises AccessDenied unless ctx may read case reports (public-health officers, or the platform itself).
    """
    decide_dataset(ctx, signals.CASE_REPORTS)
    cfg = config()
    basis = basis if basis in case_series.BASES else cfg.basis
    if key and _scheduled_done(conn, key):
        return RunOutcome("", [], {}, skipped=True)
    started, through = clock.now(), through or region_yesterday()
    alarms, figures = _disease_alarms(conn, basis=basis, through=through, cfg=cfg)
    complaints = syndromes.daily_counts(conn, ctx=ctx, start=through - timedelta(days=cfg.syndromic.window - 1),
                                        end=through)
    syndromic = list(daily_series(complaints.counts, kind="syndrome", basis="visit", through=through,
                                  plan=cfg.syndromic))
    alarms += [(alarm, cfg.syndromic.hold) for k, start, values in syndromic
               for alarm in judge(k, start, values, cfg.syndromic)]
    figures |= {"complaints-read": complaints.read, "syndromic-series": len(syndromic), "alarms": len(alarms)}
    run_id = store.new_id()
    raised = signals.new_signals(conn, alarms, run=f"Task/{run_id}", open_series=outbreaks.open_series(conn))
    ids = [signals.signal_id(resource) for resource in raised]
    task = _task(run_id=run_id, started=started, trigger=trigger, by=ctx.name, basis=basis, through=through,
                 key=key, figures=figures, signal_ids=ids)
    written = store.write_batch(conn, SYSTEM, [*(store.Write("POST", "DetectedIssue", i, r) for i, r in
                                                 zip(ids, raised, strict=True)), store.Write("POST", "Task", run_id, task)])
    wanted = document_type()
    audit.record(conn, ctx=ctx, action="R", subtype="search", purpose=signals.PURPOSE,
                 entities=[f"Composition?type={wanted['system']}|{wanted['code']}"],
                 description=f"outbreak detection: {figures['case-reports-read']} case reports read")
    audit.record(conn, ctx=ctx, action="C", subtype="create", purpose=signals.PURPOSE,
                 entities=[s.reference for s in written][:50],
                 description=f"outbreak detection run: {len(raised)} signals raised")
    signals.tell_officers(conn, [s.resource for s in written[:-1]])
    return RunOutcome(run_id, [s.resource for s in written[:-1]], figures)


def recent_runs(conn: Connection, *, ctx: AccessContext, limit: int = RECENT_RUNS) -> list[dict[str, Any]]:
    """The newest runs, each as {when, trigger, by, basis, through} and its figures; audited."""
    decide_dataset(ctx, signals.CASE_REPORTS)
    found = search_as_platform(conn, "Task", [("code", f"{signals.SYSTEM_URL}|{RUN_CODE}"),
                                              ("_sort", "-authored-on")], count=limit)
    audit.record(conn, ctx=ctx, action="R", subtype="search", purpose=signals.PURPOSE,
                 entities=[f"Task?code={RUN_CODE}"], description="outbreak detection runs listed")
    return [_run_of(f.resource) for f in found.matches]


def _run_of(task: dict[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {"id": task.get("id"), "when": task.get("authoredOn", ""), "signals": 0}
    for part in [*task.get("input", []), *task.get("output", [])]:
        code = part["type"]["coding"][0]["code"]
        value = next(v for k, v in part.items() if k.startswith("value"))
        if code == "signal":
            values["signals"] += 1
        else:
            values[code] = value
    return values


@handler(DAILY_JOB)
def daily_run(conn: Connection, job: Job) -> None:
    """The scheduled daily run: once per scheduled period, however often the job is retried or re-run."""
    period = str(job.payload.get("period") or clock.format_instant(clock.now()))[:40]
    day = clock.parse_instant(period).astimezone(case_series.zone()).date()
    run(conn, ctx=SYSTEM, trigger="schedule", key=f"scheduled:{day.isoformat()}", through=day - timedelta(days=1))


periodic(DAILY_JOB, kind=DAILY_JOB, daily_at=config().run_at, tz=get_settings().region_timezone)
