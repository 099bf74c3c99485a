"""Notices that read in the reader's language: a catalogue message and its values, kept with the notice and put
into words when it is shown, so a notice written while its reader's account was English reads in Chinese on a
Chinese page (and the other way round).

A message is JSON, kept in the notification's data:
    {"msgid": "<English text of the catalogue>", "values": {"name": value, ...}}
where each value is
    - a string or number, shown as it is (a person's name, a reading, a time);
    - another message ({"msgid": ..., "values": ...}), itself translated (a severity, a rule's name);
    - the same words in each language ({"en": "...", "zh-Hans": "..."}), for words that live outside the catalogue
      (a medicine's name in the formulary); English stands in for a language that is missing;
    - a list of values, shown one after the other with the reader's list separator.
A msgid that holds "%(" is filled with %-formatting, any other with str.format, as gettext catalogues have both.
"""

import logging
from typing import Any

from smartcare.platform import i18n

log = logging.getLogger(__name__)

MAX_DEPTH = 4
_SEPARATORS = {"en": ", ", "zh-Hans": "、"}


def message(msgid: str, **values: Any) -> dict[str, Any]:
    """A message of the catalogue (marked with _() where it is defined) with its values."""
    return {"msgid": msgid, "values": values} if values else {"msgid": msgid}


def in_each_language(**words: str) -> dict[str, str]:
    """The same words in each language, keyed by locale tag (en=..., zh_Hans=... is written zh-Hans)."""
    return {key.replace("_", "-"): value for key, value in words.items()}


def _locale(locale: str | None) -> str:
    return i18n.supported_locale(locale) or i18n.DEFAULT_LOCALE


def _value(value: Any, locale: str, depth: int) -> Any:
    if isinstance(value, dict) and "msgid" in value:
        return _render(value, locale, depth + 1)
    if isinstance(value, dict):
        return str(value.get(locale) or value.get(i18n.DEFAULT_LOCALE) or next(iter(value.values()), ""))
    if isinstance(value, list):
        return _SEPARATORS.get(locale, ", ").join(str(_value(v, locale, depth + 1)) for v in value)
    return value if isinstance(value, int | float) else str(value)


def render(spec: dict[str, Any], locale: str | None) -> str:
    """The message in locale (a supported tag; English otherwise) with its values filled; the English text when
    the values do not fit the translation (a catalogue mistake must not hide the notice)."""
    return _render(spec, _locale(locale), 0)


def _render(spec: dict[str, Any], locale: str, depth: int) -> str:
    msgid = str(spec.get("msgid", ""))
    if depth > MAX_DEPTH:
        return msgid
    values = {name: _value(value, locale, depth) for name, value in (spec.get("values") or {}).items()}
    text = i18n.translations(locale).gettext(msgid) if msgid else ""
    for attempt in (text, msgid):
        try:
            if not values:
                return attempt
            return attempt % values if "%(" in attempt else attempt.format(**values)
        except (KeyError, ValueError, IndexError, TypeError):
            log.warning("notice message %r does not fit its values in %s", msgid[:80], locale)
    return msgid


def _depth(spec: dict[str, Any], depth: int = 0) -> None:
    # The arguments of a notice come from code, never from a person; this only guards against a loop of
    # messages in messages.
    if depth > MAX_DEPTH:
        raise ValueError("a notice message nests too deep")
    for value in (spec.get("values") or {}).values():
        if isinstance(value, dict) and "msgid" in value:
            _depth(value, depth + 1)


def check(spec: dict[str, Any]) -> dict[str, Any]:
    """spec if it is a message as above (ValueError otherwise)."""
    if not isinstance(spec, dict) or not isinstance(spec.get("msgid"), str) or not spec["msgid"]:
        raise ValueError("a notice message is {'msgid': ..., 'values': {...}}")
    _depth(spec)
    return spec
