"""The triage assessment: from a presentation (text, age, sex, pregnancy, answers) to a level with its reasons."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import yaml

from smartcare.knowledge.triage import rules as rulebook
from smartcare.knowledge.triage import text as reader
from smartcare.knowledge.triage.rules import rank
from smartcare.knowledge.triage.text import DATA_DIR

MAX_TEXT = 2000
MAX_ANSWERS = 50
MAX_FOLLOW_UP = 5
CHILD_AGE = 14  # Chinese hospitals see children under 14 in paediatrics.
LONG_STANDING_DAYS = 28  # an unrecognised complaint lasting this long, with nothing sudden or severe, is routine
ESI_SOURCE = ("Gilboy N, Tanabe P, Travers D, Rosenau AM. Emergency Severity Index (ESI) v4 Implementation Handbook. "
              "AHRQ 2012, ENA 2020")
LEVEL_NAMES = {"emergency": ("Emergency", "急诊"), "urgent": ("Urgent (today)", "当天就医"),
               "routine": ("Routine (within days)", "数日内就诊"), "self_care": ("Self-care", "居家自我护理")}
DISCLAIMER_EN = ("This triage advice supports, and never replaces, the judgement of a doctor or nurse. It is not a "
                 "diagnosis. If you are worried or it gets worse, call 120 or see a clinician. Based on the Emergency "
                 "Severity Index (ESI v4, Gilboy et al., AHRQ/ENA) and the Manchester Triage System.")
DISCLAIMER_ZH = ("本分诊建议仅用于辅助，不能替代医生或护士的专业判断，也不是诊断。如有担心或病情加重，请拨打120或就医。"
                 "依据急诊严重度指数（ESI第4版，Gilboy等，AHRQ/ENA）和曼彻斯特分诊系统。")
ADVICE = {
    "emergency": ("Call 120 now or go to the nearest emergency department. Do not wait for an appointment.",
                  "请立即拨打120或前往最近的急诊科，不要等待预约挂号。"),
    "urgent": ("See a doctor today: a same-day appointment, or the emergency department if no clinic is open. "
               "Call 120 if it gets worse.", "请今天就医：挂当天的号；如门诊已关闭请去急诊。病情加重请拨打120。"),
    "routine": ("Book an appointment in the next few days. Get help sooner if it gets worse or new symptoms appear.",
                "请在几天内预约就诊。如病情加重或出现新症状，请尽早就医。"),
    "self_care": ("This can usually be looked after at home. See a doctor if it is not better in a few days or gets "
                  "worse.", "通常可以在家自我护理。如几天内未好转或加重，请就医。"),
}
# Adult medical departments whose work a paediatrics department does for children.
_ADULT_MEDICAL = frozenset({"internal-medicine", "general-practice", "respiratory", "gastroenterology", "cardiology",
                            "neurology", "endocrinology", "nephrology"})
_YES = frozenset({"yes", "y", "true", "1", "是", "有", "是的", "对"})
_NO = frozenset({"no", "n", "false", "0", "否", "没有", "无", "不是", "没"})


class AnswerError(ValueError):
    """An answer that does not fit its question (unknown id, wrong kind, out of range)."""


@dataclass(frozen=True)
class Presentation:
    """What is known about the person: complaint text, age (years or months), sex, pregnancy, answers by question id."""

    text: str = ""
    age_years: float | None = None
    age_months: float | None = None
    sex: str | None = None
    pregnant: bool | None = None
    answers: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Finding:
    """A fact the assessment used: a symptom (present or absent) or a number, and where it came from."""

    key: str
    name_en: str
    name_zh: str
    present: bool
    source: str  # "text", "answer", "given" (request field) or "derived"
    matched: str | None = None
    value: float | str | bool | None = None
    fuzzy: bool = False


@dataclass(frozen=True)
class RedFlag:
    """A red-flag rule that fired: emergency, with the first-aid guides to open."""

    key: str
    reason_en: str
    reason_zh: str
    condition_en: str
    condition_zh: str
    first_aid: tuple[str, ...]
    source: tuple[str, ...]


@dataclass(frozen=True)
class Department:
    """A recommended department with the reason."""

    key: str
    name_en: str
    name_zh: str
    reason_en: str
    reason_zh: str


@dataclass(frozen=True)
class PossibleCondition:
    """A condition to discuss with a doctor (never a diagnosis), with the findings that suggest it."""

    key: str
    page: str | None
    icd10: tuple[str, ...]
    name_en: str
    name_zh: str
    because: tuple[str, ...]


@dataclass(frozen=True)
class Reason:
    """Why the level is what it is: the rule (or symptom level) that fired, the findings behind it and its source."""

    rule: str
    level: str
    text_en: str
    text_zh: str
    because: tuple[str, ...]
    source: tuple[str, ...]


@dataclass(frozen=True)
class Question:
    """A follow-up question: kind yes_no, scale (0-10), choice or number; options for choice."""

    id: str
    text_en: str
    text_zh: str
    kind: str
    options: tuple[Mapping[str, str], ...] = ()
    min: float | None = None
    max: float | None = None
    unit: str | None = None
    symptom: str | None = None
    fact: str | None = None
    priority: int = 5
    ask_when: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Assessment:
    """A triage result: level, red flags, departments, conditions to discuss, reasons, questions, findings."""

    level: str
    red_flags: tuple[RedFlag, ...]
    departments: tuple[Department, ...]
    conditions: tuple[PossibleCondition, ...]
    reasons: tuple[Reason, ...]
    follow_up: tuple[Question, ...]
    findings: tuple[Finding, ...]
    advice_en: str
    advice_zh: str
    safety_screen_pending: tuple[Question, ...] = ()
    not_understood: tuple[str, ...] = ()
    disclaimer_en: str = DISCLAIMER_EN
    disclaimer_zh: str = DISCLAIMER_ZH

    @property
    def call_emergency(self) -> bool:
        """Whether the person should call 120 / go to the emergency department now."""
        return self.level == "emergency"

    @property
    def provisional(self) -> bool:
        """Whether the level may still rise: safety-screen questions unanswered or text not understood."""
        return self.level != "emergency" and bool(self.safety_screen_pending or self.not_understood)


@dataclass(frozen=True)
class ContextScreen:
    """Further safety questions for people at higher risk (young children, pregnancy...): asked like the safety
    screen when ``when`` holds."""

    id: str
    label_en: str
    label_zh: str
    when: Mapping[str, Any]
    questions: tuple[str, ...]
    source: tuple[str, ...]


@lru_cache(maxsize=1)
def _questions() -> tuple[tuple[Question, ...], tuple[str, ...], tuple[str, ...], tuple[ContextScreen, ...]]:
    raw = yaml.safe_load((DATA_DIR / "questions.yaml").read_text(encoding="utf-8"))
    found = tuple(Question(id=q["id"], text_en=q["text_en"], text_zh=q["text_zh"], kind=q["kind"],
                           options=tuple(q.get("options", ())), min=q.get("min"), max=q.get("max"),
                           unit=q.get("unit"), symptom=q.get("symptom"), fact=q.get("fact"),
                           priority=q.get("priority", 5), ask_when=q.get("ask_when", {})) for q in raw["questions"])
    contexts = tuple(ContextScreen(id=c["id"], label_en=c["label_en"], label_zh=c["label_zh"], when=c["when"],
                                   questions=tuple(c["questions"]),
                                   source=tuple(c["source"])) for c in raw.get("context_screens") or ())
    return found, tuple(raw.get("screen", ())), tuple(raw.get("safety_screen", ())), contexts


def questions() -> tuple[Question, ...]:
    """Every follow-up question the interview may ask."""
    return _questions()[0]


def safety_screen(facts: Mapping[str, Any] | None = None) -> tuple[str, ...]:
    """The ids of the questions every interview asks before a result below emergency (questions.yaml), and, given
    the facts of a presentation, those of the context screens that apply to it (a young child, a pregnancy...)
    whose own ``ask_when`` holds."""
    _, _, base, contexts = _questions()
    if facts is None:
        return base
    by_id = {q.id: q for q in questions()}
    extra = [qid for c in contexts if rulebook.holds(c.when, facts) for qid in c.questions
             if rulebook.holds(by_id[qid].ask_when, facts)]
    return tuple(dict.fromkeys([*base, *extra]))


def context_screens() -> tuple[ContextScreen, ...]:
    """The context screens (questions.yaml ``context_screens``), for the clinician-facing rules page and tests."""
    return _questions()[3]


@lru_cache(maxsize=1)
def departments() -> dict[str, dict[str, str]]:
    """Department names by shared key."""
    return yaml.safe_load((DATA_DIR / "departments.yaml").read_text(encoding="utf-8"))["departments"]


@lru_cache(maxsize=1)
def _conditions() -> list[dict[str, Any]]:
    return yaml.safe_load((DATA_DIR / "conditions.yaml").read_text(encoding="utf-8"))["conditions"]


def _answer(q: Question, value: Any) -> Any:
    if q.kind == "yes_no":
        if isinstance(value, bool):
            return value
        word = str(value).strip().lower()
        if word in _YES or word in _NO:
            return word in _YES
        raise AnswerError(f"{q.id}: answer yes or no")
    if q.kind == "choice":
        allowed = [o["value"] for o in q.options]
        if value not in allowed:
            raise AnswerError(f"{q.id}: answer one of {', '.join(allowed)}")
        return value
    if isinstance(value, bool):
        raise AnswerError(f"{q.id}: answer a number")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise AnswerError(f"{q.id}: answer a number") from None
    if number != number or (q.min is not None and number < q.min) or (q.max is not None and number > q.max):
        raise AnswerError(f"{q.id}: answer a number from {q.min:g} to {q.max:g}")
    if q.kind == "scale" and number != int(number):
        raise AnswerError(f"{q.id}: answer a whole number from 0 to 10")
    return int(number) if q.kind == "scale" else number


def check_answers(answers: Mapping[str, Any]) -> dict[str, Any]:
    """Answers by question id, validated and normalised (yes/no to bool, numbers to float); AnswerError if wrong."""
    if len(answers) > MAX_ANSWERS:
        raise AnswerError(f"at most {MAX_ANSWERS} answers")
    by_id = {q.id: q for q in questions()}
    unknown = sorted(k for k in answers if k not in by_id)
    if unknown:
        raise AnswerError(f"unknown question id: {', '.join(unknown[:5])[:200]}")
    return {k: _answer(by_id[k], v) for k, v in answers.items()}


def _symptom_finding(key: str, present: bool, source: str, matched: str | None = None, fuzzy: bool = False) -> Finding:
    s = reader.lexicon().symptoms[key]
    return Finding(key=key, name_en=s.name_en, name_zh=s.name_zh, present=present, source=source, matched=matched,
                   fuzzy=fuzzy)


_FACT_NAMES = {"age_years": ("age (years)", "年龄（岁）"), "temperature": ("temperature (C)", "体温（℃）"),
               "duration_days": ("duration (days)", "持续时间（天）"), "severity": ("pain severity (0-10)", "疼痛程度（0-10）"),
               "onset": ("onset", "起病方式"), "sex": ("sex", "性别"), "pregnant": ("pregnant", "怀孕"),
               "heart_rate": ("heart rate (/min)", "心率（次/分）"), "resp_rate": ("breathing rate (/min)", "呼吸频率（次/分）"),
               "spo2": ("oxygen saturation (%)", "血氧饱和度（%）"), "systolic_bp": ("systolic blood pressure (mmHg)",
                                                                           "收缩压（mmHg）"),
               "diastolic_bp": ("diastolic blood pressure (mmHg)", "舒张压（mmHg）"),
               "gcs": ("Glasgow Coma Scale (3-15)", "格拉斯哥昏迷评分（3-15）"),
               "gestation_weeks": ("weeks of pregnancy", "孕周"),
               "tablets_taken": ("tablets taken within a day", "一天内服下的药片数")}
_TEXT_NUMBERS = ("age_years", "temperature", "duration_days", "severity", "sex", "heart_rate", "resp_rate", "spo2",
                 "systolic_bp", "diastolic_bp", "gcs", "gestation_weeks", "tablets_taken")
UNREAD_EN = ("We could not understand enough of this. If it is severe or came on suddenly, call 120 now; otherwise see a "
             "doctor today.")
UNREAD_ZH = "我们未能充分理解您的描述。如果情况严重或突然发生，请立即拨打120；否则请今天就医。"


def _gather(p: Presentation, answers: dict[str, Any]) -> tuple[dict[str, Any], list[Finding], set[str], bool]:
    """Facts for the rules, the findings to show, the facts already settled (asked or known) and infant mention."""
    reading = reader.read(p.text)
    symptoms = reader.lexicon().symptoms
    findings: list[Finding] = []
    present: dict[str, Finding] = {}
    settled: set[str] = set()
    for m in reading.mentions:
        settled.add(m.key)
        f = _symptom_finding(m.key, not m.negated, "text", m.matched, m.fuzzy)
        findings.append(f)
        if not m.negated and not m.explained:  # words a harmless finding explains are shown, not counted
            present.setdefault(m.key, f)
    by_id = {q.id: q for q in questions()}
    values: dict[str, tuple[Any, str, str | None]] = {}
    for name in _TEXT_NUMBERS:
        value = getattr(reading, name)
        if value is not None:
            values[name] = (value, "text", reading.numbers.get(name))
    for qid, value in answers.items():
        q = by_id[qid]
        if q.symptom:
            settled.add(q.symptom)
            f = _symptom_finding(q.symptom, value, "answer")
            findings.append(f)
            if value:
                present.setdefault(q.symptom, f)
        else:
            values[q.fact] = (value, "answer", None)
    age = p.age_years if p.age_years is not None else (p.age_months / 12 if p.age_months is not None else None)
    if age is not None:
        values["age_years"] = (age, "given", None)
    if p.sex:
        values["sex"] = (p.sex, "given", None)
    if p.pregnant is not None:
        values["pregnant"] = (p.pregnant, "given", None)
    elif "pregnant" not in values and "pregnancy" in present:
        values["pregnant"] = (True, "text", present["pregnancy"].matched)
    if values.get("sex", (None,))[0] == "male" and values.get("pregnant", (False,))[0]:
        values["pregnant"] = (False, "derived", None)
    temperature = values.get("temperature", (None,))[0]
    if temperature is not None and temperature >= 38 and "fever" not in present:
        present["fever"] = _symptom_finding("fever", True, "derived", f"{temperature:g} C")
        findings.append(present["fever"])
    systolic, diastolic = values.get("systolic_bp", (None,))[0], values.get("diastolic_bp", (None,))[0]
    if "high_blood_pressure" not in present and ((systolic or 0) >= 140 or (diastolic or 0) >= 90):
        present["high_blood_pressure"] = _symptom_finding("high_blood_pressure", True, "derived",
                                                          f"{systolic:g}/{diastolic:g} mmHg")
        findings.append(present["high_blood_pressure"])
    facts: dict[str, Any] = {key: True for key in present}
    for name, (value, source, matched) in values.items():
        facts[name] = value
        settled.add(name)
        en, zh = _FACT_NAMES[name]
        findings.append(Finding(key=name, name_en=en, name_zh=zh, present=True, source=source, matched=matched,
                                value=value))
    if facts.get("age_years") is not None:
        facts["age_months"] = facts["age_years"] * 12
    facts["pain"] = any(symptoms[k].pain for k in present)
    # A harmless finding told by its benign features (milia or hiccups in a newborn, a painless blood spot on the
    # white of the eye, pink urine after beetroot) is read, but it is not a sign of being unwell: the rules for "any
    # symptom" (a baby under 3 months, pregnancy, a sudden start, a long course) do not lift it on its own.
    ill = [k for k in present if not symptoms[k].modifier and not symptoms[k].harmless]
    facts["any_symptom"] = bool(ill)
    facts["benign_finding"] = any(symptoms[k].harmless for k in present)
    # Only harmless complaints (a cold, hay fever, dandruff...): pregnancy or a "really bad" does not lift them.
    facts["only_minor"] = facts["any_symptom"] and all(symptoms[k].minor for k in ill)
    # Only the common complaints of pregnancy that antenatal care manages with advice (NICE NG201: nausea, heartburn,
    # constipation, haemorrhoids, leg cramps...): pregnancy alone does not lift them to "see your obstetric team".
    facts["only_pregnancy_common"] = facts["any_symptom"] and all(
        symptoms[k].pregnancy_common or symptoms[k].minor for k in ill)
    facts["_unread"] = reading.unread
    facts["_unread_concern"] = reading.unread_concern
    return facts, findings, settled, reading.infant_mentioned


def _first_aid(rule: rulebook.Rule, facts: Mapping[str, Any], infant: bool) -> tuple[str, ...]:
    if not rule.first_aid_by_age:
        return rule.first_aid
    age = facts.get("age_years")
    group = ("infant" if (age is not None and age < 1) or (age is None and infant)
             else "child" if age is not None and age < 12 else "adult")
    return rule.first_aid_by_age.get(group, rule.first_aid)


def _because(when: Mapping[str, Any], facts: Mapping[str, Any]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(a for a in rulebook.atoms(when) if rulebook.holds({"all": [a]}, facts)))


def _departments(level: str, facts: Mapping[str, Any], red_flags: list[RedFlag]) -> list[Department]:
    names = departments()
    symptoms = reader.lexicon().symptoms

    def make(key: str, en: str, zh: str) -> Department:
        return Department(key=key, name_en=names[key]["name_en"], name_zh=names[key]["name_zh"], reason_en=en,
                          reason_zh=zh)

    if level == "emergency":
        return [make("emergency", "Red flag: " + "; ".join(f.condition_en for f in red_flags),
                     "危险信号：" + "；".join(f.condition_zh for f in red_flags))]
    present = [symptoms[k] for k in facts if k in symptoms and facts[k] is True and symptoms[k].departments]
    present.sort(key=lambda s: -rank(s.level))
    child = facts.get("age_years") is not None and facts["age_years"] < CHILD_AGE
    why: dict[str, list[str]] = {}
    for s in present:
        for key in s.departments:
            if key == "emergency":
                continue
            key = "paediatrics" if child and key in _ADULT_MEDICAL else key
            why.setdefault(key, [])
            if s.key not in why[key]:
                why[key].append(s.key)
    found: list[Department] = []
    if facts.get("pregnant"):
        found.append(make("obstetrics-gynaecology", "During pregnancy your obstetric team should check new symptoms.",
                          "孕期出现新症状应由产科评估。"))
    if child and "paediatrics" not in why:
        found.append(make("paediatrics", f"Children under {CHILD_AGE} are usually seen in paediatrics.",
                          f"{CHILD_AGE}岁以下儿童一般在儿科就诊。"))
    for key, keys in why.items():
        if any(d.key == key for d in found):
            continue
        found.append(make(key, "For " + ", ".join(symptoms[k].name_en for k in keys) + ".",
                          "针对" + "、".join(symptoms[k].name_zh for k in keys) + "。"))
    if not found:
        found.append(make("general-practice", "A general practitioner can assess symptoms that are not yet clear.",
                          "症状尚不明确时，可先由全科医生评估。"))
    found = found[:3]
    if level == "urgent":
        found.append(make("emergency", "If no clinic can see you today, go to the emergency department.",
                          "如今天没有门诊可看，请去急诊科。"))
    return found


def _possible_conditions(facts: Mapping[str, Any]) -> list[PossibleCondition]:
    scored = []
    for n, c in enumerate(_conditions()):
        if not any(facts.get(k) is True for k in c["requires"]):
            continue
        because = tuple(k for k in c["features"] if facts.get(k) is True)
        scored.append((-len(because), n, PossibleCondition(key=c["key"], page=c.get("page"), icd10=tuple(c["icd10"]),
                                                            name_en=c["name_en"], name_zh=c["name_zh"],
                                                            because=because)))
    return [c for _, _, c in sorted(scored, key=lambda t: (t[0], t[1]))[:3]]


def _follow_up(level: str, facts: Mapping[str, Any], settled: set[str], infant: bool,
               partly_read: bool = False) -> list[Question]:
    if level == "emergency":
        return []
    every, screen, _, _ = _questions()
    safety = safety_screen(facts)
    screening = [q for q in every if q.id in screen and (q.symptom or q.fact) not in settled]
    last = [q for q in every if q.id in safety and q.id not in screen and (q.symptom or q.fact) not in settled
            and facts.get(q.symptom or q.fact) is None]
    if not facts.get("any_symptom"):
        return (screening + last)[:MAX_FOLLOW_UP]
    asked = []
    if partly_read:  # the high-risk screen first for what could not be read
        asked = [(0, q) for q in screening[:2]]
    for q in every:
        target = q.symptom or q.fact
        if target in settled or facts.get(target) is not None or not rulebook.holds(q.ask_when, facts) or any(
                q is a for _, a in asked):
            continue
        priority = 0 if q.id == "age_years" and infant else q.priority
        asked.append((priority, q))
    chosen = [q for _, q in sorted(asked, key=lambda t: t[0])]
    unasked = [q for q in every if q.id in safety and q not in chosen and (q.symptom or q.fact) not in settled
               and facts.get(q.symptom or q.fact) is None]
    return (chosen + unasked)[:MAX_FOLLOW_UP]


def assess(presentation: Presentation) -> Assessment:
    """Triage a presentation: red flags first, then the level, departments, conditions and follow-up questions.

    Raises AnswerError for answers that do not fit their questions and ValueError for text over MAX_TEXT.
    """
    if len(presentation.text) > MAX_TEXT:
        raise ValueError(f"the text is over {MAX_TEXT} characters")
    answers = check_answers(presentation.answers)
    facts, findings, settled, infant = _gather(presentation, answers)
    symptoms = reader.lexicon().symptoms
    red_flags: list[RedFlag] = []
    reasons: list[Reason] = []
    level = "self_care"
    for rule in rulebook.load_rules():
        if not rulebook.holds(rule.when, facts):
            continue
        level = max(level, rule.level, key=rank)
        reasons.append(Reason(rule=rule.id, level=rule.level, text_en=rule.reason_en, text_zh=rule.reason_zh,
                              because=_because(rule.when, facts), source=rule.source))
        if rule.red_flag:
            red_flags.append(RedFlag(key=rule.id, reason_en=rule.reason_en, reason_zh=rule.reason_zh,
                                     condition_en=rule.condition_en, condition_zh=rule.condition_zh,
                                     first_aid=_first_aid(rule, facts, infant), source=rule.source))
    present = [k for k in facts if k in symptoms and facts[k] is True and not symptoms[k].modifier]
    covered = {c for k in facts if k in symptoms and facts[k] is True for c in symptoms[k].covers}
    for key in [k for k in present if k not in covered]:
        s = symptoms[key]
        if rank(s.level) > rank("self_care") or not reasons:
            level = max(level, s.level, key=rank)
            reasons.append(Reason(rule=f"symptom:{key}", level=s.level,
                                  text_en=f"{s.name_en.capitalize()} alone calls for the level "
                                          f"“{LEVEL_NAMES[s.level][0]}”.",
                                  text_zh=f"仅“{s.name_zh}”一项即对应“{LEVEL_NAMES[s.level][1]}”级别。", because=(key,),
                                  source=(reader.lexicon().source,)))
    unread = facts.pop("_unread", ())
    concern = facts.pop("_unread_concern", ())
    advice_en, advice_zh = None, None
    # Not when a part that was not read names a body part, blood or a sense ("33 weeks, ... pain in my bump and some
    # dark blood": the weeks are a pregnancy, the unread words the emergency), nor in a pregnancy.
    long_standing = ((facts.get("duration_days") or 0) >= LONG_STANDING_DAYS and not facts.get("sudden_onset")
                     and not facts.get("severe_word") and (facts.get("severity") or 0) < 7 and not concern
                     and not facts.get("pregnant"))
    told = facts.get("any_symptom") or facts.get("benign_finding")  # something was read: a symptom or a finding
    if not told and long_standing and rank(level) <= rank("routine"):
        # Not understood, but told as long-standing and nothing sudden or severe: a stable chronic complaint is not a
        # same-day problem (ESI v4 ch.6, level 5), yet it cannot be judged safe for self-care: a doctor within days.
        level = "routine"
        weeks = int(facts["duration_days"] // 7)
        reasons.append(Reason(rule="nothing-recognised-long-standing", level="routine",
                              text_en=f"No symptom was recognised, but this has gone on for about {weeks} weeks and "
                                      "nothing sudden or severe was described: a doctor should see it in the next few "
                                      "days. If it has changed suddenly or is severe, call 120.",
                              text_zh=f"未能识别出具体症状，但已持续约{weeks}周，且未提到突然或严重的情况：请在几天内就诊。"
                                      "如突然加重或情况严重，请拨打120。",
                              because=("duration_days",), source=(ESI_SOURCE,)))
    elif not told and facts.get("info_request") and not concern and not facts.get("sudden_onset") \
            and not facts.get("severe_word") and (facts.get("severity") or 0) < 7 and rank(level) <= rank("routine"):
        # A question (about a medicine, a vaccine, a check, planning a pregnancy) and no symptom told, nothing unread
        # about the body, blood or a sense: ESI v4 level 5 (no resources today), answered at an appointment in days.
        level = "routine"
        reasons.append(Reason(rule="question-no-symptom", level="routine",
                              text_en="This reads as a question, and no symptom was described: a doctor or pharmacist "
                                      "can answer it at an appointment in the next few days. If you are unwell, "
                                      "describe what you feel; if it is severe or sudden, call 120.",
                              text_zh="这是一个咨询问题，且未描述任何症状：可在几天内预约医生或药师解答。如有不适，请描述具体感受；"
                                      "如情况严重或突然发生，请拨打120。",
                              because=("info_request",), source=(ESI_SOURCE,)))
    elif not told:
        # ESI: when the nurse cannot tell, uncertainty moves the level up, never down.
        if rank(level) <= rank("urgent"):
            advice_en, advice_zh = UNREAD_EN, UNREAD_ZH
        level = max(level, "urgent", key=rank)
        reasons.append(Reason(rule="nothing-recognised", level="urgent",
                              text_en="No symptom was recognised, so this cannot be judged safe to wait: a clinician "
                                      "should hear about it today. Answer the questions or describe it in other words.",
                              text_zh="未能识别出症状，无法判断可以等待，应当天由医生了解情况；请回答问题或换一种说法描述。",
                              because=(), source=(ESI_SOURCE,)))
    elif unread and rank(level) < rank("urgent"):
        # Safety floor: "X alone -> self-care" holds only when X is all the text says. With a part not understood
        # that names a body part or sense (it may be the serious part: "an elephant on my chest and I'm sweating"),
        # at least routine, with the follow-up questions (ESI v4: uncertainty moves the level up, never down).
        if concern:
            level = max(level, "routine", key=rank)
        shown = "; ".join(f"“{u[:40]}”" for u in unread[:3])
        reasons.append(Reason(rule="partly-read", level=level,
                              text_en=f"Part of the description was not understood ({shown}); if it describes anything "
                                      "severe or sudden, call 120, and answer the questions below.",
                              text_zh=f"部分描述未能理解（{shown}）；如其中有严重或突然发生的情况，请拨打120，并回答下面的问题。",
                              because=(), source=(ESI_SOURCE,)))
    reasons.sort(key=lambda r: -rank(r.level))
    pending: tuple[Question, ...] = ()
    if level != "emergency":
        by_id = {q.id: q for q in questions()}
        pending = tuple(by_id[qid] for qid in safety_screen(facts) if (by_id[qid].symptom or by_id[qid].fact)
                        not in settled and facts.get(by_id[qid].symptom or by_id[qid].fact) is None)
    if advice_en is None:
        advice_en, advice_zh = ADVICE[level]
    return Assessment(level=level, red_flags=tuple(red_flags), departments=tuple(_departments(level, facts, red_flags)),
                      conditions=tuple(_possible_conditions(facts)), reasons=tuple(reasons),
                      follow_up=tuple(_follow_up(level, facts, settled, infant, bool(unread))),
                      findings=tuple(findings), advice_en=advice_en, advice_zh=advice_zh,
                      safety_screen_pending=pending, not_understood=tuple(unread) if level != "emergency" else ())

