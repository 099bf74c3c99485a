"""Imaging's whole loop with real peers: the ordering doctor's workstation in Chromium, `smartcare pacs` as its own
process, dcmtk as the modality, the radiologist's worklist, viewer and report form, and the patient's phone.

Dr Li orders a chest CT; the CT scanner (dcmtk's findscu -W) picks the scheduled exam from the Modality Worklist
and sends its images with storescu under the order's accession number and Study Instance UID; the radiologist
finds the study on the radiology worklist, sees the images drawn in the browser viewer, writes the report from
the exam's template and signs it. The patient sees nothing while it is a draft; once signed Dr Li is told and
reads it on the patient's chart, and Mr Zhao reads it on his phone with its plain-language summary.
"""

import os
import random
import re
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from smartcare.fhir import gateway, store
from smartcare.hospital.imaging.synthetic import SyntheticPatient, SyntheticStudy, iter_study
from smartcare.knowledge.orders import report_templates
from smartcare.platform import clock
from smartcare.platform.db import unit_of_work
from smartcare.platform.security import users
from smartcare.platform.security.context import SYSTEM
from smartcare.platform.settings import get_settings
from tests.e2e.steps import new_tab, sign_in
from tests.hospital.imaging.dicomweb_record import data_dir
from tests.hospital.imaging.pacs_peer import dcmtk, findscu
from tests.hospital.lab.lab_workflow_record import DEPARTMENT, write_directory

PASSWORD = "Harbour-Juniper-Signal-47"
CLI = Path(sys.executable).with_name("smartcare")
MRN = "https://smartcare.example/fhir/sid/mrn"
SHOTS = Path("/tmp/imaging_loop_shots")
EXAM = "CT Chest without contrast"
NAME = "Lei Zhao"  # as the English pages write Mr Zhao Lei's name
NODULE = "A 6 mm solid nodule in the right upper lobe."
IMPRESSION = "Solitary 6 mm right upper lobe nodule; a follow-up CT in 12 months is suggested."
# The canvas holds more than its black background: some pixel is brighter than dark grey (test_browser_viewer.py).
DRAWN = """() => { const c = document.getElementById('dv-image'); if (!c.width) return false;
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  for (let i = 0; i < d.length; i += 4 * 97) { if (d[i] > 40) return true; } return false; }"""
WORKLIST_KEYS = ("PatientName", "PatientBirthDate", "PatientSex", "AccessionNumber", "StudyInstanceUID",
                 "RequestedProcedureDescription", "ReferringPhysicianName",
                 "ScheduledProcedureStepSequence[0].ScheduledProcedureStepStartDate")


@dataclass(frozen=True)
class RunningPacs:
    """The `smartcare pacs` process as the dcmtk helpers address it."""

    address: tuple[str, int]


@dataclass(frozen=True)
class Radiology:
    """Who takes part: the patient's FHIR id and hospital number, and the tag of this run's usernames."""

    tag: str
    patient_id: str
    mrn: str


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def radiology(e2e_engine) -> Radiology:
    """Mr Zhao (hospital number MRN-<tag>, an app account), Dr Li who orders, and the radiologist Dr Gao, all of
    hospital org-h, which has a radiology department."""
    tag = uuid.uuid4().hex[:6]
    write_directory()
    patient_id, mrn = f"p-zhao-{tag}", f"MRN-{tag}"
    resources = [
        {"resourceType": "Organization", "id": "dept-radiology", "name": "radiology",
         "partOf": {"reference": "Organization/org-h"}},
        {"resourceType": "HealthcareService", "id": "hcs-radiology", "name": "radiology",
         "providedBy": {"reference": "Organization/dept-radiology"},
         "type": [{"coding": [{"system": DEPARTMENT, "code": "radiology"}]}]},
        {"resourceType": "Practitioner", "id": "prac-gao", "name": [{"text": "Gao Yan"}]},
        {"resourceType": "Patient", "id": patient_id, "gender": "male", "birthDate": "1961-08-14",
         "identifier": [{"system": MRN, "value": mrn}],
         "name": [{"use": "official", "family": "Zhao", "given": ["Lei"]},
                  {"use": "official", "family": "赵", "given": ["磊"]}],
         "managingOrganization": {"reference": "Organization/org-h"}},
    ]
    with unit_of_work(e2e_engine) as conn:
        store.write_batch(conn, SYSTEM, [store.Write("PUT", r["resourceType"], r["id"], r) for r in resources])
        users.create_user(conn, username=f"dr.li.{tag}", password=PASSWORD, role="doctor",
                          fhir_ref="Practitioner/prac-li", organization="Organization/org-h")
        users.create_user(conn, username=f"rad.gao.{tag}", password=PASSWORD, role="radiologist",
                          fhir_ref="Practitioner/prac-gao", organization="Organization/org-h")
        users.create_user(conn, username=f"zhao.{tag}", password=PASSWORD, role="patient",
                          fhir_ref=f"Patient/{patient_id}")
    return Radiology(tag=tag, patient_id=patient_id, mrn=mrn)


