"""On a phone (360 and 390 px wide) the "Ask a doctor" page keeps each choice's words and its note apart: the kind
of consultation with what it allows, the triage result with its date. Real Chromium on a live server."""

import pytest

from smartcare.fhir import store
from smartcare.platform.db import unit_of_work
from smartcare.platform.security.context import SYSTEM
from tests.patient.booking.test_booking_phone_layout import PHONES, SHOTS, check_choices, chromium  # noqa: F401
from tests.support import live_server
from tests.web_support import PASSWORD, make_user

TRIAGE = {"resourceType": "QuestionnaireResponse", "id": "triage-p1", "status": "completed",
          "subject": {"reference": "Patient/p1"}, "authored": "2026-03-01T23:40:00Z",
          "questionnaire": "https://smartcare.example/fhir/Questionnaire/triage",
          "item": [{"linkId": "complaint", "answer": [{"valueString": "Headache and dizziness since this morning"}]}]}


@pytest.fixture
def patient(engine, hospital):
    with unit_of_work() as conn:
        store.update(conn, SYSTEM, TRIAGE, res_type="QuestionnaireResponse", res_id=TRIAGE["id"])
    make_user(engine, "patient", "p1.layout", fhir_ref="Patient/p1")


@pytest.mark.parametrize("phone", PHONES)
@pytest.mark.parametrize("lang", ["en", "zh-Hans"])
def test_the_ask_a_doctor_choices_keep_their_notes_apart_on_a_phone(chromium, patient, phone, lang):  # noqa: F811
    SHOTS.mkdir(parents=True, exist_ok=True)
    with live_server("consultation-layout") as url:
        context = chromium.new_context(viewport=PHONES[phone], device_scale_factor=2, is_mobile=True,
                                       has_touch=True, locale="en-US", base_url=url)
        try:
            page = context.new_page()
            page.goto("/login")
            page.get_by_label("Username").fill("p1.layout")
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_load_state()
            page.goto(f"/app/consultations/new?lang={lang}")
            check_choices(page, ".consult fieldset label")
            page.screenshot(path=str(SHOTS / f"consultation-new-{phone}-{lang}.png"), full_page=True)
        finally:
            context.close()
