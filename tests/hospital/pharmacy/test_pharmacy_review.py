"""The pharmacist's review and dispensing, and the patient's e-prescriptions, through the pages."""

from datetime import UTC, datetime, timedelta

import pytest

from smartcare.fhir import gateway
from smartcare.hospital.pharmacy import labels, review, signing
from smartcare.hospital.pharmacy.signing import PrescriptionLine
from smartcare.platform.db import unit_of_work
from smartcare.platform.notifications import service as notifications
from smartcare.platform.security import users
from smartcare.platform.security.context import SYSTEM
from tests.hospital.cds.prescribing_record import medication_request, write_record
from tests.web_support import browser, form_token, make_user, sign_in

AMLODIPINE = PrescriptionLine(medicine="amlodipine", dose=5, unit="mg", frequency="QD", route="oral", days=30)
NEXT_YEAR = (datetime.now(UTC) + timedelta(days=365)).date().isoformat()


@pytest.fixture
def pharmacy(engine):
    write_record()
    doctor = make_user(engine, "doctor", username="li.doctor", fhir_ref="Practitioner/prac-li",
                       organization="Organization/org-h")
    make_user(engine, "pharmacist", username="chen.pharmacist", fhir_ref="Practitioner/prac-chen",
              organization="Organization/org-h")
    make_user(engine, "patient", username="wang.patient", fhir_ref="Patient/p-wang")
    signed = signing.sign(ctx=users.context_for(doctor), patient_id="p-wang", lines=[AMLODIPINE], overrides={})
    web = browser()
    sign_in(web, "chen.pharmacist")
    return web, signed, doctor


def test_the_pharmacist_sees_the_signed_prescription_in_the_queue_with_its_label(pharmacy):
    web, signed, _ = pharmacy
    queue = web.get("/workstation/pharmacy")
    task_id = signed.review_task.split("/")[1]
    assert queue.status_code == 200 and f"/workstation/pharmacy/{task_id}" in queue.text
    page = web.get(f"/workstation/pharmacy/{task_id}")
    assert page.status_code == 200
    assert "Amlodipine: take 5 mg by mouth once a day, for 30 days." in page.text


def test_accept_then_dispense_records_batch_expiry_and_the_patient_sees_it(pharmacy):
    web, signed, _ = pharmacy
    task_id = signed.review_task.split("/")[1]
    page = web.get(f"/workstation/pharmacy/{task_id}")
    accepted = web.post(f"/workstation/pharmacy/{task_id}/accept", data={"csrf_token": form_token(page)})
    assert accepted.status_code == 303
    page = web.get(f"/workstation/pharmacy/{task_id}")
    order_id = signed.medication_requests[0].split("/")[1]
    done = web.post(f"/workstation/pharmacy/{task_id}/dispense", data={
        "csrf_token": form_token(page), "order": order_id, "lot": "B2026-117", "expiry": NEXT_YEAR,
        "quantity": "30", "unit": "tablet"})
    assert done.status_code == 303
    assert "Every medicine has been dispensed." in web.get(f"/workstation/pharmacy/{task_id}").text
    app = browser()
    sign_in(app, "wang.patient")
    mine = app.get("/app/prescriptions")
    assert mine.status_code == 200 and "B2026-117" in mine.text and NEXT_YEAR in mine.text


def test_an_expired_batch_is_refused_and_nothing_is_dispensed(pharmacy):
    web, signed, _ = pharmacy
    task_id = signed.review_task.split("/")[1]
    web.post(f"/workstation/pharmacy/{task_id}/accept",
             data={"csrf_token": form_token(web.get(f"/workstation/pharmacy/{task_id}"))})
    page = web.get(f"/workstation/pharmacy/{task_id}")
    r = web.post(f"/workstation/pharmacy/{task_id}/dispense", data={
        "csrf_token": form_token(page), "order": signed.medication_requests[0].split("/")[1], "lot": "OLD-1",
        "expiry": "2020-01-01", "quantity": "30"})
    assert r.status_code == 400 and "expired" in r.text
    assert gateway.search(SYSTEM, "MedicationDispense", [("subject", "Patient/p-wang")]) == []


def test_returning_to_the_doctor_stops_dispensing_and_tells_the_prescriber(pharmacy):
    web, signed, doctor = pharmacy
    task_id = signed.review_task.split("/")[1]
    page = web.get(f"/workstation/pharmacy/{task_id}")
    r = web.post(f"/workstation/pharmacy/{task_id}/return",
                 data={"csrf_token": form_token(page), "note": "Duplicate of the amlodipine she already takes?"})
    assert r.status_code == 303
    assert gateway.read(SYSTEM, signed.review_task)["status"] == "rejected"
    page = web.get(f"/workstation/pharmacy/{task_id}")
    assert "Duplicate of the amlodipine" in page.text and 'action="/workstation/pharmacy/' not in page.text
    with unit_of_work() as conn:
        inbox = notifications.inbox(conn, user_id=doctor.id)
    assert inbox and "Duplicate of the amlodipine" in inbox[0]["body"]


def test_returning_without_a_note_is_refused(pharmacy):
    web, signed, _ = pharmacy
    task_id = signed.review_task.split("/")[1]
    page = web.get(f"/workstation/pharmacy/{task_id}")
    r = web.post(f"/workstation/pharmacy/{task_id}/return", data={"csrf_token": form_token(page), "note": "  "})
    assert r.status_code == 400 and "say why" in r.text


def test_only_pharmacists_open_the_review_queue(pharmacy, engine):
    doc = browser()
    sign_in(doc, "li.doctor")
    assert doc.get("/workstation/pharmacy").status_code == 403


@pytest.mark.parametrize("task_id", ["..%2F..%2Fetc", "x" * 70, "' OR 1=1 --", "mr-warfarin"])
def test_hostile_or_wrong_task_ids_get_404(pharmacy, task_id):
    web, _, _ = pharmacy
    assert web.get(f"/workstation/pharmacy/{task_id}").status_code == 404


def test_review_actions_check_the_csrf_token(pharmacy):
    web, signed, _ = pharmacy
    task_id = signed.review_task.split("/")[1]
    assert web.post(f"/workstation/pharmacy/{task_id}/accept", data={"csrf_token": "forged"}).status_code == 403


@pytest.mark.parametrize(("frequency", "language", "expected"), [
    ("QD", "en", "Warfarin: take 3 mg by mouth once a day."),
    ("BID", "zh", "华法林：口服，每次3 mg，每日2次。"),
    ("Q8H", "en", "Warfarin: take 3 mg by mouth every 8 hours."),
    ("QW", "zh", "华法林：口服，每次3 mg，每周1次（每周同一天）。"),
])
def test_labels_say_how_to_take_the_medicine_in_plain_words(frequency, language, expected):
    order = medication_request("x", "B01AA03", "warfarin", 3, "mg", frequency)
    assert labels.label(order, language=language) == expected


def test_review_refuses_an_unknown_task(pharmacy):
    with pytest.raises(review.ReviewRefused):
        review.accept(SYSTEM, "")


@pytest.mark.parametrize(("communication", "expected"), [
    ([{"language": {"coding": [{"code": "en-GB"}]}, "preferred": True}], "en"),
    ([{"language": {"coding": [{"code": "en"}]}}, {"language": {"coding": [{"code": "zh-CN"}]}, "preferred": True}], "zh"),
    ([], "zh"),
])
def test_labels_follow_the_patients_preferred_language(communication, expected):
    assert review.patient_language({"communication": communication}) == expected
