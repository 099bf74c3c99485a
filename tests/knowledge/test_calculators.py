"""The calculators give the published worked examples' figures."""

from datetime import date

import pytest

from smartcare.knowledge import calculators


@pytest.mark.parametrize(("creatinine", "age", "female", "expected"), [
    # NKF CKD-EPI 2021 calculator: 50-year-old man, creatinine 1.0 mg/dL -> 92 mL/min/1.73 m2.
    (1.0, 50, False, 92),
    # Same creatinine, 50-year-old woman -> 69.
    (1.0, 50, True, 69),
    # Worked by hand from the published equation, below the knee: woman of 30, 0.6 mg/dL:
    # 142 x (0.6/0.7)^-0.241 x 0.9938^30 x 1.012 = 142 x 1.0379 x 0.8298 x 1.012 = 123.8.
    (0.6, 30, True, 124),
    # Above the knee: man of 70, 3.0 mg/dL: 142 x (3.0/0.9)^-1.200 x 0.9938^70 = 142 x 0.2359 x 0.6468 = 21.7.
    (3.0, 70, False, 22),
])
def test_ckd_epi_2021_matches_worked_examples(creatinine, age, female, expected):
    egfr = calculators.egfr_ckd_epi_2021(creatinine_mg_per_dl=creatinine, age_years=age, female=female)
    assert round(egfr) == expected


def test_creatinine_in_umol_per_litre_converts_to_mg_per_dl():
    assert calculators.creatinine_mg_dl(88.4, "umol/L") == pytest.approx(1.0)
    assert calculators.creatinine_mg_dl(176.8, "µmol/L") == pytest.approx(2.0)
    with pytest.raises(ValueError, match="not mg/dL"):
        calculators.creatinine_mg_dl(1.0, "mmol/L")


def test_ckd_epi_refuses_children_and_nonsense():
    with pytest.raises(ValueError, match="adults"):
        calculators.egfr_ckd_epi_2021(creatinine_mg_per_dl=0.5, age_years=10, female=False)
    with pytest.raises(ValueError, match="positive"):
        calculators.egfr_ckd_epi_2021(creatinine_mg_per_dl=0, age_years=40, female=False)


@pytest.mark.parametrize(("egfr", "stage"), [(95, "G1"), (60, "G2"), (59.9, "G3a"), (44, "G3b"), (29, "G4"), (14, "G5")])
def test_kdigo_categories(egfr, stage):
    assert calculators.ckd_stage(egfr) == stage


def test_mosteller_bsa_worked_example():
    # Mosteller 1987: 180 cm and 80 kg give sqrt(180 x 80 / 3600) = 2.00 m2.
    assert calculators.bsa_mosteller(height_cm=180, weight_kg=80) == pytest.approx(2.0)
    assert calculators.bsa_mosteller(height_cm=110, weight_kg=18) == pytest.approx(0.7416, abs=1e-4)


def test_age_counts_completed_years():
    assert calculators.age_in_years(date(1950, 6, 15), date(2026, 6, 14)) == 75
    assert calculators.age_in_years(date(1950, 6, 15), date(2026, 6, 15)) == 76
