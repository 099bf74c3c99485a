"""A notifiable disease from diagnosis to the public page, in real browsers: a hospital doctor diagnoses infectious
diarrhoea, completes and submits the drafted report card, an officer verifies it, runs the outbreak detection over
the region's reports and verifies the signal in Hexi, prepares a release that a second officer approves, and a
visitor finds the figures on /public (not before the approval).

The journey's diagnosis is made on the workstation's encounter-note form; the last test records one through the
FHIR API instead, as a hospital's own system would, and finds it drafted the same way.
"""

import json
import re
import uuid

import pytest
from playwright.sync_api import expect

from tests.e2e.notifiable_steps import (
    DIARRHOEA,
    HEXI,
    PASSWORD,
    PATIENT_ONSET,
    Region,
    client_token,
    diagnosis,
    load_region,
    region_clock,
    run_reporting_sweep,
    shoot,
)
from tests.e2e.steps import new_tab, sign_in

DISEASE = "Other infectious diarrhoea"


@pytest.fixture
def region_now():
    """The region's clock (Monday 2026-06-08 10:00 in Shanghai, ticking) for the test's length."""
    with region_clock() as now:
        yield now


@pytest.fixture
def region(e2e_engine, region_now):
    """The hospital, the doctor's patient, the reported outbreak and the accounts."""
    return load_region(e2e_engine, uuid.uuid4().hex[:8])


def record_diagnosis(page, region: Region, token: str, base_url: str) -> None:
    """The doctor's FHIR client records the diagnosis; the doctor then signs in to the workstation."""
    answer = page.request.post(f"{base_url}/fhir/Condition", data=json.dumps(diagnosis(region)),
                               headers={"Authorization": f"Bearer {token}", "Content-Type": "application/fhir+json"})
    assert answer.status == 201, answer.text()
    sign_in(page, region.doctor.username, PASSWORD)


def diagnose_in_a_note(page, region: Region) -> None:
    """The doctor finds the patient, writes an encounter note with an ICD-10 diagnosis of infectious origin and signs it."""
    sign_in(page, region.doctor.username, PASSWORD)
    page.get_by_role("searchbox", name="Find a patient in your care by name").fill("Xiaoyu")
    page.get_by_role("button", name="Search").click()
    page.get_by_role("link", name=region.patient_name).click()
    page.get_by_role("button", name="Write a note").click()  # a link styled as a button
    page.get_by_label("Chief complaint").fill("Watery diarrhoea and vomiting for two days")
    page.get_by_label("History of present illness").fill("Ate shellfish at a family dinner; her cousin is ill too.")
    page.get_by_label("Allergies").fill("None known")
    page.get_by_label("Physical examination").fill("Mild dehydration, diffuse abdominal tenderness")
    page.get_by_label("Treatment plan").fill("Oral rehydration salts; stool sample sent")
    page.get_by_label("Find an ICD-10 diagnosis").fill(DIARRHOEA[0])
    page.get_by_role("button", name="Search", exact=True).click()
    page.get_by_role("button", name=re.compile(re.escape(DIARRHOEA[0]))).click()
    page.get_by_label(f"Status of {DIARRHOEA[0]}").select_option("confirmed")
    page.get_by_role("button", name="Save draft").click()
    page.get_by_role("button", name="Sign the note").click()
    expect(page.locator("main")).to_contain_text(DIARRHOEA[0])


def complete_report(page, region: Region) -> None:
    """The doctor opens the drafted report card, finds it pre-filled, adds what the record lacks and submits it."""
    page.goto("/workstation")
    page.get_by_role("button", name=re.compile("Case reports")).click()  # a link styled as a button
    waiting = page.get_by_role("table", name=re.compile("To complete"))
    expect(waiting).to_contain_text(DISEASE)
    shoot(page, "doctor-list")
    waiting.get_by_role("link", name=region.patient_name).click()
    expect(page.get_by_label("Patient name")).to_have_value(region.patient_name)
    expect(page.get_by_label("Birth date")).to_have_value("1991-05-12")
    expect(page.get_by_label("District")).to_have_value(HEXI["code"])
    expect(page.locator("#f-disease")).to_have_value("infectious-diarrhoea")
    expect(page.get_by_label("Diagnosis date and time")).to_have_value(re.compile(r"^2026-06-08T10:\d\d$"))
    shoot(page, "report-card")
    page.get_by_role("button", name="Submit the report").click()  # the onset and the occupation are still missing
    expect(page.get_by_role("alert")).to_contain_text("Check the marked fields.")
    expect(page.locator("#e-onset")).to_have_text("Fill in this field.")
    page.get_by_label("Onset date").fill(PATIENT_ONSET.isoformat())
    page.get_by_label("Occupation").select_option(label="Commercial service")
    page.get_by_label("Clinically diagnosed case").check()
    page.get_by_role("button", name="Submit the report").click()
    expect(page.get_by_role("status")).to_have_text("The case report was submitted to public health.")
    expect(page.get_by_role("table", name=re.compile("Submitted lately"))).to_contain_text(region.patient_name)


def verify_report(page, region: Region) -> None:
    """An officer finds the submitted report in the review list and verifies it."""
    sign_in(page, region.preparer, PASSWORD)
    page.goto("/console/public-health")
    page.get_by_role("link", name=re.compile("Review the case reports")).click()
    page.get_by_label("State").select_option("submitted")
    page.get_by_role("button", name="Show").click()
    row = page.locator("#case-review tbody tr").filter(has_text=region.patient_name)
    expect(row).to_contain_text(DISEASE)
    expect(row).to_contain_text(HEXI["name"])
    row.get_by_role("link", name=region.patient_name).click()
    expect(page.locator("#case-state")).to_have_text("submitted")
    expect(page.locator(".case-card")).to_contain_text(PATIENT_ONSET.isoformat())
    page.locator("form[action$='/acts/verify']").get_by_role("button", name="Verify").click()
    expect(page.locator("#case-done")).to_have_text("The report was verified.")
    expect(page.locator("#case-state")).to_have_text("verified")
    shoot(page, "case-verified")


