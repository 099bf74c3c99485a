"""The released laboratory report at the workstation (results with flags, ranges, previous values and trends, and
its PDF) and in the patient's app (the PDF for the patient and their proxies); who may open them; hostile ids."""

import pytest

from smartcare.fhir import store
from smartcare.hospital.lab import release, results
from smartcare.platform.db import unit_of_work
from smartcare.platform.security.context import SYSTEM
from tests.hospital.lab.lab_workflow_record import place, received, write_hospital
from tests.hospital.lab.test_report_pdf import pdf_text
from tests.web_support import browser, make_user, sign_in

POTASSIUM = "2823-3"
CONSENT_CATEGORY = "https://smartcare.example/fhir/CodeSystem/consent-category"


def _released(lab, values: dict[str, str], key: str = "potassium") -> dict:
    specimen = received(lab["tech"], place(lab["doctor"], key))
    report = results.enter_results(lab["tech"], specimen_id=specimen["id"], values=values)
    results.review(lab["tech"], report_id=report["id"])
    return release.release(lab["tech"], report_id=report["id"])


@pytest.fixture
def lab(engine):
    """The hospital and two released potassium reports of Mrs Wang (the second critical); clock not frozen, since
    page sessions are checked against the real time."""
    lab = write_hospital(engine)
    lab["first"] = _released(lab, {POTASSIUM: "4.0"})
    lab["second"] = _released(lab, {POTASSIUM: "6.9"})
    return lab


def _signed_in(username: str):
    web = browser()
    sign_in(web, username)
    return web


def test_the_doctor_reads_the_report_with_flags_previous_result_and_trend(lab):
    doctor = _signed_in("li.doctor")
    page = doctor.get(f"/workstation/lab/reports/{lab['second']['id']}")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    text = page.text
    assert "Wang Fang" in text and "City Hospital" in text and "6.9" in text and "HH" in text
    assert "Critical value" in text and "3.5–5.3" in text
    assert "+2.9" in text and 'class="lab-spark"' in text and "<polyline" in text
    assert f'href="/workstation/lab/reports/{lab["second"]["id"]}.pdf"' in text


def test_the_pdf_is_served_inline_and_never_cached(lab):
    doctor = _signed_in("li.doctor")
    pdf = doctor.get(f"/workstation/lab/reports/{lab['second']['id']}.pdf")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.headers["cache-control"] == "no-store"
    assert pdf.headers["content-disposition"].startswith('inline; filename="lab-report-L')
    assert pdf.content.startswith(b"%PDF")
    chinese = doctor.get(f"/workstation/lab/reports/{lab['second']['id']}.pdf", params={"lang": "zh-Hans"})
    assert chinese.status_code == 200 and b"STSong-Light" in chinese.content


def test_the_technician_opens_the_report_from_the_results_page_after_release(lab):
    tech = _signed_in("lab.tech")
    specimen = lab["second"]["specimen"][0]["reference"].split("/")[1]
    page = tech.get(f"/workstation/lab/specimens/{specimen}/results")
    assert f'href="/workstation/lab/reports/{lab["second"]["id"]}"' in page.text
    assert tech.get(f"/workstation/lab/reports/{lab['second']['id']}").status_code == 200


def test_the_chart_links_the_released_reports(lab):
    page = _signed_in("li.doctor").get("/workstation/patients/p-wang")
    assert f'href="/workstation/lab/reports/{lab["first"]["id"]}"' in page.text
    assert f'href="/workstation/lab/reports/{lab["second"]["id"]}"' in page.text


def test_a_preliminary_report_is_refused_with_a_clear_message(lab):
    specimen = received(lab["tech"], place(lab["doctor"], "potassium"))
    draft = results.enter_results(lab["tech"], specimen_id=specimen["id"], values={POTASSIUM: "4.4"})
    doctor = _signed_in("li.doctor")
    for path in (f"/workstation/lab/reports/{draft['id']}", f"/workstation/lab/reports/{draft['id']}.pdf"):
        refused = doctor.get(path)
        assert refused.status_code == 409 and "has not been released yet" in refused.text
        assert "4.4" not in refused.text


@pytest.mark.parametrize("report_id", ["%3Cscript%3Ealert(1)%3C%2Fscript%3E", "x" * 70, "no-such-report",
                                       "..%2F..%2Fetc%2Fpasswd", "r'%20OR%201=1"])
