"""Prescription audit (合理用药审方): check order lines against the patient and the drug knowledge.

`audit` validates the input (ValueError with a clear message for nonsense), matches each line to the
formulary, runs every rule family and returns the findings most severe first. `suggest_dose` offers the
usual dose for an indication, sized to the patient. Pure functions: no database, no HTTP.
"""

import math
import re
import unicodedata
from collections.abc import Sequence

from smartcare.knowledge.drugs import DoseLimit, Drug, Formulary, OrganRule, TypicalDose, default
from smartcare.knowledge.prescribing.dosage import (
    body_surface_area,
    canonical_unit,
    comparable,
    convert,
    day_multiplier,
    format_amount,
    parse_frequency,
    parse_unit,
    round_down,
    scale,
)
from smartcare.knowledge.prescribing.rules import (
    allergy,
    conditions,
    dosing,
    duplicates,
    frequency,
    interactions,
    organs,
    pregnancy,
    route,
)
from smartcare.knowledge.prescribing.rules.base import (
    RULES,
    SEVERITY_RANK,
    Finding,
    Line,
    MedicineOrder,
    PatientFacts,
    Prescription,
)

__all__ = ["Finding", "MedicineOrder", "PatientFacts", "audit", "suggest_dose"]

MAX_TEXT = 200
MAX_WORD = 40
# A prescription, and each of the patient's lists, holds at most this many entries.
MAX_LIST = 100
FORMULARY_SOURCE = "SmartCare formulary (smartcare/knowledge/drugs/data)"
ICD10 = re.compile(r"^[A-Z][0-9][0-9A-Z](\.?[0-9A-Z]{1,4})?$")
# Frequencies and routes are short words or codes in any script: letters, digits, spaces and a little punctuation.
WORD = re.compile(r"^[\w .,/()\-]+$")
SEXES = ("female", "male")
HEPATIC = ("mild", "moderate", "severe")
_LIMITS = {"age_years": (0, 130), "weight_kg": (0.2, 400), "height_cm": (20, 280), "egfr": (0, 250)}


def _text(value: object, what: str, *, limit: int = MAX_TEXT, required: bool = True) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{what} must be text")
    if required and not value.strip():
        raise ValueError(f"{what} is empty")
    if len(value) > limit:
        raise ValueError(f"{what} is longer than {limit} characters")
    if any(unicodedata.category(char) in ("Cc", "Cs") for char in value):
        raise ValueError(f"{what} contains control characters")
    return value


def _word(value: object, what: str) -> str:
    text = _text(value, what, limit=MAX_WORD)
    if not WORD.match(text.strip()):
        raise ValueError(f"{what} {text!r} is not a frequency or route code")
    return text


def _number(value: object, what: str, low: float, high: float, *, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{what} must be a number")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{what} must be a finite number")
    if number < low or number > high or (positive and number <= 0):
        raise ValueError(f"{what} {format_amount(number)} is outside {format_amount(low)} to {format_amount(high)}")
    return number


def _icd10(value: object, what: str) -> str:
    code = _text(value, what, limit=12).strip().upper()
    if not ICD10.match(code):
        raise ValueError(f"{what} {value!r} is not an ICD-10 code (a letter, two digits, optional .subcode)")
    return code


def _sequence(value: object, what: str) -> Sequence:
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        raise ValueError(f"{what} must be a list")
    if len(value) > MAX_LIST:
        raise ValueError(f"{what} has more than {MAX_LIST} entries")
    return value


def _check_order(order: object, what: str, *, strict: bool) -> MedicineOrder:
    """The order, validated; current medicines (strict=False) keep doses and units the audit does not check."""
    if not isinstance(order, MedicineOrder):
        raise ValueError(f"{what} must be a MedicineOrder")
    _text(order.medicine, f"{what}: medicine")
    _text(order.ref, f"{what}: ref", limit=MAX_TEXT, required=False)
    if order.dose is not None:
        _number(order.dose, f"{what}: dose", 0, 10_000_000, positive=True)
    if order.unit is not None:
        if strict:
            parse_unit(_text(order.unit, f"{what}: unit", limit=MAX_WORD))
        else:
            _text(order.unit, f"{what}: unit", limit=MAX_WORD)
    if order.dose is not None and order.unit is None and strict:
        raise ValueError(f"{what}: a dose needs a unit")
    if order.frequency is not None:
        _word(order.frequency, f"{what}: frequency")
    if order.route is not None:
        _word(order.route, f"{what}: route")
    if order.indication is not None:
        _icd10(order.indication, f"{what}: indication")
    return order


