"""The QC pages: materials with today's status, recording runs and corrective actions, the Levey-Jennings chart
(SVG with its data table), the hold shown on the results page; who may open them; hostile input; Chinese."""

import re
from datetime import timedelta

import pytest

from smartcare.hospital.lab import quality
from smartcare.platform.db import unit_of_work
from tests.hospital.lab.lab_workflow_record import place, received, write_hospital
from tests.web_support import browser, form_token, make_user, sign_in

POTASSIUM = "2823-3"


@pytest.fixture
def qc(engine, now):
    """The hospital, the technician signed in, and a potassium control of its laboratory."""
    lab = write_hospital(engine)
    # Tokens are checked against real time: keep the clock near today.
    from datetime import UTC, datetime

    now[0] = datetime.now(UTC).replace(microsecond=0)
    tech = browser()
    sign_in(tech, "lab.tech")
    with unit_of_work() as conn:
        material = quality.add_material(conn, lab["tech"], loinc=POTASSIUM, name="Chemistry control", lot="K-01",
                                        level="normal", mean="4.0", sd="0.1")
    return lab, tech, material


def _post(web, page_path: str, action: str, **data):
    return web.post(action, data={"csrf_token": form_token(web.get(page_path)), **data})


def _record(tech, material, value: str, now):
    now[0] += timedelta(minutes=1)
    return _post(tech, "/workstation/lab/qc", f"/workstation/lab/qc/{material.id}/runs", value=value, **{"from": "list"})


def test_the_overview_lists_materials_with_todays_status_and_records_a_run(qc, now):
    _, tech, material = qc
    page = tech.get("/workstation/lab/qc")
    assert page.status_code == 200 and "Chemistry control" in page.text and "No QC run today" in page.text
    assert page.headers["cache-control"] == "no-store"
    done = _record(tech, material, "4.25", now)
    assert done.status_code == 303 and done.headers["location"].startswith(f"/workstation/lab/qc/{material.id}?run=")
    shown = tech.get(done.headers["location"])
    assert "Run recorded" in shown.text and "Warning" in shown.text and "one control beyond 2 SD" in shown.text
    assert "qc-status--warning" in tech.get("/workstation/lab/qc").text
    assert 'href="/workstation/lab/qc"' in tech.get("/workstation/lab").text


def test_the_chart_is_an_accessible_svg_with_every_point_and_a_data_table(qc, now):
    _, tech, material = qc
    for value in ("4.05", "3.92", "4.24", "4.36"):
        _record(tech, material, value, now)
    page = tech.get(f"/workstation/lab/qc/{material.id}")
    svg = re.search(r"<svg class=\"lj\".*?</svg>", page.text, re.S).group(0)
    assert 'role="img"' in svg and '<title id="lj-title">' in svg and '<desc id="lj-desc">' in svg
    assert "4 runs from" in svg and "2 accepted, 1 warnings, 1 rejected" in svg
    assert svg.count('class="qc-accepted"') == 2 and svg.count('class="qc-warning"') == 1
    assert svg.count('class="qc-rejected"') == 1 and svg.count('class="lj-cross"') == 2
    assert "Mean 4.0" in svg and "+3 SD 4.3" in svg and "-2 SD 3.8" in svg and "4.36 mmol/L" in svg
    table = page.text[page.text.index('id="qcm-runs"'):]
    assert "4.36" in table and "2-2s" in table and "+3.6" in table
    assert f"/workstation/lab/qc/{material.id}/runs/" in table  # the rejected run asks for its corrective action


def test_a_rejected_run_holds_results_on_the_results_page_and_release_says_why(qc, now):
    lab, tech, material = qc
    _record(tech, material, "4.40", now)
    specimen = received(lab["tech"], place(lab["doctor"], "potassium"))
    path = f"/workstation/lab/specimens/{specimen['id']}/results"
    now[0] += timedelta(minutes=1)
    assert _post(tech, path, f"{path}/enter", **{f"value-{POTASSIUM}": "4.2"}).status_code == 303
    assert _post(tech, path, f"{path}/review").status_code == 303
    page = tech.get(path)
    assert "Results held by quality control" in page.text
    assert re.search(r"Held: QC rejected \(1-2s, 1-3s\) at \d\d:\d\d", page.text)
    assert f"{path}/release" not in page.text
    refused = _post(tech, path, f"{path}/release")
    assert refused.status_code == 409 and "held by quality control" in refused.text and "1-3s" in refused.text