def test_hostile_ids_are_not_found(lab, report_id):
    doctor = _signed_in("li.doctor")
    for suffix in ("", ".pdf"):
        page = doctor.get(f"/workstation/lab/reports/{report_id}{suffix}")
        assert page.status_code == 404 and "<script>alert" not in page.text


def test_signed_out_visitors_are_sent_to_sign_in(lab):
    for path in (f"/workstation/lab/reports/{lab['second']['id']}", f"/workstation/lab/reports/{lab['second']['id']}.pdf",
                 f"/app/reports/{lab['second']['id']}.pdf"):
        answer = browser().get(path)
        assert answer.status_code in (302, 303) and "/login" in answer.headers["location"]


def test_a_doctor_of_another_hospital_does_not_see_the_report(lab, engine):
    make_user(engine, "doctor", username="zhou.other", fhir_ref="Practitioner/prac-zhou",
              organization="Organization/org-other")
    other = _signed_in("zhou.other")
    assert other.get(f"/workstation/lab/reports/{lab['second']['id']}").status_code == 404
    assert other.get(f"/workstation/lab/reports/{lab['second']['id']}.pdf").status_code == 404


def test_a_pharmacist_may_not_open_laboratory_reports(lab, engine):
    make_user(engine, "pharmacist", username="pharm.h", organization="Organization/org-h")
    assert _signed_in("pharm.h").get(f"/workstation/lab/reports/{lab['second']['id']}").status_code == 403


def test_the_patient_prints_their_own_report_in_their_language(lab, engine):
    make_user(engine, "patient", username="wang.fang", fhir_ref="Patient/p-wang")
    patient = _signed_in("wang.fang")
    page = patient.get(f"/app/reports/{lab['second']['id']}")
    assert f'href="/app/reports/{lab["second"]["id"]}.pdf"' in page.text
    pdf = patient.get(f"/app/reports/{lab['second']['id']}.pdf", params={"lang": "zh-Hans"})
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.headers["cache-control"] == "no-store"
    text = pdf_text(pdf.content)
    assert "检验报告单" in text and "Wang Fang" in text and "6.9" in text


def test_a_patient_gets_no_pdf_of_someone_elses_or_an_unreleased_report(lab, engine):
    specimen = received(lab["tech"], place(lab["doctor"], "potassium"))
    draft = results.enter_results(lab["tech"], specimen_id=specimen["id"], values={POTASSIUM: "4.4"})
    make_user(engine, "patient", username="zhao.lei", fhir_ref="Patient/p-zhao")
    make_user(engine, "patient", username="wang.fang", fhir_ref="Patient/p-wang")
    stranger = _signed_in("zhao.lei")
    assert stranger.get(f"/app/reports/{lab['second']['id']}.pdf").status_code == 404
    owner = _signed_in("wang.fang")
    assert owner.get(f"/app/reports/{draft['id']}.pdf").status_code == 404
    assert owner.get("/app/reports/%3Cb%3E.pdf").status_code == 404


def test_a_proxy_with_consent_prints_the_report(lab, engine):
    records = [
        {"resourceType": "RelatedPerson", "id": "rp-daughter", "patient": {"reference": "Patient/p-wang"},
         "relationship": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-RoleCode",
                                       "code": "DAUC"}]}]},
        {"resourceType": "Consent", "id": "c-daughter", "status": "active",
         "scope": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope",
                               "code": "patient-privacy"}]},
         "category": [{"coding": [{"system": CONSENT_CATEGORY, "code": "proxy-access"}]}],
         "patient": {"reference": "Patient/p-wang"},
         "provision": {"type": "permit", "actor": [{
             "role": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-RoleCode", "code": "FAMMEMB"}]},
             "reference": {"reference": "RelatedPerson/rp-daughter"}}]}},
    ]
    with unit_of_work() as conn:
        store.write_batch(conn, SYSTEM, [store.Write("PUT", r["resourceType"], r["id"], r) for r in records])
    make_user(engine, "caregiver", username="wang.daughter", fhir_ref="RelatedPerson/rp-daughter")
    daughter = _signed_in("wang.daughter")
    pdf = daughter.get(f"/app/reports/{lab['second']['id']}.pdf")
    assert pdf.status_code == 200 and "Wang Fang" in pdf_text(pdf.content)
