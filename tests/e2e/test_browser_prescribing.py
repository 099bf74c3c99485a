"""A doctor's visit in a real browser: open the chart (with its decision support), write and sign a note,
prescribe a drug that interacts with one the patient takes, see the critical card, override it with a
reason and sign; the pharmacist then finds the prescription with the override."""

import uuid

import pytest

from smartcare.platform.db import unit_of_work
from smartcare.platform.security import users
from tests.e2e.steps import sign_in
from tests.hospital.cds.prescribing_record import write_record

PASSWORD = "Cedar-Lantern-Harbour-58"


@pytest.fixture
def clinic(e2e_engine):
    """Mrs Wang's record (on warfarin, allergic to penicillin) and a doctor and pharmacist of her hospital."""
    tag = uuid.uuid4().hex[:6]
    write_record()
    with unit_of_work(e2e_engine) as conn:
        users.create_user(conn, username=f"dr.li.{tag}", password=PASSWORD, role="doctor",
                          fhir_ref="Practitioner/prac-li", organization="Organization/org-h")
        users.create_user(conn, username=f"rx.chen.{tag}", password=PASSWORD, role="pharmacist",
                          organization="Organization/org-h")
    return tag


def test_a_doctor_documents_prescribes_overrides_an_interaction_and_signs(page, browser, base_url, clinic):
    sign_in(page, f"dr.li.{clinic}", PASSWORD)
    page.goto("/workstation/patients/p-wang")
    assert "warfarin" in page.locator("#medications").inner_text().lower()
    assert "HbA1c overdue" in page.locator(".chart-cds").inner_text()

    # Write the visit's note, code the diagnosis by searching ICD-10, and sign it.
    page.get_by_role("button", name="Write a note").click()
    page.get_by_label("Chief complaint").fill("Knee pain for two weeks")
    page.get_by_label("History of present illness").fill("Pain in the right knee after walking, no trauma.")
    page.get_by_label("Allergies").fill("Penicillin (rash)")
    page.get_by_label("Physical examination").fill("Right knee: crepitus, no effusion.")
    page.get_by_label("Find an ICD-10 diagnosis (code, English, Chinese or pinyin)").fill("M17")
    page.get_by_role("button", name="Search", exact=True).click()
    page.locator("button.note-icd-add").first.click()
    page.get_by_role("button", name="Save draft").click()
    page.get_by_role("button", name="Sign the note").click()
    page.wait_for_load_state()
    assert "M17" in page.locator("main").inner_text()

    # Prescribe ibuprofen: it interacts with her warfarin, and the audit says so before signing.
    page.goto("/workstation/patients/p-wang")
    page.get_by_role("button", name="Prescribe").click()
    page.locator("input[name=line-1-medicine]").fill("ibuprofen")
    page.locator("input[name=line-1-dose]").fill("400")
    page.locator("select[name=line-1-frequency]").select_option("TID")
    page.locator("input[name=line-1-days]").fill("5")
    page.get_by_role("button", name="Add and check").click()
    card = page.locator(".rx-card-critical").first
    assert "Warfarin" in card.inner_text() or "warfarin" in card.inner_text()
    page.screenshot(path="/tmp/sc-e2e-rx-card.png", full_page=True)

    # Signing without a reason is refused; with one it goes through.
    page.get_by_role("button", name="Sign prescription").click()
    assert "must be fixed or overridden" in page.locator("main").inner_text()
    card = page.locator(".rx-card-critical").first
    card.locator("select").select_option("will-monitor")
    card.get_by_label("Comment").fill("INR checked on Friday")
    page.get_by_role("button", name="Sign prescription").click()
    assert "Prescription signed" in page.locator(".rx-signed").inner_text()

    # The pharmacist sees it first in the queue, marked as overridden, with the prescriber's reason.
    pharmacy = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-US", base_url=base_url).new_page()
    try:
        sign_in(pharmacy, f"rx.chen.{clinic}", PASSWORD)
        pharmacy.goto("/workstation/pharmacy")
        pharmacy.locator("table a").first.click()
        text = pharmacy.locator("main").inner_text()
        assert "Alerts overridden" in text and "INR checked on Friday" in text
    finally:
        pharmacy.context.close()
