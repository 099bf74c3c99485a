"""Dose range checks: each dose and each ingredient's daily total against the limits for the patient.

The limit is chosen by route and population: children (under 18) by their own per-kg or per-m2 limits
unless an adult limit applies from a younger age, older people (65 and over) by their own limits where the
drug has them, everyone else by the adult limits. Heavy children are held to the caps in absolute units.
"""

from collections import defaultdict
from dataclasses import dataclass

from smartcare.knowledge.drugs.model import DoseLimit, Drug
from smartcare.knowledge.prescribing.dosage import (
    absolute_amount,
    comparable,
    convert,
    day_multiplier,
    format_amount,
    parse_unit,
    round_down,
    scale,
)
from smartcare.knowledge.prescribing.rules.base import (
    Finding,
    Line,
    Prescription,
    cite,
    missing_fact,
    sentences,
)
from smartcare.knowledge.prescribing.rules.route import route_zh

ADULT_AGE = 18
ELDERLY_AGE = 65
POPULATION_EN = {"adult": "adults", "paediatric": "children", "elderly": "older people"}
POPULATION_ZH = {"adult": "成人", "paediatric": "儿童", "elderly": "老年人"}
_BASIS_EN = {"per_kg": "kg", "per_m2": "m2"}
_TOLERANCE = 1e-9


@dataclass(frozen=True)
class LimitChoice:
    """The dose limit that applies, or, when `too_young`, the limit whose minimum age the patient is below."""

    limit: DoseLimit | None
    too_young: bool = False


@dataclass(frozen=True)
class Worked:
    """One line's dose worked out against its limit, in the limit's unit."""

    line: Line
    limit: DoseLimit
    amount: float
    doses_per_day: float | None
    factor: float
    dose_ceiling: float | None
    day_ceiling: float | None
    dose_floor: float | None


def route_of(line: Line) -> str | None:
    """The route a line's dose is checked for: the ordered one, else the drug's first stocked or dosed route."""
    if line.route:
        return line.route
    routes = [form.route for form in line.drug.forms] + [limit.route for limit in line.drug.doses]
    return routes[0] if routes else None


def choose_limit(drug: Drug, *, route: str | None, age: float | None) -> LimitChoice:
    """The dose limit for this route and age (see the module docstring for the order of preference)."""
    limits = [limit for limit in drug.doses if limit.route == route]

    def eligible(population: str) -> list[DoseLimit]:
        return [d for d in limits if d.population == population
                and (d.min_age_years is None or age is None or d.min_age_years <= age)]

    def most_specific(candidates: list[DoseLimit]) -> DoseLimit | None:
        return max(candidates, key=lambda d: d.min_age_years or 0, default=None)

    if age is None or age >= ADULT_AGE:
        older = [d for d in eligible("elderly") if age is not None and age >= (d.min_age_years or ELDERLY_AGE)]
        return LimitChoice(most_specific(older) or most_specific(eligible("adult")))
    chosen = most_specific([d for d in eligible("adult") if d.min_age_years is not None])
    chosen = chosen or most_specific(eligible("paediatric"))
    if chosen is not None:
        return LimitChoice(chosen)
    barred = [d for d in limits if d.population != "elderly" and d.min_age_years is not None and d.min_age_years > age]
    if barred:
        return LimitChoice(min(barred, key=lambda d: d.min_age_years or 0), too_young=True)
    # A child without limits of its own is still held to the adult maximum.
    return LimitChoice(most_specific(eligible("adult")))


def ceiling(per: float | None, factor: float, cap: float | None) -> float | None:
    """A per-kg (or per-m2, or fixed) maximum times the patient's size, held to the cap in absolute units."""
    if per is None:
        return cap
    value = per * factor
    return min(value, cap) if cap is not None else value


