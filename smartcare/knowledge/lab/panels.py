"""Results read together: CBC, lipid, liver, kidney and diabetes patterns, each with text, action and source."""

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from smartcare.knowledge.lab.data import panel_table
from smartcare.knowledge.lab.model import PanelFinding
from smartcare.knowledge.lab.ranges import analyte, finite, person, reference_range

HB, MCV, WBC, ANC, NEUT_PCT, PLT = "718-7", "787-2", "6690-2", "751-8", "770-8", "777-3"
CHOL, TG, HDL, LDL = "14647-2", "14927-8", "14646-4", "22748-8"
ALT, ALP = "1742-6", "6768-6"
EGFR, CREATININE, ACR = "62238-1", "14682-9", "9318-7"
FPG, RANDOM_GLUCOSE, HBA1C = "14771-0", "14749-6", "4548-4"
LDL_RISKS = ("low", "moderate", "high", "very-high", "extreme")
MAX_RESULTS = 200

Results = dict[str, float]
Person = tuple[str | None, int | None]


def _finding(key: str, *names: str, **values: float | str) -> PanelFinding:
    row = panel_table()[key]
    return PanelFinding(key=key, panel=row["panel"], meaning_en=row["en"].format(**values),
                        meaning_zh=row["zh"].format(**values), action=row["action"], analytes=names,
                        source=row["source"])


def _limit(key: str, name: str) -> float:
    return float(panel_table()[key][name])


def _below(results: Results, loinc: str, who: Person) -> bool:
    rng = reference_range(loinc, sex=who[0], age_days=who[1])
    return loinc in results and rng is not None and rng.low is not None and results[loinc] < rng.low


def _above(results: Results, loinc: str, who: Person) -> bool:
    rng = reference_range(loinc, sex=who[0], age_days=who[1])
    return loinc in results and rng is not None and rng.high is not None and results[loinc] > rng.high


def _cbc(results: Results, who: Person) -> list[PanelFinding]:
    found = []
    if _below(results, HB, who) and _below(results, WBC, who) and _below(results, PLT, who):
        found.append(_finding("pancytopenia", HB, WBC, PLT))
    elif _below(results, HB, who):
        if MCV not in results:
            found.append(_finding("anaemia", HB))
        elif results[MCV] < _limit("microcytic-anaemia", "mcv_below"):
            found.append(_finding("microcytic-anaemia", HB, MCV))
        elif results[MCV] > _limit("macrocytic-anaemia", "mcv_above"):
            found.append(_finding("macrocytic-anaemia", HB, MCV))
        else:
            found.append(_finding("normocytic-anaemia", HB, MCV))
    if _above(results, WBC, who) and (_above(results, ANC, who) or _above(results, NEUT_PCT, who)):
        found.append(_finding("leukocytosis-neutrophilia", WBC, *[c for c in (ANC, NEUT_PCT) if c in results]))
    if ANC in results and results[ANC] < _limit("severe-neutropenia", "anc_below"):
        found.append(_finding("severe-neutropenia", ANC))
    elif ANC in results and results[ANC] < _limit("neutropenia", "anc_below"):
        found.append(_finding("neutropenia", ANC))
    if PLT in results and results[PLT] < _limit("severe-thrombocytopenia", "platelets_below"):
        found.append(_finding("severe-thrombocytopenia", PLT))
    elif _below(results, PLT, who) and not any(f.key == "pancytopenia" for f in found):
        found.append(_finding("thrombocytopenia", PLT))
    return found


def _lipids(results: Results, risk: str | None) -> list[PanelFinding]:
    found = []
    if LDL in results:
        tier = panel_table()["ldl-above-target"]["targets"][risk or "moderate"]
        target = float(tier["below"])
        if results[LDL] >= _limit("ldl-very-high", "ldl_from"):
            found.append(_finding("ldl-very-high", LDL))
        key = "ldl-above-target" if results[LDL] >= target else "ldl-at-target"
        found.append(_finding(key, LDL, target=f"{target:g}", risk_en=tier["en"], risk_zh=tier["zh"]))
    if TG in results and results[TG] >= _limit("triglycerides-very-high", "tg_from"):
        found.append(_finding("triglycerides-very-high", TG))
    if HDL in results and results[HDL] < _limit("hdl-low", "hdl_below"):
        found.append(_finding("hdl-low", HDL))
    return found


