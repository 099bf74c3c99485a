"""The syntax of FHIR search values: OR lists, escapes, comparison prefixes and range comparison."""

import re

import sqlalchemy as sa

PREFIXES = ("eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap")


def split_or(value: str) -> list[str]:
    """Split a parameter value on unescaped commas; '\\,' stays a literal comma (escapes are kept)."""
    return split_unescaped(value, ",")


def split_unescaped(value: str, sep: str, maxsplit: int = -1) -> list[str]:
    """Split on unescaped `sep` (at most maxsplit times), keeping backslash escapes for later."""
    out, buf, i = [], [], 0
    while i < len(value):
        ch = value[i]
        if ch == "\\" and i + 1 < len(value):
            buf.append(value[i : i + 2])
            i += 2
            continue
        if ch == sep and (maxsplit < 0 or len(out) < maxsplit):
            out.append("".join(buf))
            buf = []
        else:
            buf.append(ch)
        i += 1
    out.append("".join(buf))
    return out


def unescape(value: str) -> str:
    """Remove FHIR search escapes: \\, \\$ \\| and \\\\ become the plain character."""
    return re.sub(r"\\([,$|\\])", r"\1", value)


def like_escape(value: str) -> str:
    """Escape LIKE wildcards (% and _) and the escape character itself, for `LIKE ... ESCAPE '\\'`."""
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def split_prefix(value: str) -> tuple[str, str]:
    """Split a comparison prefix (eq, gt, ...) off a date, number or quantity value; eq when none."""
    if len(value) > 2 and value[:2] in PREFIXES and (value[2].isdigit() or value[2] in "-+."):
        return value[:2], value[2:]
    return "eq", value


def range_condition(prefix: str, low_col, high_col, lo: float, hi: float, approx: float) -> sa.ColumnElement:
    """Compare a stored range [low_col, high_col] with a search range [lo, hi] per FHIR prefix rules."""
    if prefix == "eq":
        return sa.and_(low_col >= lo, high_col <= hi)
    if prefix == "ne":
        return sa.or_(low_col < lo, high_col > hi)
    if prefix == "gt":
        return high_col > hi
    if prefix == "lt":
        return low_col < lo
    if prefix == "ge":
        return high_col >= lo
    if prefix == "le":
        return low_col <= hi
    if prefix == "sa":
        return low_col > hi
    if prefix == "eb":
        return high_col < lo
    return sa.and_(low_col <= hi + approx, high_col >= lo - approx)  # ap
