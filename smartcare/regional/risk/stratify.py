"""Risk stratification of the region: residents counted by their latest risk category, with small cells hidden.

Plain functions over FHIR resources as dicts, and one function (`stratification`) that reads the store for the
regional console. Each resident counts once per calculator, in the category of their latest RiskAssessment of that
calculator (a newer one supersedes the older). Residents who died or whose record is inactive are left out. A
resident in a high category "has a programme" when a risk-intervention CarePlan for them is active or in draft.
Counts are published under the region's small-cell rule (public_health/suppression.py), applied once across all the
tables of the page so that no table gives back a count another hides.
"""

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy.engine import Connection

from smartcare.fhir.search.execute import run_search
from smartcare.fhir.search.query import QueryCompiler
from smartcare.knowledge import scores
from smartcare.platform import audit
from smartcare.platform.security.context import SYSTEM, AccessContext
from smartcare.platform.security.policy import decide_dataset
from smartcare.regional.public_health.aggregates import district_of
from smartcare.regional.public_health.service import purpose_of
from smartcare.regional.public_health.suppression import (
    DisclosureRule,
    disclosure_rule,
    hidden_counts,
    published,
)
from smartcare.regional.risk.service import CATEGORY_SYSTEM, SCORE_EXTENSION, latest_by_method

DATASET = "aggregates"
PROGRAMME_URI = "https://smartcare.example/fhir/PlanDefinition/risk-intervention"
# A programme under a doctor's review counts as much as an accepted one: the resident is being looked after.
PROGRAMME_STATUSES = ("active", "draft")
# The categories each calculator's own guideline asks a doctor to act on (the calculators' data files cite them).
HIGH: dict[str, frozenset[str]] = {
    "pce-ascvd": frozenset({"intermediate", "high"}),
    "cds-diabetes-risk": frozenset({"screen"}),
    "kdigo-ckd": frozenset({"high", "very_high"}),
    "cha2ds2-vasc": frozenset({"recommended"}),
}
CALCULATORS = tuple(HIGH)
# Age bands of the report (lower bound, label); the last is open-ended. Under-20s are kept so each table adds up.
AGE_BANDS = ((0, "0-19"), (20, "20-39"), (40, "40-54"), (55, "55-64"), (65, "65-74"), (75, "75+"))
UNKNOWN_AGE = "unknown"
SEXES = ("female", "male", "other", "unknown")
DIMENSIONS = ("district", "age", "sex")
COUNTED_STATUSES = frozenset({"final", "amended", "corrected"})
PAGE_SIZE = 500
MAX_RECORDS = 500_000


class StratificationTooLarge(ValueError):
    """More records than one page view may count."""

    status = 503


@dataclass(frozen=True, slots=True)
class Resident:
    """What the counts need of one resident: id, district, age band, sex and health centre (Organization/<id>)."""

    id: str
    district: str | None
    age_band: str
    sex: str
    centre: str | None


@dataclass(frozen=True, slots=True)
class Latest:
    """A resident's latest assessment of one calculator: category, value with unit, when, and the resource id."""

    calculator: str
    category: str
    value: float | None
    unit: str
    when: str
    risk_id: str


@dataclass(slots=True)
class Tally:
    """Residents by calculator and latest category, overall and by district, age band and sex; and high-risk
    residents without a programme by health centre."""

    residents: int = 0
    categories: Counter = field(default_factory=Counter)  # (calculator, category)
    cells: Counter = field(default_factory=Counter)  # (calculator, dimension, group, category)
    without_programme: Counter = field(default_factory=Counter)  # (calculator, centre)
    districts: set = field(default_factory=set)
    centres: set = field(default_factory=set)


def age_on(birth_date: Any, today: date) -> int | None:
    """Whole years from a full birth date (YYYY-MM-DD) to today; None when the date is not given to the day."""
    if not isinstance(birth_date, str) or len(birth_date) < 10:
        return None
    try:
        born = date.fromisoformat(birth_date[:10])
    except ValueError:
        return None
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def age_band(age: int | None) -> str:
    """The report's age band of an age in years ("unknown" when the age is not known)."""
    if age is None or age < 0:
        return UNKNOWN_AGE
    return [label for low, label in AGE_BANDS if age >= low][-1]


