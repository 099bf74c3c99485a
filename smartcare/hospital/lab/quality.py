"""Laboratory quality control: QC materials, runs judged by the Westgard rules, Levey-Jennings series, and the
hold on patient results of a failed run.

How a run is judged: every control of an analyte at one laboratory is scored against its own material's
target (z = (value - mean) / SD), and smartcare.knowledge.lab.westgard reads the analyte's scores in time order,
newest last, across all its levels. So 2-2s and R-4s also catch two levels out together (their within-run use,
Westgard 1981) and 4-1s and 10x follow a shift across levels and runs. The history starts after the analyte's
last rejected run: a rejection is followed by corrective action, and the rules start anew after it (otherwise a
10x shift would reject every run after the fix). A new run is refused while the last one is rejected without a
corrective action note.

The hold (CLSI C24): a patient result is held when the latest QC run of its analyte at the laboratory that did
the test, at or before the result's time, was rejected. The result's time is its `issued` (when the laboratory
produced it; results from an analyser that does not say are timed by when they were stored). Re-testing after
corrective action and an accepted run gives the result a new issued time, so it is no longer held. An analyte
with no QC material at that laboratory is never held. Results measured between the last accepted run and a
later rejected one (bracketed QC) are not held by this rule; the technician reviews those by hand.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from smartcare.fhir import gateway
from smartcare.fhir.errors import FhirError
from smartcare.hospital.lab.accession import LabRefused
from smartcare.hospital.lab.quality_models import lab_qc_material, lab_qc_run
from smartcare.hospital.lab.results import loinc_of, parse_value
from smartcare.knowledge import lab as knowledge
from smartcare.knowledge.orders import catalogue
from smartcare.platform import clock
from smartcare.platform.db import unit_of_work
from smartcare.platform.security.context import AccessContext
from smartcare.platform.settings import get_settings

LEVELS = ("normal", "abnormal-low", "abnormal-high")
ACCEPTED, WARNING, REJECTED = "accepted", "warning", "rejected"
HISTORY = 20
CHART_RUNS = 60
MAX_NAME, MAX_LOT, MAX_NOTE = 120, 40, 500


@dataclass(frozen=True)
class Material:
    """A control material one hospital laboratory runs for an analyte, with its target mean and SD."""

    id: int
    organization: str
    loinc: str
    name: str
    lot: str
    level: str
    mean: float
    sd: float
    unit: str
    active: bool

    def limit(self, sds: int) -> float:
        """The value sds standard deviations from the mean (negative sds below it)."""
        return self.mean + sds * self.sd


@dataclass(frozen=True)
class Run:
    """One measurement of a control material and the verdict the Westgard rules gave it."""

    id: int
    material_id: int
    value: float
    at: str
    by: str
    verdict: str
    rules: tuple[str, ...]
    note: str | None
    noted_at: str | None
    noted_by: str | None


@dataclass(frozen=True)
class Hold:
    """Why a patient result is held: its analyte's latest QC run before it was rejected, when and by which rules."""

    loinc: str
    run_at: str
    rules: tuple[str, ...]

    @property
    def name(self) -> str:
        """The analyte's English name."""
        return analyte_name(self.loinc, zh=False)


def local(instant: str, pattern: str = "%Y-%m-%d %H:%M") -> str:
    """An instant as the laboratory's wall-clock time (the region's time zone)."""
    return clock.parse_instant(instant).astimezone(ZoneInfo(get_settings().region_timezone)).strftime(pattern)


def short_time(instant: str) -> str:
    """HH:MM for an instant of today (local), else MM-DD HH:MM."""
    return local(instant, "%H:%M") if local(instant, "%Y-%m-%d") == lab_day() else local(instant, "%m-%d %H:%M")


def lab_day() -> str:
    """Today's date (YYYY-MM-DD) in the laboratory's time zone."""
    return clock.now().astimezone(ZoneInfo(get_settings().region_timezone)).strftime("%Y-%m-%d")


def qc_analytes() -> tuple[catalogue.LabTest, ...]:
    """The catalogue's single tests that give a number in a unit: the ones a control material can be made for."""
    return tuple(t for t in catalogue.lab_tests() if t.unit)


