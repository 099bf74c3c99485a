"""The patient's hospital pages: information, services search, nearest hospitals, directions, in both languages."""

import re

import pytest

from tests.web_support import browser


@pytest.fixture
def web(region):
    with browser() as client:
        yield client


def test_the_hospital_list_shows_every_organisation_with_a_phone_link_in_both_languages(web):
    english = web.get("/app/hospitals")
    assert english.status_code == 200
    assert "Riverside City First People&#39;s Hospital" in english.text and 'href="tel:0599-86120000"' in english.text
    assert english.text.count('href="/app/hospitals/org-') >= 5
    chinese = web.get("/app/hospitals?lang=zh-Hans")
    assert "滨河市第一人民医院" in chinese.text and "医院和卫生服务中心" in chinese.text


@pytest.mark.parametrize(("query", "expected"), [("parking", "Underground car park"), ("停车", "地下停车场"),
                                                  ("ATM", "Bank ATMs"), ("药房", "门诊药房")])
def test_the_services_around_the_hospitals_are_searchable(web, query, expected):
    lang = "zh-Hans" if not query.isascii() else "en"
    page = web.get("/app/hospitals", params={"q": query, "lang": lang})
    assert page.status_code == 200 and expected in page.text


def test_a_hospital_page_has_address_phone_hours_emergency_departments_and_services(web):
    page = web.get("/app/hospitals/org-hosp-1")
    assert page.status_code == 200
    for shown in ("1 Jiefang Road", 'href="tel:0599-86120000"', "08:00–12:00", "14:00–17:30",
                  "Emergency department: open 24 hours, every day", "Underground car park",
                  '/app/hospitals/org-hosp-1/directions?to=cardiology'):
        assert shown in page.text, shown
    centre = web.get("/app/hospitals/org-chc-3?lang=zh-Hans&q=parking")
    assert "湖滨公共停车场" in centre.text and "急诊科：" not in centre.text


def test_directions_give_numbered_steps_and_a_floor_plan_for_each_floor(web):
    page = web.get("/app/hospitals/org-hosp-1/directions", params={"to": "gastroenterology"})
    assert page.status_code == 200
    assert "Take the escalator up to floor 2." in page.text and "Gastroenterology is on your right." in page.text
    assert page.text.count('class="nav-floor"') == 2 and "<polyline" in page.text
    chinese = web.get("/app/hospitals/org-hosp-1/directions", params={"to": "gastroenterology", "lang": "zh-Hans"})
    assert "乘自动扶梯上到2楼。" in chinese.text and "消化内科在您的右手边。" in chinese.text


def test_the_step_free_route_uses_the_lift_and_never_the_stairs_or_escalator(web):
    page = web.get("/app/hospitals/org-hosp-1/directions", params={"to": "gastroenterology", "accessible": "1"})
    steps = re.search(r'<ol class="nav-steps">(.*?)</ol>', page.text, re.S).group(1)
    assert "Take the lifts to floor 2." in steps
    assert "stairs" not in steps and "escalator" not in steps


def test_directions_can_start_from_another_department(web):
    page = web.get("/app/hospitals/org-chc-2/directions", params={"to": "stomatology", "from": "tcm"})
    assert page.status_code == 200 and "Start at Traditional Chinese Medicine" in page.text


@pytest.mark.parametrize("query", [{"to": "brain-surgery"}, {"to": "<script>x</script>"},
                                   {"to": "cardiology", "from": "roof"}, {"to": "public-health"}])
def test_unknown_destinations_get_a_clear_message_not_an_error(web, query):
    page = web.get("/app/hospitals/org-hosp-1/directions", params=query)
    assert page.status_code == 404 and "Choose one from the list" in page.text
    assert "<script>x" not in page.text


@pytest.mark.parametrize("path", ["/app/hospitals/org-nowhere", "/app/hospitals/org-nowhere/directions?to=ent",
                                  "/app/hospitals/" + "x" * 300])
def test_unknown_organisations_are_not_found(web, path):
    assert web.get(path).status_code == 404


def test_nearest_by_a_typed_street_lists_emergency_departments_and_hospitals_by_distance(web):
    page = web.get("/app/nearest", params={"address": "Jianshe Road 5"})
    assert page.status_code == 200 and "Showing distances from Jianshe Road." in page.text
    assert page.headers["cache-control"] == "no-store"
    listed = re.findall(r'<h3><a href="/app/hospitals/(org-[a-z0-9-]+)">', page.text)
    assert listed[:2] == ["org-hosp-2", "org-chc-2"] and len(listed) == 5
    assert "Waiting time not known" in page.text and "waiting now" not in page.text
    assert "You are here" in page.text


def test_nearest_from_a_browser_position_in_chinese(web):
    page = web.get("/app/nearest", params={"lat": "27.4045", "lon": "118.6202", "lang": "zh-Hans"})
    assert page.status_code == 200 and "以下为距您所在位置的距离。" in page.text
    assert re.findall(r'<h3><a href="/app/hospitals/(org-[a-z0-9-]+)">', page.text)[0] == "org-hosp-1"


@pytest.mark.parametrize("query", [{"lat": "abc", "lon": "1"}, {"lat": "95", "lon": "10"}, {"lat": "1", "lon": ""}])
def test_bad_coordinates_get_a_clear_message(web, query):
    page = web.get("/app/nearest", params=query)
    assert page.status_code == 400 and "That position could not be read." in page.text


def test_an_address_outside_the_region_gets_a_clear_message(web):
    page = web.get("/app/nearest", params={"address": "<b>Oxford Street</b>"})
    assert page.status_code == 200 and "We could not find" in page.text and "<b>Oxford" not in page.text


def test_directions_to_a_booked_visit_need_sign_in(web):
    done = web.get("/app/directions?visit=appt-1")
    assert done.status_code == 303 and done.headers["location"].startswith("/login")
