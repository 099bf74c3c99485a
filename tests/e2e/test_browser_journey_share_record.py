"""Journey 4 of the patient app (issue 14), on a phone: a patient exports their International Patient Summary, shares
a link with an outside doctor, revokes it, and sees the accesses on "who opened my record"."""

import json
import os
import re
import uuid
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import expect

from smartcare.fhir import store
from smartcare.fhir.ips.check import check_document
from smartcare.platform import clock
from smartcare.platform.db import unit_of_work
from smartcare.platform.security.context import SYSTEM
from tests.e2e.conftest import MOBILE
from tests.e2e.steps import sign_in
from tests.web_support import PASSWORD, make_user

SHOTS = Path(os.environ.get("SMARTCARE_SCREENSHOTS", "/tmp/smartcare-shots")) / "journey-share-record"
LOINC = "http://loinc.org"
CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
DOCTOR_LABEL = "Dr Chen, Shanghai clinic"


@pytest.fixture
def resident(e2e_engine) -> dict[str, str]:
    """Mrs Gao Min, 62, with hypertension, a penicillin allergy, amlodipine and a recent blood glucose, sent by her
    health centre; and her app account."""
    tag = uuid.uuid4().hex[:8]
    pid = f"share-{tag}"
    subject = {"reference": f"Patient/{pid}"}
    resources = [
        {"resourceType": "Organization", "id": f"share-org-{tag}", "name": "Eastbank Community Health Centre"},
        {"resourceType": "Patient", "id": pid, "gender": "female", "birthDate": "1963-09-14",
         "name": [{"family": "Gao", "given": ["Min"]}],
         "managingOrganization": {"reference": f"Organization/share-org-{tag}"}},
        {"resourceType": "Condition", "id": f"{pid}-htn", "subject": subject,
         "clinicalStatus": {"coding": [{"system": CLINICAL, "code": "active"}]},
         "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": "I10"}],
                  "text": "Essential hypertension"}, "onsetDateTime": "2021-04-01"},
        {"resourceType": "AllergyIntolerance", "id": f"{pid}-pen", "patient": subject,
         "code": {"coding": [{"system": "http://snomed.info/sct", "code": "764146007"}], "text": "Penicillin"},
         "recordedDate": "2019-06-01"},
        {"resourceType": "MedicationRequest", "id": f"{pid}-aml", "status": "active", "intent": "order",
         "subject": subject, "authoredOn": "2025-11-02", "medicationCodeableConcept": {"text": "Amlodipine 5 mg"},
         "dosageInstruction": [{"text": "one tablet each morning"}]},
        {"resourceType": "Observation", "id": f"{pid}-glu", "status": "final", "subject": subject,
         "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                   "code": "laboratory"}]}],
         "code": {"coding": [{"system": LOINC, "code": "14771-0"}], "text": "Fasting glucose"},
         "effectiveDateTime": (clock.now() - timedelta(days=10)).isoformat(),
         "valueQuantity": {"value": 6.4, "unit": "mmol/L"}},
    ]
    with unit_of_work(e2e_engine) as conn:
        store.write_batch(conn, SYSTEM, [store.Write("PUT", r["resourceType"], r["id"], r) for r in resources])
    make_user(e2e_engine, "patient", f"gao.{tag}", fhir_ref=f"Patient/{pid}")
    return {"username": f"gao.{tag}", "patient": pid}


def _shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def _download_summary(page) -> dict:
    with page.expect_download() as started:
        page.get_by_role("link", name="International Patient Summary (FHIR JSON").click()
    return json.loads(Path(started.value.path()).read_text(encoding="utf-8"))


def test_a_patient_exports_the_ips_shares_a_link_revokes_it_and_sees_who_opened_the_record(browser, base_url,
                                                                                            resident):
    phone = {"viewport": MOBILE, "device_scale_factor": 2, "is_mobile": True, "has_touch": True, "locale": "en-US",
             "base_url": base_url}
    patient_context = browser.new_context(**phone, accept_downloads=True)
    doctor_context = browser.new_context(**phone)
    try:
        _journey(patient_context.new_page(), doctor_context.new_page(), resident)
    finally:
        doctor_context.close()
        patient_context.close()