def analyte_name(loinc: str, *, zh: bool) -> str:
    """The catalogue's name of an analyte (its LOINC code when unknown)."""
    test = next((t for t in qc_analytes() if t.loinc == loinc), None)
    return (test.name_zh if zh else test.name_en) if test else loinc


def _material(row: Any) -> Material:
    return Material(id=row.id, organization=row.organization, loinc=row.loinc, name=row.name, lot=row.lot,
                    level=row.level, mean=row.target_mean, sd=row.target_sd, unit=row.unit, active=row.active)


def _run(row: Any) -> Run:
    return Run(id=row.id, material_id=row.material_id, value=row.value, at=row.run_at, by=row.performed_by,
               verdict=row.verdict, rules=tuple(row.rules.split()), note=row.corrective_action,
               noted_at=row.corrected_at, noted_by=row.corrected_by)


def _laboratory(ctx: AccessContext) -> str:
    if not ctx.organization:
        raise LabRefused("quality control belongs to a hospital laboratory; this account has none", status=403)
    return ctx.organization


def _text(value: str, what: str, limit: int) -> str:
    value = " ".join((value or "").split())
    if not value:
        raise LabRefused(f"enter the {what}")
    if len(value) > limit:
        raise LabRefused(f"the {what} is at most {limit} characters")
    return value


def add_material(conn: Connection, ctx: AccessContext, *, loinc: str, name: str, lot: str, level: str, mean: str,
                 sd: str) -> Material:
    """Add a control material to ctx's hospital laboratory; the unit is the catalogue test's."""
    organization = _laboratory(ctx)
    test = next((t for t in qc_analytes() if t.loinc == loinc), None)
    if test is None:
        raise LabRefused("choose a test from the laboratory catalogue")
    if level not in LEVELS:
        raise LabRefused("choose the control's level")
    target, spread = parse_value(mean), parse_value(sd)
    if target is None or spread is None:
        raise LabRefused("enter the target mean and SD")
    if spread <= 0:
        raise LabRefused("the SD must be above zero")
    row = {"organization": organization, "loinc": test.loinc, "name": _text(name, "material's name", MAX_NAME),
           "lot": _text(lot, "lot number", MAX_LOT), "level": level, "target_mean": target, "target_sd": spread,
           "unit": test.unit or "", "active": True, "created_at": clock.format_instant(clock.now()),
           "created_by": ctx.name[:200]}
    try:
        with conn.begin_nested():
            new_id = conn.execute(sa.insert(lab_qc_material).values(**row)).inserted_primary_key[0]
    except IntegrityError:
        raise LabRefused("this laboratory already has that lot at that level for the test", status=409) from None
    return material(conn, ctx, new_id)


def material(conn: Connection, ctx: AccessContext, material_id: int | str) -> Material:
    """One of ctx's laboratory's materials; LabRefused 404 for any other (or no such) material."""
    text = str(material_id)
    row = conn.execute(sa.select(lab_qc_material).where(
        lab_qc_material.c.id == int(text), lab_qc_material.c.organization == _laboratory(ctx))).first() \
        if text.isdigit() and len(text) < 12 else None
    if row is None:
        raise LabRefused("no such QC material", status=404)
    return _material(row)


def materials(conn: Connection, ctx: AccessContext) -> list[Material]:
    """ctx's laboratory's materials by analyte, active first, then by level (normal first)."""
    rows = conn.execute(sa.select(lab_qc_material).where(lab_qc_material.c.organization == _laboratory(ctx)))
    return sorted((_material(r) for r in rows), key=lambda m: (m.loinc, not m.active, LEVELS.index(m.level), m.id))


def set_active(conn: Connection, ctx: AccessContext, *, material_id: str, active: bool) -> Material:
    """Retire a material (no new runs; its runs stay on the chart) or bring it back."""
    found = material(conn, ctx, material_id)
    conn.execute(sa.update(lab_qc_material).where(lab_qc_material.c.id == found.id).values(active=active))
    return material(conn, ctx, found.id)


