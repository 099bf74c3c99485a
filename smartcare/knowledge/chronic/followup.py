"""Hypertension and type 2 diabetes follow-up (国家基本公共卫生服务规范 第三版, 2017) as pure functions over data.

Registry criteria, the visit classification, the scheduling rules and the indicator definitions are data
(data/followup.yaml, each with its source); this module only reads them. No database, no HTTP.
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import yaml

DATA = Path(__file__).parent / "data" / "followup.yaml"
REGISTRIES = ("hypertension", "diabetes")
CLASSES = ("urgent_referral", "referral", "uncontrolled", "controlled")


@dataclass(frozen=True, slots=True)
class Reason:
    """Why a rule fired, in English and Chinese, with the section of the source it applies."""

    rule: str
    text_en: str
    text_zh: str
    source: str


@dataclass(frozen=True, slots=True)
class RegistryMatch:
    """The registries a resident belongs on, those a clinician should confirm, and why."""

    registries: frozenset[str]
    to_confirm: frozenset[str]
    reasons: tuple[Reason, ...]


@dataclass(frozen=True, slots=True)
class Classification:
    """One follow-up visit's class, when the next contact is due, what to do, and why."""

    key: str  # urgent_referral, referral, uncontrolled, controlled
    next_due_in_days: int
    actions: tuple[str, ...]
    reasons: tuple[Reason, ...]
    at_target: bool | None  # the reading under the control threshold; None when an emergency sign decided first


@dataclass(frozen=True, slots=True)
class DueState:
    """Where a registered patient stands against the follow-up schedule on a given day."""

    next_due: date
    status: str  # not_due, due, overdue
    due_from: date
    last_visit: date | None
    last_classification: str | None
    visits_this_year: int
    visits_needed: int
    can_meet_minimum: bool


@dataclass(frozen=True, slots=True)
class AnnualCheck:
    """Whether the yearly health check is due, with the age on the day and the reason."""

    due: bool
    age: int
    text_en: str
    text_zh: str


@dataclass(frozen=True, slots=True)
class Indicators:
    """The yearly indicators of one registry; a rate is a fraction 0-1, or None when its denominator is missing."""

    registry: str
    registered: int
    managed_to_standard: int
    controlled: int
    estimated_prevalent: int | None
    management_rate: float | None
    standardised_management_rate: float | None
    control_rate: float | None


@cache
def rules() -> dict[str, Any]:
    """The registry criteria, classification thresholds, scheduling rules and indicator definitions as data."""
    return yaml.safe_load(DATA.read_text(encoding="utf-8"))


def _normalise(code: str) -> str:
    return code.strip().upper().replace(".", "").replace(" ", "")


def _longest_match(code: str, entries: Iterable[dict[str, Any]]) -> dict[str, Any] | None:
    best = None
    for entry in entries:
        prefix = _normalise(entry["code"])
        if code.startswith(prefix) and (best is None or len(prefix) > len(_normalise(best["code"]))):
            best = entry
    return best


def registries(*, conditions: Sequence[str], medicines: Sequence[str]) -> RegistryMatch:
    """Say which registries coded diagnoses (ICD-10) and medicines (ATC) put a resident on, or ask to confirm."""
    data = rules()["registries"]
    codes = [(_normalise(code), code.strip()) for code in conditions]
    drugs = [(_normalise(code), code.strip()) for code in medicines]
    registered: set[str] = set()
    confirm: set[str] = set()
    reasons: list[Reason] = []
    for registry in REGISTRIES:
        criteria = data[registry]
        for code, shown in codes:
            entry = _longest_match(code, criteria["conditions"])
            if entry is None:
                continue
            (registered if entry["effect"] == "register" else confirm).add(registry)
            reasons.append(_code_reason(registry, shown, entry, data["icd10_source"], medicine=False))
        if registry in registered:
            continue
        explaining = criteria["explaining_conditions"]
        explained = [entry for code, _ in codes if (entry := _longest_match(code, explaining))]
        for code, shown in drugs:
            entry = _longest_match(code, criteria["medicines"])
            if entry is None:
                continue
            if entry["effect"] == "register" and not explained:
                registered.add(registry)
            else:
                confirm.add(registry)
            reasons.append(_code_reason(registry, shown, entry, data["atc_source"], medicine=True,
                                        explained=explained))
    confirm -= registered
    return RegistryMatch(frozenset(registered), frozenset(confirm), tuple(reasons))