def _liver(results: Results, who: Person) -> list[PanelFinding]:
    alt_range = reference_range(ALT, sex=who[0], age_days=who[1])
    alp_range = reference_range(ALP, sex=who[0], age_days=who[1])
    if ALT not in results or ALP not in results or not (alt_range and alp_range and alt_range.high
                                                        and alp_range.high):
        return []
    alt_times, alp_times = results[ALT] / alt_range.high, results[ALP] / alp_range.high
    if alt_times <= 1 and alp_times <= 1:
        return []
    ratio = alt_times / alp_times if alp_times > 0 else float("inf")
    values = {"r": f"{ratio:.1f}"}
    if ratio >= _limit("hepatocellular-pattern", "r_from"):
        return [_finding("hepatocellular-pattern", ALT, ALP, **values)]
    if ratio <= _limit("cholestatic-pattern", "r_up_to"):
        return [_finding("cholestatic-pattern", ALT, ALP, **values)]
    return [_finding("mixed-liver-pattern", ALT, ALP, **values)]


def _kidney(results: Results) -> list[PanelFinding]:
    found = []
    if EGFR in results:
        for band in panel_table()["egfr-category"]["categories"]:
            if results[EGFR] >= band["from"]:
                if band["category"] not in ("G1", "G2"):
                    finding = _finding("egfr-category", EGFR, category=band["category"], en=band["en"],
                                       zh=band["zh"])
                    found.append(replace(finding, action=band["action"]))
                break
    if ACR in results:
        if results[ACR] > _limit("albuminuria-severe", "acr_above"):
            found.append(_finding("albuminuria-severe", ACR))
        elif results[ACR] >= _limit("albuminuria-moderate", "acr_from"):
            found.append(_finding("albuminuria-moderate", ACR))
    return found


def _diabetes(results: Results) -> list[PanelFinding]:
    fasting_high = FPG in results and results[FPG] >= _limit("diabetes-range-fasting", "fpg_from")
    a1c_high = HBA1C in results and results[HBA1C] >= _limit("diabetes-range-hba1c", "hba1c_from")
    if fasting_high and a1c_high:
        return [_finding("diabetes-confirmed-same-sample", FPG, HBA1C)]
    found = []
    if fasting_high:
        found.append(_finding("diabetes-range-fasting", FPG))
    elif FPG in results and results[FPG] >= _limit("impaired-fasting-glucose", "fpg_from"):
        found.append(_finding("impaired-fasting-glucose", FPG))
    elif FPG in results and results[FPG] >= _limit("ada-prediabetes-fasting", "fpg_from"):
        found.append(_finding("ada-prediabetes-fasting", FPG))
    if a1c_high:
        found.append(_finding("diabetes-range-hba1c", HBA1C))
    elif HBA1C in results and results[HBA1C] >= _limit("prediabetes-hba1c", "hba1c_from"):
        found.append(_finding("prediabetes-hba1c", HBA1C))
    if RANDOM_GLUCOSE in results and results[RANDOM_GLUCOSE] >= _limit("diabetes-range-random", "glucose_from"):
        found.append(_finding("diabetes-range-random", RANDOM_GLUCOSE))
    return found


def _checked(results: Mapping[str, Any]) -> Results:
    if not isinstance(results, Mapping) or len(results) > MAX_RESULTS:
        raise ValueError(f"results must be a mapping of at most {MAX_RESULTS} analytes to values")
    checked = {}
    for name, value in results.items():
        item = analyte(name)
        if item is not None:
            checked[item.loinc] = finite(value, f"value of {name}")
    return checked


def interpret_panel(results: Mapping[str, float], *, sex: str | None, age_days: int | None,
                    ldl_risk: str | None = None) -> list[PanelFinding]:
    """Patterns across results keyed by LOINC (or analyte name); unknown analytes are ignored.

    `ldl_risk` (low, moderate, high, very-high, extreme: the ASCVD risk the doctor recorded) picks the
    LDL-cholesterol target; without it the moderate-risk target applies and the text names the others.
    """
    person(sex, age_days)
    if ldl_risk is not None and ldl_risk not in LDL_RISKS:
        raise ValueError(f"ldl_risk must be one of {LDL_RISKS}")
    checked = _checked(results)
    who: Person = (sex, age_days)
    readers: list[Callable[[], list[PanelFinding]]] = [
        lambda: _cbc(checked, who), lambda: _lipids(checked, ldl_risk), lambda: _liver(checked, who),
        lambda: _kidney(checked), lambda: _diabetes(checked)]
    return [finding for reader in readers for finding in reader()]
