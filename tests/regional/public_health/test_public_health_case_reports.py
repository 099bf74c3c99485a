"""What a case report is (LOINC 55751-2, as data with its source) and how one is read for the officers' list."""

import json

from smartcare.regional.public_health.case_reports import (
    DEFINITION_FILE,
    document_type,
    person_name,
    read_case_report,
)
from tests.regional.conftest import HEDONG, case_report, condition, patient


def test_the_definition_is_data_citing_loinc_and_the_ecr_guide():
    data = json.loads(DEFINITION_FILE.read_text(encoding="utf-8"))
    assert "loinc.org/55751-2" in data["source"] and "eicr-composition" in data["source"]
    assert document_type() == {"system": "http://loinc.org", "code": "55751-2", "display": "Public health Case report"}


def test_a_case_report_names_the_case_the_condition_and_the_reporting_organisation():
    person = patient(3, HEDONG)
    report = read_case_report(case_report("r", "ph-pat-3", "c3", "2026-01-07T08:00:00+08:00"), {
        "Patient/ph-pat-3": person,
        "Condition/c3": condition("c3", "ph-pat-3", "J10.1", onset="2026-01-06"),
        "Organization/ph-hosp": {"resourceType": "Organization", "id": "ph-hosp", "name": "Riverside First Hospital"},
    })
    assert (report.name, report.gender, report.birth_date, report.district) == ("张3", "female", "1980-04-17", HEDONG)
    assert report.identifier == "330199000000000003"
    assert (report.condition_code, report.condition_display) == ("J10.1", "Influenza")
    assert (report.organization, report.organization_name) == ("Organization/ph-hosp", "Riverside First Hospital")


def test_a_report_whose_parts_are_missing_still_reads():
    report = read_case_report({"resourceType": "Composition", "id": "r", "status": "preliminary", "date": "2026-01-07",
                               "author": [{"reference": "Practitioner/p1"}],
                               "section": [{"entry": [{"reference": "Observation/o1"}]}, "not a section"]}, {})
    assert (report.patient, report.name, report.condition_code, report.organization) == (None, "", "", None)


def test_the_official_name_comes_first_else_the_parts():
    assert person_name({"name": [{"use": "usual", "text": "Jim"}, {"use": "official", "family": "Chalmers",
                                                                    "given": ["Peter", "James"]}]}) == "Peter James Chalmers"
    assert person_name({"name": []}) == ""