def _work(line: Line, prescription: Prescription) -> tuple[Worked | None, list[Finding]]:
    order, patient = line.order, prescription.patient
    if order.dose is None or order.unit is None:
        return None, []
    choice = choose_limit(line.drug, route=route_of(line), age=patient.age_years)
    limit = choice.limit
    if limit is None:
        return None, []
    if choice.too_young:
        return None, [_too_young(line, limit, patient.age_years or 0)]
    needs = {parse_unit(order.unit)[1], limit.basis}
    source = limit.source or line.drug.source
    if needs & {"per_kg", "per_m2"} and patient.weight_kg is None:
        why_en = f"{line.name_en} is dosed by body weight for {POPULATION_EN[limit.population]}"
        return None, [missing_fact(line, fact="weight", why_en=why_en, why_zh=f"{line.name_zh}按体重给药", source=source)]
    if "per_m2" in needs and prescription.bsa_m2 is None:
        why_en = f"{line.name_en} is dosed by body surface area"
        return None, [missing_fact(line, fact="height", why_en=why_en, why_zh=f"{line.name_zh}按体表面积给药",
                                   source=source)]
    given = absolute_amount(dose=order.dose, unit=order.unit, weight_kg=patient.weight_kg, bsa_m2=prescription.bsa_m2)
    factor = scale(basis=limit.basis, weight_kg=patient.weight_kg, bsa_m2=prescription.bsa_m2)
    if given is None or factor is None:
        return None, []
    if not comparable(given[1], limit.unit):
        return None, [_not_comparable(line, given[1], limit)]
    amount = convert(given[0], given[1], limit.unit)
    return Worked(
        line=line, limit=limit, amount=amount, doses_per_day=day_multiplier(line.frequency), factor=factor,
        dose_ceiling=ceiling(limit.per_dose_max, factor, limit.cap_per_dose),
        day_ceiling=ceiling(limit.per_day_max, factor, limit.cap_per_day),
        dose_floor=limit.per_dose_min * factor if limit.per_dose_min is not None else None,
    ), []


def check(prescription: Prescription) -> list[Finding]:
    """Findings for doses above the maximum (high), below the usual minimum (low), and facts the check lacks."""
    findings: list[Finding] = []
    groups: dict[str, list[Worked]] = defaultdict(list)
    for line in prescription.lines:
        worked, problems = _work(line, prescription)
        findings.extend(problems)
        if worked is not None:
            keys = line.drug.ingredient_keys
            groups[keys[0] if len(keys) == 1 else f"{line.drug.key}@{line.ref}"].append(worked)
    for key, group in groups.items():
        findings.extend(_check_group(key, group))
    return findings


def _check_group(key: str, group: list[Worked]) -> list[Finding]:
    """The dose findings for the lines of one ingredient: each line's own limits, then their total.

    A line given once a day that is over the per-dose maximum is not reported again for its day total.
    """
    over_dose = [w for w in group if w.dose_ceiling is not None and w.amount > w.dose_ceiling * (1 + _TOLERANCE)]
    totals = [DayTotal((w,), w.amount * (w.doses_per_day or 0), w.day_ceiling or 0, w.limit.unit,
                       _limit_text(w, w.limit.per_day_max, w.limit.cap_per_day, w.day_ceiling or 0))
              for w in group if w.day_ceiling is not None and w.doses_per_day
              and w.amount * w.doses_per_day > w.day_ceiling * (1 + _TOLERANCE)
              and not (w.doses_per_day == 1 and w in over_dose)]
    combined = _combined(key, group)
    if combined is not None:
        totals.append(combined)
    if over_dose or totals:
        return [_overdose(group, over_dose, totals)]
    return [_underdose(w) for w in group if w.dose_floor is not None and w.amount < w.dose_floor * (1 - _TOLERANCE)]


@dataclass(frozen=True)
class DayTotal:
    """Doses that add up to more than a daily maximum: one line's, or several lines' of one ingredient."""

    parts: tuple[Worked, ...]
    total: float
    ceiling: float
    unit: str
    limit_text: str


def _combined(key: str, group: list[Worked]) -> DayTotal | None:
    """The ingredient's total over several lines against the ingredient's own daily maximum (else the lowest)."""
    unit = group[0].limit.unit
    daily = [w for w in group if w.doses_per_day and comparable(w.limit.unit, unit)]
    if len(daily) < 2:
        return None
    own = [w for w in daily if w.line.drug.key == key and w.day_ceiling is not None]
    own = own or [w for w in daily if w.day_ceiling is not None]
    if not own:
        return None
    ceiling = min(convert(w.day_ceiling or 0, w.limit.unit, unit) for w in own)
    total = sum(convert(w.amount * (w.doses_per_day or 0), w.limit.unit, unit) for w in daily)
    if total <= ceiling * (1 + _TOLERANCE):
        return None
    return DayTotal(tuple(daily), total, ceiling, unit, _amount(ceiling, unit))


