"""What critical-value and correction notices say, in the language of the person they go to (en, zh-Hans).

Plain functions over plain values, so critical.py (on release and in the escalation job) and release.py (on a
correction) build the same sentences. The first line of a critical notice states the facts (patient, test,
value, flag); the line after it says what to do: the workstation's alert shows them apart, an SMS keeps both.
"""

from typing import Any

from smartcare.hospital.lab.results import FLAG_NAMES, loinc_of
from smartcare.knowledge.orders import catalogue
from smartcare.platform import i18n

CHINESE = "zh-Hans"


def _(message: str) -> str:
    """Mark a message for the catalog; it is translated for each person it goes to."""
    return message


def _say(locale: str, message: str, **values: Any) -> str:
    return i18n.translations(locale if locale in i18n.SUPPORTED_LOCALES else i18n.DEFAULT_LOCALE).gettext(
        message) % values


def test_name(code: dict[str, Any] | None, locale: str) -> str:
    """A test's name in the reader's language: the catalogue's name for its LOINC code, else the code's text."""
    found = catalogue.find_order(loinc_of({"code": code or {}}) or "")
    if isinstance(found, catalogue.LabTest | catalogue.LabPanel):
        return found.name_zh if locale == CHINESE else found.name_en
    return str((code or {}).get("text") or loinc_of({"code": code or {}}) or "")


def flag_name(flag: str, locale: str) -> str:
    """The words for an interpretation flag (HH: critical high), in the reader's language."""
    return _say(locale, FLAG_NAMES[flag]) if flag in FLAG_NAMES else flag


def facts(locale: str, *, patient: str, test: str, value: str, flag: str) -> str:
    """One line naming the patient and the result: "Wang Fang: Potassium 7 mmol/L (HH, Critical high)."."""
    return _say(locale, _("%(patient)s: %(test)s %(value)s (%(flag)s, %(flag_name)s)."), patient=patient,
                test=test, value=value, flag=flag, flag_name=flag_name(flag, locale))


def critical_body(locale: str, *, minutes: int, **result: str) -> str:
    """The ordering doctor's notice: the facts, then the request to acknowledge with a read-back in time."""
    return facts(locale, **result) + "\n" + _say(
        locale, _("Acknowledge with a read-back within %(minutes)s minutes."), minutes=minutes)


def escalated_body(locale: str, *, doctor: str, to_head: bool, **result: str) -> str:
    """The escalation notice: the facts, who did not acknowledge, and what the recipient must do now."""
    if to_head:
        then = _say(locale, _("%(doctor)s did not acknowledge it in time: acknowledge it with a read-back."),
                    doctor=doctor)
    else:
        then = _say(locale, _("%(doctor)s did not acknowledge it in time and no department head is on "
                              "record: phone the ward."), doctor=doctor)
    return facts(locale, **result) + "\n" + then


def ordering_doctor(locale: str) -> str:
    """Who did not acknowledge, when their name is not on record."""
    return _say(locale, _("The ordering doctor"))


def corrected_body(locale: str, *, patient: str, report: str, reason: str) -> str:
    """The correction notice: whose report was corrected, and the laboratory's reason as it was typed."""
    return _say(locale, _("%(patient)s: %(report)s was corrected after release."), patient=patient,
                report=report) + "\n" + _say(locale, _("Reason: %(reason)s"), reason=reason)
