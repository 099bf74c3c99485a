"""Risk stratification counts on hand-made records: the latest assessment wins, small cells are hidden, and high-risk
residents without a prevention programme are counted by health centre."""

from datetime import date

from smartcare.regional.public_health.suppression import HIDDEN, disclosure_rule
from smartcare.regional.risk import stratify
from smartcare.regional.risk.service import CATEGORY_SYSTEM, METHOD_SYSTEM, SCORE_EXTENSION

TODAY = date(2026, 3, 2)
EAST, WEST = "Organization/chc-east", "Organization/chc-west"


def patient(pid: str, district: str, *, centre: str = EAST, gender: str = "female", born: str = "1960-05-01",
            **extra) -> dict:
    """A resident's Patient record with a home district and a health centre."""
    return {"resourceType": "Patient", "id": pid, "gender": gender, "birthDate": born,
            "address": [{"use": "home", "district": district}],
            "managingOrganization": {"reference": centre}, **extra}


def risk(pid: str, calculator: str, category: str, when: str, *, value: float = 10.0, status: str = "final") -> dict:
    """A RiskAssessment as the risk service writes it: calculator, category, value and when."""
    return {"resourceType": "RiskAssessment", "id": f"ra-{pid}-{calculator}-{when}", "status": status,
            "subject": {"reference": f"Patient/{pid}"}, "occurrenceDateTime": when,
            "method": {"coding": [{"system": METHOD_SYSTEM, "code": calculator}]},
            "prediction": [{"qualitativeRisk": {"coding": [{"system": CATEGORY_SYSTEM, "code": category}]}}],
            "extension": [{"url": SCORE_EXTENSION, "valueQuantity": {"value": value, "unit": "%"}}]}


def plan(pid: str, status: str, uri: str = stratify.PROGRAMME_URI) -> dict:
    """A CarePlan instantiating a plan definition (the risk-intervention programme unless uri says otherwise)."""
    return {"resourceType": "CarePlan", "status": status, "intent": "plan", "instantiatesUri": [uri],
            "subject": {"reference": f"Patient/{pid}"}}


def residents(patients: list[dict]) -> list[stratify.Resident]:
    """The residents the counts take from Patient records."""
    return [r for r in (stratify.resident_of(p, today=TODAY) for p in patients) if r is not None]


def test_only_the_latest_assessment_of_each_calculator_counts():
    people = [patient("p1", "Hedong"), patient("p2", "Hedong")]
    risks = [
        risk("p1", "pce-ascvd", "high", "2025-01-10T08:00:00Z", value=21.0),
        risk("p1", "pce-ascvd", "low", "2026-01-10T08:00:00Z", value=4.2),  # supersedes the high one
        risk("p2", "pce-ascvd", "low", "2025-06-01T08:00:00Z"),
        risk("p2", "pce-ascvd", "high", "2026-02-01T08:00:00Z"),
        risk("p2", "pce-ascvd", "low", "2026-02-20T08:00:00Z", status="entered-in-error"),  # a mistake, not newer
        risk("p2", "cha2ds2-vasc", "recommended", "2026-02-01T08:00:00Z"),
    ]
    counts = stratify.tally(residents=residents(people), risks=risks, care_plans=[])
    assert counts.categories[("pce-ascvd", "low")] == 1
    assert counts.categories[("pce-ascvd", "high")] == 1
    assert counts.categories[("cha2ds2-vasc", "recommended")] == 1
    # p1's old high risk no longer makes them a high-risk resident without a programme; p2 is one, twice.
    assert counts.without_programme[("pce-ascvd", EAST)] == 1
    assert counts.without_programme[("cha2ds2-vasc", EAST)] == 1
    rows = stratify.high_risk_rows(patients=people, risks=risks, care_plans=[])
    assert [(r["patient"]["id"], r["latest"].calculator, r["latest"].category) for r in rows] == [
        ("p2", "pce-ascvd", "high"), ("p2", "cha2ds2-vasc", "recommended")]


def test_the_dead_and_inactive_records_are_not_residents():
    people = [patient("p1", "Hedong"), patient("p2", "Hedong", deceasedBoolean=True),
              patient("p3", "Hedong", active=False)]
    assert [r.id for r in residents(people)] == ["p1"]