def _analyte_runs(conn: Connection, organization: str, loinc: str, *, until: str | None = None,
                  limit: int = HISTORY) -> list[tuple[Run, Material]]:
    """The analyte's latest runs at the laboratory (at or before until), newest first, with their materials."""
    query = sa.select(lab_qc_run, *(c.label(f"m_{c.name}") for c in lab_qc_material.c)).join(
        lab_qc_material, lab_qc_material.c.id == lab_qc_run.c.material_id).where(
        lab_qc_material.c.organization == organization, lab_qc_material.c.loinc == loinc)
    if until is not None:
        query = query.where(lab_qc_run.c.run_at <= until)
    rows = conn.execute(query.order_by(lab_qc_run.c.run_at.desc(), lab_qc_run.c.id.desc()).limit(limit))
    return [(_run(r), Material(id=r.m_id, organization=r.m_organization, loinc=r.m_loinc, name=r.m_name,
                               lot=r.m_lot, level=r.m_level, mean=r.m_target_mean, sd=r.m_target_sd, unit=r.m_unit,
                               active=r.m_active)) for r in rows]


def judge(scores: list[float]) -> tuple[str, tuple[str, ...]]:
    """The verdict on the newest of an analyte's z-scores (oldest first) and the Westgard rules it breaks."""
    found = knowledge.westgard(scores, mean=0.0, sd=1.0)
    verdict = REJECTED if any(v.severity == "reject" for v in found) else WARNING if found else ACCEPTED
    return verdict, tuple(v.rule for v in found)


def _lock(conn: Connection, organization: str, loinc: str) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": f"lab-qc:{organization}|{loinc}"})


def judged_run(conn: Connection, found: Material, value: float, *, at: datetime, by: str) -> Run:
    """Store a run of the material measured at `at`, judged with the analyte's runs before it; the stored run."""
    _lock(conn, found.organization, found.loinc)
    stamp = clock.format_instant(at)
    history = []
    for run, source in _analyte_runs(conn, found.organization, found.loinc, until=stamp, limit=HISTORY - 1):
        if run.verdict == REJECTED:
            break
        history.append((run.value - source.mean) / source.sd)
    verdict, fired = judge([*reversed(history), (value - found.mean) / found.sd])
    new_id = conn.execute(sa.insert(lab_qc_run).values(
        material_id=found.id, value=value, run_at=stamp, performed_by=by[:200], verdict=verdict,
        rules=" ".join(fired))).inserted_primary_key[0]
    return _run(conn.execute(sa.select(lab_qc_run).where(lab_qc_run.c.id == new_id)).one())


def record_run(conn: Connection, ctx: AccessContext, *, material_id: str, value: str) -> Run:
    """Record a control measured now: judged by the Westgard rules, refused while a rejection awaits its action."""
    found = material(conn, ctx, material_id)
    if not found.active:
        raise LabRefused("this material is retired; record runs on the lot in use", status=409)
    measured = parse_value(value)
    if measured is None:
        raise LabRefused("enter the control's value")
    last = _analyte_runs(conn, found.organization, found.loinc, limit=1)
    if last and last[0][0].verdict == REJECTED and not last[0][0].note:
        raise LabRefused(f"the QC run at {local(last[0][0].at)} was rejected: record the corrective action "
                         "before the next run", status=409)
    return judged_run(conn, found, measured, at=clock.now(), by=ctx.name)


def record_action(conn: Connection, ctx: AccessContext, *, run_id: str, note: str) -> Run:
    """Record the corrective action taken after a rejected run (what was found and done)."""
    row = conn.execute(sa.select(lab_qc_run).where(lab_qc_run.c.id == int(run_id))).first() \
        if run_id.isdigit() and len(run_id) < 12 else None
    if row is None:
        raise LabRefused("no such QC run", status=404)
    material(conn, ctx, row.material_id)
    if row.verdict != REJECTED:
        raise LabRefused("a corrective action is recorded for a rejected run", status=409)
    conn.execute(sa.update(lab_qc_run).where(lab_qc_run.c.id == row.id).values(
        corrective_action=_text(note, "corrective action", MAX_NOTE), corrected_at=clock.format_instant(clock.now()),
        corrected_by=ctx.name[:200]))
    return _run(conn.execute(sa.select(lab_qc_run).where(lab_qc_run.c.id == row.id)).one())


