"""Journey 1 of the patient app (issue 14) in real browsers, one patient in one story: a new patient signs up,
triages a sore throat, books ENT, checks in, is called, the doctor orders a throat swab and a CBC, results arrive over
HL7, the patient reads the interpretation, collects an e-prescription and gets dose reminders.

The patient acts on a phone (390x844) in the app; the doctor, the laboratory technician and the pharmacist at their
desktop workstations. The analyzers' ORU^R01 messages go over MLLP to `smartcare lis` (a process of its own) and the
dose reminder is sent by the job the worker runs. The server's clock ticks from 09:30 in Shanghai on the clinic day
and skips to 14:00 for the afternoon dose. Phone screenshots of each of the patient's steps go to
$SMARTCARE_SCREENSHOTS/journey-sore-throat (default /tmp/smartcare-shots).
"""

import re

import pytest
from playwright.sync_api import expect

from smartcare.family.medication import reminders
from smartcare.fhir import gateway
from smartcare.platform import clock
from smartcare.platform.security.context import SYSTEM
from tests.e2e.journey_sore_throat_steps import (
    PASSWORD,
    SHOTS,
    StoryClock,
    desk_tab,
    doctor_link,
    local,
    phone_tab,
    place_order,
    result_messages,
    run_jobs,
    send_over_mllp,
    shoot,
    sign_up,
    staff_the_hospital,
    take_specimen,
)
from tests.e2e.one_doctor_clinic import DAY, NOW
from tests.e2e.steps import sign_in
from tests.e2e.test_browser_lab_loop import hl7_listener  # noqa: F401  (the fixture)
from tests.e2e.test_browser_signup import outbox  # noqa: F401  (the fixture)
from tests.e2e.test_browser_triage import _answer_calmly, ent_clinic  # noqa: F401  (the fixture)

NAME = "Lan Qiao"


@pytest.fixture
def story():
    """The server's clock, ticking from 09:30 in Shanghai on the clinic day (ent_clinic's slots are that day's)."""
    ticking = StoryClock(NOW)
    clock.set_clock(ticking)
    yield ticking
    clock.set_clock(None)


@pytest.fixture
def hospital(e2e_engine, ent_clinic, story):  # noqa: F811
    """The ENT clinic's hospital with its laboratory and pharmacy, its staff's accounts and the patient's record."""
    return staff_the_hospital(e2e_engine, ent_clinic)


