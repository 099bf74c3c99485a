"""An online follow-up consultation in real browsers, end to end: Mrs Liu (hypertension diagnosed in person at the
cardiology clinic) asks her cardiologist a question on her phone; Dr Qian picks it up in the workstation inbox and
replies (the phone shows the reply live over the WebSocket), is refused morphine on the consultation's prescribing
page, prescribes amlodipine, which waits for the pharmacist's review, and closes with a summary; Mrs Liu sees the
summary arrive and rates the consultation on the Chinese page."""

import uuid

import pytest

from smartcare.fhir import bundles
from smartcare.platform.db import unit_of_work
from smartcare.platform.security import users
from smartcare.platform.security.context import SYSTEM
from tests.e2e.conftest import DESKTOP, MOBILE
from tests.e2e.steps import sign_in

PASSWORD = "Willow-Ferry-Compass-63"
QUESTION = "My home blood pressure is about 150/95 on the current dose. Should it be changed?"
REPLY = "Thank you. Please keep taking it, and I will add a second medicine today."
SUMMARY = "Hypertension above target on one drug; amlodipine 5 mg daily added."
ADVICE = "Measure morning and evening for two weeks and book a clinic visit then."


def _records(tag: str) -> list[dict]:
    """A hospital with a cardiology department and its doctor, and a patient whose hypertension was diagnosed
    there in person (the basis an online follow-up needs), the same shape the consultation tests use."""
    hosp, dept, doctor, patient = f"{tag}-hosp", f"{tag}-cardio", f"{tag}-doc", f"{tag}-pat"
    visit = {"resourceType": "Encounter", "id": f"{tag}-visit", "status": "finished",
             "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
             "subject": {"reference": f"Patient/{patient}"}, "serviceProvider": {"reference": f"Organization/{dept}"},
             "period": {"start": "2026-01-10T01:00:00Z", "end": "2026-01-10T01:20:00Z"}}
    condition = {"resourceType": "Condition", "id": f"{tag}-htn", "subject": {"reference": f"Patient/{patient}"},
                 "encounter": {"reference": f"Encounter/{tag}-visit"},
                 "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                                "code": "active"}]},
                 "verificationStatus": {"coding": [{
                     "system": "http://terminology.hl7.org/CodeSystem/condition-ver-status", "code": "confirmed"}]},
                 "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": "I10",
                                      "display": "Essential hypertension"}]}}
    return [
        {"resourceType": "Organization", "id": hosp, "name": "Lakeside People's Hospital"},
        {"resourceType": "Organization", "id": dept, "name": "Lakeside Cardiology",
         "partOf": {"reference": f"Organization/{hosp}"}},
        {"resourceType": "Practitioner", "id": doctor, "name": [{"family": "Qian", "given": ["Wei"]}]},
        {"resourceType": "PractitionerRole", "id": f"{tag}-role",
         "practitioner": {"reference": f"Practitioner/{doctor}"}, "organization": {"reference": f"Organization/{dept}"}},
        {"resourceType": "Patient", "id": patient, "name": [{"family": "Liu", "given": ["Fang"]}],
         "birthDate": "1962-05-04", "gender": "female", "managingOrganization": {"reference": f"Organization/{hosp}"}},
        visit, condition,
    ]


@pytest.fixture
def follow_up_clinic(e2e_engine) -> str:
    """The records above in the e2e store (ids tagged so no other browser test meets them) and three accounts:
    the patient, her cardiologist and a pharmacist of the hospital. Returns the tag."""
    tag = f"jc{uuid.uuid4().hex[:6]}"
    entries = [{"resource": r, "request": {"method": "PUT", "url": f"{r['resourceType']}/{r['id']}"}}
               for r in _records(tag)]
    with unit_of_work(e2e_engine) as conn:
        bundles.transaction(conn, SYSTEM, entries, "")
        users.create_user(conn, username=f"liu.{tag}", password=PASSWORD, role="patient",
                          fhir_ref=f"Patient/{tag}-pat")
        users.create_user(conn, username=f"dr.qian.{tag}", password=PASSWORD, role="doctor",
                          fhir_ref=f"Practitioner/{tag}-doc", organization=f"Organization/{tag}-hosp")
        users.create_user(conn, username=f"rx.he.{tag}", password=PASSWORD, role="pharmacist",
                          organization=f"Organization/{tag}-hosp")
    return tag


def _prescribe(desk, medicine: str, dose: str, frequency: str) -> None:
    desk.locator("input[name=line-1-medicine]").fill(medicine)
    desk.locator("input[name=line-1-dose]").fill(dose)
    desk.locator("select[name=line-1-unit]").select_option("mg")
    desk.locator("select[name=line-1-frequency]").select_option(frequency)
    desk.locator("select[name=line-1-route]").select_option("oral")
    desk.locator("input[name=line-1-days]").fill("14")
    desk.get_by_role("button", name="Sign and send for review").click()
    desk.wait_for_load_state()


