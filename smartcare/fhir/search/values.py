"""Search value normalisation shared by indexing and querying: strings, date ranges, number ranges."""

import calendar
import re
import unicodedata
from decimal import Decimal, InvalidOperation
from functools import lru_cache

# FHIR date, dateTime and instant at any precision (https://hl7.org/fhir/R4/datatypes.html#dateTime).
# Search values may stop at minutes and may omit the zone, so both are optional here.
_DATE = re.compile(
    r"(?P<y>\d{4})(?:-(?P<mo>\d{2})(?:-(?P<d>\d{2})"
    r"(?:T(?P<h>\d{2}):(?P<mi>\d{2})(?::(?P<s>\d{2})(?:\.(?P<f>\d+))?)?"
    r"(?P<tz>Z|[+-]\d{2}:\d{2})?)?)?)?"
)
# FHIR decimal with the exponent form that search values allow (https://hl7.org/fhir/R4/search.html#number).
_DECIMAL = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?")
_RESOURCE_TYPE = re.compile(r"[A-Z][A-Za-z]+")
_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
_URL_BASE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^/]+(?:/.*)?")


def _keeps_marks(ch: str) -> bool:
    """Whether a character is CJK script, whose decomposition would change the word (が -> か)."""
    code = ord(ch)
    return (
        0x2E80 <= code <= 0x9FFF  # radicals, kana, CJK unified ideographs
        or 0xAC00 <= code <= 0xD7AF  # Hangul syllables
        or 0xF900 <= code <= 0xFAFF
        or code >= 0x20000
    )


@lru_cache(maxsize=65536)
def normalize_string(s: str) -> str:
    """Fold a string for search: lower-case, accents removed, whitespace collapsed, CJK left as is."""
    if s.isascii():
        return " ".join(s.lower().split())
    out = []
    for ch in s:
        if _keeps_marks(ch):
            out.append(ch)
            continue
        for part in unicodedata.normalize("NFKD", ch):
            if not unicodedata.combining(part):
                out.append(part)
    return " ".join("".join(out).casefold().split())


@lru_cache(maxsize=16384)
def date_bounds(value: str) -> tuple[float, float]:
    """Return the first and last instant (epoch seconds, UTC) covered by a FHIR date of any precision."""
    m = _DATE.fullmatch(value)
    if m is None:
        raise ValueError(
            f"'{value[:40]}' is not a FHIR date (YYYY, YYYY-MM, YYYY-MM-DD or YYYY-MM-DDThh:mm:ss+zz:zz)"
        )
    year = int(m["y"])
    month = int(m["mo"] or 1)
    day = int(m["d"] or 1)
    hour = int(m["h"] or 0)
    minute = int(m["mi"] or 0)
    second = int(m["s"] or 0)
    if year < 1 or not 1 <= month <= 12:
        raise ValueError(f"'{value[:40]}' has no month {month}")
    last_day = calendar.monthrange(year, month)[1]
    if not 1 <= day <= last_day:
        raise ValueError(f"'{value[:40]}' has no day {day} in that month")
    if hour > 23 or minute > 59 or second > 59:
        raise ValueError(f"'{value[:40]}' is not a valid time of day")
    offset = 0
    tz = m["tz"]
    if tz and tz != "Z":
        tz_hours, tz_minutes = int(tz[1:3]), int(tz[4:6])
        if tz_hours > 14 or tz_minutes > 59:
            raise ValueError(f"'{value[:40]}' has an invalid time zone {tz}")
        offset = (tz_hours * 3600 + tz_minutes * 60) * (1 if tz[0] == "+" else -1)
    # A value without a zone is read as UTC: the server has no better clock to attach it to.
    low = calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0)) - offset
    fraction = m["f"]
    if fraction:
        digits = len(fraction)
        low += int(fraction) / 10**digits
        span = 10.0**-digits if digits < 3 else 0.0
    elif m["s"]:
        span = 1.0
    elif m["mi"]:
        span = 60.0
    elif m["d"]:
        span = 86400.0
    elif m["mo"]:
        span = 86400.0 * last_day
    else:
        span = 86400.0 * (366 if calendar.isleap(year) else 365)
    # The range is inclusive to the millisecond, as the spec's examples write it (..23:59:59.999).
    high = low + span - 0.001 if span else low
    return float(low), high


@lru_cache(maxsize=16384)
def number_bounds(text: str) -> tuple[float, float, float]:
    """Return (value, low, high) of a FHIR decimal, the range being half a unit of its last digit.

    `100` covers 99.5..100.5 and `100.0` covers 99.95..100.05 (https://hl7.org/fhir/R4/search.html#number).
    An exponent sets the last digit too, so `1e2` covers 50..150; the spec's own example for `1e2`
    (95..105) contradicts its rule, and the rule is what is implemented.
    """
    if not _DECIMAL.fullmatch(text):
        raise ValueError(f"'{text[:40]}' is not a decimal number")
    try:
        number = Decimal(text)
    except InvalidOperation as exc:
        raise ValueError(f"'{text[:40]}' is not a decimal number") from exc
    exponent = number.as_tuple().exponent
    if not isinstance(exponent, int):
        raise ValueError(f"'{text[:40]}' is not a finite number")
    half = Decimal(5).scaleb(exponent - 1)
    return float(number), float(number - half), float(number + half)


@lru_cache(maxsize=65536)
def parse_reference(reference: str) -> tuple[str, str, str | None] | None:
    """Split a literal reference into (type, id, base URL or None when relative); None if not one.

    `Patient/1`, `Patient/1/_history/2` and `http://example.org/fhir/Patient/1` parse;
    `#contained`, `urn:uuid:...` and other URLs do not (https://hl7.org/fhir/R4/references.html#literal).
    """
    # Split from the right rather than with one regex, so a hostile value costs linear time.
    if "/_history/" in reference:
        reference, _, version = reference.rpartition("/_history/")
        if not _ID.fullmatch(version):
            return None
    rest, _, res_id = reference.rpartition("/")
    base, _, res_type = rest.rpartition("/")
    if not _ID.fullmatch(res_id) or not _RESOURCE_TYPE.fullmatch(res_type):
        return None
    if not base:
        return (res_type, res_id, None) if rest == res_type else None
    return (res_type, res_id, base) if _URL_BASE.fullmatch(base) else None
