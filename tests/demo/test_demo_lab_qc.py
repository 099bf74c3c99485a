"""The demo laboratories' QC: the same seed gives the same runs, mostly in control, an older rejection with its
corrective action, a recent warning, and no analyte whose latest run is rejected (which would hold results)."""

from datetime import UTC, datetime

import sqlalchemy as sa

from smartcare.demo.lab_qc import load_lab_qc
from smartcare.hospital.lab.quality_models import lab_qc_material, lab_qc_run

NOW = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)  # 16:00 in the region


def _runs(engine) -> list:
    query = sa.select(lab_qc_run, lab_qc_material.c.organization, lab_qc_material.c.loinc).join(
        lab_qc_material, lab_qc_material.c.id == lab_qc_run.c.material_id).order_by(lab_qc_run.c.run_at,
                                                                                  lab_qc_run.c.id)
    with engine.connect() as conn:
        return conn.execute(query).all()


def test_demo_qc_tells_its_story_and_leaves_no_result_held(engine):
    assert load_lab_qc(engine, seed=1, now=NOW) > 700
    runs = _runs(engine)
    verdicts = [r.verdict for r in runs]
    assert verdicts.count("accepted") > 0.95 * len(runs)
    rejected = [r for r in runs if r.verdict == "rejected"]
    assert len(rejected) == 1 and rejected[0].loinc == "2823-3" and "1-3s" in rejected[0].rules.split()
    assert rejected[0].corrective_action and rejected[0].run_at < "2026-02-25"
    assert any(r.verdict == "warning" and r.loinc == "14771-0" and r.run_at >= "2026-03-02" for r in runs)
    latest = {}
    for r in runs:
        latest[(r.organization, r.loinc)] = r
    assert len(latest) == 10 and all(r.verdict != "rejected" for r in latest.values())
    assert all(r.run_at < "2026-03-02T08:00" for r in runs)
    assert load_lab_qc(engine, seed=1, now=NOW) == 0  # loaded once


def test_the_same_seed_gives_the_same_runs(engine):
    load_lab_qc(engine, seed=7, now=NOW)
    first = [(r.loinc, r.value, r.run_at, r.verdict) for r in _runs(engine)]
    with engine.begin() as conn:
        conn.execute(sa.delete(lab_qc_run))
        conn.execute(sa.delete(lab_qc_material))
    load_lab_qc(engine, seed=7, now=NOW)
    assert [(r.loinc, r.value, r.run_at, r.verdict) for r in _runs(engine)] == first
