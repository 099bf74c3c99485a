"""The words of monitoring alerts that people read: rule names, severities, states and actions, in the catalog."""

from smartcare.platform import i18n
from smartcare.platform.i18n import _

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


def say(locale: str, message: str, **values: str) -> str:
    """message in locale, with its {placeholders} filled."""
    text = i18n.translations(locale).gettext(message)
    return text.format(**values) if values else text


def rule_label(rule_id: str, locale: str, fallback: str = "") -> str:
    """A rule's name in locale (the plan's own label when the rule is not in the catalogue)."""
    label = RULE_LABELS.get(rule_id)
    return say(locale, label) if label else fallback or rule_id


def alert_body(locale: str, *, patient: str, rule_id: str, label: str, detail: str, severity: str) -> str:
    """What a notice of an alert says: who, which rule, the reading, and how severe."""
    return say(locale, _("{patient}: {rule} ({reading}). Severity: {severity}."), patient=patient,
               rule=rule_label(rule_id, locale, label), reading=detail,
               severity=say(locale, SEVERITY_LABELS.get(severity, severity)))
