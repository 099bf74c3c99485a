"""Laboratory QC: Westgard verdicts on runs built from the target mean and SD, across the levels of an analyte;
the hold on patient results of a failed run at release; re-testing after corrective action; bad input."""

from datetime import timedelta

import pytest

from smartcare.hospital.lab import quality, release, results
from smartcare.hospital.lab.accession import LabRefused
from smartcare.platform.db import unit_of_work
from tests.hospital.lab.lab_workflow_record import place, received, write_hospital
from tests.web_support import make_user

POTASSIUM, SODIUM = "2823-3", "2951-2"
MEAN, SD = 4.0, 0.1


@pytest.fixture
def lab(engine, now):
    return write_hospital(engine)


def _material(ctx, level="normal", *, loinc=POTASSIUM, mean=MEAN, sd=SD, lot="K-2026-01") -> quality.Material:
    with unit_of_work() as conn:
        return quality.add_material(conn, ctx, loinc=loinc, name="Chemistry control", lot=lot, level=level,
                                    mean=str(mean), sd=str(sd))


def _runs(ctx, material, *scores, now=None) -> list[quality.Run]:
    """Record one run per z-score (value = mean + score x SD), a minute apart."""
    done = []
    for score in scores:
        if now is not None:
            now[0] += timedelta(minutes=1)
        with unit_of_work() as conn:
            done.append(quality.record_run(conn, ctx, material_id=str(material.id),
                                           value=f"{material.mean + score * material.sd:.4f}"))
    return done


def _verdict(run: quality.Run) -> tuple[str, set[str]]:
    return run.verdict, set(run.rules)


@pytest.mark.parametrize(("scores", "verdict", "rules"), [
    ((0.5, -0.8, 1.2, -0.3), "accepted", set()),
    ((0.2, -0.5, 2.4), "warning", {"1-2s"}),
    ((0.0, -3.4), "rejected", {"1-2s", "1-3s"}),
    ((0.0, 2.3, 2.5), "rejected", {"1-2s", "2-2s"}),
    ((0.0, 2.3, -2.4), "rejected", {"1-2s", "R-4s"}),
    ((1.2, 1.5, 1.1, 1.3), "rejected", {"4-1s"}),
    ((0.3, 0.5, 0.2, 0.8, 0.1, 0.4, 0.6, 0.2, 0.3, 0.5), "rejected", {"10x"}),
])
def test_each_westgard_rule_gives_the_runs_verdict(lab, now, scores, verdict, rules):
    material = _material(lab["tech"])
    done = _runs(lab["tech"], material, *scores, now=now)
    assert _verdict(done[-1]) == (verdict, rules)
    assert all(r.verdict != "rejected" for r in done[:-1])


def test_the_rules_read_the_levels_of_one_analyte_together(lab, now):
    normal, high = _material(lab["tech"]), _material(lab["tech"], "abnormal-high", mean=6.5, sd=0.2)
    _runs(lab["tech"], normal, 2.3, now=now)
    # Both levels beyond +2 SD one after the other: a systematic error (2-2s across levels).
    assert _verdict(_runs(lab["tech"], high, 2.2, now=now)[0]) == ("rejected", {"1-2s", "2-2s"})
    other = _material(lab["tech"], loinc=SODIUM, mean=140, sd=2)
    assert _verdict(_runs(lab["tech"], other, 2.3, now=now)[0]) == ("warning", {"1-2s"})


def test_after_a_rejection_the_next_run_waits_for_the_corrective_action_and_the_rules_start_anew(lab, now):
    material = _material(lab["tech"])
    rejected = _runs(lab["tech"], material, 0.3, 0.5, 0.2, 0.8, 0.1, 0.4, 0.6, 0.2, 0.3, 0.5, now=now)[-1]
    assert rejected.verdict == "rejected"
    with pytest.raises(LabRefused, match="corrective action") as refused:
        _runs(lab["tech"], material, 0.2, now=now)
    assert refused.value.status == 409
    with unit_of_work() as conn:
        noted = quality.record_action(conn, lab["tech"], run_id=str(rejected.id), note="Recalibrated potassium")
    assert noted.note == "Recalibrated potassium" and noted.noted_by == "lab.tech"
    assert _verdict(_runs(lab["tech"], material, 0.2, now=now)[0]) == ("accepted", set())


def _report(lab, now, value="4.2") -> tuple[dict, dict]:
    specimen = received(lab["tech"], place(lab["doctor"], "potassium"))
    now[0] += timedelta(minutes=1)
    report = results.enter_results(lab["tech"], specimen_id=specimen["id"], values={POTASSIUM: value})
    results.review(lab["tech"], report_id=report["id"])
    return specimen, report


