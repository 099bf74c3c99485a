"""The console's view of orders sent to the laboratory middleware: dead letters listed with their attempts, error,
ACK and message (escaped), resent (then delivered) or discarded; for the hospital's own administrators only."""

import re
from datetime import timedelta

import pytest

from smartcare.fhir import gateway, store
from smartcare.hospital.lab import accession as acc
from smartcare.hospital.lab.outbound import outbound_settings
from smartcare.hospital.lab.outbound_queue import SEND_ATTEMPTS
from smartcare.platform import audit
from smartcare.platform.db import unit_of_work
from smartcare.platform.jobs import run_due
from smartcare.platform.security.context import SYSTEM
from tests.hospital.lab.lab_workflow_record import place, write_hospital
from tests.hospital.lab.mllp_peer import running_peer
from tests.web_support import browser, form_token, make_user, sign_in

PAGE = "/console/lab-interface/outbound"
HOSTILE = "<script>alert(1)</script>"


@pytest.fixture(autouse=True)
def fresh_settings():
    """The outbound settings are read again after each test, so what one pointed at does not outlive it."""
    yield
    outbound_settings.cache_clear()


@pytest.fixture
def peer(monkeypatch):
    yield from running_peer(monkeypatch)


@pytest.fixture
def dead(engine, now, peer):
    """An order whose message the middleware kept refusing (AE) until it was dead; the admin's browser."""
    lab = write_hospital(engine)
    patient = gateway.read(SYSTEM, "Patient/p-wang")
    with unit_of_work() as conn:
        store.write_batch(conn, SYSTEM, [store.Write("PUT", "Patient", "p-wang", {
            **patient, "name": [{"use": "official", "family": HOSTILE, "given": ["Fang"]}]})])
    acc.accession(lab["tech"], request_id=place(lab["doctor"], "potassium"))
    peer.answer = "AE"
    for _ in range(SEND_ATTEMPTS):
        run_due(engine)
        now[0] += timedelta(minutes=11)
    make_user(engine, "hospital_admin", organization="Organization/org-h")
    web = browser()
    sign_in(web, "hospital.admin.test")
    page = web.get(PAGE)
    assert page.status_code == 200
    message_id = int(page.text.split('id="outbound-', 1)[1].split('"', 1)[0])
    return web, message_id, page


def test_the_dead_letter_is_listed_with_attempts_error_ack_and_the_escaped_message(dead):
    _, message_id, page = dead
    assert f'id="outbound-{message_id}"' in page.text and "Dead letters (1)" in page.text
    assert f"<dd>{SEND_ATTEMPTS}</dd>" in page.text and "the middleware answered AE" in page.text
    assert "AE test code not set up on the analyzer" in page.text  # the ACK's own words
    assert "OML^O21" in page.text and "MSA|AE|" in page.text
    assert HOSTILE not in page.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert page.headers["cache-control"] == "no-store"
    assert "Orders to the laboratory middleware" in page.text


def test_seeing_the_messages_is_audited_with_the_patients_named(dead):
    with unit_of_work() as conn:
        found = audit.search(conn, limit=50)
    assert any(e["subtype"] == "search" and "Patient/p-wang" in str(e["event"]) for e in found)


def test_resend_now_queues_it_again_and_it_is_delivered(dead, peer, engine):
    web, message_id, page = dead
    peer.answer = "AA"
    done = web.post(f"{PAGE}/{message_id}/resend", data={"csrf_token": form_token(page)})
    assert done.status_code == 303 and "status=queued" in done.headers["location"]
    queued = web.get(done.headers["location"])
    assert f'id="outbound-{message_id}"' in queued.text and "will be sent now" in queued.text
    assert run_due(engine) == 1
    sent = web.get(f"{PAGE}?status=sent")
    assert f'id="outbound-{message_id}"' in sent.text and "AA" in sent.text
    assert peer.received[-1] == peer.received[0] and len(peer.received) == SEND_ATTEMPTS + 1
    again = web.post(f"{PAGE}/{message_id}/resend", data={"csrf_token": form_token(page)})
    assert again.status_code == 404  # a sent message is not sent again
    run_due(engine)
    assert len(peer.received) == SEND_ATTEMPTS + 1


def test_discard_takes_it_out_of_the_dead_letters(dead):
    web, message_id, page = dead
    done = web.post(f"{PAGE}/{message_id}/discard", data={"csrf_token": form_token(page)})
    assert done.status_code == 303
    assert f'id="outbound-{message_id}"' in web.get(f"{PAGE}?status=discarded").text
    assert f'id="outbound-{message_id}"' not in web.get(PAGE).text
    assert web.post(f"{PAGE}/{message_id}/resend", data={"csrf_token": form_token(page)}).status_code == 404


def test_forged_forms_bad_ids_and_unknown_actions_are_refused(dead):
    web, message_id, page = dead
    token = form_token(page)
    assert web.post(f"{PAGE}/{message_id}/resend", data={"csrf_token": "forged"}).status_code == 403
    assert web.post(f"{PAGE}/{message_id}/resend", data={}).status_code == 403
    for bad in ("1%27%20OR%201=1", "99999999", "-1", "9" * 15):
        assert web.post(f"{PAGE}/{bad}/resend", data={"csrf_token": token}).status_code == 404
    assert web.post(f"{PAGE}/{message_id}/delete", data={"csrf_token": token}).status_code == 404
    assert web.get(f"{PAGE}?status=%3Cscript%3E").status_code == 200  # an unknown status shows the dead letters
    assert f'id="outbound-{message_id}"' in web.get(PAGE).text


def test_other_roles_and_other_hospitals_administrators_are_refused(dead, engine):
    _, message_id, _ = dead
    make_user(engine, "doctor")
    doctor = browser()
    sign_in(doctor, "doctor.test")
    assert doctor.get(PAGE).status_code == 403
    make_user(engine, "hospital_admin", username="other.admin", organization="Organization/org-other")
    other = browser()
    sign_in(other, "other.admin")
    page = other.get(PAGE)
    assert page.status_code == 200 and f'id="outbound-{message_id}"' not in page.text
    token = re.search(r'name="csrf-token" content="([^"]*)"', page.text).group(1)
    assert other.post(f"{PAGE}/{message_id}/resend", data={"csrf_token": token}).status_code == 404
    make_user(engine, "hospital_admin", username="nowhere.admin", organization=None)
    nowhere = browser()
    sign_in(nowhere, "nowhere.admin")
    assert nowhere.get(PAGE).status_code == 403
    assert browser().get(PAGE).status_code in (302, 303)  # signed out: to the sign-in page


def test_the_page_in_chinese(dead):
    web, _, _ = dead
    page = web.get(f"{PAGE}?lang=zh-Hans")
    assert "发往检验中间件的医嘱" in page.text and "死信" in page.text