def _check_patient(patient: object) -> PatientFacts:
    if not isinstance(patient, PatientFacts):
        raise ValueError("patient must be PatientFacts")
    for name, (low, high) in _LIMITS.items():
        value = getattr(patient, name)
        if value is not None:
            _number(value, name, low, high, positive=name in ("weight_kg", "height_cm"))
    if patient.sex is not None and patient.sex not in SEXES:
        raise ValueError(f"sex must be one of {', '.join(SEXES)}")
    if patient.hepatic is not None and patient.hepatic not in HEPATIC:
        raise ValueError(f"hepatic must be one of {', '.join(HEPATIC)} (Child-Pugh A, B, C)")
    for flag in ("pregnant", "lactating"):
        if not isinstance(getattr(patient, flag), bool):
            raise ValueError(f"{flag} must be true or false")
    for index, substance in enumerate(_sequence(patient.allergies, "allergies")):
        _text(substance, f"allergy {index + 1}")
    for index, code in enumerate(_sequence(patient.conditions, "conditions")):
        _icd10(code, f"condition {index + 1}")
    for index, order in enumerate(_sequence(patient.current, "current medicines")):
        _check_order(order, f"current medicine {index + 1}", strict=False)
    return patient


def _resolve(order: MedicineOrder, ref: str, formulary: Formulary, *, current: bool) -> Line | Finding:
    drug = formulary.find(order.medicine.strip())
    if drug is None:
        return _unknown(order, ref, formulary)
    return Line(
        ref=ref, order=order, drug=drug,
        route=route.normalise_route(order.route) if order.route else None,
        frequency=parse_frequency(order.frequency) if order.frequency else None,
        current=current,
    )


def _unknown(order: MedicineOrder, ref: str, formulary: Formulary) -> Finding:
    name = order.medicine.strip()
    near = formulary.search(name, limit=3)
    hint_en = f" Did you mean {', '.join(drug.name_en for drug in near)}?" if near else ""
    hint_zh = f"是否为：{'、'.join(drug.name_zh for drug in near)}？" if near else ""
    return Finding(
        rule="unknown-medicine", severity="moderate", refs=(ref,), drugs=(), conditions=(),
        summary_en=f"{name!r} is not in the formulary",
        summary_zh=f"处方集中没有“{name}”",
        detail_en=f"No formulary drug has the generic name, alias or ATC code {name!r}, so none of the checks "
                  f"could be made for it. Source: {FORMULARY_SOURCE}.",
        detail_zh=f"处方集中没有通用名、别名或 ATC 代码为“{name}”的药物，因此该药未能进行任何审核。依据：{FORMULARY_SOURCE}。",
        advice_en=f"Order it by its generic name or ATC code.{hint_en}",
        advice_zh=f"请使用通用名或 ATC 代码开具。{hint_zh}",
        source=FORMULARY_SOURCE,
    )


def _prescription(orders: Sequence[MedicineOrder], patient: PatientFacts,
                  formulary: Formulary) -> tuple[Prescription, list[Finding], dict[str, int]]:
    lines: list[Line] = []
    taken: list[Line] = []
    unknown: list[Finding] = []
    position: dict[str, int] = {}
    for index, order in enumerate(orders):
        ref = order.ref.strip() or f"line-{index + 1}"
        if ref in position:
            raise ValueError(f"order line {index + 1}: ref {ref!r} is used by another line")
        position[ref] = index
        resolved = _resolve(order, ref, formulary, current=False)
        (lines if isinstance(resolved, Line) else unknown).append(resolved)
    for index, order in enumerate(patient.current):
        ref = f"current:{order.ref.strip() or order.medicine.strip()}"
        position.setdefault(ref, len(orders) + index)
        resolved = _resolve(order, ref, formulary, current=True)
        (taken if isinstance(resolved, Line) else unknown).append(resolved)
    bsa = body_surface_area(weight_kg=patient.weight_kg, height_cm=patient.height_cm)
    return Prescription(tuple(lines), tuple(taken), patient, bsa), unknown, position


def audit(orders: Sequence[MedicineOrder], patient: PatientFacts, *,
          formulary: Formulary | None = None) -> list[Finding]:
    """Every problem with these order lines for this patient, most severe first; ValueError for nonsense input."""
    checked = _sequence(orders, "orders")
    for index, order in enumerate(checked):
        _check_order(order, f"order line {index + 1}", strict=True)
    _check_patient(patient)
    formulary = formulary or default()
    prescription, findings, position = _prescription(checked, patient, formulary)
    findings += interactions.check(prescription, formulary=formulary)
    findings += allergy.check(prescription, formulary=formulary)
    findings += duplicates.check(prescription)
    findings += dosing.check(prescription)
    findings += organs.check(prescription)
    findings += pregnancy.check(prescription)
    findings += conditions.check(prescription)
    findings += route.check(prescription)
    findings += frequency.check(prescription)
    return sorted(findings, key=lambda f: (
        SEVERITY_RANK[f.severity], RULES.index(f.rule), [position.get(ref, len(position)) for ref in f.refs],
        f.drugs, f.conditions,
    ))


def _basis_of(typical: TypicalDose) -> str | None:
    """A typical dose's basis, from its field or its unit ('mg/kg'); None when the unit is not a dose unit."""
    parsed = canonical_unit(typical.unit)
    if parsed is None:
        return None
    return typical.basis if typical.basis != "fixed" else parsed[1]


