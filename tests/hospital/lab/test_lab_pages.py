"""The laboratory's pages end to end: worklist, accession and label, collection and receipt, result entry, review,
release, and the doctor's acknowledgement of a critical value with a read-back; who may open them; hostile input."""

import re

import pytest

from smartcare.fhir import gateway
from smartcare.hospital.lab import critical
from smartcare.platform.db import unit_of_work
from smartcare.platform.notifications import service as notifications
from smartcare.platform.security.context import SYSTEM
from tests.hospital.lab.lab_workflow_record import place, write_hospital
from tests.web_support import browser, form_token, make_user, sign_in

POTASSIUM = "2823-3"


@pytest.fixture
def pages(engine, now):
    lab = write_hospital(engine)
    request_id = place(lab["doctor"], "potassium")
    tech = browser()
    sign_in(tech, "lab.tech")
    return lab, tech, request_id


def _post(web, page_path: str, action: str, **data) -> object:
    page = web.get(page_path)
    return web.post(action, data={"csrf_token": form_token(page), **data})


def _to_results(tech, request_id: str) -> str:
    done = _post(tech, "/workstation/lab", f"/workstation/lab/orders/{request_id}/accession")
    assert done.status_code == 303
    specimen_path = done.headers["location"]
    for step in ("collect", "receive"):
        assert _post(tech, specimen_path, f"{specimen_path}/{step}").status_code == 303
    return specimen_path


def test_the_worklist_walks_an_order_from_accession_to_release(pages):
    _, tech, request_id = pages
    worklist = tech.get("/workstation/lab")
    assert worklist.status_code == 200 and f"/workstation/lab/orders/{request_id}/accession" in worklist.text
    specimen_path = _to_results(tech, request_id)
    label = tech.get(specimen_path)
    number = re.search(r"L\d{11}", label.text).group(0)
    assert "<svg" in label.text and f">{number}</text>" in label.text and "Received" in label.text
    results_path = f"{specimen_path}/results"
    entered = _post(tech, results_path, f"{results_path}/enter", **{f"value-{POTASSIUM}": "5.6"})
    assert entered.status_code == 303
    page = tech.get(results_path)
    assert "H High" in page.text and "Preliminary" in page.text
    assert number in tech.get("/workstation/lab").text
    assert _post(tech, results_path, f"{results_path}/review").status_code == 303
    assert _post(tech, results_path, f"{results_path}/release").status_code == 303
    assert "Released" in tech.get(results_path).text
    assert gateway.read(SYSTEM, f"ServiceRequest/{request_id}")["status"] == "completed"
    assert f"/workstation/lab/orders/{request_id}/accession" not in tech.get("/workstation/lab").text


def test_bad_values_are_shown_back_as_a_form_error(pages):
    _, tech, request_id = pages
    results_path = f"{_to_results(tech, request_id)}/results"
    refused = _post(tech, results_path, f"{results_path}/enter", **{f"value-{POTASSIUM}": "four"})
    assert refused.status_code == 400 and "is not a number" in refused.text


def test_a_rejected_specimen_shows_its_reason(pages):
    _, tech, request_id = pages
    done = _post(tech, "/workstation/lab", f"/workstation/lab/orders/{request_id}/accession")
    path = done.headers["location"]
    assert _post(tech, path, f"{path}/reject", reason="haemolysed", note="pink").status_code == 303
    page = tech.get(path)
    assert "Haemolysed" in page.text and "Rejected" in page.text
    assert "/reject" not in page.text
    again = _post(tech, "/workstation/lab", f"{path}/reject", reason="clotted")
    assert again.status_code == 409 and "already rejected" in again.text


def test_the_doctor_acknowledges_a_critical_value_from_the_notification_link(pages, engine):
    lab, tech, request_id = pages
    results_path = f"{_to_results(tech, request_id)}/results"
    _post(tech, results_path, f"{results_path}/enter", **{f"value-{POTASSIUM}": "7.1"})
    _post(tech, results_path, f"{results_path}/review")
    _post(tech, results_path, f"{results_path}/release")
    assert "Critical values awaiting acknowledgement" in tech.get("/workstation/lab").text
    with unit_of_work() as conn:
        link = notifications.inbox(conn, user_id=lab["doctor_id"])[0]["link"]
    doctor = browser()
    sign_in(doctor, "li.doctor")
    page = doctor.get(link)
    assert page.status_code == 200 and "7.1 mmol/L" in page.text
    wrong = doctor.post(link, data={"csrf_token": form_token(page), "read_back": "1.7"})
    assert wrong.status_code == 400 and "does not match" in wrong.text
    right = doctor.post(link, data={"csrf_token": form_token(page), "read_back": "7.1 mmol/L"})
    assert right.status_code == 303
    assert "Acknowledged with the read-back" in doctor.get(link).text
    task_id = link.rsplit("/", 1)[1]
    assert gateway.read(SYSTEM, f"Task/{task_id}")["status"] == "completed"
    assert critical.open_for(SYSTEM) == []


def test_the_pages_speak_chinese(pages):
    _, tech, request_id = pages
    page = tech.get("/workstation/lab", params={"lang": "zh-Hans"})
    assert page.status_code == 200 and "检验科工作列表" in page.text and "待采集" in page.text


def test_only_laboratory_staff_open_the_worklist(pages, engine):
    doctor = browser()
    sign_in(doctor, "li.doctor")
    assert doctor.get("/workstation/lab").status_code == 403
    make_user(engine, "patient", username="wang.patient", fhir_ref="Patient/p-wang")
    patient = browser()
    sign_in(patient, "wang.patient")
    assert patient.get("/workstation/lab").status_code in (303, 403)


def test_lab_actions_check_the_csrf_token(pages):
    _, tech, request_id = pages
    forged = tech.post(f"/workstation/lab/orders/{request_id}/accession", data={"csrf_token": "forged"})
    assert forged.status_code == 403
    assert gateway.search(SYSTEM, "Specimen", [("subject", "Patient/p-wang")]) == []


@pytest.mark.parametrize("path", ["/workstation/lab/specimens/..%2F..%2Fetc", "/workstation/lab/specimens/" + "x" * 70,
                                  "/workstation/lab/specimens/nope/results", "/workstation/lab/critical/' OR 1=1 --",
                                  "/workstation/lab/critical/nope"])
def test_hostile_or_unknown_ids_get_404(pages, path):
    _, tech, _ = pages
    assert tech.get(path).status_code == 404