def test_a_corrective_action_is_recorded_and_then_the_next_run_is_taken(qc, now):
    _, tech, material = qc
    _record(tech, material, "3.55", now)
    waiting = _record(tech, material, "4.0", now)
    assert waiting.status_code == 409 and "corrective action" in waiting.text
    page = tech.get(f"/workstation/lab/qc/{material.id}")
    action = re.search(r'action="(/workstation/lab/qc/\d+/runs/\d+/action)"', page.text).group(1)
    hostile = "<script>alert(1)</script> replaced the electrode"
    assert _post(tech, f"/workstation/lab/qc/{material.id}", action, note=hostile).status_code == 303
    page = tech.get(f"/workstation/lab/qc/{material.id}")
    assert "&lt;script&gt;" in page.text and "<script>alert(1)" not in page.text
    assert _record(tech, material, "4.0", now).status_code == 303


@pytest.mark.parametrize(("value", "words"), [("four", "is not a number"), ("", "enter the control"),
                                              ("1e999", "is not a result value")])
def test_bad_values_are_shown_back_as_a_form_error(qc, now, value, words):
    _, tech, material = qc
    refused = _record(tech, material, value, now)
    assert refused.status_code == 400 and words in refused.text


def test_bad_materials_are_shown_back_with_what_was_typed(qc):
    _, tech, _ = qc
    refused = _post(tech, "/workstation/lab/qc", "/workstation/lab/qc/materials", loinc=POTASSIUM, name="Ctl <b>x</b>",
                    lot="A", level="normal", mean="4", sd="0")
    assert refused.status_code == 400 and "above zero" in refused.text and "Ctl &lt;b&gt;x&lt;/b&gt;" in refused.text
    added = _post(tech, "/workstation/lab/qc", "/workstation/lab/qc/materials", loinc="2951-2", name="Chem", lot="N1",
                  level="abnormal-high", mean="155", sd="2.5")
    assert added.status_code == 303 and "mmol/L" in tech.get(added.headers["location"]).text


def test_other_hospitals_and_unknown_materials_are_not_found(qc, engine):
    _, tech, _ = qc
    from smartcare.platform.security import users

    other = users.context_for(make_user(engine, "lab_technician", username="lab.other",
                                        organization="Organization/org-other"))
    with unit_of_work() as conn:
        theirs = quality.add_material(conn, other, loinc=POTASSIUM, name="Theirs", lot="T", level="normal", mean="4",
                                      sd="0.1")
    for path in (f"/workstation/lab/qc/{theirs.id}", "/workstation/lab/qc/99999", "/workstation/lab/qc/abc"):
        assert tech.get(path).status_code == 404
    assert _post(tech, "/workstation/lab/qc", f"/workstation/lab/qc/{theirs.id}/runs", value="4").status_code == 404
    assert "Theirs" not in tech.get("/workstation/lab/qc").text


@pytest.mark.parametrize("role", ["doctor", "nurse", "pharmacist", "patient"])
def test_other_roles_may_not_open_quality_control(qc, engine, role):
    _, _, material = qc
    make_user(engine, role, username=f"{role}.qc", organization="Organization/org-h") if role != "patient" else \
        make_user(engine, role, username=f"{role}.qc")
    web = browser()
    sign_in(web, f"{role}.qc")
    assert web.get("/workstation/lab/qc").status_code == 403
    assert web.get(f"/workstation/lab/qc/{material.id}").status_code == 403


def test_a_hospital_administrator_sees_qc_and_adds_materials_but_does_not_record_runs(qc, engine):
    _, _, material = qc
    make_user(engine, "hospital_admin", username="admin.qc", organization="Organization/org-h")
    admin = browser()
    sign_in(admin, "admin.qc")
    page = admin.get(f"/workstation/lab/qc/{material.id}")
    assert page.status_code == 200 and "Record the run" not in page.text
    refused = _post(admin, "/workstation/lab/qc", f"/workstation/lab/qc/{material.id}/runs", value="4")
    assert refused.status_code == 403


def test_a_form_without_the_csrf_token_is_refused(qc):
    _, tech, material = qc
    assert tech.post(f"/workstation/lab/qc/{material.id}/runs", data={"value": "4"}).status_code == 403


def test_the_pages_speak_chinese(qc, now):
    _, tech, material = qc
    _record(tech, material, "4.36", now)
    overview = tech.get("/workstation/lab/qc", params={"lang": "zh-Hans"})
    assert "质控" in overview.text and "钾" in overview.text and "拒绝" in overview.text
    page = tech.get(f"/workstation/lab/qc/{material.id}")
    assert "Levey-Jennings" in page.text and "均值" in page.text and "纠正措施" in page.text
