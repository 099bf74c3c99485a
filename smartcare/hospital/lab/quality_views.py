"""The laboratory's quality control pages: materials with today's status, recording runs, and each material's
Levey-Jennings chart (inline SVG with a data table) with the runs, the rules they broke and the actions taken."""

import math
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from smartcare.hospital.lab import quality
from smartcare.hospital.lab.accession import LabRefused
from smartcare.platform.db import unit_of_work
from smartcare.platform.i18n import current_locale
from smartcare.platform.web import guard
from smartcare.platform.web.pages import not_found, render_private

router = APIRouter(include_in_schema=False)
# Technicians run the controls; hospital administrators see them and manage the materials.
QC_ROLES = frozenset({"lab_technician", "hospital_admin"})
RUNNERS = frozenset({"lab_technician"})
MAX_FIELD = 600
# The chart's drawing box (SVG user units) and the z-scores it shows; points beyond are drawn on the edge.
WIDTH, HEIGHT, LEFT, RIGHT, TOP, BOTTOM, SCALE = 760, 320, 104, 16, 14, 40, 4.0


def _visitor(request: Request) -> guard.Visitor:
    # The "account" surface admits staff and administrators; the roles below narrow it to the laboratory's.
    with unit_of_work() as conn:
        v = guard.visitor(conn, request, "account")
    if not v.ctx.roles & QC_ROLES:
        raise guard.SurfaceForbidden("Quality control is for the laboratory", ctx=v.ctx, surface="lab-qc")
    return v




def _decimals(sd: float) -> int:
    """As many decimals as the SD is given with (4.00 ± 0.08, 140.0 ± 1.5, 500 ± 15), at most four."""
    return len(f"{sd:.4f}".rstrip("0").partition(".")[2])


def value_text(value: float, decimals: int) -> str:
    """A control value with the material's decimals, or more when it was measured finer (4.36 beside 4.0 ± 0.1)."""
    return f"{value:.{decimals}f}" if round(value, decimals) == value else f"{value:g}"


def _analytes(zh: bool) -> list[dict[str, str]]:
    tests = sorted(quality.qc_analytes(), key=lambda t: t.name_zh if zh else t.name_en)
    return [{"loinc": t.loinc, "name": t.name_zh if zh else t.name_en, "unit": t.unit or ""} for t in tests]


def _overview(request: Request, *, status_code: int = 200, error: str = "", form: dict[str, str] | None = None
              ) -> HTMLResponse:
    v = _visitor(request)
    zh = current_locale(request) == "zh-Hans"
    try:
        with unit_of_work() as conn:
            found = quality.materials(conn, v.ctx)
            latest = quality.today(conn, v.ctx)
    except LabRefused as exc:
        return render_private(request, "lab/qc.html", status_code=exc.status, user=v.user, groups=[], error=exc.message,
                              analytes=[], levels=quality.LEVELS, form={}, may_run=False, today="")
    groups: dict[str, dict[str, Any]] = {}
    for m in found:
        group = groups.setdefault(m.loinc, {"loinc": m.loinc, "name": quality.analyte_name(m.loinc, zh=zh),
                                            "status": latest.get(m.loinc), "materials": []})
        run = latest.get(m.id)
        group["materials"].append({"m": m, "run": run, "at": quality.local(run.at, "%H:%M") if run else "",
                                   "digits": _decimals(m.sd)})
    return render_private(request, "lab/qc.html", status_code=status_code, user=v.user, groups=list(groups.values()),
                          analytes=_analytes(zh), levels=quality.LEVELS, form=form or {}, error=error,
                          may_run=bool(v.ctx.roles & RUNNERS), today=quality.lab_day(), num=value_text)


@router.get("/workstation/lab/qc", response_class=HTMLResponse)
async def qc_overview(request: Request) -> HTMLResponse:
    """The laboratory's QC materials by analyte, with today's status, a form to record a run and to add a material."""
    return await run_in_threadpool(_overview, request)


def _add(request: Request, form: dict[str, str]) -> Response:
    v = _visitor(request)
    guard.check_csrf(request, v, form.get("csrf_token"))
    fields = {key: form.get(key, "")[:MAX_FIELD] for key in ("loinc", "name", "lot", "level", "mean", "sd")}
    try:
        with unit_of_work() as conn:
            added = quality.add_material(conn, v.ctx, **fields)
    except LabRefused as exc:
        return _overview(request, status_code=exc.status, error=exc.message, form=fields)
    return guard.see_other(f"/workstation/lab/qc/{added.id}")


@router.post("/workstation/lab/qc/materials")
async def qc_add_material(request: Request) -> Response:
    """Add a control material (test, name, lot, level, target mean and SD); CSRF-checked."""
    form = await guard.form_fields(request)
    return await run_in_threadpool(_add, request, form)


