"""The health supervision pages and JSON API as people use them: the dashboard, facilities, the inspection form, plans
and findings, in English and Chinese; who may open and send what; hostile and over-long input."""

import pytest

from smartcare.platform.db import unit_of_work
from smartcare.regional.supervision import registry
from tests.regional.conftest import user_token
from tests.regional.supervision.conftest import HEXI, INSPECTOR, register
from tests.web_support import browser, form_token, make_user, sign_in

BASE = "/console/supervision"
HOSTILE = "<script>alert('pwn')</script> Bath & Spa"


def _web(engine, role: str, username: str | None = None, **fields):
    make_user(engine, role, username=username, **fields)
    web = browser()
    sign_in(web, username or role.replace("_", ".") + ".test")
    return web


@pytest.fixture
def venue(engine, now):
    facility = register(engine, name="Hexi Swimming Pool")
    with unit_of_work(engine) as conn:
        registry.add_licence(conn, ctx=INSPECTOR, facility_id=facility["id"], number="GW-2023-17",
                             issued="2022-03-20")  # expires 2026-03-20: expiring
    return facility


@pytest.mark.parametrize(("lang", "words"), [
    ("en", ("Health supervision", "Facilities", "Expiring within 90 days", "Inspections per month",
            "supervision-charts.js", "/console/supervision/indicators")),
    ("zh-Hans", ("卫生监督", "监管机构", "90天内到期", "每月检查次数", "公共场所")),
])
def test_the_dashboard_counts_facilities_licences_plans_and_findings(engine, venue, lang, words):
    with _web(engine, "health_inspector") as web:
        page = web.get(BASE, params={"lang": lang})
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    for word in words:
        assert word in page.text
    assert 'id="supervision-dashboard-data"' in page.text and "<script>\n" not in page.text  # no inline script


def test_the_chart_script_is_served_to_signed_in_readers_only(engine):
    with browser() as web:
        assert web.get(BASE + "/supervision-charts.js").status_code == 303
    with _web(engine, "public_health_officer") as web:
        script = web.get(BASE + "/supervision-charts.js")
    assert script.status_code == 200 and "echarts.init" in script.text


def test_an_inspector_registers_a_facility_and_its_hostile_name_is_shown_escaped(engine, now):
    with _web(engine, "health_inspector") as web:
        form = web.get(BASE + "/facilities/new")
        sent = web.post(BASE + "/facilities", data={
            "csrf_token": form_token(form), "kind": "public_venue", "name": HOSTILE, "address": "1 River Rd",
            "district": HEXI})
        assert sent.status_code == 303
        shown = web.get(sent.headers["location"])
        listed = web.get(BASE + "/facilities", params={"q": "bath"})
    assert shown.status_code == 200 and "The facility was registered." in shown.text
    for page in (shown, listed):
        assert HOSTILE not in page.text and "&lt;script&gt;alert(" in page.text


def test_an_over_long_name_is_refused_with_a_message_in_the_readers_language(engine, now):
    with _web(engine, "health_inspector") as web:
        form = web.get(BASE + "/facilities/new", params={"lang": "zh-Hans"})
        sent = web.post(BASE + "/facilities", data={
            "csrf_token": form_token(form), "kind": "school", "name": "校" * 201, "district": HEXI})
    assert sent.status_code == 400
    assert "内容过长：最多 200 个字符。" in sent.text and 'aria-invalid="true" aria-describedby="e-name"' in sent.text
    with unit_of_work(engine) as conn:
        assert registry.list_facilities(conn, ctx=INSPECTOR) == []


def test_the_inspection_form_records_findings_and_shows_them(engine, venue):
    with _web(engine, "health_inspector") as web:
        form = web.get(f"{BASE}/facilities/{venue['id']}/inspect", params={"lang": "zh-Hans"})
        assert form.status_code == 200 and "游泳池水游离性余氯" in form.text and 'type="radio"' in form.text
        data = {"csrf_token": form_token(form), "inspected_on": "2026-03-02", "kind": "routine",
                "result-venue-pool-chlorine": "fail", "note-venue-pool-chlorine": "<b>0.1 mg/L</b>"}
        data |= {f"result-{item}": "pass" for item in ("venue-licence", "venue-staff-health", "venue-hygiene-manager",
                                                       "venue-disinfection", "venue-ventilation",
                                                       "venue-air-conditioning", "venue-monitoring",
                                                       "venue-pest-control", "venue-incident-report")}
        sent = web.post(f"{BASE}/facilities/{venue['id']}/inspect", data=data)
        assert sent.status_code == 303
        shown = web.get(sent.headers["location"])
        findings = web.get(BASE + "/findings", params={"lang": "en"})
    assert "检查记录已保存：发现 1 项问题。" in shown.text and "2026-03-05" in shown.text
    assert "&lt;b&gt;0.1 mg/L&lt;/b&gt;" in shown.text and "<b>0.1" not in shown.text
    assert "Hexi Swimming Pool" in findings.text and "Critical" in findings.text


