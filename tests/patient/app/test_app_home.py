"""The app home: what matters now for the open record, every service one tap away with its name, and the
settings page (language on the account, large text in a cookie) with its checks."""

import re

import pytest

from smartcare.patient.app.services import SERVICES
from smartcare.platform import clock
from smartcare.platform.db import unit_of_work
from smartcare.platform.notifications import service as notifications
from tests.web_support import browser, form_token, make_user, sign_in

FHIR_JSON = {"Content-Type": "application/fhir+json"}


def _world() -> list[dict]:
    today = clock.now().date().isoformat()
    return [
        {"resourceType": "Patient", "id": "pa1", "name": [{"family": "Zhang", "given": ["Wei"]}]},
        {"resourceType": "Patient", "id": "pa2", "name": [{"family": "Wang", "given": ["Fang"]}]},
        {"resourceType": "Appointment", "id": "ap-pa1", "status": "booked", "start": f"{today}T23:00:00Z",
         "end": f"{today}T23:15:00Z", "serviceType": [{"text": "Cardiology clinic"}],
         "participant": [{"actor": {"reference": "Patient/pa1"}, "status": "accepted"}]},
        {"resourceType": "MedicationRequest", "id": "mr-pa1", "status": "active", "intent": "order",
         "subject": {"reference": "Patient/pa1"}, "medicationCodeableConcept": {"text": "Metformin 500 mg"},
         "dosageInstruction": [{"timing": {"repeat": {"timeOfDay": ["08:00:00", "20:00:00"]}}}]},
        {"resourceType": "MedicationRequest", "id": "mr-pa2", "status": "active", "intent": "order",
         "subject": {"reference": "Patient/pa2"}, "medicationCodeableConcept": {"text": "Salbutamol inhaler"},
         "dosageInstruction": [{"timing": {"code": {"coding": [{"code": "BID"}]}}}]},
        {"resourceType": "DiagnosticReport", "id": "dr-pa1", "status": "final", "code": {"text": "Lipid panel"},
         "subject": {"reference": "Patient/pa1"}, "issued": clock.format_instant(clock.now())},
    ]


@pytest.fixture
def world(client, engine):
    entries = [{"resource": r, "request": {"method": "PUT", "url": f"{r['resourceType']}/{r['id']}"}}
               for r in _world()]
    assert client.post("/fhir", json={"resourceType": "Bundle", "type": "transaction", "entry": entries},
                       headers=FHIR_JSON).status_code == 200
    user = make_user(engine, "patient")
    with unit_of_work(engine) as conn:
        for n in range(3):
            notifications.notify(conn, user_id=user.id, kind="news", title=f"Note {n}", body="Read me", link="/app")


def test_the_home_shows_what_matters_now_for_the_patient_and_nothing_of_another(engine, world):
    with browser() as web:
        sign_in(web, "patient.test")
        page = web.get("/app").text
    now = page[page.index('id="now-title"'):page.index('id="results-title"')]
    assert "Cardiology clinic" in now and "Metformin 500 mg: 08:00, 20:00" in now
    assert "Lipid panel" in now and "3 unread messages" in now
    assert "Salbutamol" not in page


def test_every_service_is_one_tap_from_the_home_with_an_accessible_name(engine, world):
    with browser() as web:
        sign_in(web, "patient.test")
        page = web.get("/app").text
    grid = page[page.index('id="grid-title"'):]
    for service in SERVICES:
        tile = re.search(rf'<a href="{re.escape(service.href)}"[^>]*>(.*?)</a>', grid, re.S)
        assert tile, service.href
        assert 'aria-hidden="true"' in tile.group(1)
        assert re.sub(r"<[^>]+>", "", tile.group(1)).strip() == service.label
    assert 'href="/app/record"' in grid and 'href="/app/settings"' in grid


def test_the_home_in_chinese(engine, world):
    with browser() as web:
        sign_in(web, "patient.test")
        page = web.get("/app?lang=zh-Hans").text
    assert "当前要事" in page and "全部服务" in page and "3 条未读消息" in page


def test_large_text_and_language_are_saved_and_apply_to_the_next_pages(engine, world):
    with browser() as web:
        sign_in(web, "patient.test")
        form = web.get("/app/settings")
        assert '<html lang="en">' in form.text
        saved = web.post("/app/settings", data={"csrf_token": form_token(form), "language": "zh-Hans",
                                                "text_size": "large"}, follow_redirects=False)
        assert saved.status_code == 303 and "sc_text=large" in saved.headers["set-cookie"]
        page = web.get("/app")
    assert '<html lang="zh-Hans" class="text-large">' in page.text
    with browser() as other_device:
        sign_in(other_device, "patient.test")
        assert '<html lang="zh-Hans">' in other_device.get("/app").text  # the language follows the account


@pytest.mark.parametrize("hostile", ["<script>alert(1)</script>", "en'; DROP TABLE users; --", "x" * 5000])
def test_settings_refuse_unknown_values_with_a_message_and_store_nothing(engine, world, hostile):
    with browser() as web:
        sign_in(web, "patient.test")
        form = web.get("/app/settings")
        answer = web.post("/app/settings", data={"csrf_token": form_token(form), "language": hostile,
                                                 "text_size": hostile})
    assert answer.status_code == 400 and "Choose a language and a text size." in answer.text
    assert "<script>alert(1)</script>" not in answer.text and "sc_text" not in answer.headers.get("set-cookie", "")


def test_settings_need_the_forms_csrf_token(engine, world):
    with browser() as web:
        sign_in(web, "patient.test")
        answer = web.post("/app/settings", data={"csrf_token": "forged", "language": "en", "text_size": "large"})
    assert answer.status_code == 403 and "sc_text" not in answer.headers.get("set-cookie", "")
