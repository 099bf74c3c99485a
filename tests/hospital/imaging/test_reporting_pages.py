"""The radiologist's worklist and study page: the form from the exam's template, signing, addenda, who may do what."""

import pytest

from smartcare.fhir import gateway
from smartcare.hospital.imaging import reporting
from smartcare.knowledge.orders import report_templates
from smartcare.platform.security.context import SYSTEM
from tests.hospital.imaging.radiology_record import order, study, write_radiology
from tests.web_support import browser, form_token, sign_in


@pytest.fixture
def rad(engine, now):
    return write_radiology(engine)


def _signed_in(username: str):
    web = browser()
    sign_in(web, username)
    return web


def _normal_fields(page) -> dict[str, str]:
    template = report_templates.template_for("ct-chest")
    form = reporting.normal_form(template, "en")
    return {"csrf_token": form_token(page), "technique": form.technique, "comparison": "",
            "impression": form.impression, **{f"finding_{k}": v for k, v in form.findings.items()}}


def test_the_worklist_page_shows_the_studies_by_priority_with_their_facts(rad):
    study("st-r", order(rad["doctor"]), started="2026-03-01T09:00:00+08:00")
    study("st-s", order(rad["doctor"], "ct-head", priority="stat", note="Fall from a ladder"))
    page = _signed_in("rad.gao").get("/workstation/imaging")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    text = page.text
    assert text.index("CT Head without contrast") < text.index("CT Chest without contrast")
    assert "Wang Fang" in text and "Fall from a ladder" in text and "2 / 30" in text and "Immediately" in text
    assert 'href="/workstation/imaging/studies/st-s"' in text


def test_the_worklist_is_in_chinese_for_chinese_readers(rad):
    study("st-s", order(rad["doctor"], "ct-head", priority="stat"))
    page = _signed_in("rad.gao").get("/workstation/imaging", params={"lang": "zh-Hans"})
    assert "放射科工作列表" in page.text and "头颅CT平扫" in page.text and "检查原因" in page.text


def test_the_worklist_is_refused_to_a_nurse_and_a_patient(rad, engine):
    from tests.web_support import make_user

    make_user(engine, "nurse", username="nurse.h", fhir_ref="Practitioner/nurse-h", organization="Organization/org-h")
    assert _signed_in("nurse.h").get("/workstation/imaging").status_code == 403
    assert browser().get("/workstation/imaging").status_code == 303


def test_the_study_page_fills_the_form_with_the_normal_study_text_and_signing_shows_the_report(rad):
    study_id = study("st-1", order(rad["doctor"]))
    web = _signed_in("rad.gao")
    page = web.get(f"/workstation/imaging/studies/{study_id}", params={"start": "normal"})
    assert page.status_code == 200
    assert "No consolidation, mass or suspicious nodule." in page.text and "Open images" in page.text
    assert "Series 1" in page.text and f'/workstation/imaging/studies/{study_id}/viewer' in page.text
    done = web.post(f"/workstation/imaging/studies/{study_id}/report", data={**_normal_fields(page), "action": "sign"})
    assert done.status_code == 303
    shown = web.get(f"/workstation/imaging/studies/{study_id}")
    assert "Signed by Gao Yan" in shown.text and "Add the addendum" in shown.text
    [report] = gateway.search(SYSTEM, "DiagnosticReport", [("subject", "Patient/p-wang")])
    assert report["status"] == "final"


def test_a_doctor_sees_the_study_read_only_and_cannot_sign(rad):
    study_id = study("st-1", order(rad["doctor"]))
    web = _signed_in("li.doctor")
    page = web.get(f"/workstation/imaging/studies/{study_id}")
    assert page.status_code == 200 and "Sign the report" not in page.text and "No signed report yet." in page.text
    # The page has no form for a doctor; a token from one of their pages that has one.
    with_form = web.get("/workstation/patients/p-wang/orders")
    refused = web.post(f"/workstation/imaging/studies/{study_id}/report",
                       data={**_normal_fields(with_form), "action": "sign"})
    assert refused.status_code == 403 and "Only a radiologist writes and signs imaging reports." in refused.text
    assert gateway.search(SYSTEM, "DiagnosticReport", [("subject", "Patient/p-wang")]) == []


def test_signing_without_an_impression_says_so_in_chinese_and_keeps_what_was_typed(rad):
    study_id = study("st-1", order(rad["doctor"]))
    web = _signed_in("rad.gao")
    page = web.get(f"/workstation/imaging/studies/{study_id}", params={"lang": "zh-Hans"})
    fields = {**_normal_fields(page), "impression": "", "finding_lungs": "<script>alert(1)</script>", "action": "sign"}
    refused = web.post(f"/workstation/imaging/studies/{study_id}/report", data=fields)
    assert refused.status_code == 400 and "签发前请填写印象。" in refused.text
    assert "<script>alert(1)</script>" not in refused.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in refused.text


def test_a_form_without_the_csrf_token_is_refused(rad):
    study_id = study("st-1", order(rad["doctor"]))
    web = _signed_in("rad.gao")
    page = web.get(f"/workstation/imaging/studies/{study_id}")
    refused = web.post(f"/workstation/imaging/studies/{study_id}/report",
                       data={**_normal_fields(page), "csrf_token": "forged", "action": "sign"})
    assert refused.status_code == 403
    assert gateway.search(SYSTEM, "DiagnosticReport", [("subject", "Patient/p-wang")]) == []


def test_an_addendum_through_the_page_shows_the_versions(rad):
    study_id = study("st-1", order(rad["doctor"]))
    web = _signed_in("rad.gao")
    page = web.get(f"/workstation/imaging/studies/{study_id}", params={"start": "normal"})
    web.post(f"/workstation/imaging/studies/{study_id}/report", data={**_normal_fields(page), "action": "sign"})
    [report] = gateway.search(SYSTEM, "DiagnosticReport", [("subject", "Patient/p-wang")])
    empty = web.post(f"/workstation/imaging/reports/{report['id']}/addendum",
                     data={"csrf_token": form_token(page), "addendum": "Small nodule.", "reason": ""})
    assert empty.status_code == 400 and "An addendum needs its text and the reason for it." in empty.text
    done = web.post(f"/workstation/imaging/reports/{report['id']}/addendum",
                    data={"csrf_token": form_token(page), "addendum": "Small nodule.", "reason": "Second look"})
    assert done.status_code == 303
    shown = web.get(f"/workstation/imaging/studies/{study_id}")
    assert "Small nodule." in shown.text and "Second look" in shown.text and "Versions" in shown.text


def test_the_chart_links_a_signed_report_to_its_study_page(rad):
    study_id = study("st-1", order(rad["doctor"]))
    signed = reporting.sign(rad["radiologist"], study_id=study_id, locale="en",
                            form=reporting.normal_form(report_templates.template_for("ct-chest"), "en"))
    web = _signed_in("li.doctor")
    assert f'/workstation/imaging/reports/{signed["id"]}' in web.get("/workstation/patients/p-wang").text
    hop = web.get(f"/workstation/imaging/reports/{signed['id']}")
    assert hop.status_code == 303 and hop.headers["location"] == f"/workstation/imaging/studies/{study_id}"


@pytest.mark.parametrize("path", ["/workstation/imaging/studies/nope", "/workstation/imaging/studies/..%2F..%2Fetc",
                                  "/workstation/imaging/studies/" + "x" * 80, "/workstation/imaging/reports/nope"])
def test_unknown_or_malformed_ids_are_not_found(rad, path):
    assert _signed_in("rad.gao").get(path).status_code == 404
