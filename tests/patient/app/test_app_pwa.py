"""The app as an installable web app: manifest, PNG icons, the service worker and what it pre-caches, the
offline page in both languages, the shell's files, and the account key that keeps offline pages apart."""

import json
import re
import struct

from smartcare.patient.app import icons
from tests.web_support import browser, make_user, sign_in


def test_the_manifest_makes_the_app_installable_in_the_readers_language():
    with browser() as web:
        english = web.get("/app/manifest.webmanifest?lang=en")
        chinese = web.get("/app/manifest.webmanifest?lang=zh-Hans").json()
    manifest = english.json()
    assert english.headers["content-type"].startswith("application/manifest+json")
    assert manifest["start_url"] == "/app" and manifest["scope"] == "/app" and manifest["display"] == "standalone"
    assert manifest["theme_color"] and manifest["background_color"] and manifest["short_name"]
    sizes = {(i["sizes"], i["purpose"]) for i in manifest["icons"]}
    assert {("192x192", "any"), ("512x512", "any"), ("512x512", "maskable")} <= sizes
    assert chinese["name"] != manifest["name"] and chinese["lang"] == "zh-Hans"


def _png_size(body: bytes) -> tuple[int, int]:
    assert body[:8] == b"\x89PNG\r\n\x1a\n" and body[12:16] == b"IHDR"
    return struct.unpack(">II", body[16:24])


def test_every_icon_in_the_manifest_is_a_png_of_its_stated_size():
    with browser() as web:
        for entry in web.get("/app/manifest.webmanifest").json()["icons"]:
            answer = web.get(entry["src"])
            assert answer.status_code == 200 and answer.headers["content-type"] == "image/png"
            side = int(entry["sizes"].split("x")[0])
            assert _png_size(answer.content) == (side, side)
        assert web.get("/app/icons/..%2Fsw.png").status_code == 404


def test_the_maskable_icon_keeps_its_cross_inside_the_safe_zone():
    # The cross of a maskable icon spans at most 80% of the width (the circle a launcher may cut it to).
    assert icons._CROSS_SHARE["maskable"] <= 0.8 * 0.8 / 1.0
    assert icons.icon_png(512, "maskable") != icons.icon_png(512, "any")


def test_the_service_worker_is_allowed_the_app_scope_and_precaches_shell_first_aid_and_offline_pages():
    with browser() as web:
        answer = web.get("/app/sw.js")
    assert answer.headers["service-worker-allowed"] == "/app"
    assert answer.headers["content-type"].startswith("text/javascript")
    precache = json.loads(re.search(r"const PRECACHE = (\[.*?\]);", answer.text).group(1))
    assert {"/app/offline?lang=en", "/app/offline?lang=zh-Hans", "/app/shell/app.js", "/app/shell/app.css",
            "/app/first-aid?lang=en", "/app/first-aid?lang=zh-Hans", "/app/first-aid/cpr-adult?lang=en"} <= set(precache)
    # Nothing personal is pre-cached: no home, no record, no account page.
    assert not [url for url in precache if url.split("?")[0] in ("/app", "/app/record", "/account")]
    assert "__VERSION__" not in answer.text and "__OFFLINE__" not in answer.text


def test_every_precached_url_answers():
    with browser() as web:
        precache = json.loads(re.search(r"const PRECACHE = (\[.*?\]);", web.get("/app/sw.js").text).group(1))
        failed = [url for url in precache if web.get(url).status_code != 200]
    assert failed == []


def test_the_offline_page_speaks_both_languages_and_points_to_what_still_works():
    with browser() as web:
        english = web.get("/app/offline?lang=en")
        chinese = web.get("/app/offline?lang=zh-Hans")
    assert english.status_code == 200 and "You are offline" in english.text
    assert 'href="/app/first-aid?lang=en"' in english.text and 'href="tel:120"' in english.text
    assert "您已离线" in chinese.text


def test_app_pages_link_the_manifest_and_load_the_shell_script_from_a_file(engine):
    with browser() as web:
        page = web.get("/app/offline?lang=en").text
        landing = web.get("/").text
    assert '<link rel="manifest" href="/app/manifest.webmanifest?lang=en">' in page
    assert re.search(r'<script src="/app/shell/app.js" defer data-register="1" data-signed-in="0">', page)
    assert "manifest.webmanifest" not in landing and 'data-register="0"' in landing
    assert not re.search(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>", page), "inline script"


def test_the_shell_files_are_revalidated_with_an_etag():
    with browser() as web:
        first = web.get("/app/shell/app.js")
        again = web.get("/app/shell/app.js", headers={"If-None-Match": first.headers["etag"]})
        styles = web.get("/app/shell/app.css")
    assert first.status_code == 200 and "serviceWorker" in first.text and first.headers["cache-control"] == "no-cache"
    assert again.status_code == 304 and styles.headers["content-type"].startswith("text/css")


def test_the_offline_key_is_per_account_and_needs_a_sign_in(engine):
    make_user(engine, "patient")
    make_user(engine, "patient", username="other.patient.test", fhir_ref="Patient/pa2")
    with browser() as stranger:
        assert stranger.get("/app/shell/who").status_code == 303
    keys = []
    for name in ("patient.test", "other.patient.test"):
        with browser() as web:
            sign_in(web, name)
            answer = web.get("/app/shell/who")
            assert answer.headers["cache-control"] == "no-store"
            keys.append(answer.json()["key"])
    assert keys[0] != keys[1] and len(keys[0]) == 32
