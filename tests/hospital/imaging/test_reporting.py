"""Radiology reporting: the worklist, signing a structured report as a DiagnosticReport, addenda, the doctor's notice."""

import base64

import pytest
import sqlalchemy as sa

from smartcare.fhir import gateway
from smartcare.fhir.http import FhirRequest
from smartcare.hospital.imaging import reporting
from smartcare.knowledge.orders import report_templates
from smartcare.platform.notifications.tables import notification
from smartcare.platform.security.context import SYSTEM
from tests.hospital.imaging.radiology_record import order, study, write_radiology


@pytest.fixture
def rad(engine, now):
    return write_radiology(engine)


def _form(**changes) -> reporting.ReportForm:
    template = report_templates.template_for("ct-chest")
    return reporting.ReportForm(**{**reporting.normal_form(template, "en").__dict__, **changes})


def _sign(rad, study_id: str, **changes) -> dict:
    return reporting.sign(rad["radiologist"], study_id=study_id, form=_form(**changes), locale="en")


def test_every_imaging_exam_gets_a_template_with_english_and_chinese_sections():
    from smartcare.knowledge.orders.catalogue import imaging_procedures

    for exam in imaging_procedures():
        template = report_templates.template_for(exam.key, exam.modality)
        assert template.findings and template.impression.en and template.impression.zh
    assert report_templates.template_for("ct-head").key == "ct-head"
    assert report_templates.template_for("us-abdomen").findings[1].name.zh == "胆囊及胆管"
    assert "RadReport" in report_templates.source()


def test_the_worklist_lists_unreported_studies_stat_then_urgent_then_routine_oldest_first(rad):
    routine_old = study("st-1", order(rad["doctor"]), started="2026-03-01T09:00:00+08:00")
    routine_new = study("st-2", order(rad["doctor"]), started="2026-03-02T09:00:00+08:00")
    stat = study("st-3", order(rad["doctor"], "ct-head", priority="stat", note="Sudden weakness of the left arm"),
                 started="2026-03-02T10:00:00+08:00")
    urgent = study("st-4", order(rad["doctor"], priority="urgent"), started="2026-03-02T11:00:00+08:00")
    rows = reporting.worklist(rad["radiologist"], locale="en")
    assert [r["id"] for r in rows] == [stat, urgent, routine_old, routine_new]
    first = rows[0]
    assert first["patient"] == "Wang Fang" and first["exam"] == "CT Head without contrast"
    assert first["modality"] == "CT" and (first["series"], first["instances"]) == (2, 30)
    assert first["reason"] == "Sudden weakness of the left arm" and first["priority"] == "stat"
    assert reporting.worklist(rad["radiologist"], locale="zh-Hans")[0]["exam"] == "头颅CT平扫"
    _sign(rad, stat)
    assert stat not in [r["id"] for r in reporting.worklist(rad["radiologist"], locale="en")]


def test_a_doctor_sees_only_the_studies_of_their_own_orders(rad):
    mine = study("st-mine", order(rad["doctor"]))
    study("st-other", order(rad["head"]))
    assert [r["id"] for r in reporting.worklist(rad["doctor"], locale="en")] == [mine]


def test_signing_makes_a_final_radiology_report_and_completes_the_order(rad):
    request_id = order(rad["doctor"])
    study_id = study("st-1", request_id)
    report = _sign(rad, study_id, impression="No acute abnormality in the chest.")
    assert report["status"] == "final" and report["issued"]
    assert report["category"][0]["coding"][0] == {"system": "http://terminology.hl7.org/CodeSystem/v2-0074",
                                                  "code": "RAD", "display": "Radiology"}
    assert {"system": "http://loinc.org", "code": "29252-4", "display": "CT Chest without contrast"} in report[
        "code"]["coding"]
    assert report["subject"] == {"reference": "Patient/p-wang"}
    assert report["basedOn"] == [{"reference": f"ServiceRequest/{request_id}"}]
    assert report["imagingStudy"] == [{"reference": "ImagingStudy/st-1"}]
    assert report["resultsInterpreter"] == [{"reference": "Practitioner/prac-gao"}]
    assert report["conclusion"] == "No acute abnormality in the chest."
    text = base64.b64decode(report["presentedForm"][0]["data"]).decode()
    assert report["presentedForm"][0]["contentType"] == "text/plain"
    assert "Technique:" in text and "- Lungs: No consolidation, mass or suspicious nodule." in text
    assert "Impression: No acute abnormality in the chest." in text
    assert reporting.form_of(report).findings["lungs"] == "No consolidation, mass or suspicious nodule."
    assert gateway.read(SYSTEM, f"ServiceRequest/{request_id}")["status"] == "completed"


