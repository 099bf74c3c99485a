"""The chart lists released laboratory reports, named in the reader's language."""

from smartcare.hospital.workstation.sections import lab_reports

LAB = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0074", "code": "LAB"}]}


def _report(report_id: str, status: str, issued: str) -> dict:
    return {"resourceType": "DiagnosticReport", "id": report_id, "status": status, "issued": issued,
            "category": [LAB], "code": {"coding": [{"system": "http://loinc.org", "code": "58410-2",
                                                     "display": "CBC panel - Blood by Automated count"}]}}


def test_released_reports_are_listed_newest_first_with_chinese_names_for_chinese_readers():
    reports = [_report("r1", "final", "2026-11-20T02:00:00Z"), _report("r2", "preliminary", "2026-11-25T02:00:00Z"),
               _report("r3", "corrected", "2026-11-24T02:00:00Z")]
    assert [r["id"] for r in lab_reports(reports, "en")] == ["r3", "r1"]  # a preliminary report is not shown
    assert lab_reports(reports, "en")[0]["title"] == "CBC panel - Blood by Automated count"
    assert lab_reports(reports, "zh-Hans")[0]["title"] == "血常规"
