"""Care gaps: a chronic patient's overdue checks, blood pressure above target and overdue follow-up."""

from datetime import date

from smartcare.hospital.cds.care_gaps import care_gaps

TODAY = date(2026, 11, 26)
ICD10 = "http://hl7.org/fhir/sid/icd-10"
LOINC = "http://loinc.org"


def condition(code: str, status: str = "active") -> dict:
    return {"resourceType": "Condition", "code": {"coding": [{"system": ICD10, "code": code}]},
            "clinicalStatus": {"coding": [{"code": status}]}}


def observation(code: str, day: str, value: float | None = None) -> dict:
    o = {"resourceType": "Observation", "status": "final", "code": {"coding": [{"system": LOINC, "code": code}]},
         "effectiveDateTime": day}
    if value is not None:
        o["valueQuantity"] = {"value": value}
    return o


def bp(day: str, systolic: float, diastolic: float) -> dict:
    o = observation("85354-9", day)
    o["component"] = [{"code": {"coding": [{"system": LOINC, "code": "8480-6"}]}, "valueQuantity": {"value": systolic}},
                      {"code": {"coding": [{"system": LOINC, "code": "8462-4"}]}, "valueQuantity": {"value": diastolic}}]
    return o


def visit(day: str) -> dict:
    return {"resourceType": "Encounter", "status": "finished", "period": {"start": day}}


def keys(**record) -> list[str]:
    record.setdefault("observations", [])
    record.setdefault("encounters", [visit("2026-11-01")])
    record.setdefault("risks", [])
    return [g.key for g in care_gaps(today=TODAY, **record)]


def test_diabetes_without_hba1c_for_six_months_is_flagged_with_the_last_date():
    gaps = care_gaps(conditions=[condition("E11.9")], observations=[observation("4548-4", "2026-04-01", 7.2)],
                     encounters=[visit("2026-11-01")], risks=[], today=TODAY)
    hba1c = next(g for g in gaps if g.key == "hba1c-overdue")
    assert "2026-04-01" in hba1c.detail_en and "Standards of Care in Diabetes" in hba1c.source
    assert hba1c.order["code"] == "4548-4"


def test_recent_hba1c_and_uacr_leave_no_diabetes_gap():
    found = keys(conditions=[condition("E11.9")],
                 observations=[observation("4548-4", "2026-09-01", 6.8), observation("9318-7", "2026-03-01", 12)])
    assert "hba1c-overdue" not in found and "uacr-overdue" not in found


def test_no_kidney_screening_in_a_year_is_flagged_for_diabetes_only():
    assert "uacr-overdue" in keys(conditions=[condition("E11.9")], observations=[observation("9318-7", "2025-10-01")])
    assert "uacr-overdue" not in keys(conditions=[condition("I10")])


def test_two_readings_above_140_90_make_blood_pressure_uncontrolled():
    found = care_gaps(conditions=[condition("I10")], observations=[bp("2026-11-20", 152, 88), bp("2026-10-20", 146, 92)],
                      encounters=[visit("2026-11-20")], risks=[], today=TODAY)
    gap = next(g for g in found if g.key == "bp-uncontrolled")
    assert "152/88" in gap.detail_en and "140/90" in gap.summary_en and "2018" in gap.source


def test_one_high_reading_among_controlled_ones_is_not_a_gap():
    assert "bp-uncontrolled" not in keys(conditions=[condition("I10")],
                                         observations=[bp("2026-11-20", 150, 85), bp("2026-10-20", 128, 78)])


def test_diabetes_lowers_the_blood_pressure_target_to_130_80():
    readings = [bp("2026-11-20", 134, 82), bp("2026-10-20", 136, 79)]
    assert "bp-uncontrolled" not in keys(conditions=[condition("I10")], observations=readings)
    with_diabetes = care_gaps(conditions=[condition("I10"), condition("E11.9")], observations=readings,
                              encounters=[visit("2026-11-20")], risks=[], today=TODAY)
    assert any(g.key == "bp-uncontrolled" and "130/80" in g.summary_en for g in with_diabetes)


def test_follow_up_more_than_three_months_ago_is_overdue_and_resolved_conditions_do_not_count():
    assert "follow-up-overdue" in keys(conditions=[condition("I10")], encounters=[visit("2026-07-01")])
    assert "follow-up-overdue" not in keys(conditions=[condition("I10")], encounters=[visit("2026-10-01")])
    assert keys(conditions=[condition("I10", "resolved")], encounters=[visit("2025-01-01")]) == []


def test_a_high_risk_assessment_is_shown_as_a_warning_with_its_method():
    risk = {"resourceType": "RiskAssessment", "id": "r1", "status": "final", "occurrenceDateTime": "2026-11-01",
            "method": {"text": "China-PAR"},
            "prediction": [{"outcome": {"text": "10-year ASCVD"}, "probabilityDecimal": 0.14,
                            "qualitativeRisk": {"coding": [{"code": "high"}]}}]}
    gaps = care_gaps(conditions=[], observations=[], encounters=[], risks=[risk], today=TODAY)
    assert [(g.indicator, g.summary_en) for g in gaps] == [("warning", "Risk of 10-year ASCVD: 14%")]
    assert "China-PAR" in gaps[0].detail_en


def test_a_healthy_record_has_no_gaps():
    assert keys(conditions=[condition("J06.9")]) == []
