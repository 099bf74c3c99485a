"""The pharmacist's queue in words, and online prescriptions that take effect only once the pharmacist checked them:
not in the patient's schedule or reminders before, in them after, and never when returned to the doctor."""

import re
from datetime import timedelta

import pytest

from smartcare.family.medication import records, schedule
from smartcare.fhir import gateway
from smartcare.hospital.pharmacy import review, signing
from smartcare.hospital.pharmacy.signing import PrescriptionLine
from smartcare.platform import audit, clock
from smartcare.platform.db import unit_of_work
from smartcare.platform.security import users
from smartcare.platform.security.context import SYSTEM
from tests.hospital.cds.prescribing_record import write_record
from tests.web_support import browser, make_user, sign_in

AMLODIPINE = PrescriptionLine(medicine="amlodipine", dose=5, unit="mg", frequency="QD", route="oral", days=30)
METFORMIN = PrescriptionLine(medicine="metformin", dose=500, unit="mg", frequency="BID", route="oral", days=30)


@pytest.fixture
def clinic(engine):
    """Mrs Wang's record, Dr Li who prescribes, pharmacist Chen of the same hospital, and Mrs Wang's account."""
    write_record()
    doctor = make_user(engine, "doctor", username="li.doctor", fhir_ref="Practitioner/prac-li",
                       organization="Organization/org-h")
    make_user(engine, "pharmacist", username="chen.pharmacist", fhir_ref="Practitioner/prac-chen",
              organization="Organization/org-h")
    make_user(engine, "patient", username="wang.patient", fhir_ref="Patient/p-wang")
    return users.context_for(doctor)


def _signed_in(username: str):
    web = browser()
    sign_in(web, username)
    return web


def _online(doctor, *lines: PrescriptionLine) -> signing.Signed:
    return signing.sign(ctx=doctor, patient_id="p-wang", lines=list(lines), overrides={}, hold_for_review=True)


def _doses_coming(request_ref: str) -> list[schedule.Dose]:
    """The doses of one order the reminders would plan for the next two days (as the worker plans them)."""
    now = clock.now()
    with unit_of_work() as conn:
        record = records.gather(conn, SYSTEM, patient_id="p-wang")
    request_id = request_ref.removeprefix("MedicationRequest/")
    return [d for d in schedule.doses_between(record.active, now, now + timedelta(hours=48), record.tz)
            if d.request_id == request_id]


def _act(web, task_ref: str, action: str, **fields: str):
    task_id = task_ref.removeprefix("Task/")
    page = web.get(f"/workstation/pharmacy/{task_id}")
    token = re.search(r'<meta name="csrf-token" content="([^"]*)"', page.text).group(1)
    return web.post(f"/workstation/pharmacy/{task_id}/{action}", data={"csrf_token": token, **fields})


@pytest.mark.parametrize(("lang", "words"), [
    ("en", ["Wang Fang", "years", "Female", "Li Wei", "Amlodipine", "5 mg QD oral", "Metformin", "500 mg BID oral"]),
    ("zh-Hans", ["Wang Fang", "岁", "女", "Li Wei", "氨氯地平", "5 mg QD oral", "二甲双胍", "500 mg BID oral"]),
])
def test_the_queue_names_the_patient_the_prescriber_and_each_medicine_with_its_dose(clinic, lang, words):
    _online(clinic, AMLODIPINE, METFORMIN)
    queue = _signed_in("chen.pharmacist").get(f"/workstation/pharmacy?lang={lang}")
    assert queue.status_code == 200
    row = queue.text.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    for word in words:
        assert word in row, word
    assert "Patient/" not in row and "Practitioner/" not in row and "MedicationRequest/" not in row


def test_the_queue_is_read_in_two_searches_audited_as_the_pharmacist(clinic, engine):
    _online(clinic, AMLODIPINE, METFORMIN)
    pharmacist = users.context_for(make_user(engine, "pharmacist", username="he.pharmacist",
                                             fhir_ref="Practitioner/prac-he", organization="Organization/org-h"))
    [queued] = review.queue(pharmacist)
    assert queued.patient["id"] == "p-wang" and queued.prescriber["id"] == "prac-li"
    assert sorted(o["medicationCodeableConcept"]["text"] for o in queued.orders) == ["Amlodipine", "Metformin"]
    with unit_of_work() as conn:
        searches = audit.search(conn, agent=pharmacist.author, subtype="search", patient="Patient/p-wang")
    assert 1 <= len(searches) <= 2  # the tasks with their patients, prescribers and first orders; the other orders


def test_an_online_prescription_reaches_the_schedule_only_once_the_pharmacist_accepted_it(clinic):
    signed = _online(clinic, AMLODIPINE)
    [order] = signed.medication_requests
    assert gateway.read(SYSTEM, order)["status"] == "draft"
    assert _doses_coming(order) == []
    patient = _signed_in("wang.patient")
    page = patient.get("/app/medication").text
    assert "Awaiting the pharmacist&#39;s check" in page or "Awaiting the pharmacist's check" in page
    assert "Amlodipine" in page.split("med-awaiting", 1)[1]
    mine = patient.get("/app/prescriptions").text
    assert "Awaiting the pharmacist" in mine

    accepted = _act(_signed_in("chen.pharmacist"), signed.review_task, "accept")
    assert accepted.status_code == 303
    assert gateway.read(SYSTEM, order)["status"] == "active"
    assert "statusReason" not in gateway.read(SYSTEM, order)
    assert len(_doses_coming(order)) == 2  # 08:00 on each of the next two days
    page = patient.get("/app/medication").text
    assert "med-awaiting" not in page


def test_a_returned_online_prescription_never_reaches_the_schedule(clinic):
    signed = _online(clinic, AMLODIPINE)
    [order] = signed.medication_requests
    returned = _act(_signed_in("chen.pharmacist"), signed.review_task, "return",
                    note="She already takes amlodipine 10 mg from the cardiologist.")
    assert returned.status_code == 303
    assert gateway.read(SYSTEM, order)["status"] == "cancelled"
    assert _doses_coming(order) == []
    patient = _signed_in("wang.patient")
    assert "med-awaiting" not in patient.get("/app/medication").text
    assert "The pharmacist returned it to your doctor" in patient.get("/app/prescriptions").text
    assert "药师已退回给您的医生" in patient.get("/app/prescriptions?lang=zh-Hans").text
    # A returned prescription cannot be accepted afterwards.
    assert _act(_signed_in("chen.pharmacist"), signed.review_task, "accept").status_code == 409
    assert gateway.read(SYSTEM, order)["status"] == "cancelled"


def test_the_patient_page_says_it_waits_for_the_pharmacist_in_chinese(clinic):
    _online(clinic, AMLODIPINE)
    page = _signed_in("wang.patient").get("/app/medication?lang=zh-Hans").text
    assert "等待药师审核" in page


def test_a_prescription_signed_in_the_clinic_takes_effect_at_once_as_before(clinic):
    signed = signing.sign(ctx=clinic, patient_id="p-wang", lines=[AMLODIPINE], overrides={})
    [order] = signed.medication_requests
    assert gateway.read(SYSTEM, order)["status"] == "active"
    assert len(_doses_coming(order)) == 2