def _amount(value: float, unit: str) -> str:
    return f"{format_amount(value)} {unit}"


def _per_basis(w: Worked, value: float) -> str:
    """An absolute amount with its per-kg or per-m2 equivalent for this patient, e.g. '500 mg (50 mg/kg)'."""
    if w.limit.basis == "fixed":
        return _amount(value, w.limit.unit)
    per = _BASIS_EN[w.limit.basis]
    return f"{_amount(value, w.limit.unit)} ({format_amount(value / w.factor)} {w.limit.unit}/{per})"


def _limit_text(w: Worked, per: float | None, cap: float | None, ceiling: float) -> str:
    if w.limit.basis == "fixed" or per is None:
        return _amount(ceiling, w.limit.unit)
    basis = _BASIS_EN[w.limit.basis]
    body = f"{format_amount(per)} {w.limit.unit}/{basis} x {format_amount(w.factor)} {basis}"
    capped = f", capped at {_amount(cap, w.limit.unit)}" if cap is not None and ceiling == cap else ""
    return f"{_amount(ceiling, w.limit.unit)} ({body}{capped})"


def _population(w: Worked) -> tuple[str, str]:
    route = w.limit.route
    return f"{POPULATION_EN[w.limit.population]}, {route}", f"{POPULATION_ZH[w.limit.population]}，{route_zh(route)}"


def _overdose(group: list[Worked], over_dose: list[Worked], totals: list[DayTotal]) -> Finding:
    first = group[0]
    unit = first.limit.unit
    who_en, who_zh = _population(first)
    parts_en, parts_zh = [], []
    for w in over_dose:
        limit = _limit_text(w, w.limit.per_dose_max, w.limit.cap_per_dose, w.dose_ceiling or 0)
        parts_en.append(f"{_per_basis(w, w.amount)} per dose exceeds the per-dose maximum of {limit}")
        parts_zh.append(f"单次{_per_basis(w, w.amount)}超过单次最大量 {limit}")
    for day in totals:
        sums = " + ".join(f"{format_amount(w.doses_per_day or 0)} x {_amount(w.amount, w.limit.unit)}"
                          for w in day.parts)
        together_en, together_zh = ("Together, ", "合计") if len(day.parts) > 1 else ("", "")
        parts_en.append(f"{together_en}{sums} = {_amount(day.total, day.unit)} a day exceeds the daily maximum "
                        f"of {day.limit_text}")
        parts_zh.append(f"{together_zh}{sums} = 每日{_amount(day.total, day.unit)}，超过每日最大量 {day.limit_text}")
    lines = list(dict.fromkeys([w.line for w in over_dose] + [w.line for day in totals for w in day.parts]))
    source = first.limit.source or first.line.drug.source
    source_en, source_zh = cite(source)
    suggestion = _reduced(lines[0], [w for w in group if w.line is lines[0]][0]) if len(lines) == 1 else None
    if suggestion is not None:
        advice_en = (f"Lower the dose to at most {_amount(suggestion['dose'], unit)} per dose"
                     f"{' ' + suggestion['frequency'] if suggestion['frequency'] else ''}.")
        advice_zh = f"将剂量降至单次不超过{_amount(suggestion['dose'], unit)}。"
    else:
        advice_en = "Bring the total daily amount of this ingredient, across all lines, within the maximum."
        advice_zh = "核算所有处方行中该成分的每日总量，使其不超过最大量。"
    names = ", ".join(dict.fromkeys(line.name_en for line in lines))
    names_zh = "、".join(dict.fromkeys(line.name_zh for line in lines))
    return Finding(
        rule="dose", severity="high", refs=tuple(line.ref for line in lines),
        drugs=tuple(dict.fromkeys(line.drug.key for line in lines)), conditions=(),
        summary_en=f"{names}: dose above the maximum for {POPULATION_EN[first.limit.population]}",
        summary_zh=f"{names_zh}剂量超过{POPULATION_ZH[first.limit.population]}最大剂量",
        detail_en=sentences(*parts_en, f"Limits for {who_en}") + source_en,
        detail_zh="；".join(parts_zh) + f"（{who_zh}剂量标准）。{source_zh}",
        advice_en=advice_en, advice_zh=advice_zh, source=source, suggestion=suggestion,
    )