def test_age_bands_follow_the_full_birth_date():
    assert stratify.age_band(stratify.age_on("1961-03-02", TODAY)) == "65-74"  # 65 today
    assert stratify.age_band(stratify.age_on("1961-03-03", TODAY)) == "55-64"  # 65 tomorrow
    assert stratify.age_band(stratify.age_on("1951", TODAY)) == "unknown"  # year only: the band is not guessed


def test_a_small_cell_is_hidden_and_so_is_the_count_that_would_give_it_back():
    # Hedong: 8 low, 2 high. Hexi: 6 low, 6 high. Three more residents have no PCE assessment.
    people, risks = [], []
    for n in range(10):
        people.append(patient(f"e{n}", "Hedong"))
        risks.append(risk(f"e{n}", "pce-ascvd", "high" if n < 2 else "low", "2026-02-01T08:00:00Z"))
    for n in range(12):
        people.append(patient(f"w{n}", "Hexi", centre=WEST))
        risks.append(risk(f"w{n}", "pce-ascvd", "high" if n < 6 else "low", "2026-02-01T08:00:00Z"))
    people += [patient(f"u{n}", "Hexi", centre=WEST) for n in range(3)]
    counts = stratify.tally(residents=residents(people), risks=risks, care_plans=[])
    result = stratify.publish(counts, disclosure_rule())
    pce = next(entry for entry in result["calculators"] if entry["calculator"] == "pce-ascvd")
    assert pce["categories"] == ["low", "borderline", "intermediate", "high"]
    by_district = {row["group"]: (row["counts"], row["total"]) for row in pce["tables"]["district"]}
    # Hedong's 2 high-risk residents are shown as <5; its 8 low would give them back from its total of 10, so hidden.
    assert by_district["Hedong"] == ([HIDDEN, 0, 0, "<5"], 10)
    # Hexi's 6 high would give Hedong's 2 back from the region's 8, and its 6 low then Hexi's 6 high: both hidden.
    assert by_district["Hexi"] == ([HIDDEN, 0, 0, HIDDEN], 12)
    assert pce["totals"] == [14, 0, 0, 8] and pce["assessed"] == 22
    # Three residents not assessed: <5, and the residents' total goes too, so 25 - 22 cannot give them back.
    assert pce["unassessed"] == "<5" and result["residents"] == HIDDEN and pce["share"] is None
    by_age = {row["group"]: row["counts"] for row in pce["tables"]["age"]}
    assert by_age["65-74"] == [14, 0, 0, 8] and by_age["40-54"] == [0, 0, 0, 0]


def test_high_risk_residents_without_an_active_or_draft_programme_are_counted_by_centre():
    people = [patient(f"e{n}", "Hedong") for n in range(9)] + [patient("w0", "Hexi", centre=WEST)]
    risks = [risk(f"e{n}", "kdigo-ckd", "very_high" if n < 4 else "high", "2026-02-01T08:00:00Z") for n in range(8)]
    risks += [risk("e8", "kdigo-ckd", "moderate", "2026-02-01T08:00:00Z"),  # not a high category
              risk("w0", "kdigo-ckd", "low", "2026-02-01T08:00:00Z")]
    plans = [plan("e0", "active"), plan("e1", "draft"),
             plan("e2", "completed"),  # finished: no longer looked after by it
             plan("e3", "active", uri="https://example.org/PlanDefinition/other"),  # not a risk programme
             plan("e8", "active")]
    counts = stratify.tally(residents=residents(people), risks=risks, care_plans=plans)
    assert counts.without_programme[("kdigo-ckd", EAST)] == 6  # 8 high-risk, 2 with a programme
    assert counts.without_programme[("kdigo-ckd", WEST)] == 0
    result = stratify.publish(counts, disclosure_rule())
    kdigo = next(entry for entry in result["calculators"] if entry["calculator"] == "kdigo-ckd")
    shown = dict(zip(result["centres"], kdigo["without_programme"], strict=True))
    assert shown == {EAST: 6, WEST: 0} and kdigo["without_programme_total"] == 6
    rows = stratify.high_risk_rows(patients=people, risks=risks, care_plans=plans)
    programmes = {r["patient"]["id"]: r["programme"] for r in rows}
    assert programmes["e0"] == "active" and programmes["e1"] == "draft" and programmes["e2"] == "none"
    assert "e8" not in programmes and "w0" not in programmes
