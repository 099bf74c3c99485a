"""eGFR (CKD-EPI 2021) and the KDIGO 2012 CKD classification as calculators."""

import pytest

from smartcare.knowledge import scores
from smartcare.knowledge.scores import kidney


def test_egfr_reproduces_the_nkf_calculator_and_gives_its_gfr_category():
    # NKF CKD-EPI 2021 calculator: man of 50, creatinine 1.0 mg/dL -> 92; woman of 50 -> 69 (G2).
    man = kidney.egfr_ckd_epi_2021(creatinine=1.0, age=50, sex="male")
    woman = kidney.egfr_ckd_epi_2021(creatinine=1.0, age=50, sex="female")
    assert (man.value, man.category) == (92, "G1")
    assert (woman.value, woman.category) == (69, "G2")
    assert man.unit == "mL/min/{1.73_m2}"
    assert "Inker" in man.source


def test_egfr_takes_creatinine_in_umol_per_litre():
    result = scores.calculate("egfr-ckd-epi-2021", {"creatinine": {"value": 88.4, "unit": "umol/L"}, "age": 50,
                                                    "sex": "male"})
    assert result.value == 92
    assert result.inputs["creatinine"] == pytest.approx(1.0)


def test_egfr_refuses_a_child_and_a_missing_sex_together():
    with pytest.raises(scores.ScoreInputError) as caught:
        scores.calculate("egfr-ckd-epi-2021", {"creatinine": 0.6, "age": 12})
    assert caught.value.problems == {"age": "12 is outside the range this calculator is defined for (from 18 to 120 a)",
                                     "sex": "is required"}


@pytest.mark.parametrize(("egfr", "uacr", "risk", "g", "a", "visits"), [
    (95, 10, "low", "G1", "A1", 0),  # no CKD without other markers: no monitoring
    (95, 30, "moderate", "G1", "A2", 1),
    (70, 301, "high", "G2", "A3", 2),
    (50, 10, "moderate", "G3a", "A1", 1),
    (50, 100, "high", "G3a", "A2", 2),
    (50, 400, "very_high", "G3a", "A3", 3),
    (35, 10, "high", "G3b", "A1", 2),
    (35, 40, "very_high", "G3b", "A2", 3),
    (20, 10, "very_high", "G4", "A1", 3),
    (20, 500, "very_high", "G4", "A3", 4),
    (10, 10, "very_high", "G5", "A1", 4),
])
def test_kdigo_prognosis_grid_and_monitoring_visits(egfr, uacr, risk, g, a, visits):
    result = kidney.kdigo_ckd(egfr=egfr, uacr=uacr)
    assert result.category == risk
    assert (result.detail["gfr_category"], result.detail["albuminuria_category"]) == (g, a)
    assert result.detail["monitoring_visits_per_year"] == visits


def test_other_kidney_damage_makes_a_normal_gfr_and_albumin_ckd():
    result = kidney.kdigo_ckd(egfr=95, uacr=10, kidney_damage=True)
    assert result.detail["ckd"] is True
    assert result.detail["monitoring_visits_per_year"] == 1


def test_albumin_creatinine_ratio_in_mg_per_mmol_converts():
    # 1 mg/mmol = 8.84 mg/g (creatinine 113.12 g/mol); KDIGO rounds 3 mg/mmol to 30 mg/g.
    below = scores.calculate("kdigo-ckd", {"egfr": 70, "uacr": {"value": 3.3, "unit": "mg/mmol"}})
    above = scores.calculate("kdigo-ckd", {"egfr": 70, "uacr": {"value": 3.5, "unit": "mg/mmol"}})
    assert (below.detail["albuminuria_category"], above.detail["albuminuria_category"]) == ("A1", "A2")


def test_data_covers_every_cell():
    data = kidney.classification()
    assert "KDIGO 2012" in data["source"]
    for row in data["gfr"]:
        assert len(data["prognosis"][row["key"]]) == len(data["monitoring"][row["key"]]) == 3
