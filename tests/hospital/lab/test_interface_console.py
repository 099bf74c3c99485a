"""The console's laboratory-interface queue: refused messages listed with their problem, corrected and
reprocessed, or dismissed; for hospital administrators only."""

import pytest

from smartcare.hospital.lab.interface import receive
from tests.web_support import browser, form_token, make_user, sign_in

A08 = ("MSH|^~\\&|HIS|HOSP|SMARTCARE|LIS|20261126080000||ADT^A08^ADT_A01|{cid}|P|2.5\r"
       "EVN|A08|20261126080000\r"
       "PID|1||{mrn}^^^HOSP^MR||Wang^Li^M||19750304|F|||1 Main St^^Springfield^^12345^CN||555-0100\r")


@pytest.fixture
def admin(engine):
    refused = receive(A08.format(cid="Q1", mrn="UNKNOWN-1"))
    assert refused.ack_code == "AE" and refused.queue_id is not None
    make_user(engine, "hospital_admin")
    web = browser()
    sign_in(web, "hospital.admin.test")
    return web, refused.queue_id


def test_the_queue_lists_the_refused_message_with_its_problem(admin):
    web, item = admin
    page = web.get("/console/lab-interface")
    assert page.status_code == 200 and f"/console/lab-interface/{item}" in page.text and "204" in page.text
    assert "Laboratory interface" in web.get("/console").text


def test_a_corrected_message_is_reprocessed_and_leaves_the_queue(admin):
    web, item = admin
    page = web.get(f"/console/lab-interface/{item}")
    corrected = A08.format(cid="Q1", mrn="UNKNOWN-1").replace("ADT^A08", "ADT^A04").replace("EVN|A08", "EVN|A04")
    done = web.post(f"/console/lab-interface/{item}/reprocess",
                    data={"csrf_token": form_token(page), "message": corrected.replace("\r", "\n")})
    assert done.status_code == 303 and "status=reprocessed" in done.headers["location"]
    assert f"/console/lab-interface/{item}" in web.get("/console/lab-interface?status=reprocessed").text


def test_a_message_still_wrong_is_refused_again_with_the_ack(admin):
    web, item = admin
    page = web.get(f"/console/lab-interface/{item}")
    again = web.post(f"/console/lab-interface/{item}/reprocess",
                     data={"csrf_token": form_token(page), "message": "MSH|garbage"})
    assert again.status_code == 400 and "Still refused" in again.text


def test_dismissing_closes_the_item(admin):
    web, item = admin
    page = web.get(f"/console/lab-interface/{item}")
    web.post(f"/console/lab-interface/{item}/dismiss", data={"csrf_token": form_token(page)})
    assert f"/console/lab-interface/{item}" in web.get("/console/lab-interface?status=dismissed").text


def test_only_administrators_hostile_ids_and_forged_forms(admin, engine):
    web, item = admin
    assert web.get("/console/lab-interface/1%27%20OR%201=1").status_code == 404
    assert web.get("/console/lab-interface/99999999").status_code == 404
    assert web.post(f"/console/lab-interface/{item}/dismiss", data={"csrf_token": "forged"}).status_code == 403
    make_user(engine, "doctor")
    doctor = browser()
    sign_in(doctor, "doctor.test")
    assert doctor.get("/console/lab-interface").status_code == 403
