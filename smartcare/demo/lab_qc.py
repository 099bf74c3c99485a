"""QC materials and about twenty days of QC runs for the demo hospitals' laboratories (seeded, so the same seed
gives the same charts).

Two control levels per analyte for the tests the demo orders most, run twice a day. Runs are mostly in
control; the first hospital has one older rejected potassium run (1-3s) with its corrective action and an
accepted repeat, and a recent glucose warning (1-2s). The latest run of every analyte is never rejected, so
the demo's patient results are not held. Every run is judged by the same code as a technician's
(smartcare.hospital.lab.quality), at the time it is dated.
"""

import random
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from smartcare.hospital.lab import quality
from smartcare.hospital.lab.quality_models import lab_qc_material, lab_qc_run
from smartcare.platform import clock
from smartcare.platform.db import unit_of_work
from smartcare.platform.security.context import AccessContext
from smartcare.platform.settings import get_settings

HOSPITALS = {"org-hosp-1": "lab.demo", "org-hosp-2": "lab.hosp2"}
DAYS = 20
SLOTS = ((8, 0), (14, 30))
# (LOINC, material, lot, decimals, ((level, target mean, target SD), ...)), units from the catalogue.
CONTROLS = (
    ("14771-0", "Chemistry control", "CC-2611", 2, (("normal", 5.50, 0.15), ("abnormal-high", 16.0, 0.40))),
    ("2823-3", "Chemistry control", "CC-2611", 2, (("normal", 4.00, 0.08), ("abnormal-high", 6.50, 0.12))),
    ("2951-2", "Chemistry control", "CC-2611", 1, (("normal", 140.0, 1.5), ("abnormal-low", 120.0, 1.5))),
    ("14682-9", "Chemistry control", "CC-2611", 0, (("normal", 90.0, 4.0), ("abnormal-high", 500.0, 15.0))),
    ("718-7", "Haematology control", "HC-2610", 0, (("normal", 130.0, 3.0), ("abnormal-low", 70.0, 2.5))),
)
REJECTED_DAY, REJECTED_LOINC, WARNING_LOINC = 12, "2823-3", "14771-0"
CORRECTIVE_ACTION = "Potassium electrode cleaned and recalibrated; controls repeated and in range."


def _slots(now: datetime) -> list[datetime]:
    """The QC times of the last DAYS days (local 08:00 and 14:30) that are already past."""
    zone = ZoneInfo(get_settings().region_timezone)
    today = now.astimezone(zone).date()
    times = [datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone)
             for back in range(DAYS - 1, -1, -1) for day in [today - timedelta(days=back)] for hour, minute in SLOTS]
    return [t for t in times if t < now]


def _materials(conn: Connection, organization: str, technician: str) -> list[tuple[quality.Material, int]]:
    ctx = AccessContext(kind="user", name=technician, roles=frozenset({"lab_technician"}), organization=organization)
    return [(quality.add_material(conn, ctx, loinc=loinc, name=name, lot=lot, level=level, mean=str(mean),
                                  sd=str(sd)), decimals)
            for loinc, name, lot, decimals, levels in CONTROLS for level, mean, sd in levels]


def _score(rng: random.Random, scores: list[float], scripted: float | None) -> float:
    """A z-score for the next control that keeps the analyte in control, or the scripted one (a warning is turned
    to the other side of the mean if the history would make it a rejection)."""
    if scripted is not None and scripted > 3:
        return scripted
    candidates = [scripted, -scripted] if scripted is not None else [max(-1.9, min(1.9, rng.gauss(0.0, 0.7)))]
    for _ in range(20):
        candidates.append(-candidates[-1] if abs(candidates[-1]) > 0.3 else rng.uniform(-0.9, 0.9))
    return next((c for c in candidates if quality.judge([*scores, c])[0] != quality.REJECTED), 0.0)


def _scripted(organization: str, loinc: str, level: str, slot: int, slots: int) -> float | None:
    """The first hospital's story: an older potassium rejection (1-3s) and a glucose warning (1-2s) in the latest
    runs, both on the second control level (the last of its run, so nothing follows a rejection unreviewed)."""
    if organization != "Organization/org-hosp-1" or level == "normal":
        return None
    if loinc == REJECTED_LOINC and slot == slots - 2 * REJECTED_DAY:
        return 3.4
    if loinc == WARNING_LOINC and slot == slots - 1:
        return 2.3
    return None


def _run_controls(conn: Connection, controls: list[tuple[quality.Material, int]], at: datetime, *, rng: random.Random,
                  scores: list[float], technician: str, scripted: list[float | None]) -> tuple[list[float], bool]:
    """Run each level of one analyte at `at` (two minutes apart); the scores since the last rejection, and whether
    this run was rejected."""
    rejected = False
    for offset, ((found, decimals), planned) in enumerate(zip(controls, scripted, strict=True)):
        value = round(found.mean + _score(rng, scores, planned) * found.sd, decimals)
        run = quality.judged_run(conn, found, value, at=at + timedelta(minutes=2 * offset), by=technician)
        scores = [*scores, (value - found.mean) / found.sd]
        if run.verdict == quality.REJECTED:
            _corrected(conn, run, at + timedelta(minutes=40), technician)
            scores, rejected = [], True
    return scores, rejected


def _runs(conn: Connection, organization: str, technician: str, seed: int, now: datetime) -> int:
    slots = _slots(now)
    written = 0
    by_analyte: dict[str, list[tuple[quality.Material, int]]] = {}
    for found, decimals in _materials(conn, organization, technician):
        by_analyte.setdefault(found.loinc, []).append((found, decimals))
    for loinc, controls in by_analyte.items():
        rng = random.Random(f"{seed}:{organization}:{loinc}")
        scores: list[float] = []
        for index, moment in enumerate(slots):
            planned = [_scripted(organization, loinc, found.level, index, len(slots)) for found, _ in controls]
            scores, rejected = _run_controls(conn, controls, moment, rng=rng, scores=scores, technician=technician,
                                             scripted=planned)
            written += len(controls)
            if rejected:
                # After the corrective action, the controls are repeated (and accepted).
                scores, _ = _run_controls(conn, controls, moment + timedelta(minutes=45), rng=rng, scores=scores,
                                          technician=technician, scripted=[None] * len(controls))
                written += len(controls)
    return written


def _corrected(conn: Connection, run: quality.Run, at: datetime, technician: str) -> None:
    """The corrective action after the scripted rejection (demo history, so written with its own time)."""
    conn.execute(sa.update(lab_qc_run).where(lab_qc_run.c.id == run.id).values(
        corrective_action=CORRECTIVE_ACTION, corrected_at=clock.format_instant(at), corrected_by=technician))


def load_lab_qc(engine: Engine, *, seed: int, now: datetime | None = None) -> int:
    """Give each demo hospital laboratory its QC materials and runs (once); returns how many runs were written."""
    moment = now or clock.now()
    written = 0
    for hospital, technician in HOSPITALS.items():
        organization = f"Organization/{hospital}"
        with unit_of_work(engine) as conn:
            if conn.execute(sa.select(lab_qc_material.c.id).where(
                    lab_qc_material.c.organization == organization).limit(1)).first() is not None:
                continue
            written += _runs(conn, organization, technician, seed, moment)
    return written