def test_an_inspection_dated_tomorrow_is_refused_on_the_form(engine, venue):
    with _web(engine, "health_inspector") as web:
        form = web.get(f"{BASE}/facilities/{venue['id']}/inspect")
        sent = web.post(f"{BASE}/facilities/{venue['id']}/inspect", data={
            "csrf_token": form_token(form), "inspected_on": "2026-03-03", "kind": "routine"})
    assert sent.status_code == 400 and "An inspection cannot be dated in the future." in sent.text


def test_a_plan_is_created_from_the_form_and_its_page_shows_progress(engine, venue):
    with _web(engine, "health_inspector", username="insp.zhao") as web:
        form = web.get(BASE + "/plans")
        sent = web.post(BASE + "/plans", data={
            "csrf_token": form_token(form), "name": "2026 Q2 public venues, Hexi", "starts": "2026-04-01",
            "ends": "2026-06-30", "kinds": ["public_venue", "school"], "district": HEXI, "inspectors": "insp.zhao"})
        assert sent.status_code == 303
        plan = web.get(sent.headers["location"])
        refused = web.post(BASE + "/plans", data={"csrf_token": form_token(form), "name": "x", "starts": "2026-04-01",
                                                  "ends": "2026-06-30", "kinds": ["public_venue"],
                                                  "inspectors": "nobody.at.all"})
    assert "0 of 1 inspections done; 0 overdue." in plan.text and "Hexi Swimming Pool" in plan.text
    assert refused.status_code == 400 and "nobody.at.all is not a health inspector&#39;s account." in refused.text


def test_a_public_health_officer_reads_without_forms_and_cannot_post(engine, venue):
    with _web(engine, "public_health_officer") as web:
        page = web.get(f"{BASE}/facilities/{venue['id']}")
        assert page.status_code == 200 and "GW-2023-17" in page.text
        assert "Record an inspection" not in page.text and 'name="csrf_token"' not in page.text
        assert web.get(f"{BASE}/facilities/{venue['id']}/inspect").status_code == 403
        token = form_token(web.get("/account"))
        sent = web.post(BASE + "/facilities", data={"csrf_token": token, "kind": "school", "name": "S",
                                                    "district": HEXI})
    assert sent.status_code == 403


@pytest.mark.parametrize("path", ["", "/facilities", "/plans", "/findings", "/indicators"])
def test_a_doctor_gets_no_supervision_page(engine, path):
    with _web(engine, "doctor") as web:
        assert web.get(BASE + path).status_code == 403


def test_unknown_records_are_404_and_a_bad_filter_400(engine, now):
    with _web(engine, "health_inspector") as web:
        assert web.get(BASE + "/facilities/no-such-facility").status_code == 404
        assert web.get(BASE + "/plans/no-such-plan").status_code == 404
        assert web.get(BASE + "/inspections/no-such").status_code == 404
        assert web.get(BASE + "/facilities", params={"kind": "<casino>"}).status_code == 400
        assert web.get(BASE + "/findings", params={"state": "lost"}).status_code == 400


