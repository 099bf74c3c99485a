"""Journey 3 of the patient app (issue 14), in real browsers: a daughter manages her elderly father's account.

Mr Wang (85, living alone) gives his daughter's own SmartCare account access to his record from his phone; she is
told in her inbox, switches to him at the top of My health, books a visit with his family doctor for him, reads his
released blood tests explained, and his medicines for today in the app and in the family view. The centre's nurse
puts him on the elderly-alone home monitoring plan with his daughter as the designated family caregiver (through
the monitoring API the workstation's session may call: the workstation has no page for it); his wearable detector
reports a fall, and the notice arrives on her open inbox at once, leading to the family view's emergency card with
"Call 120". Everything she read of his record is in the audit trail as done on his behalf.
"""

import re
from datetime import timedelta

from playwright.sync_api import expect

from smartcare.fhir import gateway
from smartcare.platform import audit
from smartcare.platform.audit.service import on_behalf_of_patient
from smartcare.platform.db import unit_of_work
from smartcare.platform.security import users
from smartcare.platform.security.context import SYSTEM
from tests.e2e.conftest import DESKTOP, MOBILE
from tests.e2e.journey_family_steps import (  # noqa: F401
    DAUGHTER,
    FATHER,
    GP,
    REPORT_TITLE,
    family,
    family_account_of,
    report_fall,
    shot,
)
from tests.e2e.journey_home_bp_steps import SHANGHAI, fits_the_phone
from tests.e2e.steps import new_tab, sign_in
from tests.web_support import PASSWORD

SEEN_WITHIN_MS = 15000
PHONE = {"viewport": MOBILE, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}


def _phone(browser, base_url, username):
    page = new_tab(browser, base_url, **PHONE)
    sign_in(page, username, PASSWORD)
    return page