def _code_reason(registry: str, code: str, entry: dict[str, Any], source: str, *, medicine: bool,
                 explained: Sequence[dict[str, Any]] = ()) -> Reason:
    kind_en, kind_zh = ("medicine", "用药") if medicine else ("diagnosis", "诊断")
    head_en = f"{kind_en} {code} ({entry['name']})"
    head_zh = f"{kind_zh} {code}（{entry['name_zh']}）"
    if explained:
        names_en = ", ".join(item["name"] for item in explained)
        names_zh = "、".join(item["name_zh"] for item in explained)
        return Reason(f"{registry}:{kind_en}:confirm", f"{head_en}: to confirm, since {names_en} is coded",
                      f"{head_zh}：已有{names_zh}诊断，需医生确认", source)
    if entry["effect"] == "confirm":
        note = entry.get("note", "")
        return Reason(f"{registry}:{kind_en}:confirm", f"{head_en}: to confirm ({note})" if note else
                      f"{head_en}: to confirm", f"{head_zh}：需医生确认是否纳入管理", source)
    if medicine:
        return Reason(f"{registry}:{kind_en}:register", f"{head_en}: registered on treatment; confirm the diagnosis",
                      f"{head_zh}：按用药纳入管理，需补充确认诊断", source)
    return Reason(f"{registry}:{kind_en}:register", f"{head_en}: registered", f"{head_zh}：纳入管理", source)


def classify_visit(*, registry: str, age: int, systolic: int, diastolic: int, fasting_glucose: float | None = None,
                   symptoms: Sequence[str] = (), heart_rate: int | None = None, temperature: float | None = None,
                   adverse_reaction: bool = False, adverse_reaction_unmanageable: bool = False,
                   new_complication: bool = False, previous_classification: str | None = None) -> Classification:
    """Classify one follow-up visit as the specification does and say when the next contact is due."""
    if registry not in REGISTRIES:
        raise ValueError(f"registry must be one of {', '.join(REGISTRIES)}, not {registry!r}")
    if previous_classification is not None and previous_classification not in CLASSES:
        raise ValueError(f"previous_classification must be one of {', '.join(CLASSES)}")
    if registry == "diabetes" and fasting_glucose is None:
        raise ValueError("a diabetes follow-up needs the fasting glucose (mmol/L)")
    data = rules()["classification"]
    source = data[f"source_{registry}"]
    signs = _emergency_signs(registry, systolic, diastolic, fasting_glucose, symptoms, heart_rate, temperature)
    if signs:
        return _result("urgent_referral", [Reason(rule, en, zh, source) for rule, en, zh in signs], None)
    at_target, control = _control(registry, age, systolic, diastolic, fasting_glucose)
    reasons = [Reason(f"{registry}:control", *control, source)]
    if new_complication:
        reasons.append(Reason("complication", "a new complication, or one that has worsened",
                              "出现新的并发症或原有并发症加重", source))
    if adverse_reaction_unmanageable:
        reasons.append(Reason("adverse_reaction_unmanageable", "an adverse drug reaction that is hard to control",
                              "药物不良反应难以控制", source))
    if new_complication or adverse_reaction_unmanageable:
        return _result("referral", reasons, at_target)
    if not at_target and previous_classification in data["previous_not_controlled"]:
        reasons.append(Reason("consecutive",
                              f"not controlled at two consecutive visits (last: {previous_classification})",
                              "连续两次控制不满意", source))
        return _result("referral", reasons, at_target)
    if adverse_reaction:
        reasons.append(Reason("adverse_reaction", "an adverse drug reaction", "出现药物不良反应", source))
    if not at_target or adverse_reaction:
        return _result("uncontrolled", reasons, at_target)
    return _result("controlled", reasons, at_target)


