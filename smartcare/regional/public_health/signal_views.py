"""The officers' signal pages: /console/public-health/signals (new and triaged signals, filters, the detection runs
and a form to run one now), one signal with its chart and triage forms, and the outbreaks opened from signals with
their case reports. Public-health officers only (the surface, then the case-reports dataset); every act is a form
with the session's CSRF token and the version the officer saw."""

import re
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from markupsafe import Markup, escape
from sqlalchemy.engine import Connection
from starlette.concurrency import run_in_threadpool

from smartcare.fhir.errors import Conflict
from smartcare.platform import i18n
from smartcare.platform.db import unit_of_work
from smartcare.platform.i18n import _
from smartcare.platform.web import guard
from smartcare.platform.web.pages import render_private
from smartcare.regional.gate import require_dataset
from smartcare.regional.public_health import (
    case_series,
    detection,
    districts,
    outbreaks,
    signal_text,
    signals,
)
from smartcare.regional.public_health.case_reports import read_case_report
from smartcare.regional.public_health.review import Loaded, disease_name
from smartcare.regional.public_health.review_views import STATE_NAMES
from smartcare.regional.public_health.signals import SignalRefused

router = APIRouter(include_in_schema=False)
SURFACE = "console/public-health"
SIGNALS = "/console/public-health/signals"
OUTBREAKS = "/console/public-health/outbreaks"
CHART_JS = Path(__file__).resolve().parent / "static" / "signal-chart.js"
KINDS = ("disease", "syndrome")
VIEWS = ("new", "triaged", "all")
BAD_FILTER = _("Choose the state, kind and place from the lists.")
BAD_VERSION = _("The form is out of date: read the page again, then act.")
RAN = _("The detection run is done: %(count)s new signals.")
RAN_TOGETHER = _("Another detection run finished at the same moment: its signals are listed here.")
DONE = {"verify": _("The signal was verified."),
        "discard": _("The signal was discarded."),
        "verify-series": _("The signal and the other new signals of its series were verified."),
        "discard-series": _("The signal and the other new signals of its series were discarded."), "outbreak": _("The outbreak was opened."),
        "add": _("The case report was added."), "remove": _("The case report was removed."),
        "note": _("The note was saved."), "close": _("The outbreak was closed.")}
_MAX_FIELD = 80
_DATE = re.compile(r"\d{4}-(?:W\d{2}|\d{2}-\d{2})")


def _officer(conn: Connection, request: Request) -> guard.Visitor:
    v = guard.visitor(conn, request, SURFACE)
    require_dataset(v.ctx, signals.CASE_REPORTS)
    return v


def _lang(request: Request) -> str:
    return i18n.current_locale(request)


def _said(request: Request, refused: SignalRefused) -> str:
    """A refusal's message in the reader's language."""
    t = i18n.translator(request)
    return t.gettext(refused.message) % refused.values if refused.values else t.gettext(refused.message)


def _done(request: Request) -> str | None:
    t = i18n.translator(request)
    done, raised = request.query_params.get("done", "")[:20], request.query_params.get("raised", "")[:6]
    if done == "run" and raised.isascii() and raised.isdigit():
        return t.gettext(RAN) % {"count": int(raised)}
    message = DONE.get(done)
    return t.gettext(message) if message else None


def signal_row(signal: signals.Signal, lang: str) -> dict[str, Any]:
    """A signal as the pages list it, named in lang."""
    return {"id": signal.id, "kind": signal.key.kind, "state": signal.state, "label": signal.label,
            "subject": signal_text.subject_name(signal.key.kind, signal.key.subject, lang),
            "place": signal_text.place_name(signal.key.place, lang, capital=True),
            "method": signal_text.method_title(signal.method),
            "observed": signal.observed, "expected": signal.expected, "upper": signal.upper,
            "basis": signal.key.basis, "identified": signal.identified, "outbreak": signal.outbreak,
            "version": signal.version}


def unbroken_dates(text: str) -> Markup:
    """Text escaped for a page, its dates (2026-06-07, 2026-W23) kept whole on one line."""
    return Markup(_DATE.sub(lambda found: f'<span class="ph-date">{found.group(0)}</span>', str(escape(text))))


