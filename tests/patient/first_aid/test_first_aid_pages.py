"""The first-aid pages: public, in both languages, one list item per step, pictures, 404s, and the offline files."""

import json
import re
import xml.etree.ElementTree as ET

import pytest
from fastapi.testclient import TestClient
from markupsafe import escape

from smartcare.knowledge import first_aid
from smartcare.patient.first_aid import views
from smartcare.platform.web.app import create_app

SVG = "{http://www.w3.org/2000/svg}"
LOCALES = ("en", "zh-Hans")


@pytest.fixture(scope="module")
def web() -> TestClient:
    return TestClient(create_app(), base_url="http://testserver", follow_redirects=False)


def _html(response) -> str:
    assert response.status_code == 200, response.text[:300]
    assert response.headers["content-type"].startswith("text/html")
    return response.text


@pytest.mark.parametrize("locale", LOCALES)
def test_list_shows_every_guide_most_urgent_first_with_the_call_button(web, locale):
    page = _html(web.get(f"/app/first-aid?lang={locale}"))
    assert f'<html lang="{locale}">' in page
    assert page.count('href="tel:120"') >= 2, "a call-120 button on the page and one fixed on screen"
    positions = [page.index(f'href="/app/first-aid/{p.key}?lang={locale}"') for p in first_aid.protocols()]
    assert positions == sorted(positions)
    for p in first_aid.protocols():
        assert str(escape(p.title(locale))) in page
    assert ("急救指南" in page) == (locale == "zh-Hans")


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("key", first_aid.PROTOCOL_KEYS)
def test_every_protocol_page_renders_all_steps_as_a_plain_list(web, key, locale):
    p = first_aid.protocol(key)
    page = _html(web.get(f"/app/first-aid/{key}?lang={locale}"))
    assert f"<h1 id=\"fa-title\">{p.title(locale)}</h1>" in page
    assert page.count('class="fa-step"') == len(p.steps)
    for number, step in enumerate(p.steps, start=1):
        assert f'id="step-{number}"' in page
        assert str(escape(step.text(locale))) in page
    for name in {s.picture for s in p.steps if s.picture}:
        assert f'src="/app/first-aid/pictures/{name}.svg"' in page
    assert 'href="tel:120"' in page and 'rel="manifest"' in page
    assert ('class="fa-metronome"' in page) == p.metronome
    assert str(escape(p.sources[0])) in page


def test_cpr_metronome_is_set_to_110_and_adjustable_from_100_to_120(web):
    page = _html(web.get("/app/first-aid/cpr-adult?lang=en"))
    rate = re.search(r'<input id="fa-rate"[^>]*>', page).group(0)
    assert 'min="100"' in rate and 'max="120"' in rate and 'value="110"' in rate
    assert "/ 30" in page and "Start metronome" in page


def test_pages_are_public(web):
    fresh = TestClient(create_app(), base_url="http://testserver", follow_redirects=False)
    assert fresh.get("/app/first-aid/stroke").status_code == 200
    assert fresh.get("/app/first-aid").status_code == 200


@pytest.mark.parametrize("key", [
    "unknown", "CPR-ADULT", "cpr-adult%00", "..%2F..%2Fetc%2Fpasswd", "%3Cscript%3Ealert(1)%3C%2Fscript%3E",
    "x" * 500, "cpr-adult.yaml", "sw.json",
])
def test_unknown_or_hostile_keys_get_the_404_page(web, key):
    response = web.get(f"/app/first-aid/{key}?lang=zh-Hans", headers={"accept": "text/html"})
    assert response.status_code == 404
    assert "找不到页面" in response.text
    assert "<script>alert" not in response.text


@pytest.mark.parametrize("name", first_aid.pictures() + [views.APP_ICON])
def test_every_picture_is_an_svg_with_a_title_and_is_served(web, name):
    path = views.STATIC_DIR / "pictures" / f"{name}.svg"
    root = ET.fromstring(path.read_text(encoding="utf-8"))
    assert root.tag == f"{SVG}svg" and root.get("viewBox")
    title = root.find(f"{SVG}title")
    assert title is not None and len(title.text.strip()) > 5
    response = web.get(f"/app/first-aid/pictures/{name}.svg")
    assert response.status_code == 200 and response.headers["content-type"] == "image/svg+xml"


