"""The new-referral form as plain data: what was posted, what is wrong with it field by field (as catalog
messages, translated where shown), and the ReferralDraft it makes when nothing is."""

import re
from dataclasses import dataclass, field
from datetime import date

from smartcare.hospital.referral import service, states
from smartcare.hospital.referral.service import CarePlanItem, ReferralDraft

BLANK_ROWS = 3  # empty care plan and follow-up rows offered at first; "More rows" adds as many again
MAX_FIELD = 4100  # what is read of any posted field before checking (the longest allowed is 4000)
# Markup in a free-text field: a tag or a comment opening. "BP < 140" stays plain text.
_MARKUP = re.compile(r"<\s*/?\s*[A-Za-z!?]")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _(message: str) -> str:
    """Mark a message for the catalog; the page translates it into the reader's language."""
    return message


CHOOSE_PATIENT = _("Choose a patient in your care.")
CHOOSE_DEPARTMENT = _("Choose the receiving department from the list.")
CHOOSE_URGENCY = _("Choose an urgency from the list.")
GIVE_REASON = _("Give the reason for the referral.")
TOO_LONG = _("At most %(num)s characters.")
PLAIN_TEXT = _("Write plain text, without HTML tags or control characters.")
LISTED_RECORDS = _("Choose only records of this patient from the list.")
TOO_MANY = _("At most %(num)s attachments.")
NEEDS_PLAN = _("A downward referral carries at least one care plan activity or follow-up task.")
NEEDS_DUE = _("Give the follow-up task a due date.")
DUE_PAST = _("The due date is today or later.")
BAD_DATE = _("Write the date as YYYY-MM-DD.")
NEEDS_TASK = _("Describe the follow-up task for this date.")
REFUSED = _("The referral could not be made: %(reason)s")

# A problem: the catalog message and the values it is filled with.
Problem = tuple[str, dict[str, int]]


@dataclass
class ReferralForm:
    """The form's fields as posted (or as first shown), kept to show them again on error."""

    direction: str = states.UPWARD
    patient: str = ""
    department: str = ""
    urgency: str = "routine"
    reason: str = ""
    summary: str = ""
    attachments: tuple[str, ...] = ()
    care_plan: list[str] = field(default_factory=lambda: [""] * BLANK_ROWS)
    follow_ups: list[tuple[str, str]] = field(default_factory=lambda: [("", "")] * BLANK_ROWS)

    def with_more_rows(self) -> "ReferralForm":
        """The same form with more blank care plan and follow-up rows, up to the most a referral takes."""
        room = service.MAX_ITEMS
        self.care_plan = (self.care_plan + [""] * BLANK_ROWS)[:max(room, len(self.care_plan))]
        self.follow_ups = (self.follow_ups + [("", "")] * BLANK_ROWS)[:max(room, len(self.follow_ups))]
        return self


def direction_of(value: str) -> str:
    """The direction asked for, upward unless downward is named."""
    return states.DOWNWARD if value == states.DOWNWARD else states.UPWARD


def read_form(fields: dict[str, str], lists: dict[str, list[str]]) -> ReferralForm:
    """The posted form: single fields, and the repeated ones (attachments, care plan and follow-up rows)."""
    def cut(value: str) -> str:
        return value[:MAX_FIELD]

    plans = [cut(p) for p in lists.get("care_plan", [])][:service.MAX_ITEMS + BLANK_ROWS]
    tasks = [cut(t) for t in lists.get("follow_up", [])][:service.MAX_ITEMS + BLANK_ROWS]
    dues = [d[:20] for d in lists.get("follow_up_due", [])]
    dues += [""] * (len(tasks) - len(dues))
    return ReferralForm(
        direction=direction_of(fields.get("direction", "")), patient=fields.get("patient", "")[:80].strip(),
        department=fields.get("department", "")[:90].strip(), urgency=fields.get("urgency", "")[:10],
        reason=cut(fields.get("reason", "")), summary=cut(fields.get("summary", "")),
        attachments=tuple(dict.fromkeys(a[:90] for a in lists.get("attachment", [])[:service.MAX_ATTACHMENTS + 5])),
        care_plan=plans or [""] * BLANK_ROWS, follow_ups=list(zip(tasks, dues, strict=True)) or [("", "")] * BLANK_ROWS)


def _text_problem(text: str, limit: int) -> Problem | None:
    if len(text.strip()) > limit:
        return TOO_LONG, {"num": limit}
    if _MARKUP.search(text) or _CONTROL.search(text):
        return PLAIN_TEXT, {}
    return None


def problems(form: ReferralForm, *, patient_known: bool, departments: set[str], attachable: set[str],
             today: date) -> dict[str, Problem]:
    """What is wrong with the form, by field name (care plan and follow-up rows by position)."""
    found: dict[str, Problem] = {}
    if not patient_known:
        found["patient"] = CHOOSE_PATIENT, {}
    if form.department not in departments:
        found["department"] = CHOOSE_DEPARTMENT, {}
    if form.urgency not in service.PRIORITIES:
        found["urgency"] = CHOOSE_URGENCY, {}
    if not form.reason.strip():
        found["reason"] = GIVE_REASON, {}
    elif problem := _text_problem(form.reason, service.MAX_REASON):
        found["reason"] = problem
    if problem := _text_problem(form.summary, service.MAX_SUMMARY):
        found["summary"] = problem
    if len(form.attachments) > service.MAX_ATTACHMENTS:
        found["attachments"] = TOO_MANY, {"num": service.MAX_ATTACHMENTS}
    elif not set(form.attachments) <= attachable:
        found["attachments"] = LISTED_RECORDS, {}
    if form.direction == states.DOWNWARD:
        found |= _row_problems(form, today)
    return found


def _row_problems(form: ReferralForm, today: date) -> dict[str, Problem]:
    found: dict[str, Problem] = {}
    for i, text in enumerate(form.care_plan):
        if problem := _text_problem(text, service.MAX_REASON):
            found[f"care_plan-{i}"] = problem
    for i, (text, due) in enumerate(form.follow_ups):
        if problem := _text_problem(text, service.MAX_REASON):
            found[f"follow_up-{i}"] = problem
        elif due.strip() and not text.strip():
            found[f"follow_up-{i}"] = NEEDS_TASK, {}
        if not text.strip():
            continue
        try:
            when = date.fromisoformat(due.strip()) if due.strip() else None
        except ValueError:
            found[f"follow_up_due-{i}"] = BAD_DATE, {}
            continue
        if when is None:
            found[f"follow_up_due-{i}"] = NEEDS_DUE, {}
        elif when < today:
            found[f"follow_up_due-{i}"] = DUE_PAST, {}
    if not any(t.strip() for t in form.care_plan) and not any(t.strip() for t, _d in form.follow_ups):
        found["care"] = NEEDS_PLAN, {}
    return found


def draft(form: ReferralForm) -> ReferralDraft:
    """The referral the form asks for (checked by problems first; the service checks it again)."""
    downward = form.direction == states.DOWNWARD
    return ReferralDraft(
        direction=form.direction, patient_id=form.patient, department=form.department, reason=form.reason.strip(),
        summary=form.summary.strip(), priority=form.urgency, attachments=form.attachments,
        care_plan=tuple(CarePlanItem(t.strip()) for t in form.care_plan if t.strip()) if downward else (),
        follow_ups=tuple(CarePlanItem(t.strip(), date.fromisoformat(d.strip())) for t, d in form.follow_ups
                         if t.strip()) if downward else ())