def chart_data(signal: signals.Signal) -> dict[str, Any]:
    """The chart's figures: the detector's output kept on the signal, and which period is the signal's own."""
    chart = signal.chart
    return {**chart, "marked": chart["labels"].index(signal.label) if signal.label in chart["labels"] else None}


def _places(lang: str) -> list[tuple[str, str]]:
    return [(case_series.REGION, signal_text.place_name(case_series.REGION, lang, capital=True))] + [
        (d.code, d.name(lang)) for d in districts.region_districts()]


def _list_page(request: Request, *, status_code: int = 200, error: str | None = None) -> Response:
    params = {k: v.strip()[:_MAX_FIELD] for k, v in request.query_params.items()}
    view, kind, place = params.get("state") or "new", params.get("kind") or "", params.get("place") or ""
    lang = _lang(request)
    if view not in VIEWS or kind not in ("", *KINDS) or place not in ("", *(p for p, _n in _places(lang))):
        status_code, error, view, kind, place = 400, i18n.translator(request).gettext(BAD_FILTER), "new", "", ""
    with unit_of_work() as conn:
        v = _officer(conn, request)
        found = signals.listed(conn, ctx=v.ctx, kind=kind or None)
        runs = detection.recent_runs(conn, ctx=v.ctx)
    found = [s for s in found if not place or s.key.place == place]
    new = [signal_row(s, lang) for s in found if s.state == "new"] if view in ("new", "all") else None
    triaged = [signal_row(s, lang) for s in found if s.state != "new"] if view in ("triaged", "all") else None
    return render_private(request, "public_health/signal_list.html", status_code=status_code, error=error,
                          done=_done(request), new=new, triaged=triaged, runs=runs, places=_places(lang),
                          form={"state": view, "kind": kind, "place": place}, bases=case_series.BASES,
                          basis=detection.config().basis)


@router.get(SIGNALS, response_class=HTMLResponse)
def signal_list(request: Request) -> Response:
    """New and triaged signals with filters, the latest detection runs, and the form to run one now."""
    return _list_page(request)


def _run(request: Request, form: dict[str, str]) -> Response:
    with unit_of_work() as conn:
        v = _officer(conn, request)
        guard.check_csrf(request, v, form.get("csrf_token"))
    basis = form.get("basis", "")[:20]
    if basis not in case_series.BASES:
        return _list_page(request, status_code=400, error=i18n.translator(request).gettext(BAD_FILTER))
    try:
        with unit_of_work() as conn:
            outcome = detection.run(conn, ctx=v.ctx, basis=basis, trigger="officer")
    except Conflict:  # a scheduled run wrote the same signals first (signals.signal_id): nothing was written
        return _list_page(request, status_code=409, error=i18n.translator(request).gettext(RAN_TOGETHER))
    return guard.see_other(f"{SIGNALS}?state=new&done=run&raised={len(outcome.signals)}")


@router.post(SIGNALS + "/run")
async def run_detection(request: Request) -> Response:
    """Run the detection now over every series (CSRF-checked), then show the new signals."""
    form = await guard.form_fields(request)
    return await run_in_threadpool(_run, request, form)


def _signal_page(request: Request, signal_id: str, *, status_code: int = 200, error: str | None = None,
                 errors: dict[str, str] | None = None, form: dict[str, str] | None = None) -> Response:
    lang = _lang(request)
    with unit_of_work() as conn:
        v = _officer(conn, request)
        try:
            signal = signals.get(conn, ctx=v.ctx, signal_id=signal_id)
        except signals.SignalNotFound as missing:
            return render_private(request, "public_health/signal_detail.html", status_code=missing.status,
                                  signal=None, error=_said(request, missing))
        others = signals.series_signals(conn, signal)
    fresh = [s for s in others if s.state == "new"][: signals.MAX_SERIES]
    title = f"{signal_text.subject_name(signal.key.kind, signal.key.subject, lang)}, " \
            f"{signal_text.place_name(signal.key.place, lang)}, {signal.label}"
    return render_private(
        request, "public_health/signal_detail.html", status_code=status_code, signal=signal,
        row=signal_row(signal, lang), reason=unbroken_dates(signal.reason(lang)), chart=chart_data(signal),
        error=error, errors=errors or {}, form=form or {"title": title}, done=_done(request),
        others=[signal_row(s, lang) for s in others], max_reason=signals.MAX_REASON, max_title=outbreaks.MAX_TITLE,
        series=",".join(f"{s.id}:{s.version}" for s in fresh), series_count=len(fresh))