def _reference_id(reference: Any, res_type: str) -> str | None:
    ref = reference.get("reference") if isinstance(reference, dict) else None
    if isinstance(ref, str) and ref.startswith(res_type + "/"):
        return ref.removeprefix(res_type + "/")
    return None


def resident_of(patient: dict[str, Any], *, today: date) -> Resident | None:
    """The resident a Patient record describes; None for one who died or whose record is inactive."""
    if patient.get("deceasedBoolean") or patient.get("deceasedDateTime") or patient.get("active") is False:
        return None
    sex = patient.get("gender") if patient.get("gender") in SEXES else "unknown"
    centre = _reference_id(patient.get("managingOrganization"), "Organization")
    return Resident(id=str(patient.get("id", "")), district=district_of(patient),
                    age_band=age_band(age_on(patient.get("birthDate"), today)), sex=sex,
                    centre=f"Organization/{centre}" if centre else None)


def category_of(risk: dict[str, Any]) -> str:
    """The qualitative risk category of a RiskAssessment's first prediction ("" when none is coded)."""
    predictions = risk.get("prediction") or [{}]
    codings = ((predictions[0] or {}).get("qualitativeRisk") or {}).get("coding") or []
    chosen = next((c for c in codings if c.get("system") == CATEGORY_SYSTEM), codings[0] if codings else {})
    return str(chosen.get("code") or "")


def _value_of(risk: dict[str, Any]) -> tuple[float | None, str]:
    for ext in risk.get("extension") or []:
        quantity = ext.get("valueQuantity") if ext.get("url") == SCORE_EXTENSION else None
        if isinstance(quantity, dict) and isinstance(quantity.get("value"), int | float):
            return float(quantity["value"]), str(quantity.get("unit") or "")
    probability = ((risk.get("prediction") or [{}])[0] or {}).get("probabilityDecimal")
    if isinstance(probability, int | float):
        return round(float(probability) * 100, 2), "%"
    return None, ""


def latest_by_patient(risks: Iterable[dict[str, Any]]) -> dict[str, dict[str, Latest]]:
    """Each resident's latest assessment of each calculator, from RiskAssessments (only final ones count)."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    for risk in risks:
        patient = _reference_id(risk.get("subject"), "Patient")
        if patient and risk.get("status") in COUNTED_STATUSES:
            grouped.setdefault(patient, []).append(risk)
    found: dict[str, dict[str, Latest]] = {}
    for patient, held in grouped.items():
        for calculator, risk in latest_by_method(held).items():
            value, unit = _value_of(risk)
            found.setdefault(patient, {})[calculator] = Latest(
                calculator, category_of(risk), value, unit, str(risk.get("occurrenceDateTime") or ""),
                str(risk.get("id") or ""))
    return found


def programmes_by_patient(care_plans: Iterable[dict[str, Any]]) -> dict[str, str]:
    """Each resident's risk-intervention programme status: "active" when one is active, else "draft"."""
    found: dict[str, str] = {}
    for plan in care_plans:
        patient = _reference_id(plan.get("subject"), "Patient")
        status = plan.get("status")
        if not patient or status not in PROGRAMME_STATUSES or PROGRAMME_URI not in (plan.get("instantiatesUri") or []):
            continue
        if found.get(patient) != "active":
            found[patient] = status
    return found


def tally(*, residents: Iterable[Resident], risks: Iterable[dict[str, Any]],
          care_plans: Iterable[dict[str, Any]]) -> Tally:
    """Count residents by calculator and latest category, as the module docstring describes."""
    latest = latest_by_patient(risks)
    programmes = programmes_by_patient(care_plans)
    counts = Tally()
    for resident in residents:
        counts.residents += 1
        counts.districts.add(resident.district)
        counts.centres.add(resident.centre)
        groups = {"district": resident.district, "age": resident.age_band, "sex": resident.sex}
        for calculator, held in latest.get(resident.id, {}).items():
            if calculator not in HIGH or not held.category:
                continue
            counts.categories[(calculator, held.category)] += 1
            for dimension, group in groups.items():
                counts.cells[(calculator, dimension, group, held.category)] += 1
            if held.category in HIGH[calculator] and resident.id not in programmes:
                counts.without_programme[(calculator, resident.centre)] += 1
    return counts


