"""Checks of FHIR R4 primitive values as they appear in JSON, and of Reference.reference strings."""

import math
import re
from collections.abc import Callable, Mapping
from datetime import date
from decimal import Decimal
from typing import Any

# A check returns None when the value is fine, else (issue code, severity, what is wrong).
Problem = tuple[str, str, str]
PrimitiveCheck = Callable[[Any], Problem | None]

# R4 datatypes: integer is a 32-bit signed integer; positiveInt starts at 1, unsignedInt at 0.
INT_MIN = -(2**31)
INT_MAX = 2**31 - 1
# R4 datatypes: an id is 1 to 64 characters ([A-Za-z0-9\-\.]{1,64}).
ID_MAX = 64
# R4 datatypes: "Strings SHALL NOT exceed 1MB (1024*1024 characters) in size"; markdown is a string.
STRING_MAX = 1024 * 1024
# R4 datatypes: strings SHOULD NOT contain characters below 32 other than tab, carriage return and line feed.
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
# Same language as the R4 base64Binary regex `(\s*([0-9a-zA-Z\+/=]){4}\s*)+`, checked on the value with
# whitespace removed, because that nested-quantifier regex backtracks exponentially on long hostile input.
_BASE64_CHARS = re.compile(r"[0-9a-zA-Z+/=]*")
_DROP_ASCII_WHITESPACE = str.maketrans("", "", " \t\n\r\f\v")
_JSON_NAMES = {bool: "a boolean", int: "a number", float: "a number", str: "a string", list: "an array"}
_DAYS_IN_MONTH = (0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def json_kind(value: object) -> str:
    """Describe the JSON kind of a value for a message ("a string", "an object", "null")."""
    if value is None:
        return "null"
    if isinstance(value, dict):
        return "an object"
    return _JSON_NAMES.get(type(value), type(value).__name__)


def _wrong_kind(expected: str, value: object) -> Problem:
    return ("structure", "error", f"must be {expected}, not {json_kind(value)}")


def _check_boolean(value: Any) -> Problem | None:
    if value is True or value is False:
        return None
    return _wrong_kind("a JSON boolean (true or false)", value)


def _integer_check(low: int, name: str) -> PrimitiveCheck:
    def check(value: Any) -> Problem | None:
        if type(value) is int:
            if low <= value <= INT_MAX:
                return None
            shown = value if abs(value) < 10**30 else "a number this large"
            return ("value", "error", f"{shown} is outside the range of {name} ({low} to {INT_MAX})")
        if type(value) is float or type(value) is Decimal:
            return ("value", "error", f"{value} is not a whole number, as {name} requires")
        return _wrong_kind("a JSON number", value)

    return check


def _check_decimal(value: Any) -> Problem | None:
    kind = type(value)
    if kind is int:
        return None
    if kind is float or kind is Decimal:
        if math.isfinite(value):
            return None
        return ("value", "error", f"{value} is not a finite decimal")
    return _wrong_kind("a JSON number", value)


def _check_string(value: Any) -> Problem | None:
    if type(value) is not str:
        return _wrong_kind("a JSON string", value)
    if not value or value.isspace():
        # R4 datatypes: a string of only whitespace trims to nothing, an invalid value.
        return ("value", "error", "must not be empty or only whitespace")
    if len(value) > STRING_MAX:
        return ("too-long", "error", f"is {len(value)} characters long, over the 1MB limit of FHIR strings")
    if not value.isprintable() and _CONTROL_CHARS.search(value):
        return ("value", "warning", "contains control characters, which FHIR strings should not")
    return None


def _check_xhtml(value: Any) -> Problem | None:
    if type(value) is not str:
        return _wrong_kind("a JSON string", value)
    if not value or value.isspace():
        return ("value", "error", "must not be empty")
    return None


def _check_base64(value: Any) -> Problem | None:
    if type(value) is not str:
        return _wrong_kind("a JSON string", value)
    packed = value if value.isalnum() else value.translate(_DROP_ASCII_WHITESPACE)
    if packed and len(packed) % 4 == 0 and _BASE64_CHARS.fullmatch(packed):
        return None
    return ("value", "error", "is not valid base64Binary")


def _days_ok(value: str) -> bool:
    """Reject calendar dates the regex lets through, such as 2023-02-30 (R4: dates SHALL be valid dates)."""
    if len(value) < 10 or value[8:10] <= "28":
        return True
    year, month, day = int(value[0:4]), int(value[5:7]), int(value[8:10])
    if month == 2 and day == 29:
        return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    return day <= _DAYS_IN_MONTH[month]


def _regex_check(type_name: str, regex: str) -> PrimitiveCheck:
    # ASCII classes, because the spec's regexes use XML Schema/Java semantics where \s and \S are ASCII.
    match = re.compile(regex, re.ASCII).fullmatch
    fast = _FAST_ACCEPT.get(type_name)
    calendar = type_name in ("date", "dateTime", "instant")

    def check(value: Any) -> Problem | None:
        if type(value) is not str:
            return _wrong_kind("a JSON string", value)
        if fast is not None and fast(value):
            return None
        if not value:
            return ("value", "error", "must not be empty")
        if type_name == "id" and len(value) > ID_MAX:
            return ("too-long", "error", f"is {len(value)} characters long; ids have at most {ID_MAX}")
        if match(value) is None or (calendar and not _days_ok(value)):
            return ("value", "error", f"{_quote(value)} is not a valid {type_name}")
        return None

    return check


def _no_whitespace(value: str) -> bool:
    """Accept, without a regex, the usual uri and code values: printable and without spaces."""
    return value.isprintable() and " " not in value and value != ""


def _full_date(value: str) -> bool:
    """Accept, without a regex, a valid YYYY-MM-DD (the C date parser also rejects 2023-02-30)."""
    if len(value) != 10 or value[4] != "-" or value[7] != "-" or not value.isascii():
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


# Shortcuts for the common shapes of the busiest types, because one regex match costs about as much as
# walking ten elements; whatever they do not accept still goes through the spec's regex.
_FAST_ACCEPT: dict[str, Callable[[str], bool]] = {
    "uri": _no_whitespace,
    "url": _no_whitespace,
    "canonical": _no_whitespace,
    "code": _no_whitespace,
    "date": _full_date,
    "dateTime": _full_date,
}


def _quote(value: str) -> str:
    return repr(value if len(value) <= 60 else value[:57] + "...")


def primitive_checks(formats: Mapping[str, Mapping[str, Any]]) -> dict[str, PrimitiveCheck]:
    """Build one check per R4 primitive type from the lexical regexes recorded in the structures data."""
    checks: dict[str, PrimitiveCheck] = {
        "boolean": _check_boolean,
        "integer": _integer_check(INT_MIN, "integer"),
        "positiveInt": _integer_check(1, "positiveInt"),
        "unsignedInt": _integer_check(0, "unsignedInt"),
        "decimal": _check_decimal,
        "string": _check_string,
        "markdown": _check_string,
        "xhtml": _check_xhtml,
        "base64Binary": _check_base64,
    }
    # JSON carries numbers and booleans natively, so only the string-borne types use the spec's regexes.
    for name, fmt in formats.items():
        if name not in checks:
            checks[name] = _regex_check(name, fmt["re"])
    return {name: _refusing_nul(check) for name, check in checks.items()}


NUL_PROBLEM: Problem = ("value", "error", "contains the NUL character (U+0000), which cannot be stored")


def _refusing_nul(check: PrimitiveCheck) -> PrimitiveCheck:
    """check, with U+0000 in any string-borne value an error first (PostgreSQL stores no NUL in text or JSONB)."""

    def checked(value: Any) -> Problem | None:
        if type(value) is str and "\x00" in value:
            return NUL_PROBLEM
        return check(value)

    return checked


class ReferenceFormat:
    """Parse Reference.reference values: relative Type/id, absolute URL, #local, urn:uuid:, urn:oid:."""

    def __init__(self, resource_types: frozenset[str], formats: Mapping[str, Mapping[str, Any]]) -> None:
        self._types = resource_types
        self._id = re.compile(formats["id"]["re"], re.ASCII).fullmatch
        self._uuid = re.compile(formats["uuid"]["re"], re.ASCII).fullmatch
        self._oid = re.compile(formats["oid"]["re"], re.ASCII).fullmatch
        self._absolute = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://\S+", re.ASCII).fullmatch

    def target_type(self, ref: str, conditional_ok: bool) -> tuple[str | None, str | None]:
        """Return (resource type the reference names or None, problem or None) for a reference string."""
        first = ref[:1]
        if first == "#":
            if len(ref) == 1 or self._id(ref, 1):
                return None, None
            return None, f"local reference {_quote(ref)} is not '#' followed by a valid id"
        if ref.startswith("urn:"):
            if self._uuid(ref) or self._oid(ref):
                return None, None
            return None, f"{_quote(ref)} is not a valid urn:uuid: or urn:oid: reference"
        if conditional_ok and "?" in ref:
            type_name = ref.split("?", 1)[0]
            if type_name in self._types:
                return type_name, None
            return None, f"conditional reference {_quote(ref)} does not start with a known resource type"
        if "://" in ref:
            if not self._absolute(ref):
                return None, f"{_quote(ref)} is not a valid absolute URL"
            return self._restful_type(ref.split("/")[3:]), None
        parts = ref.split("/")
        if self._relative_ok(parts):
            return parts[0], None
        return None, (
            f"{_quote(ref)} is not a reference of the form Type/id[/_history/version], an absolute URL, "
            "#id, urn:uuid: or urn:oid:"
        )

    def _relative_ok(self, parts: list[str]) -> bool:
        if len(parts) not in (2, 4) or parts[0] not in self._types or not self._id(parts[1]):
            return False
        return len(parts) == 2 or (parts[2] == "_history" and self._id(parts[3]) is not None)

    def _restful_type(self, segments: list[str]) -> str | None:
        """Find the resource type in a RESTful absolute URL such as https://host/fhir/Patient/1."""
        for tail in (segments[-2:], segments[-4:]):
            if len(tail) in (2, 4) and self._relative_ok(tail):
                return tail[0]
        return None