def _journey(page, doctor, resident: dict[str, str]) -> None:
    sign_in(page, resident["username"], PASSWORD)
    page.get_by_role("link", name="My health record").first.click()
    page.get_by_role("navigation", name="Parts of the record").get_by_role("link", name="Export and import").click()
    expect(page.get_by_role("heading", name="Take your record with you")).to_be_visible()
    _shot(page, "1-export")

    # 1. The IPS download: a FHIR document Bundle, the Composition first, her own data inside.
    bundle = _download_summary(page)
    assert bundle["resourceType"] == "Bundle" and bundle["type"] == "document"
    kinds = [e["resource"]["resourceType"] for e in bundle["entry"]]
    assert kinds[0] == "Composition" and bundle["entry"][0]["resource"]["type"]["coding"][0]["code"] == "60591-5"
    patients = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient"]
    assert [(p["name"][0]["family"], p["birthDate"]) for p in patients] == [("Gao", "1963-09-14")]
    text = json.dumps(bundle)
    assert all(words in text for words in ("Essential hypertension", "Penicillin", "Amlodipine 5 mg"))
    assert [i for i in check_document(bundle) if i["severity"] == "error"] == []

    # 2. A link for the outside doctor: summary and results, for one day, with its QR code.
    page.get_by_role("link", name="Share my record").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Share my record")
    page.get_by_label("Summary and results").check()
    page.get_by_label("How long it lasts").select_option(label="1 day")
    page.get_by_label("Who it is for (optional)").fill(DOCTOR_LABEL)
    page.get_by_role("button", name="Make the link").click()
    made = page.locator("article.share-made")
    expect(made.get_by_role("heading", name="Your new link")).to_be_visible()
    expect(made.locator("figure.share-qr svg")).to_be_visible()
    assert made.locator("figure.share-qr svg").bounding_box()["width"] >= 120  # big enough to scan from a phone
    url = made.get_by_label("Link").input_value()
    assert url.startswith(page.url.split("/app/")[0] + "/shared/")
    until = datetime.fromisoformat(made.locator("time").get_attribute("datetime"))
    assert timedelta(hours=23) < until - clock.now() <= timedelta(hours=24)  # the day she chose, not the default
    expect(made).to_contain_text("Summary and results")
    listed = page.locator("li.share-link").filter(has_text=DOCTOR_LABEL)
    expect(listed).to_contain_text("Active until")
    expect(listed).to_contain_text("Opened 0 times")
    _shot(page, "2-link-made-en")
    page.goto(f"/app/share?person={resident['patient']}&lang=zh-Hans")
    expect(page.get_by_role("heading", level=1)).to_have_text("分享我的记录")
    expect(page.locator("li.share-link").filter(has_text=DOCTOR_LABEL)).to_contain_text("有效期至")
    _shot(page, "2-share-page-zh")
    page.goto(f"/app/share?person={resident['patient']}&lang=en")

    # 3. The doctor opens the link on their own phone, without an account, and reads the shared summary.
    opened = doctor.goto(url)
    assert opened.status == 200
    expect(doctor.get_by_role("heading", level=1)).to_have_text("Shared health record")
    expect(doctor.locator(".shared-who")).to_contain_text("Min Gao")
    for words in ("Essential hypertension · active", "Penicillin", "Amlodipine 5 mg", "Fasting glucose · 6.4 mmol/L"):
        expect(doctor.locator("section.shared-section").filter(has_text=words)).to_have_count(1)
    expect(doctor.get_by_text("terminology.hl7.org")).to_have_count(0)  # codes in words, not code-system addresses
    expect(doctor.locator(".shared-note").first).to_contain_text("Summary and results")
    _shot(doctor, "3-doctor-reads")

    # 4. The patient sees the use and revokes the link.
    page.reload()
    listed = page.locator("li.share-link").filter(has_text=DOCTOR_LABEL)
    expect(listed).to_contain_text("Opened 1 times")
    listed.get_by_role("button", name=f"Revoke the link for {DOCTOR_LABEL}").click()
    expect(page.locator("li.share-link").filter(has_text=DOCTOR_LABEL)).to_contain_text("Revoked")
    expect(page.get_by_role("button", name=f"Revoke the link for {DOCTOR_LABEL}")).to_have_count(0)
    _shot(page, "4-revoked")

    # 5. The doctor's reload is refused in words, and the record is no longer there.
    refused = doctor.reload()
    assert refused.status == 410
    expect(doctor.get_by_role("heading", level=1)).to_have_text("This link was revoked")
    expect(doctor.get_by_text("The patient has withdrawn this link.")).to_be_visible()
    expect(doctor.get_by_text("Essential hypertension")).to_have_count(0)
    _shot(doctor, "5-doctor-refused")

    # 6. "Who opened my record": her own export, the doctor's use of the link, and the refused try after it.
    page.get_by_role("link", name="Who opened my record").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Who opened my record")
    entries = page.locator("li.access-entry")
    by_link = entries.filter(has_text=f"Your share link “{DOCTOR_LABEL}”")
    expect(by_link.filter(has_text="Refused")).to_contain_text("tried to open")
    served = by_link.filter(has_text="exported")
    expect(served).to_have_count(1)
    expect(served).to_contain_text("care providers, problems and diagnoses, allergies")
    expect(served).to_contain_text("at the patient's request")
    # Her own visits are folded into a line a day; today's opens to her IPS download, naming what the summary held
    # (the audit files a document's records under her).
    today = page.locator("li.access-day").first
    expect(today.locator("summary")).to_contain_text("You opened your record")
    today.locator("summary").click()
    rows = [" ".join(text.split()) for text in today.locator("li.access-own").all_inner_texts()]
    assert [r for r in rows if re.fullmatch(r"\S+ You compiled .*problems and diagnoses.*", r)], rows
    _shot(page, "6-who-opened-en")
    page.goto(f"/app/access?person={resident['patient']}&lang=zh-Hans")
    expect(page.get_by_role("heading", level=1)).to_have_text("谁查看了我的档案")
    _shot(page, "6-who-opened-zh")
    page.goto(f"/app/access?person={resident['patient']}&lang=en")