def runs(conn: Connection, found: Material, *, limit: int = CHART_RUNS) -> list[Run]:
    """The material's latest runs, oldest first."""
    rows = conn.execute(sa.select(lab_qc_run).where(lab_qc_run.c.material_id == found.id)
                        .order_by(lab_qc_run.c.run_at.desc(), lab_qc_run.c.id.desc()).limit(limit))
    return [_run(r) for r in reversed(rows.all())]


def levey_jennings(found: Material, series: list[Run]) -> dict[str, Any]:
    """The Levey-Jennings chart's data: the mean and ±1/2/3 SD lines, and each run's value, z-score and verdict."""
    return {"lines": [{"sds": n, "value": found.limit(n)} for n in (3, 2, 1, 0, -1, -2, -3)],
            "points": [{"run": r, "z": (r.value - found.mean) / found.sd} for r in series]}


def today(conn: Connection, ctx: AccessContext) -> dict[str, Any]:
    """Today's (local day) latest run per analyte and per material of ctx's laboratory: {loinc: Run, id: Run}."""
    start = datetime.fromisoformat(lab_day()).replace(tzinfo=ZoneInfo(get_settings().region_timezone))
    rows = conn.execute(sa.select(lab_qc_run, lab_qc_material.c.loinc).join(
        lab_qc_material, lab_qc_material.c.id == lab_qc_run.c.material_id).where(
        lab_qc_material.c.organization == _laboratory(ctx), lab_qc_run.c.run_at >= clock.format_instant(start))
        .order_by(lab_qc_run.c.run_at, lab_qc_run.c.id))
    latest: dict[Any, Run] = {}
    for row in rows:
        latest[row.loinc] = latest[row.material_id] = _run(row)
    return latest


def laboratories(ctx: AccessContext, request: dict[str, Any]) -> set[str]:
    """The organisations of the laboratory that performs an order (its department and the hospital above it)."""
    found: set[str] = set()
    for ref in (p.get("reference", "") for p in request.get("performer", [])):
        try:
            if ref.startswith("HealthcareService/"):
                ref = (gateway.read(ctx, ref).get("providedBy") or {}).get("reference", "")
            for _ in range(3):
                if not ref.startswith("Organization/") or ref in found:
                    break
                found.add(ref)
                ref = (gateway.read(ctx, ref).get("partOf") or {}).get("reference", "")
        except FhirError:
            continue
    return found or ({ctx.organization} if ctx.organization else set())


def _result_time(observation: dict[str, Any]) -> str | None:
    text = observation.get("issued") or (observation.get("meta") or {}).get("lastUpdated")
    try:
        return clock.format_instant(clock.parse_instant(text)) if text and len(text) > 10 else None
    except ValueError:
        return None


def holds(ctx: AccessContext, request: dict[str, Any], observations: list[dict[str, Any]]) -> dict[str, Hold]:
    """The order's results held by a rejected QC run, by LOINC code (none held: an empty dict)."""
    timed = [(code, at) for o in observations if (code := loinc_of(o)) and (at := _result_time(o))]
    if not timed:
        return {}
    labs = laboratories(ctx, request)
    held: dict[str, Hold] = {}
    with unit_of_work() as conn:
        for code, at in timed:
            latest = [found[0] for lab in labs for found in _analyte_runs(conn, lab, code, until=at, limit=1)]
            last = max(latest, key=lambda run: (run.at, run.id), default=None)
            if last is not None and last.verdict == REJECTED:
                held[code] = Hold(loinc=code, run_at=last.at, rules=last.rules)
    return held


def hold_message(held: dict[str, Hold]) -> str:
    """Why a report cannot be released, naming each held analyte with its rejected QC run."""
    named = "; ".join(f"{h.name}: QC rejected at {local(h.run_at)} ({', '.join(h.rules)})" for h in held.values())
    return (f"results held by quality control ({named}). After corrective action and an accepted QC run, "
            "test the samples again and enter the new results")
