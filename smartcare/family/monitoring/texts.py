"""The words of monitoring alerts that people read: rule names, severities, states and actions, in the catalog.

A notice of an alert keeps its words as catalogue messages (platform/notifications/texts.py), so it reads in the
language of whoever opens it; the alert's reading (an English sentence the rules write into the Task, rules.py) is
put into the reader's words the same way.
"""

import re
from typing import Any

from smartcare.platform import i18n
from smartcare.platform.i18n import _
from smartcare.platform.notifications.texts import message, render

# The English label of each rule as data/plan_templates.yaml names it (a test keeps the two the same).
RULE_LABELS = {
    "bp-crisis": _("Blood pressure 180/110 or higher"),
    "bp-raised-3-of-5": _("Blood pressure 140/90 or higher on 3 of 5 days"),
    "glucose-low": _("Blood glucose below 3.9 mmol/L"),
    "glucose-high": _("Blood glucose above 16.7 mmol/L"),
    "spo2-low": _("Oxygen saturation below 90%"),
    "spo2-low-copd": _("Oxygen saturation below the COPD target band (88%)"),
    "weight-gain-hf": _("Weight gain of more than 2 kg in 3 days"),
    "fever": _("Temperature 38.0 °C or higher"),
    "heart-rate-abnormal": _("Heart rate above 120 or below 40 per minute"),
    "fall": _("Fall detected"),
    "no-activity": _("No activity or reading for 12 hours"),
    "check-in-help": _("Asked for help at the daily check-in"),
    "check-in-missed": _("No daily check-in for 26 hours"),
    "isolation-report-missed": _("No isolation report for 14 hours"),
}
SEVERITY_LABELS = {"routine": _("Routine"), "urgent": _("Urgent"), "asap": _("Very urgent"), "stat": _("Emergency")}
STATE_LABELS = {"new": _("New"), "acknowledged": _("Acknowledged"), "snoozed": _("Snoozed"), "closed": _("Closed")}
ACTION_LABELS = {"phone-call": _("Phone call"), "video-visit": _("Video visit"), "home-visit": _("Home visit"),
                 "emergency-referral": _("Emergency referral")}
TEMPLATE_LABELS = {"hypertension": _("Hypertension"), "diabetes": _("Diabetes"), "heart-failure": _("Heart failure"),
                   "copd": _("COPD"), "post-discharge": _("After discharge"),
                   "elderly-alone": _("Elderly living alone"), "disability-check-in": _("Daily check-in"),
                   "home-isolation": _("Home isolation")}
READING_LABELS = {"blood-pressure": _("Blood pressure"), "heart-rate": _("Heart rate"), "spo2": _("SpO2"),
                  "glucose": _("Blood glucose"), "body-weight": _("Weight"), "body-temperature": _("Temperature")}
ALERT_TITLE = _("Home monitoring alert")
ESCALATED_TITLE = _("Home monitoring alert not acknowledged")
CHECK_IN_TITLE = _("Daily check-in")
CHECK_IN_BODY = _("How is {patient} today? Answer the daily check-in: all well, or ask for help.")
EMERGENCY_TITLE = _("Emergency: home monitoring alert unanswered")


# What the rules' sentences name besides the readings above: events and the daily check-in.
EVENT_LABELS = {"fall": _("Fall"), "motion": _("Movement"), "steps": _("Steps"), "check-in": _("Daily check-in")}
ALERT_BODY = _("{patient}: {rule} ({reading}). Severity: {severity}.")
# The sentences rules.py and flows.py write for a reading, and the message each becomes.
_KIND = r"(?P<kind>[a-z0-9-]+)"
_DETAILS = (
    (re.compile(_KIND + r" raised on (?P<days>\d+) of the last (?P<window>\d+) days"),
     _("{reading} raised on {days} of the last {window} days")),
    (re.compile(_KIND + r" up (?P<amount>[\d.]+) in (?P<hours>[\d.]+) h"), _("{reading} up {amount} in {hours} h")),
    (re.compile(_KIND + r" reported"), _("{reading} reported")),
    (re.compile(r"no reading for (?P<hours>[\d.]+) h"), _("No reading for {hours} h")),
    (re.compile(_KIND + r" (?P<value>[\d./ -]+)"), _("{reading} {value}")),
)


def say(locale: str, message: str, **values: str) -> str:
    """message in locale, with its {placeholders} filled."""
    text = i18n.translations(locale).gettext(message)
    return text.format(**values) if values else text


def _kind_label(kind: str) -> dict[str, Any] | str:
    label = READING_LABELS.get(kind) or EVENT_LABELS.get(kind)
    return message(label) if label else kind


def reading_message(detail: str) -> dict[str, Any] | str:
    """An alert's reading sentence as a message in the catalogue, or the sentence itself when it is none of ours."""
    for pattern, msgid in _DETAILS:
        matched = pattern.fullmatch(detail.strip())
        if matched:
            values: dict[str, Any] = dict(matched.groupdict())
            if "kind" in values:
                values["reading"] = _kind_label(values.pop("kind"))
            return message(msgid, **values)
    return detail


def reading_text(detail: str | None, locale: str) -> str:
    """An alert's reading sentence in locale ("blood-pressure 182/112" reads "Blood pressure 182/112", "血压 182/112")."""
    found = reading_message(detail or "")
    return render(found, locale) if isinstance(found, dict) else found


def rule_message(rule_id: str, fallback: str = "") -> dict[str, Any] | str:
    """A rule's name as a catalogue message (the plan's own label when the rule is not in the catalogue)."""
    label = RULE_LABELS.get(rule_id)
    return message(label) if label else fallback or rule_id


def alert_message(*, patient: str, rule_id: str, label: str, detail: str, severity: str) -> dict[str, Any]:
    """What a notice of an alert says, as a message: who, which rule, the reading, and how severe."""
    return message(ALERT_BODY, patient=patient, rule=rule_message(rule_id, label), reading=reading_message(detail),
                   severity=message(SEVERITY_LABELS.get(severity, severity)))


def rule_label(rule_id: str, locale: str, fallback: str = "") -> str:
    """A rule's name in locale (the plan's own label when the rule is not in the catalogue)."""
    label = RULE_LABELS.get(rule_id)
    return say(locale, label) if label else fallback or rule_id


def alert_body(locale: str, *, patient: str, rule_id: str, label: str, detail: str, severity: str) -> str:
    """What a notice of an alert says in locale: who, which rule, the reading, and how severe."""
    return render(alert_message(patient=patient, rule_id=rule_id, label=label, detail=detail, severity=severity),
                  locale)
