"""Journey 2 of the patient app (issue 14), in real browsers: a hypertensive resident's home blood pressure monitor
sends high readings; nurse Lu sees the alert arrive on her open monitoring dashboard and takes it on; Mr Zhou asks his
family doctor for an online follow-up from his phone; Dr Wen starts a video visit and admits him (media flows both
ways), adds losartan to his amlodipine with an online prescription, closes the alert and the consultation and renews
his prevention programme; once the pharmacist has checked the prescription, his phone shows the new medicine in
today's schedule, its 08:00 reminder, the renewed programme and the home page's medicines.

The online prescription reaches his schedule once the centre's pharmacist has checked it (his phone says it waits
for that check until then). A nurse may start a video visit with him too (tests/hospital/video), but prescribing
stays with doctors, so here the nurse triages and the family doctor on the same care team acts.
"""

import re
from datetime import timedelta

from playwright.sync_api import expect

from smartcare.family.medication import reminders
from smartcare.fhir import gateway
from smartcare.platform.security.context import SYSTEM
from tests.e2e.conftest import DESKTOP, MOBILE
from tests.e2e.journey_home_bp_steps import connect_video_visit, fits_the_phone, journey, run_jobs, shot  # noqa: F401
from tests.e2e.steps import new_tab, sign_in
from tests.e2e.test_browser_monitoring_live import _send as send_frame
from tests.hospital.video.test_video_browser import chromium  # noqa: F401
from tests.web_support import PASSWORD

SEEN_WITHIN_MS = 15000
QUESTION = "My monitor read 186/116 this morning. Nurse Lu asked me to see Dr Wen online."
NURSE_NOTE = "Phoned Mr Zhou: headache, no chest pain or weakness. Asked him to request a video follow-up with Dr Wen."
VISIT_NOTES = "Home BP 172/104 and 186/116 on amlodipine 5 mg; headache, no red flags. Add losartan 50 mg daily."
SUMMARY = "Home blood pressure 186/116 on amlodipine 5 mg, without signs of organ damage."
ADVICE = "Take losartan 50 mg every morning with your amlodipine; measure morning and evening; video review in 2 weeks."


def _desktop(chromium, base_url, username):  # noqa: F811
    page = new_tab(chromium, base_url, viewport=DESKTOP)
    sign_in(page, username, PASSWORD)
    return page