def _groups(counts: Tally, dimension: str) -> list:
    if dimension == "district":
        return sorted(counts.districts, key=lambda d: (d is None, d or ""))
    if dimension == "age":
        known = [label for _, label in AGE_BANDS]
        return known + ([UNKNOWN_AGE] if any(k[2] == UNKNOWN_AGE for k in counts.cells if k[1] == "age") else [])
    return [sex for sex in SEXES if sex in ("female", "male") or any(k[2] == sex for k in counts.cells)]


def _categories(counts: Tally, calculator: str) -> list[str]:
    """The calculator's categories in its own order, then any other category found in the records."""
    listed = list(scores.CALCULATORS[calculator].categories)
    return listed + sorted({cat for calc, cat in counts.categories if calc == calculator} - set(listed))


def publish(counts: Tally, rule: DisclosureRule) -> dict[str, Any]:
    """The counts as published: per calculator, by category, district, age band, sex and centre, small cells hidden."""
    centres = sorted(counts.centres, key=lambda c: (c is None, c or ""))
    groups = {dimension: _groups(counts, dimension) for dimension in DIMENSIONS}
    values: dict[tuple, int] = {("residents",): counts.residents}
    lines: list[list[tuple]] = []
    order = {calc: _categories(counts, calc) for calc in CALCULATORS}
    for calc in CALCULATORS:
        cats = order[calc]
        assessed = sum(counts.categories[(calc, cat)] for cat in cats)
        values[("assessed", calc)] = assessed
        values[("unassessed", calc)] = counts.residents - assessed
        lines.append([("assessed", calc), ("unassessed", calc), ("residents",)])
        for cat in cats:
            values[("category", calc, cat)] = counts.categories[(calc, cat)]
        lines.append([*(("category", calc, cat) for cat in cats), ("assessed", calc)])
        for dimension, listed in groups.items():
            for group in listed:
                row = [("cell", calc, dimension, group, cat) for cat in cats]
                for key in row:
                    values[key] = counts.cells[key[1:]]
                values[("group", calc, dimension, group)] = sum(values[key] for key in row)
                lines.append([*row, ("group", calc, dimension, group)])
            for cat in cats:
                lines.append([*(("cell", calc, dimension, g, cat) for g in listed), ("category", calc, cat)])
            lines.append([*(("group", calc, dimension, g) for g in listed), ("assessed", calc)])
        column = [("without", calc, centre) for centre in centres]
        for key in column:
            values[key] = counts.without_programme[key[1:]]
        values[("without-total", calc)] = sum(values[key] for key in column)
        lines.append([*column, ("without-total", calc)])
    # The residents' count is the one total hidden first when a small count of unassessed residents needs a
    # partner: it stands alone, where hiding an assessed total would spread through every table of the calculator.
    totals = frozenset(key for key in values if key[0] not in ("cell", "without", "unassessed", "residents"))
    hidden = hidden_counts(values, lines, threshold=rule.threshold, totals=totals)

    def shown(key: tuple) -> int | str:
        return published(values[key], key, hidden, rule)

    def share(calc: str) -> float | None:
        assessed, residents = shown(("assessed", calc)), shown(("residents",))
        if isinstance(assessed, int) and isinstance(residents, int) and residents:
            return round(100 * assessed / residents, 1)
        return None

    return {
        "threshold": rule.threshold, "shown_as": rule.shown_as, "reason": rule.reason, "source": rule.source,
        "residents": shown(("residents",)),
        "centres": centres,
        "calculators": [{
            "calculator": calc,
            "categories": order[calc],
            "high": [cat for cat in order[calc] if cat in HIGH[calc]],
            "assessed": shown(("assessed", calc)),
            "unassessed": shown(("unassessed", calc)),
            "share": share(calc),
            "totals": [shown(("category", calc, cat)) for cat in order[calc]],
            "tables": {dimension: [{"group": group,
                                    "counts": [shown(("cell", calc, dimension, group, cat)) for cat in order[calc]],
                                    "total": shown(("group", calc, dimension, group))} for group in listed]
                       for dimension, listed in groups.items()},
            "without_programme": [shown(("without", calc, centre)) for centre in centres],
            "without_programme_total": shown(("without-total", calc)),
        } for calc in CALCULATORS],
    }


