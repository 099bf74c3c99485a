"""The case report's workflow: which acts each state allows, and what the Composition then says."""

from datetime import UTC, date, datetime

import pytest

from smartcare.regional.public_health import case_model as model
from smartcare.regional.public_health.case_reports import document_type


def draft() -> dict:
    return {
        "resourceType": "Composition", "id": "r1", "status": "preliminary", "type": {"coding": [document_type()]},
        "category": [{"coding": [{"system": model.DISEASE_SYSTEM, "code": "viral-hepatitis"},
                                 {"system": model.DISEASE_SYSTEM, "code": "hepatitis-b"}]}],
        "subject": {"reference": "Patient/p1"},
        "author": [{"reference": "Practitioner/d1"}, {"reference": "Organization/h1"}],
        "extension": [
            {"url": model.STATE, "valueCode": "draft"},
            {"url": model.DIAGNOSED_AT, "valueDateTime": "2026-03-02T09:30:00+08:00"},
            {"url": model.DEADLINE, "valueDateTime": "2026-03-03T09:30:00+08:00"},
            {"url": model.DISTRICT, "valueCoding": {"system": model.DISTRICT_SYSTEM, "code": "339901"}},
        ],
    }


def test_a_draft_read_back_names_the_disease_subtype_people_deadline_and_district():
    case = model.facts(draft())
    assert (case.state, case.disease, case.subtype) == ("draft", "viral-hepatitis", "hepatitis-b")
    assert (case.patient, case.practitioner, case.organization) == ("Patient/p1", "Practitioner/d1", "Organization/h1")
    assert case.deadline == datetime(2026, 3, 3, 1, 30, tzinfo=UTC) and case.district == "339901"
    assert model.count_date(case) == date(2026, 3, 2)
    assert model.is_case_report(draft()) and not model.is_case_report({"resourceType": "Composition"})


def test_submitting_verifying_and_closing_move_the_state_and_the_composition_status():
    report = draft()
    assert model.move(report, "submit") == "submitted" and report["status"] == "final"
    assert model.move(report, "verify") == "verified"
    assert model.move(report, "close") == "closed" and model.state_of(report) == "closed"
    assert [e for e in report["extension"] if e["url"] == model.STATE] == [{"url": model.STATE, "valueCode": "closed"}]


def test_a_corrected_report_is_resubmitted_as_amended():
    report = draft()
    model.move(report, "submit")
    assert model.move(report, "request-correction") == "correction-requested" and report["status"] == "preliminary"
    assert model.move(report, "submit") == "submitted" and report["status"] == "amended"


@pytest.mark.parametrize(("acts", "refused"), [
    ([], "verify"), (["submit", "verify", "close"], "submit"), (["discard"], "submit"), (["submit"], "discard"),
])
def test_an_act_the_state_does_not_allow_is_refused_and_changes_nothing(acts, refused):
    report = draft()
    for act in acts:
        model.move(report, act)
    before = dict(report)
    with pytest.raises(model.CaseReportMoveRefused, match=f"cannot be given '{refused}'"):
        model.move(report, refused)
    assert report == before


def test_a_report_from_before_the_workflow_counts_as_submitted():
    report = draft()
    model.set_extension(report, model.STATE, None)
    assert model.state_of(report) == "submitted" and "submitted" in model.COUNTED


def test_a_case_closed_as_not_a_case_no_longer_counts_but_one_closed_as_recovered_does():
    report = draft()
    for act in ("submit", "verify", "close"):
        model.move(report, act)
    model.set_extension(report, model.OUTCOME, {"valueCode": "recovered"})
    assert model.counts(model.facts(report))
    model.set_extension(report, model.OUTCOME, {"valueCode": model.NOT_A_CASE})
    assert model.facts(report).outcome == "not-a-case" and not model.counts(model.facts(report))