def test_a_failed_run_holds_the_results_after_it_until_they_are_tested_again(lab, now):
    material = _material(lab["tech"])
    rejected = _runs(lab["tech"], material, 0.1, 3.5, now=now)[-1]
    assert rejected.verdict == "rejected"
    specimen, report = _report(lab, now)
    with pytest.raises(LabRefused) as refused:
        release.release(lab["tech"], report_id=report["id"])
    message = refused.value.message
    assert refused.value.status == 409
    assert "Potassium" in message and "1-3s" in message and quality.local(rejected.at) in message
    assert results.read_report(lab["tech"], report["id"])["status"] == "preliminary"
    # Corrective action, an accepted run, the sample tested again: the new result is released.
    with unit_of_work() as conn:
        quality.record_action(conn, lab["tech"], run_id=str(rejected.id), note="New reagent pack")
    assert _runs(lab["tech"], material, -0.2, now=now)[0].verdict == "accepted"
    with pytest.raises(LabRefused, match="held by quality control"):
        release.release(lab["tech"], report_id=report["id"])
    now[0] += timedelta(minutes=1)
    results.enter_results(lab["tech"], specimen_id=specimen["id"], values={POTASSIUM: "4.1"})
    results.review(lab["tech"], report_id=report["id"])
    assert release.release(lab["tech"], report_id=report["id"])["status"] == "final"


def test_a_warning_holds_nothing_and_a_rejection_after_the_result_does_not_hold_it(lab, now):
    material = _material(lab["tech"])
    _runs(lab["tech"], material, 2.4, now=now)
    _, report = _report(lab, now)
    now[0] += timedelta(minutes=1)
    assert _runs(lab["tech"], material, 3.6, now=now)[0].verdict == "rejected"
    assert release.release(lab["tech"], report_id=report["id"])["status"] == "final"


def test_results_without_a_qc_material_are_not_held(lab, now):
    sodium = _material(lab["tech"], loinc=SODIUM, mean=140, sd=2)
    assert _runs(lab["tech"], sodium, -3.5, now=now)[0].verdict == "rejected"
    _, report = _report(lab, now)
    assert release.release(lab["tech"], report_id=report["id"])["status"] == "final"


def test_another_hospitals_rejected_run_does_not_hold_this_laboratorys_results(lab, engine, now):
    from smartcare.platform.security import users

    other = users.context_for(make_user(engine, "lab_technician", username="lab.other",
                                        organization="Organization/org-other"))
    material = _material(other)
    assert _runs(other, material, 3.5, now=now)[0].verdict == "rejected"
    _, report = _report(lab, now)
    assert release.release(lab["tech"], report_id=report["id"])["status"] == "final"
    with unit_of_work() as conn, pytest.raises(LabRefused) as refused:
        quality.record_run(conn, lab["tech"], material_id=str(material.id), value="4.0")
    assert refused.value.status == 404


@pytest.mark.parametrize(("value", "words"), [
    ("abc", "not a number"), ("nan", "not a result"), ("", "enter the control"), ("4" * 30, "at most"),
    ("<script>", "not a number"),
])
def test_bad_run_values_are_refused_and_nothing_is_stored(lab, value, words):
    material = _material(lab["tech"])
    with unit_of_work() as conn, pytest.raises(LabRefused, match=words):
        quality.record_run(conn, lab["tech"], material_id=str(material.id), value=value)
    with unit_of_work() as conn:
        assert quality.runs(conn, material) == []


@pytest.mark.parametrize("material_id", ["999", "-1", "1e3", "../1", "9" * 20])
def test_unknown_materials_are_not_found(lab, material_id):
    with unit_of_work() as conn, pytest.raises(LabRefused) as refused:
        quality.record_run(conn, lab["tech"], material_id=material_id, value="4.0")
    assert refused.value.status == 404


@pytest.mark.parametrize(("fields", "words"), [
    ({"loinc": "0000-0"}, "catalogue"), ({"loinc": "883-9"}, "catalogue"), ({"level": "extreme"}, "level"),
    ({"sd": "0"}, "above zero"), ({"sd": "-1"}, "above zero"), ({"mean": "four"}, "not a number"),
    ({"name": " "}, "name"), ({"lot": "L" * 41}, "at most"),
])
def test_bad_materials_are_refused(lab, fields, words):
    given = {"loinc": POTASSIUM, "name": "Control", "lot": "A1", "level": "normal", "mean": "4", "sd": "0.1", **fields}
    with unit_of_work() as conn, pytest.raises(LabRefused, match=words):
        quality.add_material(conn, lab["tech"], **given)


def test_the_same_lot_and_level_twice_is_refused(lab):
    _material(lab["tech"])
    with pytest.raises(LabRefused, match="already") as refused:
        _material(lab["tech"])
    assert refused.value.status == 409


def test_a_retired_material_takes_no_runs_and_the_levey_jennings_lines_follow_the_target(lab, now):
    material = _material(lab["tech"])
    _runs(lab["tech"], material, 0.5, -1.0, now=now)
    with unit_of_work() as conn:
        quality.set_active(conn, lab["tech"], material_id=str(material.id), active=False)
        chart = quality.levey_jennings(material, quality.runs(conn, material))
        with pytest.raises(LabRefused, match="retired"):
            quality.record_run(conn, lab["tech"], material_id=str(material.id), value="4.0")
    assert [round(line["value"], 2) for line in chart["lines"]] == [4.3, 4.2, 4.1, 4.0, 3.9, 3.8, 3.7]
    assert [round(p["z"], 2) for p in chart["points"]] == [0.5, -1.0]