def high_risk_rows(*, patients: Iterable[dict[str, Any]], risks: Iterable[dict[str, Any]],
                   care_plans: Iterable[dict[str, Any]], calculator: str | None = None) -> list[dict[str, Any]]:
    """One row per (patient, calculator) whose latest category is a high one, newest assessment first."""
    latest = latest_by_patient(risks)
    programmes = programmes_by_patient(care_plans)
    rows = []
    for patient in patients:
        pid = str(patient.get("id", ""))
        for calc, held in latest.get(pid, {}).items():
            if calc not in HIGH or held.category not in HIGH[calc] or calculator not in (None, calc):
                continue
            rows.append({"patient": patient, "latest": held, "programme": programmes.get(pid, "none")})
    return sorted(rows, key=lambda row: (row["latest"].when, row["latest"].risk_id), reverse=True)


def _every(conn: Connection, res_type: str, params: list[tuple[str, str]]) -> Iterator[dict[str, Any]]:
    """Every resource of a search of the whole store (as the platform), page by page."""
    offset = 0
    while True:
        request = QueryCompiler(strict=True).parse(res_type, params, default_count=PAGE_SIZE, max_count=PAGE_SIZE)
        request.offset, request.total = offset, "none"
        result = run_search(conn, SYSTEM, request)
        yield from (found.resource for found in result.matches)
        if not result.has_next:
            return
        offset += len(result.matches)
        if offset >= MAX_RECORDS:
            raise StratificationTooLarge(f"More than {MAX_RECORDS} {res_type} records to count")


def _centre_names(conn: Connection, centres: list[str | None]) -> dict[str, str]:
    ids = [c.removeprefix("Organization/") for c in centres if c]
    names: dict[str, str] = {}
    for start in range(0, len(ids), 100):
        chunk = ",".join(ids[start:start + 100])
        names.update({f"Organization/{org.get('id')}": str(org.get("name") or "")
                      for org in _every(conn, "Organization", [("_id", chunk)])})
    return names


def stratification(conn: Connection, *, ctx: AccessContext, today: date) -> dict[str, Any]:
    """The region's residents by latest risk category, small cells hidden, with health centre names; audited once.

    Raises AccessDenied when the policy refuses ctx the aggregates, StratificationTooLarge when too much to count.
    """
    decide_dataset(ctx, DATASET)
    residents = [r for r in (resident_of(p, today=today) for p in _every(conn, "Patient", [])) if r is not None]
    risks = _every(conn, "RiskAssessment", [])
    plans = _every(conn, "CarePlan", [("instantiates-uri", PROGRAMME_URI),
                                      ("status", ",".join(PROGRAMME_STATUSES))])
    counts = tally(residents=residents, risks=risks, care_plans=plans)
    result = publish(counts, disclosure_rule())
    result["centre_names"] = _centre_names(conn, result["centres"])
    audit.record(conn, ctx=ctx, action="R", subtype="search", purpose=purpose_of(ctx),
                 entities=[f"Patient?_count={PAGE_SIZE}", f"RiskAssessment?_count={PAGE_SIZE}",
                           f"CarePlan?instantiates-uri={PROGRAMME_URI}&status={','.join(PROGRAMME_STATUSES)}"],
                 description=f"risk stratification: {counts.residents} residents, "
                             f"{sum(counts.categories.values())} latest assessments counted")
    return result
