"""The signal pages: the lists with filters and the run form, a signal with its chart data and triage forms, triage
and outbreaks through the forms (errors tied to their fields, hostile text escaped), the outbreak page linking to
the review pages, English and Chinese, officers only."""

import json
import re

import pytest

from smartcare.regional.public_health import case_series, signal_views, signals
from tests.regional.public_health.test_detection import HEDONG, all_signals
from tests.regional.public_health.test_signals import c1, spike
from tests.web_support import browser, form_token, make_user, sign_in

pytestmark = pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
SIGNALS = "/console/public-health/signals"
HOSTILE = "<script>alert(1)</script>"


@pytest.fixture
def spiked(engine, now):
    """Influenza spiking in Hedong yesterday, the detection run once (test_signals.spike)."""
    return spike(engine)


def signed_in(engine, role: str = "public_health_officer", **fields):
    make_user(engine, role, **fields)
    web = browser()
    sign_in(web, role.replace("_", ".") + ".test")
    return web


def shown(html: str) -> str:
    """The page's text as a reader sees it (without the tags)."""
    return re.sub(r"<[^>]+>", "", html)


def chart_json(html: str) -> dict:
    return json.loads(re.search(r'<script type="application/json" id="signal-chart-data">(.*?)</script>', html,
                                re.S).group(1))


def test_the_list_shows_new_signals_labelled_by_kind_with_the_runs_and_the_run_form(spiked):
    with signed_in(spiked) as web:
        page = web.get(SIGNALS)
        only_hedong = web.get(SIGNALS, params={"place": HEDONG, "state": "all"})
        bad = web.get(SIGNALS, params={"state": "<b>"})
    signal = c1(spiked)
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    assert f'id="signal-{signal.id}"' in page.text and "Notifiable disease" in page.text
    assert 'id="detection-runs"' in page.text and 'action="/console/public-health/signals/run"' in page.text
    assert len(re.findall(r'<tr id="signal-', only_hedong.text)) == sum(
        1 for s in all_signals(spiked) if s.key.place == HEDONG)
    assert bad.status_code == 400 and 'id="signals-error"' in bad.text


def test_a_signal_page_carries_the_detectors_output_for_the_chart_and_the_triage_forms(spiked):
    signal = c1(spiked)
    with signed_in(spiked) as web:
        page = web.get(f"{SIGNALS}/{signal.id}")
        chinese = web.get(f"{SIGNALS}/{signal.id}", params={"lang": "zh-Hans"})
        missing = web.get(f"{SIGNALS}/no-such-signal")
    data = chart_json(page.text)
    assert page.status_code == 200
    assert data == {**signal.chart, "marked": 83} and data["counts"][-1] == 8 and data["alarms"][-1] is True
    assert 'src="/public-health/signal-chart.js"' in page.text and 'id="signal-chart"' in page.text
    assert page.text.count('name="csrf_token"') == 2 and page.text.count(f'name="version" value="{signal.version}"') == 2
    assert "Influenza, Hedong District: 8 cases with onset on 2026-03-01" in shown(page.text)
    assert "流行性感冒，河东区：2026-03-01发病 8 例" in shown(chinese.text) and "排除理由" in chinese.text
    assert missing.status_code == 404 and 'id="signal-error"' in missing.text


def test_discarding_without_a_reason_shows_the_error_at_the_field_and_with_one_discards(spiked):
    signal = c1(spiked)
    with signed_in(spiked) as web:
        token = form_token(web.get(f"{SIGNALS}/{signal.id}"))
        form = {"csrf_token": token, "version": str(signal.version), "act": "discard"}
        refused = web.post(f"{SIGNALS}/{signal.id}/triage", data={**form, "reason": " "})
        done = web.post(f"{SIGNALS}/{signal.id}/triage", data={**form, "reason": HOSTILE})
        shown = web.get(done.headers["location"])
        again = web.post(f"{SIGNALS}/{signal.id}/triage", data={**form, "reason": "twice"})
    assert refused.status_code == 400 and 'aria-describedby="discard-reason-error"' in refused.text
    assert 'id="discard-reason-error">Say why you discard the signal.' in refused.text
    assert done.status_code == 303 and 'id="signal-state">discarded' in shown.text
    assert HOSTILE not in shown.text and "&lt;script&gt;" in shown.text
    assert again.status_code == 409 and 'id="signal-error"' in again.text


def test_verifying_then_opening_an_outbreak_through_the_forms_links_the_cases_to_their_review_pages(spiked):
    signal = c1(spiked)
    with signed_in(spiked) as web:
        token = form_token(web.get(f"{SIGNALS}/{signal.id}"))
        web.post(f"{SIGNALS}/{signal.id}/triage", data={"csrf_token": token, "version": "1", "act": "verify"})
        verified = web.get(f"{SIGNALS}/{signal.id}")
        no_title = web.post(f"{SIGNALS}/{signal.id}/outbreak", data={"csrf_token": token, "version": "2",
                                                                      "title": ""})
        opened = web.post(f"{SIGNALS}/{signal.id}/outbreak", data={"csrf_token": token, "version": "2",
                                                                    "title": "Cluster " + HOSTILE})
        outbreak = web.get(opened.headers["location"])
        listing = web.get("/console/public-health/outbreaks")
        outbreak_id = opened.headers["location"].split("/")[-1].split("?")[0]
        added = web.post(f"/console/public-health/outbreaks/{outbreak_id}/acts/add",
                         data={"csrf_token": token, "version": "1", "case": "b-83-0"})
        stale = web.post(f"/console/public-health/outbreaks/{outbreak_id}/acts/note",
                         data={"csrf_token": token, "version": "1", "text": "late"})
    assert 'id="outbreak-form"' in verified.text and 'id="signal-state">verified' in verified.text
    assert no_title.status_code == 400 and 'aria-describedby="outbreak-name-error"' in no_title.text
    assert opened.status_code == 303 and outbreak.status_code == 200
    assert outbreak.text.count('href="/console/public-health/cases/a-83-') == 8
    assert 'id="outbreak-cases-a-77-0"' in outbreak.text and HOSTILE not in outbreak.text
    assert "Cluster &lt;script&gt;" in listing.text
    assert added.status_code == 303 and stale.status_code == 409 and 'id="outbreak-error"' in stale.text


