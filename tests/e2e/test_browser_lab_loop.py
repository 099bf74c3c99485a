"""The laboratory's whole loop in a real browser, with the HL7 listener and the analyzer simulator as real processes.

A doctor orders a potassium at the workstation; the laboratory technician accessions, collects and receives the
specimen; `smartcare lis simulate` sends the analyzer's ORU^R01 over MLLP to `smartcare lis`; the technician
reviews and releases the flagged result; the doctor is told of the critical value and acknowledges it by reading
the value back; the patient reads the report explained in the app on her phone.
"""

import os
import re
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from smartcare.fhir import gateway, store
from smartcare.platform.db import unit_of_work
from smartcare.platform.security import users
from smartcare.platform.security.context import SYSTEM
from tests.e2e.steps import new_tab, sign_in
from tests.hospital.lab.lab_workflow_record import write_directory

PASSWORD = "Quartz-Meadow-Lantern-73"
CLI = Path(sys.executable).with_name("smartcare")
MRN = "https://smartcare.example/fhir/sid/mrn"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def laboratory(e2e_engine):
    """Mrs Wang (with a hospital number the analyzer knows her by), her doctor, a technician who may release
    results, and her own app account."""
    tag = uuid.uuid4().hex[:6]
    write_directory()
    wang = {**gateway.read(SYSTEM, "Patient/p-wang"), "identifier": [{"system": MRN, "value": f"MRN-{tag}"}]}
    with unit_of_work(e2e_engine) as conn:
        store.write_batch(conn, SYSTEM, [store.Write("PUT", "Patient", "p-wang", wang)])
        users.create_user(conn, username=f"dr.li.{tag}", password=PASSWORD, role="doctor",
                          fhir_ref="Practitioner/prac-li", organization="Organization/org-h")
        users.create_user(conn, username=f"lab.tech.{tag}", password=PASSWORD, role="lab_technician",
                          fhir_ref="Practitioner/prac-lab", organization="Organization/org-h")
        users.create_user(conn, username=f"wang.fang.{tag}", password=PASSWORD, role="patient",
                          fhir_ref="Patient/p-wang")
    return tag


@pytest.fixture
def hl7_listener(e2e_engine):
    """`smartcare lis` on a free port against the browser tests' database; its port."""
    port = _free_port()
    env = {**os.environ, "SMARTCARE_DATABASE_URL": e2e_engine.url.render_as_string(hide_password=False)}
    process = subprocess.Popen([str(CLI), "lis", "--port", str(port)], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                break
        if process.poll() is not None:
            pytest.fail(f"smartcare lis stopped: {process.stdout.read() if process.stdout else ''}")
        time.sleep(0.2)
    else:
        process.kill()
        pytest.fail("smartcare lis did not start listening")
    yield port, env
    process.terminate()
    process.wait(timeout=10)


def test_an_order_goes_from_the_workstation_through_the_analyzer_to_the_patient(page, browser, base_url,
                                                                                laboratory, hl7_listener):
    tag = laboratory
    # The doctor orders a serum potassium.
    sign_in(page, f"dr.li.{tag}", PASSWORD)
    page.goto("/workstation/patients/p-wang/orders")
    page.get_by_label("Find a test, scan, procedure or referral").fill("potassium")
    page.get_by_role("button", name="Search", exact=True).click()
    page.locator("input[name=order][value=potassium]").check()
    page.get_by_role("button", name="Place orders").click()
    page.wait_for_load_state()

    # The technician accessions the order, prints its label, collects and receives the specimen.
    lab = new_tab(browser, base_url, viewport={"width": 1280, "height": 800})
    sign_in(lab, f"lab.tech.{tag}", PASSWORD)
    lab.goto("/workstation/lab")
    row = lab.locator("tr", has_text="Wang Fang").filter(has_text="Potassium").first
    row.get_by_role("button", name="Accession and print label").click()
    lab.wait_for_load_state()
    accession = re.search(r"L\d{11}", lab.locator("main").inner_text()).group(0)
    assert lab.locator(".lab-label svg, .lab-label img").count() >= 1  # the Code 128 barcode
    lab.get_by_role("button", name="Collected now").click()
    lab.get_by_role("button", name="Received in the laboratory").click()
    lab.wait_for_load_state()

    # The analyzer sends its result over MLLP; the listener acknowledges it once it is stored.
    port, env = hl7_listener
    sent = subprocess.run([str(CLI), "lis", "simulate", "--port", str(port), "--critical", "1", "--seed", "7",
                           "--count", "50"], env=env, capture_output=True, text=True, timeout=120)
    assert sent.returncode == 0 and "accepted" in sent.stdout, sent.stdout + sent.stderr
    accepted = re.search(r"Sent (\d+) result messages; (\d+) accepted", sent.stdout)
    assert accepted and accepted.group(1) == accepted.group(2), sent.stdout

    # The technician sees the received value flagged critical, reviews and releases it.
    lab.get_by_role("button", name="Results").click()
    lab.wait_for_load_state()
    results = lab.locator("main").inner_text()
    assert accession in results and ("Critical high" in results or "HH" in results), results
    lab.get_by_role("button", name="Mark as reviewed").click()
    assert "Reviewed by Chen Jing" in lab.locator("main").inner_text()
    lab.get_by_role("button", name="Release the report").click()
    lab.wait_for_load_state()
    lab.screenshot(path="/tmp/sc-e2e-lab-released.png", full_page=True)

    # The doctor is told, opens the critical value and acknowledges it by reading the value back.
    page.goto("/inbox")
    page.get_by_role("link", name=re.compile("Critical", re.IGNORECASE)).first.click()
    page.wait_for_load_state()
    shown = page.locator("main").inner_text()
    value = re.search(r"Potassium\D*(\d+(?:\.\d+)?)", shown).group(1)
    page.get_by_label("Type the value back as you read it").fill("9.9")
    page.get_by_role("button", name="Acknowledge").click()
    page.wait_for_load_state()
    assert "does not match the result" in page.locator("main").inner_text()
    page.get_by_label("Type the value back as you read it").fill(value)
    page.get_by_role("button", name="Acknowledge").click()
    page.wait_for_load_state()
    assert "Acknowledged" in page.locator("main").inner_text()

    # Mrs Wang reads the report on her phone, explained, and is told to seek care now.
    phone = new_tab(browser, base_url, viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    sign_in(phone, f"wang.fang.{tag}", PASSWORD)
    phone.goto("/app/reports")
    phone.locator(".lab-report-list a").first.click()
    phone.wait_for_load_state()
    explained = phone.locator("main").inner_text()
    assert "Potassium" in explained and value in explained
    assert phone.locator(".lab-advice--urgent").count() == 1
    phone.screenshot(path="/tmp/sc-e2e-lab-patient.png", full_page=True)