@router.get(SIGNALS + "/{signal_id}", response_class=HTMLResponse)
def signal_page(request: Request, signal_id: str) -> Response:
    """One signal: what alarmed, the chart of its series with the expected band, and the triage forms."""
    return _signal_page(request, signal_id[:_MAX_FIELD])


def _version(form: dict[str, str]) -> int:
    value = form.get("version", "")
    if not (value.isascii() and value.isdigit() and len(value) <= 9):
        raise SignalRefused(BAD_VERSION)
    return int(value)


def _signal_act(request: Request, signal_id: str, form: dict[str, str], act: str) -> Response:
    with unit_of_work() as conn:
        v = _officer(conn, request)
        guard.check_csrf(request, v, form.get("csrf_token"))
    try:
        with unit_of_work() as conn:
            if act == "outbreak":
                opened = outbreaks.open_outbreak(conn, ctx=v.ctx, signal_id=signal_id, version=_version(form),
                                                 title=form.get("title", "")[: outbreaks.MAX_TITLE + 1],
                                                 periods_before=detection.config().outbreak_window)
            else:
                triaged = signals.triage_series(
                    conn, ctx=v.ctx, signal_id=signal_id, act=form.get("act", "")[:20], version=_version(form),
                    reason=form.get("reason", "")[: signals.MAX_REASON + 1],
                    others=signals.parse_series(form.get("series", "")[:4000]))
    except SignalRefused as refused:
        message = _said(request, refused)
        return _signal_page(request, signal_id, status_code=refused.status, form=form,
                            error=None if refused.field else message,
                            errors={refused.field: message} if refused.field else None)
    if act == "outbreak":
        return guard.see_other(f"{OUTBREAKS}/{opened.id}?done=outbreak")
    done = form.get("act", "")[:20] + ("-series" if len(triaged) > 1 else "")
    return guard.see_other(f"{SIGNALS}/{signal_id}?done={done}")


@router.post(SIGNALS + "/{signal_id}/triage")
async def triage_signal(request: Request, signal_id: str) -> Response:
    """Verify or discard (with a reason) the version of the signal the form shows."""
    form = await guard.form_fields(request)
    return await run_in_threadpool(_signal_act, request, signal_id[:_MAX_FIELD], form, "triage")


@router.post(SIGNALS + "/{signal_id}/outbreak")
async def open_outbreak(request: Request, signal_id: str) -> Response:
    """Open an outbreak from the verified signal, linking the case reports of its district and window."""
    form = await guard.form_fields(request)
    return await run_in_threadpool(_signal_act, request, signal_id[:_MAX_FIELD], form, "outbreak")


def outbreak_row(outbreak: outbreaks.Outbreak, lang: str) -> dict[str, Any]:
    """An outbreak as the pages list it, named in lang."""
    return {"id": outbreak.id, "title": outbreak.title, "status": outbreak.status, "cases": len(outbreak.cases),
            "subject": signal_text.subject_name(outbreak.key.kind, outbreak.key.subject, lang),
            "place": signal_text.place_name(outbreak.key.place, lang, capital=True), "kind": outbreak.key.kind,
            "opened": outbreak.opened, "opened_by": outbreak.opened_by,
            "window": f"{outbreak.window_start.isoformat()} – {outbreak.window_end.isoformat()}"}


def case_row(report: Loaded, basis: str, lang: str) -> dict[str, Any]:
    """A linked or candidate case report as the outbreak page lists it (names the person: the caller audits)."""
    listed = read_case_report(report.resource, {report.facts.patient or "": report.patient})
    day = case_series.case_day(report.facts, basis if basis in case_series.BASES else "onset")
    return {"id": report.facts.id, "name": listed.name, "state": report.facts.state,
            "disease": disease_name(report.facts.disease, lang, report.facts.subtype),
            "district": signal_text.place_name(case_series.district_for(report.facts, report.patient) or "", lang),
            "day": day.isoformat() if day else ""}