def test_a_new_patient_goes_from_a_sore_throat_to_her_dose_reminders(
        browser, base_url, e2e_engine, outbox, ent_clinic, hospital, story, hl7_listener, tmp_path):  # noqa: F811
    phone, desk = phone_tab(browser, base_url), desk_tab(browser, base_url)
    lab, pharmacy = desk_tab(browser, base_url), desk_tab(browser, base_url)
    patient = hospital.patient
    try:
        # She signs up with the code sent to her phone; the app opens her own record.
        sign_up(phone, outbox, patient, f"qiao.lan.{hospital.tag}")
        assert NAME in phone.locator("main").inner_text()
        shoot(phone, "02-home-new-account")

        # She checks her sore throat, is offered ENT and books the doctor's next free time.
        phone.get_by_role("link", name="Check my symptoms").click()
        phone.get_by_label("What is the problem?").fill("sore throat for 3 days")
        phone.get_by_role("button", name="Continue").click()
        phone.wait_for_load_state()
        _answer_calmly(phone, shots=str(SHOTS / "03-triage-questions.png"))
        assert phone.get_by_role("heading", name="Your result").is_visible()
        assert phone.get_by_role("heading", name="ENT").first.is_visible()
        assert "Sore throat alone calls for the level “Self-care”." in phone.locator("main").inner_text()
        shoot(phone, "04-triage-result")
        doctor_link(phone, ent_clinic["prac"], DAY).click()
        phone.wait_for_url("**/app/book/confirm**")
        shoot(phone, "05-book-confirm")
        phone.get_by_role("button", name="Book this time").click()
        phone.wait_for_url("**/app/visits/**")
        assert phone.get_by_role("heading", name="Your visit is booked").is_visible()
        phone.get_by_role("button", name="Pay ¥10.00").click()
        expect(phone.locator(".payment")).to_have_text("Paid")
        shoot(phone, "06-visit-booked")

        # At the hospital she checks in from the phone and gets number 1.
        phone.get_by_role("link", name="Check in and see your number").click()
        phone.get_by_role("button", name="I have arrived: check in").click()
        phone.wait_for_url("**/app/queue")
        assert phone.locator(".queue-number").first.inner_text() == "1"
        shoot(phone, "07-checked-in")

        # The ENT doctor calls the next patient; her open page says it is her turn.
        sign_in(desk, hospital.doctor, PASSWORD)
        desk.goto("/workstation/queue")
        assert NAME in desk.locator("main").inner_text()
        desk.get_by_role("button", name="Call next").click()
        desk.wait_for_load_state()
        phone.get_by_text("It is your turn now").wait_for(timeout=10_000)
        shoot(phone, "08-called")

        # The doctor opens her chart from today's list and orders a rapid strep test on a throat swab and a CBC.
        desk.goto("/workstation")
        desk.get_by_role("link", name=NAME).first.click()
        desk.wait_for_url(f"**/workstation/patients/{patient.id}")
        desk.get_by_role("button", name="Orders").click()
        place_order(desk, "strep", "strep-a-antigen")
        place_order(desk, "血常规", "cbc")

        # The laboratory takes both specimens and labels them.
        sign_in(lab, hospital.technician, PASSWORD)
        swab = take_specimen(lab, "Streptococcus", NAME)
        blood = take_specimen(lab, "CBC", NAME)

        # The analyzers send their results over MLLP; the listener acknowledges each once stored.
        port, env = hl7_listener
        send_over_mllp(result_messages(patient, cbc=blood, strep=swab, measured=clock.now(), tag=hospital.tag),
                       port=port, env=env, folder=tmp_path)

        # The technician reviews and releases both reports, flagged by the laboratory's own ranges.
        for accession in (blood, swab):
            lab.goto("/workstation/lab")
            lab.locator("tr", has_text=accession).get_by_role("link", name="Results").click()
            if accession == blood:
                assert lab.locator("#v-6690-2").input_value() == "13.8"
                assert "H High" in lab.locator("tr", has_text="6690-2").inner_text()
            else:
                assert lab.locator("#v-78012-2").input_value() == "pos"
            lab.get_by_role("button", name="Mark as reviewed").click()
            lab.get_by_role("button", name="Release the report").click()
            lab.wait_for_load_state()

        # Her home shows the new results; she reads the blood count explained in plain words.
        phone.goto("/app")
        now_card = phone.locator(".app-now")
        expect(now_card.locator(".app-now__queue")).to_have_text("It is your turn now. Please go in.")
        assert "CBC" in now_card.inner_text() and "Streptococcus" in now_card.inner_text()
        shoot(phone, "09-home-new-results")
        now_card.get_by_role("link", name=re.compile("CBC")).click()
        phone.wait_for_url("**/app/reports/**")
        explained = phone.locator("main").inner_text()
        assert "see your doctor soon" in explained
        assert "the typical picture of a bacterial infection" in explained
        white_cells = phone.locator(".lab-result", has_text="White blood cell count")
        assert "High" in white_cells.inner_text() and "13.8" in white_cells.inner_text()
        assert "most often from an infection" in white_cells.inner_text()
        shoot(phone, "10-cbc-explained")
        cbc_report = phone.url
        phone.goto("/app")
        phone.locator(".app-now").get_by_role("link", name=re.compile("Streptococcus")).click()
        strep = phone.locator(".lab-result").first.inner_text()
        assert "Positive" in strep and "strep throat" in strep
        shoot(phone, "11-strep-explained")

        # The doctor prescribes amoxicillin and signs the prescription.
        desk.goto(f"/workstation/patients/{patient.id}")
        desk.get_by_role("button", name="Prescribe").click()
        desk.locator("input[name=line-1-medicine]").fill("amoxicillin")
        desk.locator("input[name=line-1-dose]").fill("500")
        desk.locator("select[name=line-1-frequency]").select_option("TID")
        desk.locator("input[name=line-1-days]").fill("10")
        desk.get_by_role("button", name="Add and check").click()
        desk.get_by_role("button", name="Sign prescription").click()
        assert "Prescription signed" in desk.locator(".rx-signed").inner_text()

        # She finds the e-prescription in the app, waiting for the pharmacy's check.
        phone.goto("/app")
        phone.get_by_role("link", name="My prescriptions").first.click()
        prescription = phone.locator(".my-rx li", has_text="Amoxicillin")
        assert "Ready to collect once the pharmacy has checked it" in prescription.inner_text()
        shoot(phone, "12-prescription-to-collect")

        # The pharmacist checks it and hands the capsules over with their batch and expiry.
        sign_in(pharmacy, hospital.pharmacist, PASSWORD)
        pharmacy.goto("/workstation/pharmacy")
        queued = pharmacy.locator("tr", has_text=NAME).first  # the queue names her, her prescriber and the medicine
        assert "Amoxicillin" in queued.inner_text() and "Patient/" not in queued.inner_text()
        queued.get_by_role("link").first.click()
        pharmacy.get_by_role("button", name="Accept for dispensing").click()
        pharmacy.get_by_label("Batch number").fill("AMX2603B")
        pharmacy.get_by_label("Expiry date").fill("2027-09-30")
        pharmacy.get_by_label("Quantity").fill("30")
        pharmacy.get_by_label("Unit").fill("capsule")
        pharmacy.get_by_role("button", name="Dispense").click()
        assert "Every medicine has been dispensed." in pharmacy.locator("main").inner_text()

        phone.reload()
        collected = phone.locator(".my-rx li", has_text="Amoxicillin").inner_text()
        assert f"Dispensed on {DAY.isoformat()}" in collected and "AMX2603B" in collected
        shoot(phone, "13-prescription-collected")

        # Her medicines today: three doses a day, the afternoon's and evening's still to take, ten days' worth.
        phone.goto("/app")
        assert "Amoxicillin: 3 times a day" in phone.locator(".app-now").inner_text()
        phone.locator(".app-now").get_by_role("link", name="My medicines").click()
        doses = phone.locator(".med-dose")
        assert doses.locator("strong").all_inner_texts() == ["14:00", "20:00"], "no dose before it was prescribed"
        assert all("Amoxicillin 500 mg" in dose and "Not taken yet" in dose for dose in doses.all_inner_texts())
        assert "Amoxicillin: 10 days left" in phone.locator(".med-supply").inner_text()
        shoot(phone, "14-medicines-today")

        # The worker plans her reminders when the order is written, and at 14:00 the reminder goes out.
        order = gateway.search(SYSTEM, "MedicationRequest", [("subject", f"Patient/{patient.id}")])[0]
        assert run_jobs(e2e_engine, reminders.PLAN_JOB, f"medication:plan:request:{order['id']}:") >= 1
        story.skip_to(local(DAY, 14, 0))
        assert run_jobs(e2e_engine, reminders.REMIND_JOB, f"medication:remind:{order['id']}:") == 1

        # Back in the app in the afternoon she signs in again (the morning's session timed out) and reads it.
        phone.goto("/app")
        phone.wait_for_url("**/login?next=/app")
        phone.get_by_label("Username", exact=True).fill(f"qiao.lan.{hospital.tag}")
        phone.get_by_label("Password", exact=True).fill(PASSWORD)
        phone.get_by_role("button", name="Sign in").click()
        phone.wait_for_url("**/app")
        phone.locator(".app-now").get_by_role("link", name=re.compile("unread message")).click()
        phone.wait_for_url("**/inbox")
        reminder = phone.locator("main").inner_text()
        assert "Time for your medicine" in reminder and "Amoxicillin 500 mg at 14:00." in reminder, reminder
        shoot(phone, "15-dose-reminder")

        # She marks the dose taken.
        phone.goto("/app/medication")
        phone.locator(".med-dose", has_text="14:00").get_by_role("button", name="Taken").click()
        phone.wait_for_url("**/app/medication?*done=taken*")
        assert phone.locator(".med-dose", has_text="14:00").locator(".med-state").inner_text() == "Taken"
        assert "Amoxicillin: 9 days left" in phone.locator(".med-supply").inner_text()
        shoot(phone, "16-dose-taken")

        # The same pages on a narrower phone (360 px) fit without sideways scrolling.
        phone.set_viewport_size({"width": 360, "height": 800})
        phone.reload()
        shoot(phone, "17-medicines-360")
        phone.goto(cbc_report)
        shoot(phone, "18-cbc-explained-360")
    finally:
        for tab in (phone, desk, lab, pharmacy):
            tab.context.close()