def test_running_the_detection_from_the_page_needs_a_known_basis_and_the_csrf_token(spiked):
    with signed_in(spiked) as web:
        token = form_token(web.get(SIGNALS))
        ran = web.post(f"{SIGNALS}/run", data={"csrf_token": token, "basis": "report"})
        told = web.get(ran.headers["location"])
        bad = web.post(f"{SIGNALS}/run", data={"csrf_token": token, "basis": "x" * 90})
        forged = web.post(f"{SIGNALS}/run", data={"csrf_token": "forged", "basis": "onset"})
        runs = web.get(SIGNALS)
    by_report = sum(1 for s in all_signals(spiked) if s.key.basis == "report")
    assert ran.status_code == 303 and by_report > 0
    assert f'id="signals-done">The detection run is done: {by_report} new signals.' in told.text
    assert bad.status_code == 400 and forged.status_code == 403
    assert "<td>by day of report<br>" in runs.text.split('id="detection-runs"')[1]


def test_a_run_racing_another_to_the_same_signals_adds_no_twin_and_says_so(spiked, monkeypatch):
    before = sorted(s.id for s in all_signals(spiked))
    # As if the other run had not committed yet when this one looked.
    monkeypatch.setattr(signals, "standing", lambda conn: [])
    monkeypatch.setattr(signals, "_stored_ids", lambda conn, ids: set())
    with signed_in(spiked) as web:
        raced = web.post(f"{SIGNALS}/run", data={"csrf_token": form_token(web.get(SIGNALS)), "basis": "onset"})
    assert raced.status_code == 409 and 'id="signals-error"' in raced.text
    assert sorted(s.id for s in all_signals(spiked)) == before


@pytest.mark.parametrize("role", ["doctor", "researcher", "regional_admin"])
def test_nobody_but_officers_opens_the_signal_and_outbreak_pages(spiked, role):
    signal = c1(spiked)
    with signed_in(spiked, role) as web:
        answers = [web.get(path).status_code for path in
                   (SIGNALS, f"{SIGNALS}/{signal.id}", "/console/public-health/outbreaks")]
    with browser() as stranger:
        nobody = stranger.get(SIGNALS)
    assert set(answers) == {403}
    assert nobody.status_code == 303 and nobody.headers["location"].startswith("/login")


def test_the_chart_script_is_served_without_data(engine):
    with browser() as web:
        script = web.get("/public-health/signal-chart.js")
    assert script.status_code == 200 and "signal-chart-data" in script.text
    assert script.headers["content-type"].startswith("text/javascript")
    assert signal_views.CHART_JS.name == "signal-chart.js"


def test_a_spike_raised_by_several_methods_is_triaged_as_one_series_or_not_at_all(spiked):
    signal = c1(spiked)
    series = [s for s in all_signals(spiked) if s.key == signal.key and s.id != signal.id and s.state == "new"]
    assert series  # one spike alarms more than one method
    with signed_in(spiked) as web:
        page = web.get(f"{SIGNALS}/{signal.id}")
        token = form_token(page)
        box = re.search(r'id="verify-series" name="series" value="([^"]*)"', page.text).group(1)
        form = {"csrf_token": token, "version": str(signal.version), "act": "verify"}
        foreign = web.post(f"{SIGNALS}/{signal.id}/triage", data={**form, "series": "not-a-signal:1"})
        garbled = web.post(f"{SIGNALS}/{signal.id}/triage", data={**form, "series": HOSTILE})
        after_refusals = {s.id: s.state for s in all_signals(spiked)}
        done = web.post(f"{SIGNALS}/{signal.id}/triage", data={**form, "series": box})
        shown = web.get(done.headers["location"])
    assert f"Also verify the other {len(series)} new signals of this series" in page.text
    assert sorted(box.split(",")) == sorted(f"{s.id}:{s.version}" for s in series)
    assert foreign.status_code == 400 and "series can be triaged with it" in foreign.text
    assert garbled.status_code == 400 and HOSTILE not in garbled.text
    assert after_refusals[signal.id] == "new"  # a refused series changes nothing, not even the signal itself
    assert "other new signals of its series were verified" in shown.text
    states = {s.id: s.state for s in all_signals(spiked)}
    assert {states[s.id] for s in [signal, *series]} == {"verified"}


def test_the_whole_region_starts_its_cell_with_a_capital_and_dates_never_break(spiked):
    regional = [s for s in all_signals(spiked) if s.key.place == case_series.REGION]
    signal = c1(spiked)
    with signed_in(spiked) as web:
        listed = web.get(SIGNALS, params={"state": "all"}).text
        page = web.get(f"{SIGNALS}/{signal.id}").text
    assert regional and listed.count('data-label="Place">Whole region</td>') == len(regional)
    assert ">whole region<" not in listed and 'value="region">Whole region</option>' in listed
    title = page.split('id="signal-title">', 1)[1].split("</h1>", 1)[0]
    reason = page.split('id="signal-reason">', 1)[1].split("</p>", 1)[0]
    assert '<span class="ph-date">2026-03-01</span>' in title and '<span class="ph-date">2026-03-01</span>' in reason
