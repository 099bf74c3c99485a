"""The patient's imaging reports: only signed ones, only their own, with a plain-language summary in en and zh."""

import pytest

from smartcare.fhir import store
from smartcare.hospital.imaging import reporting
from smartcare.knowledge.orders import report_templates
from smartcare.patient.reports import imaging
from smartcare.platform.db import unit_of_work
from smartcare.platform.security.context import SYSTEM
from tests.hospital.imaging.radiology_record import order, study, write_radiology
from tests.web_support import browser, make_user, sign_in


@pytest.fixture
def rad(engine, now):
    people = write_radiology(engine)
    make_user(engine, "patient", username="wang.patient", fhir_ref="Patient/p-wang")
    return people


def _sign(rad, study_id: str, **changes) -> dict:
    form = reporting.normal_form(report_templates.template_for("ct-chest"), "en")
    for key, value in changes.items():
        setattr(form, key, value)
    return reporting.sign(rad["radiologist"], study_id=study_id, form=form, locale="en")


def _patient():
    web = browser()
    sign_in(web, "wang.patient")
    return web


def test_a_signed_normal_report_reads_no_problem_was_seen(rad):
    signed = _sign(rad, study("st-1", order(rad["doctor"])))
    web = _patient()
    listing = web.get("/app/imaging")
    assert listing.status_code == 200 and listing.headers["cache-control"] == "no-store"
    assert "CT Chest without contrast" in listing.text and f'href="/app/imaging/{signed["id"]}"' in listing.text
    page = web.get(f"/app/imaging/{signed['id']}")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    assert "No problem was seen on this examination." in page.text
    assert "No acute abnormality in the chest." in page.text and "2026-03-02" in page.text
    assert 'href="/app/imaging/studies/st-1/viewer"' in page.text  # the images, read-only


def test_other_wording_is_left_to_the_doctor_and_never_turned_into_a_diagnosis(rad):
    signed = _sign(rad, study("st-1", order(rad["doctor"])), impression="Right upper lobe consolidation.")
    page = _patient().get(f"/app/imaging/{signed['id']}")
    assert "The radiologist described findings in this report; your doctor will explain them to you." in page.text
    assert "No problem was seen" not in page.text and "pneumonia" not in page.text.lower()


def test_the_report_reads_in_chinese(rad):
    signed = _sign(rad, study("st-1", order(rad["doctor"])))
    page = _patient().get(f"/app/imaging/{signed['id']}", params={"lang": "zh-Hans"})
    assert "本次检查未见问题。" in page.text and "胸部CT平扫" in page.text and "印象" in page.text
    assert "我的影像报告" in _patient().get("/app/imaging", params={"lang": "zh-Hans"}).text


def test_an_amended_report_says_it_was_amended(rad):
    signed = _sign(rad, study("st-1", order(rad["doctor"])))
    reporting.add_addendum(rad["radiologist"], report_id=signed["id"], text="Image quality limited by motion.",
                           reason="Omitted from the report", locale="en")
    page = _patient().get(f"/app/imaging/{signed['id']}")
    assert "The report was amended after it was first signed." in page.text
    assert "Image quality limited by motion." in page.text


def test_a_draft_is_not_shown_to_the_patient(rad):
    study_id = study("st-1", order(rad["doctor"]))
    draft = reporting.save_draft(rad["radiologist"], study_id=study_id, locale="en",
                                 form=reporting.normal_form(report_templates.template_for("ct-chest"), "en"))
    web = _patient()
    assert draft["id"] not in web.get("/app/imaging").text
    assert web.get(f"/app/imaging/{draft['id']}").status_code == 404


def test_another_patients_report_is_not_found(rad):
    with unit_of_work() as conn:
        store.write_batch(conn, SYSTEM, [store.Write("PUT", "Patient", "p-zhao", {
            "resourceType": "Patient", "id": "p-zhao", "name": [{"family": "Zhao", "given": ["Lei"]}],
            "managingOrganization": {"reference": "Organization/org-h"}})])
    theirs = _sign(rad, study("st-z", None, patient="p-zhao"))
    web = _patient()
    assert web.get(f"/app/imaging/{theirs['id']}").status_code == 404
    assert theirs["id"] not in web.get("/app/imaging").text


@pytest.mark.parametrize("report_id", ["nope", "..%2F..%2Fetc%2Fpasswd", "x" * 80, "%3Cscript%3E"])
def test_unknown_or_malformed_ids_are_not_found(rad, report_id):
    assert _patient().get(f"/app/imaging/{report_id}").status_code == 404


def test_the_lab_reports_page_links_to_imaging_and_no_longer_lists_imaging_reports(rad):
    signed = _sign(rad, study("st-1", order(rad["doctor"])))
    page = _patient().get("/app/reports")
    assert 'href="/app/imaging' in page.text and f'/app/reports/{signed["id"]}' not in page.text


def test_the_summary_rule_needs_the_exact_normal_wording():
    final = {"status": "final", "conclusion": "颅内未见急性异常。"}
    assert imaging.plain_summary(final, "en") == ["No problem was seen on this examination."]
    hedged = {"status": "final", "conclusion": "No acute intracranial abnormality, but a small old infarct."}
    assert imaging.plain_summary(hedged, "zh-Hans") == ["放射科医生在报告中描述了所见，您的医生会为您解释。"]
    assert imaging.plain_summary({"status": "final"}, "en")[0].startswith("The radiologist described")