def _baby_pictures() -> list[str]:
    infant_cpr = first_aid.protocol("cpr-infant")
    choking = first_aid.protocol("choking")
    names = [*infant_cpr.pictures(), *(s.picture for s in choking.steps if s.audience == "infant" and s.picture)]
    return list(dict.fromkeys(names))


def _picture_title(name: str) -> str:
    root = ET.fromstring((views.STATIC_DIR / "pictures" / f"{name}.svg").read_text(encoding="utf-8"))
    return root.find(f"{SVG}title").text.lower()


@pytest.mark.parametrize("name", _baby_pictures())
def test_no_baby_picture_shows_two_fingers(name):
    assert "two fingers" not in _picture_title(name) and "finger" not in name


def test_baby_compression_and_chest_thrust_pictures_show_the_heel_of_one_hand():
    pressing = [s for s in first_aid.protocol("cpr-infant").steps if "chest" in s.text_en and s.picture]
    pressing += [s for s in first_aid.protocol("choking").steps if "chest thrusts with" in s.text_en]
    assert len(pressing) == 3, [s.text_en for s in pressing]
    for step in pressing:
        assert "heel of one hand" in _picture_title(step.picture), step.picture


def test_the_old_two_finger_picture_is_gone(web):
    assert not (views.STATIC_DIR / "pictures" / "cpr-infant-fingers.svg").exists()
    assert web.get("/app/first-aid/pictures/cpr-infant-fingers.svg").status_code == 404


@pytest.mark.parametrize(("locale", "hand", "fingers"), [
    ("en", "heel of one hand", re.compile(r"two[- ]?fingers?", re.IGNORECASE)),
    ("zh-Hans", "掌根", re.compile(r"两根?手指|双指")),
])
def test_baby_cpr_and_choking_pages_show_heel_of_hand_steps_not_two_fingers(web, locale, hand, fingers):
    for key in ("cpr-infant", "choking"):
        page = _html(web.get(f"/app/first-aid/{key}?lang={locale}"))
        steps = page[page.index('<ol class="fa-steps">'):page.index("</ol>")]
        assert hand in steps and not fingers.search(steps), key
        assert "/pictures/cpr-infant-fingers.svg" not in page
    page = _html(web.get(f"/app/first-aid/cpr-infant?lang={locale}"))
    assert 'src="/app/first-aid/pictures/cpr-infant-hand.svg"' in page
    assert "2025 American Heart Association Guidelines" in page


def test_pictures_outside_the_allow_list_are_not_served(web):
    for name in ("nope", "..%2Fsw", "ICON"):
        assert web.get(f"/app/first-aid/pictures/{name}.svg").status_code == 404


def test_service_worker_precaches_every_page_in_both_languages_and_what_they_load(web):
    response = web.get("/app/first-aid/sw.js")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    assert response.headers["service-worker-allowed"] == "/app/first-aid"
    script = response.text
    assert f'PREFIX + "{views.cache_version()}"' in script, "the cache is named for this build's version"
    listed = json.loads(re.search(r"const PRECACHE = (\[.*?\]);", script).group(1))
    for locale in LOCALES:
        assert f"/app/first-aid?lang={locale}" in listed
        for key in first_aid.PROTOCOL_KEYS:
            assert f"/app/first-aid/{key}?lang={locale}" in listed
    for name in first_aid.pictures():
        assert f"/app/first-aid/pictures/{name}.svg" in listed
    page = web.get("/app/first-aid/cpr-adult?lang=en").text
    loaded = re.findall(r'(?:href|src)="(/(?:static|app/first-aid)/[^"]+\.(?:css|js|svg)[^"]*)"', page)
    assert loaded and set(loaded) <= set(listed), "everything the page loads is cached for offline use"
    for url in listed:
        assert web.get(url).status_code == 200, url


def test_web_app_manifest_in_each_language(web):
    for locale, name in (("en", "SmartCare first aid"), ("zh-Hans", "SmartCare 急救指南")):
        manifest = web.get(f"/app/first-aid/manifest.webmanifest?lang={locale}").json()
        assert manifest["name"] == name and manifest["lang"] == locale
        assert manifest["scope"] == "/app/first-aid" and manifest["start_url"] == f"/app/first-aid?lang={locale}"
        assert manifest["icons"][0]["src"] == "/app/first-aid/pictures/icon.svg"