@router.get(OUTBREAKS, response_class=HTMLResponse)
def outbreak_list(request: Request) -> Response:
    """The outbreaks opened from signals, open ones first."""
    status = request.query_params.get("status", "")[:10]
    with unit_of_work() as conn:
        v = _officer(conn, request)
        found = outbreaks.listed(conn, ctx=v.ctx, status=status if status in ("open", "closed") else None)
    lang = _lang(request)
    rows = sorted((outbreak_row(o, lang) for o in found), key=lambda r: r["status"] != "open")
    return render_private(request, "public_health/signal_outbreak_list.html", rows=rows,
                          status=status if status in ("open", "closed") else "")


def _outbreak_page(request: Request, outbreak_id: str, *, status_code: int = 200, error: str | None = None,
                   errors: dict[str, str] | None = None, form: dict[str, str] | None = None) -> Response:
    lang = _lang(request)
    with unit_of_work() as conn:
        v = _officer(conn, request)
        try:
            outbreak, linked = outbreaks.get(conn, ctx=v.ctx, outbreak_id=outbreak_id)
        except signals.SignalNotFound as missing:
            return render_private(request, "public_health/signal_outbreak.html", status_code=missing.status,
                                  outbreak=None, error=_said(request, missing))
        possible = outbreaks.candidates(conn, ctx=v.ctx, outbreak=outbreak) if outbreak.status == "open" else []
    basis = outbreak.key.basis
    return render_private(
        request, "public_health/signal_outbreak.html", status_code=status_code, outbreak=outbreak,
        row=outbreak_row(outbreak, lang), cases=[case_row(r, basis, lang) for r in linked],
        candidates=[case_row(r, basis, lang) for r in possible], error=error, errors=errors or {},
        form=form or {}, done=_done(request), state_names=STATE_NAMES, max_note=outbreaks.MAX_NOTE)


@router.get(OUTBREAKS + "/{outbreak_id}", response_class=HTMLResponse)
def outbreak_page(request: Request, outbreak_id: str) -> Response:
    """One outbreak: its case reports (linking to the review pages), possible further cases, notes and acts."""
    return _outbreak_page(request, outbreak_id[:_MAX_FIELD])


def _outbreak_act(request: Request, outbreak_id: str, act_name: str, form: dict[str, str]) -> Response:
    with unit_of_work() as conn:
        v = _officer(conn, request)
        guard.check_csrf(request, v, form.get("csrf_token"))
    try:
        with unit_of_work() as conn:
            outbreaks.act(conn, ctx=v.ctx, outbreak_id=outbreak_id, act_name=act_name, version=_version(form),
                          case_id=form.get("case", "")[:_MAX_FIELD],
                          text=form.get("text", "")[: outbreaks.MAX_NOTE + 1])
    except SignalRefused as refused:
        message = _said(request, refused)
        return _outbreak_page(request, outbreak_id, status_code=refused.status, form=form,
                              error=None if refused.field else message,
                              errors={f"{act_name}-{refused.field}": message} if refused.field else None)
    return guard.see_other(f"{OUTBREAKS}/{outbreak_id}?done={act_name}")


@router.post(OUTBREAKS + "/{outbreak_id}/acts/{act_name}")
async def outbreak_act(request: Request, outbreak_id: str, act_name: str) -> Response:
    """Add or remove a case report, write a note or close the outbreak, on the version the form shows."""
    form = await guard.form_fields(request)
    return await run_in_threadpool(_outbreak_act, request, outbreak_id[:_MAX_FIELD], act_name[:20], form)


@router.get("/public-health/signal-chart.js")
async def signal_chart_js() -> FileResponse:
    """The script that draws a signal's chart (ECharts); no data in it."""
    return FileResponse(CHART_JS, media_type="text/javascript", headers={"Cache-Control": "public, max-age=3600"})