def test_high_home_readings_lead_to_a_video_visit_a_new_medicine_and_an_updated_plan_on_the_phone(
        chromium, base_url, e2e_engine, journey):  # noqa: F811
    j = journey
    nurse = _desktop(chromium, base_url, j.nurse_user)
    phone = new_tab(chromium, base_url, viewport=MOBILE, device_scale_factor=2, is_mobile=True, has_touch=True)
    doctor = None
    try:
        # The nurse keeps the monitoring dashboard open; the monitor's morning readings arrive without a reload.
        nurse.goto("/workstation/monitoring?refresh=3")
        row = nurse.locator("#mon-live").get_by_role("row", name="Zhou Jianguo")
        expect(row).to_contain_text("No readings yet")
        send_frame(e2e_engine, j.device, 1, 172, 104)
        expect(row).to_contain_text("172/104", timeout=SEEN_WITHIN_MS)
        j.clock.move_to(j.local_today("07:36"))  # he measures again a few minutes later
        send_frame(e2e_engine, j.device, 2, 186, 116)
        expect(row).to_contain_text("186/116", timeout=SEEN_WITHIN_MS)
        expect(row.get_by_role("cell").nth(1)).to_contain_text(re.compile("urgent", re.I), timeout=SEEN_WITHIN_MS)
        shot(nurse, "01-nurse-dashboard-alert")

        # She opens his page, phones him (headache, no chest pain) and takes the alert on.
        row.get_by_role("link", name="Zhou Jianguo").click()
        alert = nurse.locator("article.monitoring-alert").filter(has_text="186/116")
        expect(alert).to_contain_text("Urgent")
        acknowledge = alert.locator("form[action$='/acknowledge']")
        acknowledge.get_by_label("Note").fill(NURSE_NOTE)
        acknowledge.get_by_role("button", name="Acknowledge").click()
        expect(alert).to_contain_text("Acknowledged")
        shot(nurse, "02-nurse-alert-acknowledged")

        # On his phone the home page says so; he asks Dr Wen for an online follow-up of his hypertension.
        sign_in(phone, j.resident_user, PASSWORD)
        phone.goto("/app")
        now_card = phone.locator(".app-now")
        expect(now_card.get_by_role("alert")).to_contain_text("186/116")
        expect(now_card).to_contain_text("Amlodipine")
        fits_the_phone(phone)
        shot(phone, "03-phone-home-alert")
        phone.goto("/app/programme")
        expect(phone.get_by_text("Set by your doctor on")).to_contain_text(j.programme_set_on)
        shot(phone, "04-phone-programme-before")
        phone.goto("/app")
        phone.get_by_role("link", name="Online consultations").click()
        phone.get_by_role("link", name="Ask a doctor").click()
        phone.get_by_label("Whom to ask").select_option(f"doctor:{j.gp}")
        phone.get_by_label("Follow-up visit").check()
        expect(phone.get_by_label("The condition you are following up")).to_contain_text("Hypertension")
        phone.get_by_label("Your question").fill(QUESTION)
        fits_the_phone(phone)
        shot(phone, "05-phone-ask-the-doctor")
        phone.get_by_role("button", name="Send to the doctor").click()
        phone.wait_for_url("**/app/consultations/*")
        consultation = phone.url.rsplit("/", 1)[1]

        # Dr Wen picks it up and starts a video visit; Mr Zhou joins from the chat, and she admits him.
        doctor = _desktop(chromium, base_url, j.gp_user)
        doctor.goto("/workstation/consultations")
        doctor.get_by_role("row").filter(has_text="Zhou Jianguo").get_by_role("button", name="Pick up").click()
        doctor.wait_for_url(f"**/workstation/consultations/{consultation}")
        expect(doctor.locator(".consult-desk")).to_contain_text(QUESTION)
        doctor.get_by_role("button", name="Start video visit").click()
        doctor.wait_for_url("**/workstation/video/*")
        expect(doctor.locator("#vv-title")).to_contain_text("Zhou Jianguo")
        phone.reload()
        phone.get_by_role("link", name="Join video visit").click()
        phone.wait_for_url("**/app/video/*")
        connect_video_visit(doctor, phone)
        doctor.fill("#vv-notes", VISIT_NOTES)
        doctor.click("#vv-notes-form button[type=submit]")
        doctor.wait_for_function("() => document.getElementById('vv-notes-saved').textContent.length > 0")
        shot(doctor, "06-doctor-video-visit")
        shot(phone, "07-phone-video-visit")

        # During the call she adds losartan to his amlodipine with an online prescription, in a second tab.
        desk = doctor.context.new_page()
        desk.goto(f"/workstation/consultations/{consultation}")
        desk.get_by_role("link", name="Write an online prescription").click()
        desk.get_by_label("Medicine 1").fill("losartan")
        desk.get_by_label("Dose 1").fill("50")
        desk.get_by_label("Frequency 1").select_option("QD")
        desk.get_by_label("Days 1").fill("30")
        desk.get_by_role("button", name="Sign and send for review").click()
        expect(desk.locator(".rx-signed")).to_contain_text("Signed and sent for the pharmacist's review.")
        shot(desk, "08-doctor-online-prescription")

        doctor.once("dialog", lambda dialog: dialog.accept())
        doctor.click("#vv-end")
        phone.wait_for_function("() => document.getElementById('video-visit').dataset.state === 'ended'")

        # An online prescription takes effect once the pharmacist has checked it: until then his phone says so, and
        # losartan is in neither today's schedule nor his reminders.
        phone.goto("/app/medication")
        expect(phone.locator(".med-awaiting")).to_contain_text("Losartan")
        expect(phone.locator(".med-dose").filter(has_text="Losartan")).to_have_count(0)
        fits_the_phone(phone)
        shot(phone, "08b-phone-awaiting-the-pharmacist")
        pharmacist = _desktop(chromium, base_url, j.pharmacist_user)
        pharmacist.goto("/workstation/pharmacy")
        prescription = pharmacist.get_by_role("row").filter(has_text="Zhou Jianguo")
        expect(prescription).to_contain_text("Losartan")
        expect(prescription).to_contain_text("50 mg QD oral")
        expect(prescription).to_contain_text("Wen Jing")
        expect(prescription).not_to_contain_text("Patient/")
        shot(pharmacist, "08c-pharmacist-queue")
        prescription.get_by_role("link").first.click()
        pharmacist.get_by_role("button", name="Accept for dispensing").click()
        expect(pharmacist.get_by_role("heading", name="Dispense")).to_be_visible()
        pharmacist.context.close()

        # She closes the consultation with her advice, and the alert with the action taken.
        desk.goto(f"/workstation/consultations/{consultation}")
        desk.get_by_label("Summary").fill(SUMMARY)
        desk.get_by_label("Advice").fill(ADVICE)
        desk.get_by_label("Diagnosis (ICD-10, follow-up only)").fill("I10")
        desk.get_by_role("button", name="Close the consultation").click()
        expect(desk.locator("#chat-status")).to_have_text("Ended")
        desk.goto(f"/workstation/monitoring/patients/{j.patient}")
        alert = desk.locator("article.monitoring-alert").filter(has_text="186/116")
        closing = alert.locator("form[action$='/close']")
        closing.get_by_label("Action").select_option("video-visit")
        closing.get_by_label("Note").fill("Video visit: losartan 50 mg daily added to amlodipine 5 mg.")
        closing.get_by_role("button", name="Close alert").click()
        expect(alert).to_contain_text("Action: Video visit")
        shot(desk, "09-doctor-alert-closed")

        # She renews his prevention programme from the record as it stands now.
        desk.goto(f"/workstation/patients/{j.patient}/risk")
        desk.get_by_role("button", name="Draft a new programme from the record").click()
        expect(desk.get_by_role("heading", name="Draft for your review")).to_be_visible()
        referral = desk.get_by_label(re.compile("See a doctor today"))
        referral.uncheck()  # he has just seen her
        shot(desk, "10-doctor-programme-draft")
        desk.get_by_role("button", name="Activate programme").click()
        expect(desk.get_by_role("status")).to_contain_text("The programme is active.")

        # His phone: today's medicines now include losartan at 08:00, not taken yet.
        phone.goto("/app/medication")
        losartan = phone.locator(".med-dose").filter(has_text="Losartan")
        expect(losartan).to_contain_text("08:00")
        expect(losartan).to_contain_text("50 mg")
        expect(losartan).to_contain_text("Not taken yet")
        expect(phone.locator(".med-dose").filter(has_text="Amlodipine")).to_contain_text("5 mg")
        fits_the_phone(phone)
        shot(phone, "11-phone-medicines-today")

        # The worker plans his reminders; at 08:00 the reminder of the new medicine reaches him.
        requests = {r["id"] for r in gateway.search(SYSTEM, "MedicationRequest", [
            ("subject", f"Patient/{j.patient}"), ("status", "active")])}
        assert run_jobs(e2e_engine, reminders.PLAN_JOB, lambda p: p.get("request") in requests) >= 1
        j.clock.move_to(j.local_today("08:00") + timedelta(seconds=5))
        assert run_jobs(e2e_engine, reminders.REMIND_JOB, lambda p: p.get("patient") == j.patient) == 2
        phone.goto("/inbox")
        # The prescription the doctor signed in the consultation reached him too, apart from the reminder.
        expect(phone.locator("main li").filter(has_text="You have a new prescription")).to_contain_text("Losartan")
        reminder = phone.locator("main li").filter(has_text="Losartan").filter(has_text="Time for your medicine")
        expect(reminder).to_contain_text("Time for your medicine")
        expect(reminder).to_contain_text("Losartan 50 mg at 08:00.")
        expect(reminder.locator("time")).to_contain_text(j.local_today("08:00").strftime("%Y-%m-%d %H:%M"))
        fits_the_phone(phone)
        shot(phone, "12-phone-reminder")

        # His programme is the one set today; the home page lists both medicines and no alert.
        today = j.local_today("08:00").date().isoformat()  # the region's day (UTC's is still yesterday before 08:00)
        phone.goto("/app/programme")
        expect(phone.get_by_text("Set by your doctor on")).to_contain_text(today)
        systolic = phone.locator(".prog-goal").get_by_role("row").filter(has_text="systolic")
        expect(systolic).to_contain_text("< 140 mmHg")
        expect(systolic).to_contain_text(f"186 mmHg ({today})")
        todo = phone.locator("section[aria-labelledby=prog-todo]")
        expect(todo).to_contain_text("Measure your blood pressure at home every morning and evening")
        expect(todo).not_to_contain_text("See a doctor today")
        fits_the_phone(phone)
        shot(phone, "13-phone-programme")
        phone.goto("/app")
        now_card = phone.locator(".app-now")
        expect(now_card).to_contain_text("Losartan")
        expect(now_card).to_contain_text("Amlodipine")
        expect(now_card.get_by_role("alert")).to_have_count(0)
        expect(phone.get_by_role("row").filter(has_text="186")).to_contain_text(today)  # his reading, dated today
        fits_the_phone(phone)
        shot(phone, "14-phone-home-after")
        phone.goto(f"/app/consultations/{consultation}")
        expect(phone.locator("main")).to_contain_text("losartan 50 mg")
        expect(phone.locator("main")).to_contain_text(ADVICE)
        fits_the_phone(phone)
        shot(phone, "15-phone-consultation-advice")
    finally:
        for page in (nurse, phone, doctor):
            if page is not None:
                page.context.close()