@pytest.fixture
def pacs(e2e_engine, tmp_path, monkeypatch) -> Iterator[RunningPacs]:
    """`smartcare pacs` on a free port against the browser tests' database, keeping its files where the web
    server in this process reads them; dcmtk's tools are run with TCP_NODELAY."""
    files = tmp_path / "data"
    port = _free_port()
    env = {**os.environ, "SMARTCARE_DATABASE_URL": e2e_engine.url.render_as_string(hide_password=False),
           "SMARTCARE_DATA_DIR": str(files)}
    monkeypatch.setenv("TCP_NODELAY", "1")
    process = subprocess.Popen([str(CLI), "pacs", "--port", str(port)], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if process.poll() is not None:
                pytest.fail(f"smartcare pacs stopped: {process.stdout.read() if process.stdout else ''}")
            if time.monotonic() > deadline:
                pytest.fail("smartcare pacs did not start listening")
            time.sleep(0.1)
        with data_dir(files):
            yield RunningPacs(("127.0.0.1", port))
    finally:
        process.terminate()
        process.wait(timeout=10)


def _shot(page, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def _scanned(answer, out: Path) -> list[str]:
    """What the CT scanner makes for the picked exam: four synthetic slices carrying the worklist's patient,
    accession number and Study Instance UID, written as files for storescu."""
    name = answer.PatientName
    # A modality's clock shows the hospital's local time, which is what StudyDate and StudyTime carry.
    local_now = clock.now().astimezone(ZoneInfo(get_settings().region_timezone)).replace(tzinfo=None, microsecond=0)
    study = SyntheticStudy(
        SyntheticPatient(patient_id=answer.PatientID, name=name.alphabetic, ideographic_name=name.ideographic,
                         birth_date=datetime.strptime(answer.PatientBirthDate, "%Y%m%d").date(),
                         sex=answer.PatientSex),
        modality="CT", accession_number=answer.AccessionNumber, description=answer.RequestedProcedureDescription,
        referring_physician=str(answer.ReferringPhysicianName), performed=local_now,
        slices=4, size=128, seed=random.randrange(10**6))
    out.mkdir(parents=True)
    paths = []
    for ds in iter_study(study):
        ds.StudyInstanceUID = answer.StudyInstanceUID
        path = out / f"{ds.InstanceNumber}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(str(path))
    return paths


def _published(patient_id: str) -> dict:
    """The ImagingStudy the PACS writes when the modality's association closes (just after storescu exits)."""
    deadline = time.monotonic() + 15
    while True:
        found = gateway.search(SYSTEM, "ImagingStudy", [("subject", f"Patient/{patient_id}")])
        if found or time.monotonic() > deadline:
            assert len(found) == 1, found
            return found[0]
        time.sleep(0.1)


def test_a_ct_goes_from_the_order_through_the_modality_and_the_radiologist_to_doctor_and_patient(
        page, mobile_page, browser, base_url, radiology, pacs, tmp_path):
    r = radiology
    # Dr Li orders an urgent chest CT at his workstation.
    sign_in(page, f"dr.li.{r.tag}", PASSWORD)
    page.goto(f"/workstation/patients/{r.patient_id}/orders")
    page.get_by_label("Find a test, scan, procedure or referral").fill("CT chest")
    page.get_by_role("button", name="Search", exact=True).click()
    page.locator("input[name=order][value=ct-chest]").check()
    page.get_by_label("Priority").select_option("urgent")
    page.get_by_label("Note", exact=True).fill("Cough for six weeks; smoker for 30 years.")
    page.get_by_role("button", name="Place orders").click()
    page.wait_for_load_state()
    assert "1 order placed." in page.locator("main").inner_text()
    [order] = gateway.search(SYSTEM, "ServiceRequest", [("subject", f"Patient/{r.patient_id}")])
    accession = next(i["value"] for i in order["identifier"] if i["system"].endswith("/accession"))

    # The CT scanner asks the Modality Worklist for its CT exams of the patient it has on the table.
    answers = findscu(pacs, tmp_path / "worklist", *WORKLIST_KEYS, f"PatientID={r.mrn}",
                      "ScheduledProcedureStepSequence[0].Modality=CT", model="-W")
    assert len(answers) == 1, answers
    exam = answers[0]
    assert exam.AccessionNumber == accession and re.fullmatch(r"R\d{11}", accession)
    assert exam.RequestedProcedureDescription == EXAM
    assert str(exam.PatientName) == "Zhao^Lei=赵^磊" and exam.PatientSex == "M"
    assert exam.StudyInstanceUID.startswith("2.25.")

    # It scans and sends the images to the PACS.
    sent = dcmtk("storescu", pacs, files=_scanned(exam, tmp_path / "scan"), calling="CT_SCANNER_1")
    assert sent.returncode == 0, sent.stdout + sent.stderr
    study = _published(r.patient_id)
    assert study["basedOn"] == [{"reference": f"ServiceRequest/{order['id']}"}]
    assert study["numberOfInstances"] == 4

    # The radiologist finds the study on the worklist, opens it and its images.
    rad = new_tab(browser, base_url, viewport={"width": 1280, "height": 800})
    sign_in(rad, f"rad.gao.{r.tag}", PASSWORD)
    rad.goto("/workstation/imaging")
    row = rad.locator("tr", has_text=NAME).filter(has_text=EXAM)
    assert "Urgent" in row.inner_text() and "1 / 4" in row.inner_text()
    assert "Cough for six weeks" in row.inner_text()
    _shot(rad, "1-radiology-worklist")
    row.get_by_role("link", name=EXAM).click()
    rad.wait_for_load_state()
    rad.get_by_role("button", name="Open images").click()
    rad.locator("#dv-position").filter(has_text="Image 1 of 4").wait_for()
    rad.wait_for_function(DRAWN)
    _shot(rad, "2-viewer")
    rad.get_by_role("link", name="Back to the study").click()
    rad.wait_for_load_state()

    # ... starts from the template's normal-study text, describes the nodule and saves a draft.
    rad.get_by_role("link", name="Start from the normal-study text").click()
    rad.wait_for_load_state()
    template = report_templates.template_for("ct-chest")
    assert rad.get_by_label("Technique").input_value() == template.technique.in_locale("en")
    assert rad.get_by_label("Airways").input_value() == "The central airways are patent."
    rad.get_by_label("Lungs", exact=True).fill(NODULE)
    rad.get_by_label("Impression").fill(IMPRESSION)
    rad.get_by_role("button", name="Save the draft").click()
    rad.wait_for_load_state()
    assert rad.get_by_label("Lungs", exact=True).input_value() == NODULE

    # A draft is not the patient's to read.
    phone = mobile_page
    sign_in(phone, f"zhao.{r.tag}", PASSWORD)
    phone.goto("/app/imaging")
    assert "No imaging reports yet" in phone.locator("main").inner_text()

    # The radiologist signs.
    rad.get_by_role("button", name="Sign the report").click()
    rad.wait_for_load_state()
    signed = rad.locator("main").inner_text()
    assert "Signed by Gao Yan" in signed and IMPRESSION in signed and NODULE in signed
    _shot(rad, "3-signed-report")
    rad.goto("/workstation/imaging")
    assert rad.locator("tr", has_text=NAME).count() == 0  # reported: off the worklist
    # Signing completed the order: the scanner is no longer offered the exam.
    assert findscu(pacs, tmp_path / "worklist", "AccessionNumber", f"PatientID={r.mrn}", model="-W") == []

    # Dr Li is told, and reads the signed report from his patient's chart.
    page.goto("/inbox")
    told = page.locator("#inbox-list li", has_text="Imaging report signed").first
    assert NAME in told.inner_text() and IMPRESSION in told.inner_text()
    page.goto(f"/workstation/patients/{r.patient_id}")
    imaging = page.locator("#imaging")
    assert IMPRESSION in imaging.inner_text()
    _shot(page, "4-doctor-chart")
    imaging.get_by_role("link", name=EXAM).click()
    page.wait_for_load_state()
    shown = page.locator("main").inner_text()
    assert "Signed by Gao Yan" in shown and NODULE in shown and IMPRESSION in shown
    assert page.get_by_role("button", name="Sign the report").count() == 0

    # Mr Zhao reads it on his phone, with what it means in plain words.
    phone.goto("/app/imaging")
    listed = phone.locator(".lab-result", has_text=EXAM)
    assert report_templates.plain_words("findings").in_locale("en") in listed.inner_text()
    listed.get_by_role("link", name=EXAM).click()
    phone.wait_for_load_state()
    report = phone.locator("main").inner_text()
    assert "What it means" in report and IMPRESSION in report
    assert report_templates.plain_words("findings").in_locale("en") in report
    assert phone.get_by_role("button", name="See the images").count() == 1
    assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    _shot(phone, "5-patient-phone")