def _reduced(line: Line, w: Worked) -> dict | None:
    ceilings = [w.dose_ceiling] if w.dose_ceiling is not None else []
    if w.day_ceiling is not None and w.doses_per_day:
        ceilings.append(w.day_ceiling / w.doses_per_day)
    if not ceilings:
        return None
    dose = round_down(min(ceilings))
    if dose <= 0:
        return None
    frequency = line.frequency.code if line.frequency else line.order.frequency
    return {"action": "change-dose", "ref": line.ref, "dose": dose, "unit": w.limit.unit, "frequency": frequency}


def _underdose(w: Worked) -> Finding:
    who_en, who_zh = _population(w)
    floor = _limit_text(w, w.limit.per_dose_min, None, w.dose_floor or 0)
    source = w.limit.source or w.line.drug.source
    source_en, source_zh = cite(source)
    return Finding(
        rule="dose", severity="low", refs=(w.line.ref,), drugs=(w.line.drug.key,), conditions=(),
        summary_en=f"{w.line.name_en}: dose below the usual range",
        summary_zh=f"{w.line.name_zh}剂量低于常用范围",
        detail_en=sentences(f"{_per_basis(w, w.amount)} per dose is below the usual minimum of {floor}",
                            f"Limits for {who_en}") + source_en,
        detail_zh=f"单次{_per_basis(w, w.amount)}低于常用最小量 {floor}（{who_zh}剂量标准）。{source_zh}",
        advice_en="Check the dose is intended; a dose below the usual range may not work.",
        advice_zh="请确认剂量是否有意为之；低于常用范围的剂量可能无效。",
        source=source,
    )


def age_text(years: float) -> tuple[str, str]:
    """An age in words: '6 months' under two years, else '12 years' (English, Chinese)."""
    if years < 2:
        months = format_amount(round(years * 12, 1))
        return f"{months} months", f"{months}个月"
    return f"{format_amount(years)} years", f"{format_amount(years)}岁"


def _too_young(line: Line, limit: DoseLimit, age: float) -> Finding:
    minimum_en, minimum_zh = age_text(limit.min_age_years or 0)
    age_en, age_zh = age_text(age)
    source = limit.source or line.drug.source
    source_en, source_zh = cite(source)
    return Finding(
        rule="dose", severity="high", refs=(line.ref,), drugs=(line.drug.key,), conditions=(),
        summary_en=f"{line.name_en} is not for patients under {minimum_en}",
        summary_zh=f"{line.name_zh}不用于{minimum_zh}以下患者",
        detail_en=sentences(f"The patient is {age_en} old; the {line.name_en} dosing ({limit.route}) starts at "
                            f"{minimum_en}", limit.note) + source_en,
        detail_zh=f"患者{age_zh}，{line.name_zh}（{route_zh(limit.route)}）的用药年龄下限为{minimum_zh}。{source_zh}",
        advice_en="Choose a medicine licensed for this age.",
        advice_zh="改用适用于该年龄的药物。",
        source=source,
        suggestion={"action": "remove", "ref": line.ref},
    )


def _not_comparable(line: Line, unit: str, limit: DoseLimit) -> Finding:
    source = limit.source or line.drug.source
    source_en, source_zh = cite(source)
    return Finding(
        rule="dose", severity="low", refs=(line.ref,), drugs=(line.drug.key,), conditions=(),
        summary_en=f"{line.name_en}: the dose in {unit} could not be checked",
        summary_zh=f"{line.name_zh}：以{unit}计的剂量无法核对",
        detail_en=f"The dose limits for {line.name_en} are in {limit.unit}, and {unit} does not convert to it."
                  + source_en,
        detail_zh=f"{line.name_zh}的剂量标准以{limit.unit}计，{unit}无法换算。{source_zh}",
        advice_en=f"Order the dose in {limit.unit}.",
        advice_zh=f"请以{limit.unit}开具剂量。",
        source=source,
    )