def chart(found: quality.Material, series: list[quality.Run]) -> dict[str, Any]:
    """The Levey-Jennings chart's geometry: SD lines with labels, points placed by z-score, and date ticks."""
    data = quality.levey_jennings(found, series)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    digits = _decimals(found.sd)

    def y_of(z: float) -> float:
        return round(TOP + (SCALE - max(-SCALE, min(SCALE, z))) / (2 * SCALE) * plot_h, 1)

    step = plot_w / max(len(series), 1)
    points = [{"x": round(LEFT + (i + 0.5) * step, 1), "y": y_of(p["z"]), "run": p["run"], "z": round(p["z"], 2) + 0.0,
               # A point's rule label sits beside it, on the left near the chart's right end so it is not cut off.
               "anchor": "end" if i > 0.8 * len(series) else "start",
               "when": quality.local(p["run"].at, "%m-%d %H:%M")} for i, p in enumerate(data["points"])]
    every = max(1, math.ceil(len(points) / 8))
    return {"width": WIDTH, "height": HEIGHT, "left": LEFT, "right": WIDTH - RIGHT, "top": TOP,
            "bottom": HEIGHT - BOTTOM, "digits": digits, "points": points,
            "path": " ".join(f"{p['x']},{p['y']}" for p in points),
            "lines": [{"sds": line["sds"], "y": y_of(line["sds"]), "value": f"{line['value']:.{digits}f}"}
                      for line in data["lines"]],
            "ticks": [{"x": p["x"], "label": quality.local(p["run"].at, "%m-%d")} for p in points[::every]],
            "counts": {verdict: sum(1 for r in series if r.verdict == verdict)
                       for verdict in (quality.ACCEPTED, quality.WARNING, quality.REJECTED)}}


def _z(found: quality.Material, run: quality.Run) -> float:
    # Adding 0.0 turns a rounded -0.0 into 0.0, so the table never shows "-0.0".
    return round((run.value - found.mean) / found.sd, 1) + 0.0


def _material(request: Request, material_id: str, *, status_code: int = 200, error: str = "") -> HTMLResponse:
    v = _visitor(request)
    zh = current_locale(request) == "zh-Hans"
    try:
        with unit_of_work() as conn:
            found = quality.material(conn, v.ctx, material_id)
            series = quality.runs(conn, found)
    except LabRefused:
        return not_found(request)
    shown = request.query_params.get("run", "")
    recorded = next((r for r in series if str(r.id) == shown), None)
    return render_private(request, "lab/qc_material.html", status_code=status_code, user=v.user, m=found,
                          analyte=quality.analyte_name(found.loinc, zh=zh), chart=chart(found, series),
                          runs=[{"run": r, "z": _z(found, r)} for r in reversed(series)], recorded=recorded, error=error,
                          may_run=bool(v.ctx.roles & RUNNERS), local=quality.local, num=value_text)


@router.get("/workstation/lab/qc/{material_id}", response_class=HTMLResponse)
async def qc_material(request: Request, material_id: str) -> HTMLResponse:
    """One material's Levey-Jennings chart and its runs, with the rules fired and corrective actions."""
    return await run_in_threadpool(_material, request, material_id[:20])


def _record(request: Request, material_id: str, form: dict[str, str]) -> Response:
    v = _visitor(request)
    guard.check_csrf(request, v, form.get("csrf_token"))
    from_list = form.get("from") == "list"
    try:
        if not v.ctx.roles & RUNNERS:
            raise LabRefused("QC runs are recorded by the laboratory's technicians", status=403)
        with unit_of_work() as conn:
            run = quality.record_run(conn, v.ctx, material_id=material_id, value=form.get("value", "")[:40])
    except LabRefused as exc:
        if exc.status == 404:
            return not_found(request)
        if from_list:
            return _overview(request, status_code=exc.status, error=exc.message)
        return _material(request, material_id, status_code=exc.status, error=exc.message)
    return guard.see_other(f"/workstation/lab/qc/{run.material_id}?run={run.id}")


@router.post("/workstation/lab/qc/{material_id}/runs")
async def qc_record_run(request: Request, material_id: str) -> Response:
    """Record a control value measured now; it is judged by the Westgard rules at once. CSRF-checked."""
    form = await guard.form_fields(request)
    return await run_in_threadpool(_record, request, material_id[:20], form)


def _active(request: Request, material_id: str, form: dict[str, str]) -> Response:
    v = _visitor(request)
    guard.check_csrf(request, v, form.get("csrf_token"))
    try:
        with unit_of_work() as conn:
            quality.set_active(conn, v.ctx, material_id=material_id, active=form.get("active") == "1")
    except LabRefused:
        return not_found(request)
    return guard.see_other(f"/workstation/lab/qc/{material_id}")


@router.post("/workstation/lab/qc/{material_id}/active")
async def qc_material_active(request: Request, material_id: str) -> Response:
    """Retire a material (a lot used up) or bring it back; CSRF-checked."""
    form = await guard.form_fields(request)
    return await run_in_threadpool(_active, request, material_id[:20], form)


def _action(request: Request, material_id: str, run_id: str, form: dict[str, str]) -> Response:
    v = _visitor(request)
    guard.check_csrf(request, v, form.get("csrf_token"))
    try:
        if not v.ctx.roles & RUNNERS:
            raise LabRefused("corrective actions are recorded by the laboratory's technicians", status=403)
        with unit_of_work() as conn:
            quality.material(conn, v.ctx, material_id)
            quality.record_action(conn, v.ctx, run_id=run_id, note=form.get("note", "")[:MAX_FIELD])
    except LabRefused as exc:
        if exc.status == 404:
            return not_found(request)
        return _material(request, material_id, status_code=exc.status, error=exc.message)
    return guard.see_other(f"/workstation/lab/qc/{material_id}")


@router.post("/workstation/lab/qc/{material_id}/runs/{run_id}/action")
async def qc_corrective_action(request: Request, material_id: str, run_id: str) -> Response:
    """Record the corrective action after a rejected run; CSRF-checked."""
    form = await guard.form_fields(request)
    return await run_in_threadpool(_action, request, material_id[:20], run_id[:20], form)
