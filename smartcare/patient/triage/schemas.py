"""The triage API's JSON shapes: the assessment request and the result with red flags, departments and reasons."""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from smartcare.knowledge.triage import MAX_ANSWERS, MAX_TEXT

Level = Literal["emergency", "urgent", "routine", "self_care"]
AnswerValue = bool | float | int | str


class AssessRequest(BaseModel):
    """A chief complaint to triage, with what else is known. Nothing is stored."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=MAX_TEXT, description="The complaint in the patient's own words or a "
                      "clinician's case summary, English or Chinese", examples=["胸口疼，出冷汗"])
    age: float | None = Field(default=None, ge=0, le=125, description="Age in years (fractions for infants)",
                              examples=[58])
    age_months: float | None = Field(default=None, ge=0, le=1500, description="Age in months (for babies)")
    sex: Literal["female", "male", "other", "unknown"] | None = None
    pregnant: bool | None = Field(default=None, description="Whether the person is (or may be) pregnant")
    answers: dict[str, AnswerValue] = Field(default_factory=dict, max_length=MAX_ANSWERS,
                                            description="Answers to follow-up questions, keyed by question id")
    language: Literal["en", "zh-Hans", "zh"] | None = Field(default=None, description="Preferred language; every "
                                                             "text is given in both English and Chinese anyway")


class RedFlagOut(BaseModel):
    """A red flag found: call 120 / go to the emergency department now."""

    key: str = Field(description="The rule id", examples=["rf-chest-pain-risk"])
    reason_en: str
    reason_zh: str
    condition_en: str
    condition_zh: str
    first_aid: list[str] = Field(description="First-aid guide keys (/app/first-aid/<key>)", examples=[["heart-attack"]])
    source: list[str]


class DepartmentOut(BaseModel):
    """A recommended department (shared department key) and why."""

    key: str = Field(examples=["cardiology"])
    name_en: str
    name_zh: str
    reason_en: str
    reason_zh: str


class ConditionOut(BaseModel):
    """A possible condition to discuss with a doctor (never a diagnosis)."""

    key: str
    page: str | None = Field(description="Consumer page key (/app/diseases/<key>), when there is one")
    icd10: list[str]
    name_en: str
    name_zh: str
    because: list[str] = Field(description="The findings that suggest it")


class ReasonOut(BaseModel):
    """Why the level is what it is: the rule that fired, the findings that made it fire and the rule's source."""

    rule: str
    level: Level
    text_en: str
    text_zh: str
    because: list[str]
    source: list[str]


class QuestionOption(BaseModel):
    """An option of a choice question."""

    value: str
    text_en: str
    text_zh: str


class QuestionOut(BaseModel):
    """A follow-up question whose answer would refine the result; send it back in answers[id]."""

    id: str
    text_en: str
    text_zh: str
    kind: Literal["yes_no", "scale", "choice", "number"]
    options: list[QuestionOption] = []
    min: float | None = None
    max: float | None = None
    unit: str | None = None


class FindingOut(BaseModel):
    """A fact the assessment used: a symptom (present or absent) or a number, and where it came from."""

    key: str
    name_en: str
    name_zh: str
    present: bool
    source: Literal["text", "answer", "given", "derived"]
    matched: str | None = Field(default=None, description="The words of the text it was read from")
    value: bool | float | str | None = None
    fuzzy: bool = Field(default=False, description="Read through a typing slip")


class AssessResult(BaseModel):
    """The triage result. Advice that supports, never replaces, a clinician's judgement."""

    level: Level = Field(description="emergency (call 120 now), urgent (today), routine (within days), self_care")
    call_emergency: bool = Field(description="True: call 120 / go to the emergency department now, never book first")
    advice_en: str
    advice_zh: str
    red_flags: list[RedFlagOut]
    departments: list[DepartmentOut]
    conditions: list[ConditionOut]
    reasons: list[ReasonOut]
    follow_up: list[QuestionOut]
    findings: list[FindingOut]
    safety_screen_pending: list[QuestionOut] = Field(description=(
        "The safety-screen questions (breathing, chest pain, stroke signs, drowsiness, bleeding that will not stop, "
        "thoughts of self-harm) not yet answered. While any is pending a level below emergency is provisional: ask "
        "them before acting on it and send the answers back in `answers` (a yes to any gives emergency)"))
    not_understood: list[str] = Field(description=(
        "Parts of the text in which nothing was recognised; if one describes anything severe or sudden, call 120"))
    provisional: bool = Field(description=(
        "True when the level may still rise: safety-screen questions are pending or part of the text was not "
        "understood. Always false for emergency"))
    disclaimer_en: str
    disclaimer_zh: str


class Problem(BaseModel):
    """A refused request."""

    error: str = Field(examples=["invalid"])
    message: str