def test_patient_asks_a_follow_up_and_the_doctor_replies_prescribes_and_closes(browser, base_url, follow_up_clinic):
    tag = follow_up_clinic
    phone = browser.new_context(viewport=MOBILE, device_scale_factor=2, is_mobile=True, has_touch=True,
                                locale="en-US", base_url=base_url).new_page()
    desk = browser.new_context(viewport=DESKTOP, locale="en-US", base_url=base_url).new_page()
    pharmacy = browser.new_context(viewport=DESKTOP, locale="en-US", base_url=base_url).new_page()
    try:
        # The patient opens a follow-up of her hypertension with her cardiologist and asks her question.
        sign_in(phone, f"liu.{tag}", PASSWORD)
        phone.goto("/app/consultations")
        phone.get_by_role("link", name="Ask a doctor").click()
        phone.select_option("#target", f"doctor:{tag}-doc")
        # Tap the choice's label, as a thumb does (the hint inside it covers the radio itself on a phone).
        phone.locator("label", has=phone.locator("input[name=kind][value=follow_up]")).click()
        assert phone.locator("input[name=kind][value=follow_up]").is_checked()
        phone.select_option("#condition", f"{tag}-htn")
        assert "Essential hypertension" in phone.locator("#condition").inner_text()
        phone.fill("#question", QUESTION)
        phone.get_by_role("button", name="Send to the doctor").click()
        phone.wait_for_selector(f"li.msg--mine >> text={QUESTION}")
        assert "Follow-up visit" in phone.locator(".consult-facts").inner_text()
        consultation = phone.url.rsplit("/", 1)[1]

        # The doctor finds it in the inbox and picks it up; the phone switches to "in progress" on its own.
        sign_in(desk, f"dr.qian.{tag}", PASSWORD)
        desk.goto("/workstation/consultations")
        row = desk.locator("table.consult-inbox tbody tr").filter(has=desk.locator(
            f"a[href='/workstation/consultations/{consultation}']"))
        assert "Follow-up visit" in row.inner_text()
        row.get_by_role("button", name="Pick up").click()
        desk.wait_for_selector("#chat[data-live='socket']")
        assert QUESTION in desk.locator("#chat-log").inner_text()
        phone.wait_for_selector("#chat-status.status--in_progress")
        phone.wait_for_selector("#chat[data-live='socket']")

        desk.fill("#chat-text", REPLY)
        desk.locator("#chat-compose button[type=submit]").click()
        phone.wait_for_selector(f"li.msg--theirs >> text={REPLY}")

        # Online prescribing: a narcotic is refused with the reason; amlodipine goes to the pharmacist.
        desk.get_by_role("link", name="Write an online prescription").click()
        desk.wait_for_url(f"**/workstation/consultations/{consultation}/prescribe")
        _prescribe(desk, "morphine", "10", "Q12H")
        refusal = desk.locator("article.form-error[data-code='controlled-drug']")
        assert "Narcotic and psychotropic drugs may not be prescribed online." in refusal.inner_text()
        assert desk.locator(".rx-signed").count() == 0
        _prescribe(desk, "amlodipine", "5", "QD")
        signed = desk.locator(".rx-signed").inner_text()
        assert "Signed and sent for the pharmacist's review." in signed
        review_task = next(w for w in signed.split() if w.startswith("Task/")).rstrip(",").removeprefix("Task/")

        sign_in(pharmacy, f"rx.he.{tag}", PASSWORD)
        pharmacy.goto("/workstation/pharmacy")
        assert pharmacy.locator(f"a[href='/workstation/pharmacy/{review_task}']").count() == 1
        pharmacy.goto(f"/workstation/pharmacy/{review_task}")
        assert "amlodipine" in pharmacy.locator("main").inner_text().lower()

        # The doctor closes with a summary and advice; the patient's page shows it without her reloading.
        desk.get_by_role("link", name="Back to the consultation").click()
        desk.get_by_label("Summary", exact=True).fill(SUMMARY)
        desk.get_by_label("Advice", exact=True).fill(ADVICE)
        desk.get_by_role("button", name="Close the consultation").click()
        desk.wait_for_selector("#chat-status.status--closed")
        phone.wait_for_selector("#chat-status.status--closed")
        summary = phone.locator("li.msg--summary").inner_text()
        assert SUMMARY in summary and ADVICE in summary

        # She rates it on the Chinese page.
        phone.goto(f"/app/consultations/{consultation}?lang=zh-Hans")
        assert "小结与建议" in phone.locator("li.msg--summary").inner_text()
        phone.locator("#rating input[name=rating][value='5']").check()
        phone.locator("#feedback").fill("回答很清楚，谢谢医生。")
        phone.get_by_role("button", name="提交评价").click()
        phone.wait_for_load_state()
        assert "您的评分：5 分（满分 5 分）。" in phone.locator("#rating").inner_text()
        desk.reload()
        assert "Rated 5 of 5" in desk.locator("main").inner_text()
    finally:
        for tab in (phone, desk, pharmacy):
            tab.context.close()