def triage_signal(page) -> None:
    """The officer runs the detection now, opens the EARS C1 signal of Hexi and verifies it."""
    page.goto("/console/public-health")
    page.get_by_role("link", name=re.compile("Outbreak signals")).click()
    page.get_by_role("button", name="Run the detection now").click()
    expect(page.locator("#signals-done")).to_have_text(re.compile(r"The detection run is done: \d+ new signals\."))
    hexi = page.locator("#new-signals tbody tr").filter(has_text=HEXI["name"]).filter(has_text="C1")
    expect(hexi).to_have_count(1)
    expect(hexi).to_contain_text("2026-06-07")
    expect(hexi).to_contain_text(DISEASE)
    shoot(page, "signals")
    hexi.get_by_role("link", name=DISEASE).click()
    expect(page.locator("#signal-observed")).to_have_text("12")
    expect(page.locator("#signal-reason")).to_contain_text(HEXI["name"])
    chart = page.locator("#signal-chart svg")
    chart.wait_for()
    assert chart.locator("path").count() >= 10, "the chart draws the series' bars and the expected line"
    shoot(page, "signal")
    page.get_by_label("Note (optional)").fill("Shellfish from one market; cases cluster in Hexi.")
    page.locator("#verify-form").get_by_role("button", name="Verify the signal").click()
    expect(page.locator("#signal-done")).to_have_text("The signal was verified.")
    expect(page.locator("#signal-state")).to_have_text("verified")


def prepare_release(page) -> str:
    """The officer counts the last eight complete weeks into a release; its address."""
    page.goto("/console/public-health/releases")
    expect(page.get_by_label("Last week")).to_have_value("2026-W23")
    page.get_by_role("button", name="Count and preview").click()
    expect(page.get_by_role("status")).to_contain_text("Another officer must approve it")
    expect(page.locator("#release-state")).to_have_text("Awaiting approval")
    expect(page.locator("main")).to_contain_text("another public-health officer must check and approve it")
    expect(page.get_by_role("button", name="Approve and publish")).to_have_count(0)
    return page.url.split("?")[0]


def test_a_notifiable_diagnosis_reaches_the_public_page_after_review_detection_and_approval(browser, base_url,
                                                                                            e2e_engine, region,
                                                                                            region_now):
    doctor, officer, second, visitor = (new_tab(browser, base_url, viewport={"width": 1280, "height": 800})
                                        for _ in range(4))
    for tab in (doctor, officer, second, visitor):
        tab.set_default_timeout(10_000)
    try:
        diagnose_in_a_note(doctor, region)
        run_reporting_sweep(e2e_engine, region.tag)
        complete_report(doctor, region)
        verify_report(officer, region)
        triage_signal(officer)
        release = prepare_release(officer)
        shoot(officer, "release-pending")

        visitor.goto("/public")
        expect(visitor.locator("#no-release")).to_contain_text("No figures have been published yet.")
        expect(visitor.locator("main")).not_to_contain_text(DISEASE)

        sign_in(second, region.approver, PASSWORD)
        second.goto(release)
        second.get_by_role("button", name="Approve and publish").click()
        expect(second.get_by_role("status")).to_have_text("Approved: the release is now on the public page.")
        expect(second.locator("#release-state")).to_have_text("Approved")

        visitor.reload()
        weeks = visitor.locator("#disease-week-table")
        row = weeks.locator("tbody tr").filter(has_text=DISEASE)
        # W23 holds Hexi's 25 reported cases and the doctor's patient; W22's four cases are published as <5.
        expect(row.locator("td").nth(7)).to_have_text("26")
        expect(row).to_contain_text("<5")
        expect(weeks.locator("thead")).to_contain_text("W23")
        districts = visitor.locator("#district-table")
        expect(districts.locator("thead")).to_contain_text(HEXI["name"])
        expect(districts.locator("tbody tr").filter(has_text=DISEASE)).to_contain_text("35")  # Hexi's 34, and hers
        visitor.locator("#district-map svg").wait_for()
        shoot(visitor, "public")
        visitor.get_by_role("link", name="简体中文").first.click()
        expect(visitor.locator("#disease-week-table tbody")).to_contain_text("其它感染性腹泻病")
        shoot(visitor, "public-zh")
    finally:
        for tab in (doctor, officer, second, visitor):
            tab.context.close()


def test_a_diagnosis_sent_by_a_hospital_system_over_fhir_drafts_a_case_report(browser, base_url, e2e_engine,
                                                                             region_now):
    region = load_region(e2e_engine, uuid.uuid4().hex[:8], outbreak=False)
    doctor = new_tab(browser, base_url, viewport={"width": 1280, "height": 800})
    doctor.set_default_timeout(10_000)
    try:
        record_diagnosis(doctor, region, client_token(region.doctor, base_url, region_now), base_url)
        run_reporting_sweep(e2e_engine, region.tag)
        doctor.goto("/workstation/case-reports")
        expect(doctor.get_by_role("table", name=re.compile("To complete"))).to_contain_text(DISEASE, timeout=1000)
    finally:
        doctor.context.close()