def test_a_daughter_looks_after_her_fathers_record_books_for_him_and_receives_his_fall_alert(
        browser, base_url, e2e_engine, family):  # noqa: F811
    j = family
    father = _phone(browser, base_url, j.father_user)
    daughter = _phone(browser, base_url, j.daughter_user)
    nurse = None
    try:
        # Mr Wang lets his daughter's own account look after his record: her name, her user name, "my child".
        father.goto("/app/family-access")
        expect(father.get_by_role("heading", name=f"Who can look after {FATHER}'s record")).to_be_visible()
        father.get_by_label("Their name").fill(DAUGHTER)
        father.get_by_label("Their SmartCare user name").fill(j.daughter_user)
        father.get_by_label("They are").select_option(label="my child (son or daughter)")
        father.get_by_role("button", name="Give access").click()
        expect(father.get_by_role("status")).to_contain_text("They can now look after this record")
        granted = father.locator(".share-link").filter(has_text=DAUGHTER)
        expect(granted).to_contain_text("my child (son or daughter)")
        expect(granted).to_contain_text(j.daughter_user)
        fits_the_phone(father)
        shot(father, "01-father-gives-access")

        # She is told in her inbox, and the notice leads to the app.
        daughter.goto("/inbox")
        notice = daughter.locator("#inbox-list li").filter(has_text="look after a family member's health record")
        expect(notice).to_contain_text("choose their name at the top of My health")
        fits_the_phone(daughter)
        shot(daughter, "02-daughter-inbox-access")

        # She switches to him at the top of My health.
        daughter.goto("/app")
        switch = daughter.get_by_role("navigation", name="Whose record")
        expect(switch.get_by_role("link", name=f"{DAUGHTER} (me)")).to_have_attribute("aria-current", "page")
        expect(daughter.get_by_text("You are acting on behalf of")).to_have_count(0)
        switch.get_by_role("link", name=FATHER).click()
        expect(daughter.get_by_role("status").filter(has_text="acting on behalf")).to_contain_text(
            f"You are acting on behalf of {FATHER}. What you do here is recorded as done for them.")
        expect(daughter.locator("#person-name")).to_have_text(FATHER)
        expect(daughter.get_by_role("row").filter(has_text="Hemoglobin A1c").first).to_contain_text("7.9 %")
        fits_the_phone(daughter)
        shot(daughter, "03-daughter-switched-home")

        # She books a visit with his family doctor: the booking is for him, not her.
        daughter.get_by_role("link", name="Find a doctor").click()
        daughter.get_by_label("Name, department or symptom").fill(GP)
        daughter.get_by_role("button", name="Search").click()
        daughter.get_by_role("link", name=re.compile(GP)).first.click()
        daughter.get_by_role("link", name="Book an appointment").click()
        daughter.wait_for_url("**/app/book/slots**")
        daughter.locator("a.slot").first.click()
        daughter.wait_for_url("**/app/book/confirm**")
        whom = daughter.get_by_role("group", name="Who is the visit for?")
        expect(whom.get_by_role("radio", name=FATHER)).to_be_checked()
        expect(whom.get_by_role("radio", name=DAUGHTER)).not_to_be_checked()
        fits_the_phone(daughter)
        shot(daughter, "04-daughter-books-for-him")
        daughter.get_by_role("button", name="Book this time").click()
        daughter.wait_for_url("**/app/visits/**")
        expect(daughter.get_by_role("heading", name="Your visit is booked")).to_be_visible()
        summary = daughter.locator(".booking-summary")
        expect(summary).to_contain_text(FATHER)
        expect(summary).to_contain_text(GP)
        fits_the_phone(daughter)
        shot(daughter, "05-daughter-visit-booked")
        booked = daughter.url.rsplit("/", 1)[1]
        appointment = gateway.read(SYSTEM, f"Appointment/{booked}")
        patients = {p["actor"]["reference"] for p in appointment["participant"]
                    if p["actor"]["reference"].startswith("Patient/")}
        assert patients == {f"Patient/{j.father}"}

        # His lab reports: the page opens his (the choice carries over), and the blood tests explained.
        daughter.goto("/app/reports")
        whose = daughter.get_by_role("navigation", name="Whose reports")
        expect(whose.get_by_role("link", name=FATHER)).to_have_attribute("aria-current", "page")
        # Released yesterday morning, dated by the region's day (07:30 in Shanghai is the day before in UTC).
        yesterday = (j.clock() - timedelta(days=1)).astimezone(SHANGHAI).date().isoformat()
        expect(daughter.locator(".lab-report-list li").filter(has_text=REPORT_TITLE)).to_contain_text(yesterday)
        fits_the_phone(daughter)
        shot(daughter, "06-daughter-his-reports")
        daughter.get_by_role("link", name=REPORT_TITLE).click()
        daughter.wait_for_url(f"**/app/reports/{j.report}")
        hba1c = daughter.locator(".lab-result").filter(has_text="HbA1c")
        expect(hba1c).to_contain_text("High")
        expect(hba1c).to_contain_text("7.9")
        expect(hba1c.locator("figcaption")).to_contain_text("7.1")  # his spring result, on the trend
        expect(daughter.locator(".lab-advice")).to_contain_text("see your doctor soon")
        fits_the_phone(daughter)
        shot(daughter, "07-daughter-his-report-explained")

        # His medicines today (and his reminders' times), in the app and in the family view.
        daughter.goto("/app/medication")
        expect(daughter.get_by_role("navigation", name="Whose medicines").get_by_role(
            "link", name=FATHER)).to_have_attribute("aria-current", "page")
        amlodipine = daughter.locator(".med-dose").filter(has_text="Amlodipine")
        expect(amlodipine).to_contain_text("08:00")
        expect(amlodipine).to_contain_text("Not taken yet")
        expect(daughter.locator(".med-dose").filter(has_text="Metformin")).to_have_count(2)
        fits_the_phone(daughter)
        shot(daughter, "08-daughter-his-medicines")
        daughter.goto("/app/family")
        card = daughter.locator(f"#person-{j.father}")
        expect(card.get_by_role("heading", name=FATHER)).to_be_visible()
        expect(card.locator(f"#doses-{j.father}").locator("..")).to_contain_text("Amlodipine")
        expect(card.locator(f"#supply-{j.father}").locator("..")).to_contain_text("days left")
        expect(daughter.locator(f"#person-{j.daughter}")).to_have_count(0)
        fits_the_phone(daughter)
        shot(daughter, "09-daughter-family-view")

        # The centre's nurse puts him on the elderly-alone plan with his daughter as the designated caregiver.
        nurse = new_tab(browser, base_url, viewport=DESKTOP)
        sign_in(nurse, j.nurse_user, PASSWORD)
        nurse.goto(f"/workstation/monitoring/patients/{j.father}")
        expect(nurse.locator("main")).to_contain_text(FATHER)
        with unit_of_work(e2e_engine) as conn:
            nurse_ctx = users.context_for(users.get_by_username(conn, username=j.nurse_user))
        her = family_account_of(nurse_ctx, j.father, j.daughter_user_id)
        csrf = nurse.locator("meta[name=csrf-token]").get_attribute("content")
        answer = nurse.request.post("/api/v1/monitoring/plans", headers={"X-CSRF-Token": csrf}, data={
            "patient": j.father, "template": "elderly-alone", "caregivers": [f"RelatedPerson/{her['id']}"],
            "care_teams": [f"CareTeam/{j.team}"]})
        assert answer.status == 201, answer.text()
        assert answer.json()["contributor"] == [{"reference": f"RelatedPerson/{her['id']}"}]
        nurse.reload()
        expect(nurse.get_by_role("heading", name="Elderly living alone")).to_be_visible()
        shot(nurse, "10-nurse-plan-with-caregiver")

        # His detector reports a fall; the notice arrives on her open inbox without a reload.
        daughter.goto("/inbox")
        expect(daughter.locator("#inbox-list li")).to_have_count(1)
        report_fall(e2e_engine, j.detector, 1)
        arrived = daughter.locator("#inbox-list li").filter(has_text="Home monitoring alert")
        expect(arrived).to_contain_text(f"{FATHER}: Fall detected", timeout=SEEN_WITHIN_MS)
        expect(daughter.locator("#inbox-unread strong")).to_have_text("2")
        fits_the_phone(daughter)
        shot(daughter, "11-daughter-fall-alert-live")

        # The notice leads to his card in the family view: the emergency, and the button to call 120.
        arrived.get_by_role("link", name="Home monitoring alert").click()
        daughter.wait_for_url(f"**/app/family?person={j.father}")
        emergency = daughter.locator(f"#person-{j.father}").get_by_role("alert")
        expect(emergency).to_contain_text("Emergency alert: call the emergency number 120 now.")
        expect(emergency.get_by_role("link", name="Call 120")).to_have_attribute("href", "tel:120")
        expect(daughter.locator(f"#alerts-{j.father}").locator("..")).to_contain_text("Fall detected")
        fits_the_phone(daughter)
        shot(daughter, "12-daughter-family-view-emergency")

        # The same two pages in Chinese.
        daughter.goto("/app?lang=zh-Hans")
        expect(daughter.get_by_role("status").filter(has_text="代")).to_contain_text(f"您正在代{FATHER}操作")
        fits_the_phone(daughter)
        shot(daughter, "13-daughter-switched-home-zh")
        daughter.goto(f"/app/family?person={j.father}")
        emergency = daughter.locator(f"#person-{j.father}").get_by_role("alert")
        expect(emergency).to_contain_text("紧急警报：请立即拨打急救电话 120。")
        expect(emergency.get_by_role("link", name="拨打120")).to_have_attribute("href", "tel:120")
        fits_the_phone(daughter)
        shot(daughter, "14-daughter-family-view-zh")

        # The audit trail: each of her reads of his record names him as the person she acted for.
        with unit_of_work(e2e_engine) as conn:
            for_him = [e["event"] for e in audit.search(conn, patient=f"Patient/{j.father}", limit=1000)
                       if e["event"]["agent"][0].get("altId") == j.daughter_user_id]
            own = [e["event"] for e in audit.search(conn, patient=f"Patient/{j.daughter}", limit=1000)
                   if e["event"]["agent"][0].get("altId") == j.daughter_user_id]
        assert for_him and own
        assert all(on_behalf_of_patient(e) == f"Patient/{j.father}" for e in for_him)
        assert all(on_behalf_of_patient(e) is None for e in own)
        opened = {entity["what"]["reference"] for e in for_him for entity in e.get("entity", []) if "what" in entity}
        assert f"DiagnosticReport/{j.report}" in opened
        assert f"Appointment/{booked}" in opened
    finally:
        for page in (father, daughter, nurse):
            if page is not None:
                page.context.close()