def _result(key: str, reasons: list[Reason], at_target: bool | None) -> Classification:
    cls = rules()["classification"]["classes"][key]
    return Classification(key, int(cls["next_due_in_days"]), tuple(cls["actions"]), tuple(reasons), at_target)


def _emergency_signs(registry: str, systolic: int, diastolic: int, glucose: float | None, symptoms: Sequence[str],
                     heart_rate: int | None, temperature: float | None) -> list[tuple[str, str, str]]:
    limits = rules()["classification"]["emergency"]
    known = limits["symptoms"]
    unknown = [code for code in symptoms if code not in known]
    if unknown:
        raise ValueError(f"unknown symptom codes {unknown}; known: {', '.join(known)}")
    signs = []
    if systolic >= limits["systolic_at_least"]:
        signs.append(("emergency:systolic", f"systolic {systolic} mmHg >= {limits['systolic_at_least']} mmHg",
                      f"收缩压{systolic}mmHg ≥ {limits['systolic_at_least']}mmHg"))
    if diastolic >= limits["diastolic_at_least"]:
        signs.append(("emergency:diastolic", f"diastolic {diastolic} mmHg >= {limits['diastolic_at_least']} mmHg",
                      f"舒张压{diastolic}mmHg ≥ {limits['diastolic_at_least']}mmHg"))
    if registry == "diabetes":
        if glucose is not None and glucose >= limits["glucose_at_least"]:
            signs.append(("emergency:glucose_high", f"glucose {glucose} mmol/L >= {limits['glucose_at_least']} mmol/L",
                          f"血糖{glucose}mmol/L ≥ {limits['glucose_at_least']}mmol/L"))
        if glucose is not None and glucose <= limits["glucose_at_most"]:
            signs.append(("emergency:glucose_low", f"glucose {glucose} mmol/L <= {limits['glucose_at_most']} mmol/L",
                          f"血糖{glucose}mmol/L ≤ {limits['glucose_at_most']}mmol/L"))
        pulse, fever = limits["diabetes_heart_rate_above"], limits["diabetes_temperature_above"]
        if heart_rate is not None and heart_rate > pulse:
            signs.append(("emergency:heart_rate", f"heart rate {heart_rate}/min > {pulse}/min",
                          f"心率{heart_rate}次/分钟 > {pulse}次/分钟"))
        if temperature is not None and temperature > fever:
            signs.append(("emergency:temperature", f"temperature {temperature} °C > {fever} °C",
                          f"体温{temperature}℃ > {fever}℃"))
    for code in symptoms:
        if registry in known[code]["in"]:
            signs.append((f"emergency:{code}", f"danger sign: {known[code]['en']}", f"危急情况：{known[code]['zh']}"))
    return signs


def _control(registry: str, age: int, systolic: int, diastolic: int,
             glucose: float | None) -> tuple[bool, tuple[str, str]]:
    limits = rules()["classification"]["control"][registry]
    if registry == "diabetes":
        below = limits["fasting_glucose_below"]
        if glucose < below:
            return True, (f"fasting glucose {glucose} mmol/L < {below} mmol/L: at target",
                          f"空腹血糖{glucose}mmol/L < {below}mmol/L，达标")
        return False, (f"fasting glucose {glucose} mmol/L >= {below} mmol/L: not at target",
                       f"空腹血糖{glucose}mmol/L ≥ {below}mmol/L，未达标")
    older = age >= limits["older_from_age"]
    sbp = limits["older_systolic_below" if older else "systolic_below"]
    dbp = limits["older_diastolic_below" if older else "diastolic_below"]
    group_en = f"aged {limits['older_from_age']} or over" if older else "under " + str(limits["older_from_age"])
    group_zh = f"{limits['older_from_age']}岁及以上" if older else f"{limits['older_from_age']}岁以下"
    reading = f"{systolic}/{diastolic} mmHg"
    if systolic < sbp and diastolic < dbp:
        return True, (f"{reading} below {sbp}/{dbp} mmHg ({group_en}): at target",
                      f"血压{systolic}/{diastolic}mmHg 低于{sbp}/{dbp}mmHg（{group_zh}），达标")
    return False, (f"{reading} not below {sbp}/{dbp} mmHg ({group_en}): not at target",
                   f"血压{systolic}/{diastolic}mmHg 未降至{sbp}/{dbp}mmHg以下（{group_zh}），未达标")


