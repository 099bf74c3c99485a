"""Care gaps for patient-view: what a chronic patient's record says is overdue or off target.

Pure functions over FHIR resource dicts. Each gap names the rule and its source, and the figures
that made it fire, so the card can say why.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

ICD10 = "http://hl7.org/fhir/sid/icd-10"
LOINC = "http://loinc.org"
HBA1C = "4548-4"
UACR_CODES = frozenset({"9318-7", "14959-1", "32294-1"})
BP_PANEL, SYSTOLIC, DIASTOLIC = "85354-9", "8480-6", "8462-4"
DIABETES = ("E10", "E11", "E12", "E13", "E14")
HYPERTENSION = ("I10", "I11", "I12", "I13", "I15")
CKD = ("N18",)

ADA_GLYCAEMIC = ("American Diabetes Association. Standards of Care in Diabetes-2024, section 6 (Glycemic Goals): "
                 "A1C at least twice a year in patients meeting goals, quarterly otherwise.")
ADA_KIDNEY = ("American Diabetes Association. Standards of Care in Diabetes-2024, section 11 (CKD and Risk "
              "Management): urinary albumin-to-creatinine ratio and eGFR at least once a year.")
CN_HYPERTENSION = ("Chinese Guidelines for the Prevention and Treatment of Hypertension (2018 revision): target "
                   "below 140/90 mmHg, below 130/80 mmHg with diabetes or chronic kidney disease if tolerated.")
CN_FOLLOW_UP = ("National Basic Public Health Service Standards, 3rd edition (2017): patients with hypertension "
                "or type 2 diabetes under management are followed up face to face at least four times a year.")


@dataclass(frozen=True)
class Gap:
    """One care gap: what is wrong, why it fired, what to do, and where the rule comes from."""

    key: str
    indicator: str
    summary_en: str
    summary_zh: str
    detail_en: str
    detail_zh: str
    source: str
    order: dict[str, Any] | None = None
    facts: dict[str, Any] = field(default_factory=dict)


def _codes(concept: dict | None, system: str) -> list[str]:
    return [c.get("code", "") for c in (concept or {}).get("coding", []) if c.get("system") == system]


def _day(resource: dict) -> date | None:
    text = str(resource.get("effectiveDateTime") or (resource.get("effectivePeriod") or {}).get("start")
               or (resource.get("period") or {}).get("start") or resource.get("occurrenceDateTime")
               or resource.get("issued") or "")[:10]
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def active_codes(conditions: Iterable[dict]) -> list[str]:
    """ICD-10 codes of the conditions that are active (not resolved, inactive or refuted)."""
    codes = []
    for c in conditions:
        status = {x.get("code") for x in (c.get("clinicalStatus") or {}).get("coding", [])}
        verification = {x.get("code") for x in (c.get("verificationStatus") or {}).get("coding", [])}
        if status & {"inactive", "resolved", "remission"} or verification & {"refuted", "entered-in-error"}:
            continue
        codes.extend(_codes(c.get("code"), ICD10))
    return codes


def _has(codes: list[str], prefixes: tuple[str, ...]) -> bool:
    return any(code.startswith(prefixes) for code in codes)


def _latest_day(observations: Iterable[dict], wanted: frozenset[str]) -> date | None:
    days = [d for o in observations if set(_codes(o.get("code"), LOINC)) & wanted and (d := _day(o))]
    return max(days, default=None)


def blood_pressures(observations: Iterable[dict]) -> list[tuple[date, float, float]]:
    """(day, systolic, diastolic) of each blood-pressure panel, newest first."""
    found = []
    for o in observations:
        if BP_PANEL not in _codes(o.get("code"), LOINC) or o.get("status") == "entered-in-error":
            continue
        values = {}
        for part in o.get("component", []):
            for code in _codes(part.get("code"), LOINC):
                value = (part.get("valueQuantity") or {}).get("value")
                if code in (SYSTOLIC, DIASTOLIC) and isinstance(value, int | float):
                    values[code] = float(value)
        if (day := _day(o)) and len(values) == 2:
            found.append((day, values[SYSTOLIC], values[DIASTOLIC]))
    return sorted(found, reverse=True)


def _hba1c_gap(observations: list[dict], today: date) -> Gap | None:
    last = _latest_day(observations, frozenset({HBA1C}))
    if last is not None and (today - last).days <= 183:
        return None
    since = last.isoformat() if last else None
    return Gap(
        key="hba1c-overdue", indicator="warning",
        summary_en="HbA1c overdue: none in the last 6 months", summary_zh="糖化血红蛋白逾期：近6个月未检测",
        detail_en=f"The patient has diabetes; the last HbA1c was {since or 'never recorded'}.",
        detail_zh=f"患者有糖尿病；最近一次糖化血红蛋白：{since or '无记录'}。",
        source=ADA_GLYCAEMIC, order={"code": HBA1C, "display": "Hemoglobin A1c/Hemoglobin.total in Blood"},
        facts={"last": since})


def _kidney_gap(observations: list[dict], today: date) -> Gap | None:
    last = _latest_day(observations, UACR_CODES)
    if last is not None and (today - last).days <= 366:
        return None
    since = last.isoformat() if last else None
    return Gap(
        key="uacr-overdue", indicator="info",
        summary_en="Yearly kidney check due: no urine albumin/creatinine ratio in 12 months",
        summary_zh="需年度肾脏筛查：12个月内无尿白蛋白/肌酐比值",
        detail_en=f"The patient has diabetes; the last urine albumin-to-creatinine ratio was {since or 'never recorded'}.",
        detail_zh=f"患者有糖尿病；最近一次尿白蛋白/肌酐比值：{since or '无记录'}。",
        source=ADA_KIDNEY, order={"code": "9318-7", "display": "Albumin/Creatinine [Mass Ratio] in Urine"},
        facts={"last": since})


def _bp_gap(observations: list[dict], codes: list[str], today: date) -> Gap | None:
    recent = [r for r in blood_pressures(observations) if (today - r[0]).days <= 183][:2]
    strict = _has(codes, DIABETES) or _has(codes, CKD)
    target = (130, 80) if strict else (140, 90)
    if len(recent) < 2 or not all(s >= target[0] or d >= target[1] for _, s, d in recent):
        return None
    readings = ", ".join(f"{s:.0f}/{d:.0f} ({day.isoformat()})" for day, s, d in recent)
    return Gap(
        key="bp-uncontrolled", indicator="warning",
        summary_en=f"Blood pressure above target ({target[0]}/{target[1]} mmHg) at the last two readings",
        summary_zh=f"最近两次血压均未达标（目标 {target[0]}/{target[1]} mmHg）",
        detail_en=f"Readings: {readings}. Review treatment and adherence.",
        detail_zh=f"血压读数：{readings}。请评估治疗方案及服药依从性。",
        source=CN_HYPERTENSION, facts={"readings": readings, "target": list(target)})


def _follow_up_gap(encounters: list[dict], today: date) -> Gap | None:
    days = [d for e in encounters if e.get("status") in ("finished", "in-progress", "arrived") and (d := _day(e))]
    last = max(days, default=None)
    if last is not None and (today - last).days <= 92:
        return None
    since = last.isoformat() if last else None
    return Gap(
        key="follow-up-overdue", indicator="warning",
        summary_en="Chronic disease follow-up overdue (more than 3 months)",
        summary_zh="慢病随访逾期（超过3个月）",
        detail_en=f"Hypertension or diabetes is followed up at least quarterly; the last visit was {since or 'never recorded'}.",
        detail_zh=f"高血压或糖尿病患者每季度至少随访一次；最近一次就诊：{since or '无记录'}。",
        source=CN_FOLLOW_UP, facts={"last": since})


def _risk_notes(risks: list[dict]) -> list[Gap]:
    latest = sorted(risks, key=lambda r: str(r.get("occurrenceDateTime") or ""), reverse=True)[:3]
    gaps = []
    for risk in latest:
        if risk.get("status") not in (None, "final", "amended", "corrected", "preliminary"):
            continue
        for prediction in risk.get("prediction", [])[:1]:
            outcome = (prediction.get("outcome") or {}).get("text") or next(
                (c.get("display") for c in (prediction.get("outcome") or {}).get("coding", [])), "risk")
            qualitative = next((c.get("code") for c in (prediction.get("qualitativeRisk") or {}).get("coding", [])), "")
            probability = prediction.get("probabilityDecimal")
            figure = f"{probability:.0%}" if isinstance(probability, int | float) else qualitative or "recorded"
            method = (risk.get("method") or {}).get("text") or next(
                (c.get("display") for c in (risk.get("method") or {}).get("coding", [])), "risk model")
            gaps.append(Gap(
                key=f"risk-{risk.get('id', '')}", indicator="warning" if qualitative == "high" else "info",
                summary_en=f"Risk of {outcome}: {figure}"[:140], summary_zh=f"{outcome}风险：{figure}"[:140],
                detail_en=f"Assessed {str(risk.get('occurrenceDateTime') or '')[:10]} with {method}.",
                detail_zh=f"评估日期 {str(risk.get('occurrenceDateTime') or '')[:10]}，方法：{method}。",
                source=f"RiskAssessment/{risk.get('id', '')} ({method})"))
    return gaps


def care_gaps(*, conditions: list[dict], observations: list[dict], encounters: list[dict], risks: list[dict],
              today: date) -> list[Gap]:
    """The care gaps of one patient's record on a given day, most pressing first."""
    codes = active_codes(conditions)
    gaps: list[Gap | None] = []
    if _has(codes, DIABETES):
        gaps += [_hba1c_gap(observations, today), _kidney_gap(observations, today)]
    if _has(codes, HYPERTENSION):
        gaps.append(_bp_gap(observations, codes, today))
    if _has(codes, DIABETES) or _has(codes, HYPERTENSION):
        gaps.append(_follow_up_gap(encounters, today))
    found = [g for g in gaps if g is not None] + _risk_notes(risks)
    rank = {"critical": 0, "warning": 1, "info": 2}
    return sorted(found, key=lambda g: rank[g.indicator])