def test_the_api_registers_inspects_and_answers_errors_as_json(client, engine):
    # Real time here: bearer tokens are checked against the real clock.
    make_user(engine, "health_inspector", username="health.inspector")
    inspector = user_token("health_inspector", name="health.inspector")
    made = client.post("/api/supervision/facilities", headers=inspector,
                       json={"kind": "water_supply", "name": "Hexi Water Works", "district": HEXI})
    assert made.status_code == 201
    facility = made.json()["id"]
    licence = client.post(f"/api/supervision/facilities/{facility}/licences", headers=inspector,
                          json={"number": "SW-1", "issued": "2024-01-01"})
    assert licence.status_code == 201 and licence.json()["expires"] == "2028-01-01"
    answers = {"water-chlorine-outlet": "fail", "water-turbidity": "pass"}
    done = client.post(f"/api/supervision/facilities/{facility}/inspections", headers=inspector,
                       json={"inspected_on": "2026-03-01", "kind": "follow-up", "results": answers})
    assert done.status_code == 201 and done.json()["findings"][0]["rectify_by"] == "2026-03-04"
    assert client.get("/api/supervision/findings", headers=inspector).json()[0]["item_id"] == "water-chlorine-outlet"
    assert client.get("/api/supervision/dashboard", headers=inspector).json()["findings"]["open"] == 1
    bad = client.post("/api/supervision/facilities", headers=inspector, json={"kind": "school", "name": "x" * 201,
                                                                               "district": HEXI})
    assert bad.status_code == 400 and bad.json()["field"] == "name"
    assert client.post("/api/supervision/facilities", headers=inspector, content=b"[1,2").status_code == 400
    assert client.get("/api/supervision/facilities/nope", headers=inspector).status_code == 404
    officer = client.post("/api/supervision/facilities", headers=user_token("public_health_officer"),
                          json={"kind": "school", "name": "S", "district": HEXI})
    assert officer.status_code == 403 and officer.json()["error"] == "forbidden"
    assert client.get("/api/supervision/facilities", headers=user_token("doctor")).status_code == 403


def test_every_page_speaks_chinese_and_the_findings_list_offers_the_follow_up(engine, venue):
    with _web(engine, "health_inspector", username="insp.zhao") as web:
        form = web.get(f"{BASE}/facilities/{venue['id']}/inspect")
        data = {"csrf_token": form_token(form), "inspected_on": "2026-03-01", "kind": "follow-up",
                "result-venue-licence": "fail"}
        inspection = web.get(web.post(f"{BASE}/facilities/{venue['id']}/inspect", data=data).headers["location"])
        plans = web.get(BASE + "/plans")
        web.post(BASE + "/plans", data={"csrf_token": form_token(plans), "name": "春季检查", "starts": "2026-03-01",
                                        "ends": "2026-05-31", "kinds": ["public_venue"], "inspectors": "insp.zhao"})
        pages = {path: web.get(BASE + path, params={"lang": "zh-Hans"}) for path in (
            "/facilities", f"/facilities/{venue['id']}", "/plans", "/findings", "/facilities/new",
            inspection.url.path.removeprefix(BASE))}
        plan_path = next(a for a in pages["/plans"].text.split('"') if a.startswith(BASE + "/plans/"))
        pages[plan_path] = web.get(plan_path, params={"lang": "zh-Hans"})
        home = web.get("/console")
    for path, page in pages.items():
        assert page.status_code == 200, path
        assert "卫生监督" in page.text or "监管对象" in page.text, path
    assert "登记复查" in pages["/findings"].text and "待整改" in pages["/findings"].text
    assert "春季检查" in pages[plan_path].text and "复查" in pages[inspection.url.path.removeprefix(BASE)].text
    assert 'href="/console/supervision"' in home.text


def test_an_inspector_revokes_a_licence_from_the_facility_page_giving_a_reason(engine, venue):
    with unit_of_work(engine) as conn:
        licence = registry.list_facilities(conn, ctx=INSPECTOR)[0]["licence"]
    path = f"{BASE}/facilities/{venue['id']}/licences/{licence['id']}/revoke"
    with _web(engine, "health_inspector") as web:
        token = form_token(web.get(f"{BASE}/facilities/{venue['id']}"))
        empty = web.post(path, data={"csrf_token": token, "reason": "  "}, params={"lang": "zh-Hans"})
        elsewhere = web.post(f"{BASE}/facilities/other/licences/{licence['id']}/revoke",
                             data={"csrf_token": token, "reason": "x"})
        done = web.post(path, data={"csrf_token": token, "reason": "Forged certificate <i>again</i>"})
        shown = web.get(done.headers["location"])
    assert empty.status_code == 400 and "此项必填。" in empty.text and elsewhere.status_code == 404
    assert "许可证已吊销。" in shown.text and "Forged certificate &lt;i&gt;again&lt;/i&gt;" in shown.text
