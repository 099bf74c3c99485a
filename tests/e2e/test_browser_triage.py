"""Triage in a real browser: a red-flag complaint goes to emergency with the first-aid guide and no booking; a sore
throat is offered ENT / internal medicine doctors with free slots and the patient books one. Screenshots at 390x844
in English and Chinese go to /tmp/sc-e2e-triage-*.png.
"""


import pytest

from smartcare.hospital.directory import conventions as dc
from tests.e2e.conftest import MOBILE
from tests.e2e.one_doctor_clinic import one_doctor_clinic
from tests.e2e.steps import sign_in

PASSWORD = "Jade-River-Compass-77"


@pytest.fixture
def ent_clinic(e2e_engine):
    """A hospital with an ENT doctor who has today's slots, and a patient account."""
    service = {"name": "ENT", "active": True,
               "type": [{"coding": [{"system": dc.DEPARTMENT_SYSTEM, "code": "ent", "display": "ENT"}],
                         "text": "耳鼻咽喉科"}]}
    with one_doctor_clinic(e2e_engine, PASSWORD, service=service, doctor=("Lin", "Tanqiao"), gender="female",
                           accounts=("patient",)) as ids:
        yield ids


def _phone(browser, base_url):
    return browser.new_context(viewport=MOBILE, device_scale_factor=1, is_mobile=True, has_touch=True,
                               locale="en-US", base_url=base_url).new_page()


def _answer_calmly(page, shots: str | None = None) -> None:
    """Answer each question screen: no to yes/no, 3 on the pain scale, the last choice, 2 for numbers."""
    for n in range(8):
        if page.locator("fieldset.tr-q").count() == 0:
            return
        if shots and n == 0:
            page.screenshot(path=shots, full_page=True)
        for box in page.locator("fieldset.tr-q").all():
            radios = box.locator("input[type=radio]")
            if box.locator("input[value=no]").count():
                box.locator("input[value=no]").check()
            elif box.locator("input[value='3']").count():
                box.locator("input[value='3']").check()
            elif radios.count():
                radios.nth(radios.count() - 2).check()
            else:
                box.locator("input[type=text]").fill("2")
        page.locator("form button[type=submit]").click()
        page.wait_for_load_state()


def test_chest_pain_and_sweating_goes_to_emergency_with_the_heart_attack_guide_and_no_booking(browser, base_url):
    phone = _phone(browser, base_url)
    try:
        phone.goto("/app/triage")
        phone.get_by_label("What is the problem?").fill("chest pain and sweating")
        phone.get_by_role("button", name="Continue").click()
        phone.wait_for_load_state()
        assert phone.get_by_role("heading", name="This may be an emergency").is_visible()
        assert phone.locator("a[href='tel:120']").first.is_visible()
        guide = phone.locator("a[href='/app/first-aid/heart-attack']")
        assert guide.is_visible()
        assert phone.locator("a[href^='/app/book']").count() == 0
        guide.click()
        phone.wait_for_url("**/app/first-aid/heart-attack")
    finally:
        phone.context.close()


def test_sore_throat_is_offered_ent_doctors_and_the_patient_books_one(browser, base_url, ent_clinic):
    phone = _phone(browser, base_url)
    try:
        sign_in(phone, f"mei.{ent_clinic['tag']}", PASSWORD)
        phone.goto("/app/triage")
        phone.get_by_label("What is the problem?").fill("sore throat for 3 days")
        phone.get_by_role("button", name="Continue").click()
        phone.wait_for_load_state()
        _answer_calmly(phone)
        assert phone.get_by_role("heading", name="Your result").is_visible()
        assert phone.get_by_role("heading", name="ENT").first.is_visible() or \
            phone.get_by_role("heading", name="Internal Medicine").first.is_visible()
        # This clinic's own Lin Tanqiao (the sore-throat journey's clinic has one too): the slot ids name the role.
        doctor = phone.locator(f"a.tr-doctor[href*='slot-{ent_clinic['role']}-']", has_text="Tanqiao")
        assert doctor.is_visible()
        doctor.click()
        phone.wait_for_url("**/app/book/confirm**")
        phone.get_by_role("button", name="Book this time").click()
        phone.wait_for_url("**/app/visits/**")
        assert "Tanqiao" in phone.locator("main").inner_text()
        phone.goto("/app/triage/history")
        assert "sore throat for 3 days" in phone.locator("main").inner_text()
    finally:
        phone.context.close()


@pytest.mark.parametrize("lang", ["en", "zh-Hans"])
def test_screens_at_phone_size(browser, base_url, lang):
    phone = _phone(browser, base_url)
    words = {"en": ("chest pain and sweating", "headache for 2 days"), "zh-Hans": ("胸口疼，出冷汗", "头痛两天")}[lang]
    try:
        phone.goto(f"/app/triage?lang={lang}")
        phone.screenshot(path=f"/tmp/sc-e2e-triage-complaint-{lang}.png", full_page=True)
        phone.locator("#triage-text").fill(words[1])
        phone.locator("input[name=age]").fill("35")
        phone.locator("form button[type=submit]").click()
        phone.wait_for_load_state()
        assert phone.locator("fieldset.tr-q").count() > 0
        _answer_calmly(phone, shots=f"/tmp/sc-e2e-triage-questions-{lang}.png")
        assert phone.locator(".tr-level").is_visible()
        phone.screenshot(path=f"/tmp/sc-e2e-triage-routine-{lang}.png", full_page=True)
        phone.goto(f"/app/triage?lang={lang}")
        phone.locator("#triage-text").fill(words[0])
        phone.locator("form button[type=submit]").click()
        phone.wait_for_load_state()
        assert phone.locator(".tr-emergency").is_visible()
        phone.screenshot(path=f"/tmp/sc-e2e-triage-emergency-{lang}.png", full_page=True)
    finally:
        phone.context.close()