def test_a_draft_is_preliminary_and_signing_it_keeps_the_same_report(rad):
    study_id = study("st-1", order(rad["doctor"]))
    draft = reporting.save_draft(rad["radiologist"], study_id=study_id, form=_form(impression=""), locale="en")
    assert draft["status"] == "preliminary" and "conclusion" not in draft
    assert reporting.worklist(rad["radiologist"], locale="en")[0]["draft"] is True
    signed = _sign(rad, study_id)
    assert signed["id"] == draft["id"] and signed["status"] == "final"
    with pytest.raises(reporting.ReportRefused) as refused:
        reporting.save_draft(rad["radiologist"], study_id=study_id, form=_form(), locale="en")
    assert refused.value.status == 409


@pytest.mark.parametrize("who", ["doctor", "tech"])
def test_only_a_radiologist_signs(rad, who):
    study_id = study("st-1", order(rad["doctor"]))
    with pytest.raises(reporting.ReportRefused) as refused:
        reporting.sign(rad[who], study_id=study_id, form=_form(), locale="en")
    assert refused.value.status == 403
    assert gateway.search(SYSTEM, "DiagnosticReport", [("subject", "Patient/p-wang")]) == []


def test_an_addendum_makes_an_amended_version_and_keeps_the_signed_one_in_the_history(rad):
    study_id = study("st-1", order(rad["doctor"]))
    signed = _sign(rad, study_id)
    amended = reporting.add_addendum(rad["radiologist"], report_id=signed["id"], locale="en",
                                     text="A 4 mm nodule in the right upper lobe.", reason="Second review of the images")
    assert amended["status"] == "amended" and amended["id"] == signed["id"]
    [addendum] = reporting.addenda_of(amended)
    assert addendum["reason"] == "Second review of the images" and addendum["author"] == "Practitioner/prac-gao"
    assert "Addendum" in base64.b64decode(amended["presentedForm"][0]["data"]).decode()
    history = reporting.versions(rad["radiologist"], signed["id"])
    assert [v["status"] for v in history] == ["amended", "final"]


@pytest.mark.parametrize(("text", "reason"), [("", "why"), ("more", ""), ("x" * 4001, "why"), ("more", "r" * 501)])
def test_an_addendum_needs_text_and_reason_within_limits(rad, text, reason):
    signed = _sign(rad, study("st-1", order(rad["doctor"])))
    with pytest.raises(reporting.ReportRefused) as refused:
        reporting.add_addendum(rad["radiologist"], report_id=signed["id"], text=text, reason=reason, locale="en")
    assert refused.value.status == 400
    assert gateway.read(SYSTEM, f"DiagnosticReport/{signed['id']}")["status"] == "final"


def test_a_draft_takes_no_addendum(rad):
    draft = reporting.save_draft(rad["radiologist"], study_id=study("st-1", order(rad["doctor"])), form=_form(),
                                 locale="en")
    with pytest.raises(reporting.ReportRefused) as refused:
        reporting.add_addendum(rad["radiologist"], report_id=draft["id"], text="x", reason="y", locale="en")
    assert refused.value.status == 409


def test_the_ordering_doctor_is_notified_and_sms_would_carry_no_body(rad, engine):
    _sign(rad, study("st-1", order(rad["doctor"])))
    with engine.connect() as conn:
        rows = conn.execute(sa.select(notification).where(notification.c.user_id == rad["doctor_id"])).all()
    [row] = rows
    assert row.kind == "imaging.report" and row.title == "Imaging report signed"
    assert "Wang Fang" in row.body and "No acute abnormality in the chest." in row.body
    assert row.link == "/workstation/imaging/studies/st-1"
    assert reporting.REPORT_SIGNED.private_body is True and reporting.REPORT_AMENDED.private_body is True


@pytest.mark.parametrize("fields", [{"impression": ""}, {"finding_lungs": "x" * 4001, "impression": "ok"},
                                    {"impression": "a\x00b", "finding_lungs": "x"}])
def test_bad_report_input_is_refused_with_a_message(fields):
    template = report_templates.template_for("ct-chest")
    with pytest.raises(reporting.ReportRefused) as refused:
        reporting.parse_form(template, {"finding_lungs": "Clear.", **fields}, signing=True)
    assert refused.value.status == 400 and refused.value.text("en")


def test_a_refusal_reads_in_chinese():
    refused = reporting.ReportRefused(reporting._("Write the impression before signing."))
    assert refused.text("zh-Hans") == "签发前请填写印象。"


def test_another_hospitals_radiologist_cannot_open_the_study(rad, engine):
    from smartcare.platform.security import users
    from tests.web_support import make_user

    other = users.context_for(make_user(engine, "radiologist", username="rad.far", fhir_ref="Practitioner/prac-far",
                                        organization="Organization/org-far"))
    study_id = study("st-1", order(rad["doctor"]))
    with pytest.raises(reporting.ReportRefused) as refused:
        reporting.open_study(other, study_id)
    assert refused.value.status == 404
    assert gateway.serve(SYSTEM, FhirRequest(method="GET", path="ImagingStudy/st-1")).status == 200