def due_state(*, registered_on: date, visits: Sequence[tuple[date, str]], today: date) -> DueState:
    """Say when the next follow-up is due, whether it is due or overdue, and if this year's 4 can still be met."""
    plan = rules()["scheduling"]
    classes = rules()["classification"]["classes"]
    for day, key in visits:
        if key not in classes:
            raise ValueError(f"visit class must be one of {', '.join(CLASSES)}, not {key!r}")
        if day > today:
            raise ValueError(f"a visit on {day} is after today ({today})")
    ordered = sorted(visits)
    if ordered:
        last_visit, last_key = ordered[-1]
        next_due = last_visit + timedelta(days=classes[last_key]["next_due_in_days"])
    else:
        last_visit, last_key = None, None
        next_due = registered_on + timedelta(days=plan["first_visit_within_days"])
    due_from = next_due - timedelta(days=plan["due_window_days"])
    status = "overdue" if today > next_due else "due" if today >= due_from else "not_due"
    this_year = sum(1 for day, _ in ordered if day.year == today.year)
    needed = max(0, plan["minimum_visits_per_year"] - this_year)
    gap = plan["minimum_gap_days"]
    earliest = today if last_visit is None else max(today, last_visit + timedelta(days=gap))
    year_end = date(today.year, 12, 31)
    slots = 0 if earliest > year_end else (year_end - earliest).days // gap + 1
    return DueState(next_due, status, due_from, last_visit, last_key, this_year, needed, slots >= needed)


def _age(birth_date: date, on: date) -> int:
    return on.year - birth_date.year - ((on.month, on.day) < (birth_date.month, birth_date.day))


def annual_check_due(*, birth_date: date, last_check: date | None, today: date,
                     on_registry: bool = False) -> AnnualCheck:
    """Say whether the once-a-calendar-year health check is due (65 and over, or on a chronic-disease registry)."""
    from_age = rules()["scheduling"]["annual_check"]["from_age"]
    age = _age(birth_date, today)
    if age < from_age and not on_registry:
        return AnnualCheck(False, age, f"aged {age}: the yearly check starts at {from_age}",
                           f"{age}岁：{from_age}岁起每年体检")
    if last_check is not None and last_check.year == today.year:
        return AnnualCheck(False, age, f"already checked this year on {last_check.isoformat()}",
                           f"今年已于{last_check.isoformat()}体检")
    who_en = f"aged {age}" if age >= from_age else "on a chronic-disease registry"
    who_zh = f"{age}岁" if age >= from_age else "已纳入慢病管理"
    return AnnualCheck(True, age, f"{who_en}, not yet checked in {today.year}: the yearly health check is due",
                       f"{who_zh}，{today.year}年尚未体检：应做年度健康检查")


def indicators(*, patients: Sequence[Mapping[str, Any]], estimated_prevalent: int | None) -> Indicators:
    """Work out one registry's management, standardised-management and control rates over a year's patients."""
    kinds = {patient["registry"] for patient in patients}
    if len(kinds) > 1:
        raise ValueError(f"indicators are per registry; got {sorted(kinds)}")
    registry = kinds.pop() if kinds else ""
    if registry and registry not in REGISTRIES:
        raise ValueError(f"registry must be one of {', '.join(REGISTRIES)}, not {registry!r}")
    minimum = rules()["scheduling"]["minimum_visits_per_year"]
    registered = len(patients)
    managed = sum(1 for patient in patients if patient["visits_in_year"] >= minimum)
    controlled = sum(1 for patient in patients if _at_target(patient))
    return Indicators(
        registry, registered, managed, controlled, estimated_prevalent,
        registered / estimated_prevalent if estimated_prevalent else None,
        managed / registered if registered else None,
        controlled / registered if registered else None)


def _at_target(patient: Mapping[str, Any]) -> bool:
    # The specification counts the reading at target at the latest visit; a caller that stored it says so.
    if patient.get("last_at_target") is not None:
        return bool(patient["last_at_target"])
    return patient.get("last_classification") == "controlled"
