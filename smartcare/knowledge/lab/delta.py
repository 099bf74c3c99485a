"""Delta checks: is the change from the patient's previous result larger than the analyte's limit?"""

import math

from smartcare.knowledge.lab.data import delta_table
from smartcare.knowledge.lab.model import DeltaResult
from smartcare.knowledge.lab.ranges import finite

MAX_HOURS = 24 * 366 * 10


def reference_change_percent(*, cv_i: float, cv_a: float, z: float) -> float:
    """The reference change value in percent: sqrt(2) x z x sqrt(CVa^2 + CVi^2) (Fraser, biological variation)."""
    return math.sqrt(2) * z * math.sqrt(cv_a**2 + cv_i**2)


def delta_check(loinc: str, value: float, previous: float, *, hours_between: float) -> DeltaResult | None:
    """A DeltaResult when the change exceeds the analyte's limit within its time window, else None."""
    value, previous = finite(value), finite(previous, "previous")
    hours_between = finite(hours_between, "hours_between")
    if not 0 <= hours_between <= MAX_HOURS:
        raise ValueError("hours_between must be between 0 and 10 years")
    rule = delta_table().get(loinc) if isinstance(loinc, str) else None
    if rule is None or hours_between > rule["window_hours"]:
        return None
    change = value - previous
    percent = abs(change) / abs(previous) * 100 if previous else None
    limit_percent = None
    if rule.get("cv_i") is not None:
        limit_percent = reference_change_percent(cv_i=rule["cv_i"], cv_a=rule["cv_a"], z=rule.get("z", 2.58))
    limit_absolute = rule.get("absolute")
    if limit_percent is None:
        over_percent = False
    elif percent is None:
        over_percent = change != 0
    else:
        over_percent = percent > limit_percent
    over_absolute = limit_absolute is not None and abs(change) >= limit_absolute
    if not (over_percent or over_absolute):
        return None
    return DeltaResult(loinc=loinc, value=value, previous=previous, change=change, percent_change=percent,
                       limit_percent=limit_percent, limit_absolute=limit_absolute, hours_between=hours_between,
                       source=rule["source"])