def _typical_for(typical: Sequence[TypicalDose], *, indication: str | None, child: bool) -> TypicalDose | None:
    """The typical dose for the indication (else a general one), sized by weight or BSA for a child if there is one."""
    if indication:
        matching = [t for t in typical if t.icd10_prefixes and indication.startswith(t.icd10_prefixes)]
        candidates = matching or [t for t in typical if not t.icd10_prefixes]
    else:
        candidates = list(typical)
    candidates = [t for t in candidates if _basis_of(t) is not None]
    sized = [t for t in candidates if (_basis_of(t) != "fixed") == child]
    chosen = sized or candidates
    return chosen[0] if chosen else None


def _fits_child(limit: DoseLimit | None, basis: str) -> bool:
    """True when a child's dose can be suggested: a limit for children (or adults from their age) that goes by
    the same kind of dose, since an adult's fixed dose is no suggestion for a child dosed by weight."""
    if limit is None or (limit.population == "adult" and limit.min_age_years is None):
        return False
    return basis != "fixed" or limit.basis == "fixed"


def suggest_dose(medicine: str, patient: PatientFacts, *, indication: str | None = None,
                 formulary: Formulary | None = None) -> dict | None:
    """The usual dose for the indication sized to the patient's weight and kidney and liver function, or None.

    None when the drug or a typical dose for the indication is unknown, a child's weight (or height) is
    missing, the patient is too young for the drug, or kidney or liver function rules the drug out.
    """
    _text(medicine, "medicine")
    _check_patient(patient)
    code = _icd10(indication, "indication") if indication is not None else None
    formulary = formulary or default()
    drug = formulary.find(medicine.strip())
    if drug is None:
        return None
    child = patient.age_years is not None and patient.age_years < dosing.ADULT_AGE
    typical = _typical_for(drug.typical, indication=code, child=child)
    if typical is None:
        return None
    unit, basis = canonical_unit(typical.unit)[0], _basis_of(typical) or "fixed"
    bsa = body_surface_area(weight_kg=patient.weight_kg, height_cm=patient.height_cm)
    factor = scale(basis=basis, weight_kg=patient.weight_kg, bsa_m2=bsa)
    choice = dosing.choose_limit(drug, route=typical.route, age=patient.age_years)
    if factor is None or choice.too_young or (child and not _fits_child(choice.limit, basis)):
        return None
    dose = typical.dose * factor
    per_day = day_multiplier(parse_frequency(typical.frequency))
    ceilings = _ceilings(choice.limit, unit, per_day, weight=patient.weight_kg, bsa=bsa)
    notes_en: list[str] = []
    notes_zh: list[str] = []
    for rule in _organ_rules(drug, patient):
        if rule.action in ("contraindicated", "avoid"):
            return None
        limit_unit = organs.dose_unit(drug) or unit
        if rule.action == "reduce" and rule.max_per_day is not None and per_day and comparable(limit_unit, unit):
            ceilings.append(convert(rule.max_per_day, limit_unit, unit) / per_day)
        notes_en.append(rule.advice_en)
        notes_zh.append(rule.advice_zh)
    if ceilings and dose > min(ceilings):
        dose = min(ceilings)
        notes_en.append("Held to the maximum dose for this patient.")
        notes_zh.append("已限制在该患者的最大剂量内。")
    return {
        "drug": drug.key, "name_en": drug.name_en, "name_zh": drug.name_zh,
        "dose": round_down(dose), "unit": unit, "frequency": typical.frequency, "route": typical.route,
        "basis": basis, "per_basis": typical.dose if basis != "fixed" else None,
        "indication_en": typical.indication_en, "indication_zh": typical.indication_zh,
        "notes_en": notes_en, "notes_zh": notes_zh, "source": typical.source or drug.source,
    }


def _ceilings(limit: DoseLimit | None, unit: str, per_day: float | None, *, weight: float | None,
              bsa: float | None) -> list[float]:
    """The per-dose ceilings a limit sets, in `unit`: its per-dose maximum and its daily maximum split by doses."""
    if limit is None or not comparable(limit.unit, unit):
        return []
    factor = scale(basis=limit.basis, weight_kg=weight, bsa_m2=bsa)
    if factor is None:
        return []
    found = []
    per_dose = dosing.ceiling(limit.per_dose_max, factor, limit.cap_per_dose)
    if per_dose is not None:
        found.append(convert(per_dose, limit.unit, unit))
    per_day_ceiling = dosing.ceiling(limit.per_day_max, factor, limit.cap_per_day)
    if per_day_ceiling is not None and per_day:
        found.append(convert(per_day_ceiling, limit.unit, unit) / per_day)
    return found


def _organ_rules(drug: Drug, patient: PatientFacts) -> list[OrganRule]:
    """The renal and hepatic rules that apply to this patient."""
    found = []
    if patient.egfr is not None and (rule := organs.renal_rule(drug, patient.egfr)) is not None:
        found.append(rule)
    if patient.hepatic and (rule := organs.hepatic_rule(drug, patient.hepatic)) is not None:
        found.append(rule)
    return found
