"""Plain-language meaning of one result for this patient: level, what it commonly means, and what to do."""

from smartcare.knowledge.lab.data import interpretation_table
from smartcare.knowledge.lab.model import Interpretation
from smartcare.knowledge.lab.ranges import analyte, finite, flag, reference_range

LEVEL_BY_FLAG = {"LL": "critical-low", "L": "low", "N": "normal", "H": "high", "HH": "critical-high"}


def interpret(loinc: str, value: float, *, sex: str | None, age_days: int | None) -> Interpretation:
    """What this value means for a person of this sex and age (ValueError for an unknown analyte or bad value)."""
    value = finite(value)
    item = analyte(loinc)
    if item is None:
        raise ValueError(f"unknown analyte {loinc!r}")
    rng = reference_range(item.loinc, sex=sex, age_days=age_days)
    defaults, table = interpretation_table()
    record = table.get(item.loinc, {})
    code = flag(value, rng) if rng is not None else None
    if rng is None or (code == "N" and rng.low is None and rng.high is None):
        text = defaults["unknown"]
        return Interpretation(loinc=item.loinc, value=value, unit=item.unit, flag=None, level="unknown",
                              meaning_en=text["en"], meaning_zh=text["zh"], action=text["action"], range=rng,
                              source=defaults["source"])
    level = LEVEL_BY_FLAG[str(code)]
    key = level.replace("-", "_")
    text = record.get(key) or defaults[key]
    action = "urgent" if code in ("LL", "HH") else text.get("action", "routine")
    sources = [record.get("source") if key in record else defaults["source"], rng.source]
    return Interpretation(loinc=item.loinc, value=value, unit=item.unit, flag=code, level=level,
                          meaning_en=text["en"], meaning_zh=text["zh"], action=action, range=rng,
                          source="; ".join(dict.fromkeys(filter(None, sources))))
