"""The yearly chronic-disease indicators of health centres and districts: management and control rates."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from smartcare.fhir import gateway
from smartcare.fhir.errors import FhirError
from smartcare.knowledge.chronic import followup
from smartcare.platform.i18n import _
from smartcare.platform.security.context import AccessContext
from smartcare.regional.chronic.resources import birth_of
from smartcare.regional.chronic.service import ChronicRefused, Entry, age_on, registry, today


@cache
def prevalence() -> dict[str, Any]:
    """The adult prevalence of each condition with its source (data/prevalence.yaml)."""
    return yaml.safe_load((Path(__file__).parent / "data" / "prevalence.yaml").read_text(encoding="utf-8"))


@dataclass(frozen=True, slots=True)
class AreaIndicators:
    """One health centre's or district's indicators per registry, and its monthly control-rate points."""

    key: str
    name: str
    alias: str  # the Chinese name where the record has one
    adults: int
    by_registry: dict[str, followup.Indicators]
    monthly_control: dict[str, list[tuple[str, float | None]]]


@dataclass(frozen=True, slots=True)
class IndicatorReport:
    """The indicators of a year for each health centre and each district."""

    year: int
    centres: tuple[AreaIndicators, ...]
    districts: tuple[AreaIndicators, ...]


def _year_rows(entries: Iterable[Entry], key: str, until: date) -> list[dict[str, Any]]:
    rows = []
    for entry in entries:
        if entry.registry != key or entry.registered_on > until:
            continue
        visits = [v for v in entry.visits if v.day.year == until.year and v.day <= until]
        last = visits[-1] if visits else None
        rows.append({"registry": key, "visits_in_year": len(visits),
                     "last_classification": last.classification if last else None,
                     "last_at_target": last.at_target if last else None})
    return rows


def _area(key: str, names: tuple[str, str], adults: int, entries: list[Entry], year: int,
          last_day: date) -> AreaIndicators:
    rates = prevalence()
    by_registry = {}
    monthly: dict[str, list[tuple[str, float | None]]] = {}
    for registry_key in followup.REGISTRIES:
        estimated = round(adults * rates[registry_key]["prevalence"]) if adults else None
        by_registry[registry_key] = followup.indicators(patients=_year_rows(entries, registry_key, last_day),
                                                        estimated_prevalent=estimated)
        points = []
        for month in range(1, last_day.month + 1 if last_day.year == year else 13):
            end = min(date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1), last_day)
            result = followup.indicators(patients=_year_rows(entries, registry_key, end), estimated_prevalent=None)
            points.append((f"{year}-{month:02d}", result.control_rate))
        monthly[registry_key] = points
    return AreaIndicators(key, *names, adults, by_registry, monthly)


def indicators(ctx: AccessContext, *, organizations: list[str], year: int, on: date | None = None) -> IndicatorReport:
    """Management, standardised-management and control rates per health centre and district for a year."""
    day = on or today()
    if year > day.year or year < 2000:
        raise ChronicRefused(_("Choose a year that has begun."))
    last_day = min(day, date(year, 12, 31))
    min_age = prevalence()["population_min_age"]
    centres: list[AreaIndicators] = []
    districts: dict[str, tuple[str, int, list[Entry]]] = {}
    for organization in organizations:
        found = registry(ctx, organization=organization, on=last_day)
        adults = sum(1 for p in found.residents
                     if (a := age_on(birth_of(p), last_day)) is not None and a >= min_age)
        try:
            org = gateway.read(ctx, organization)
        except FhirError:
            org = {}
        names = (org.get("name") or organization, (org.get("alias") or [""])[0] or org.get("name") or organization)
        centres.append(_area(organization, names, adults, list(found.entries), year, last_day))
        district = ((org.get("address") or [{}])[0]).get("district") or ""
        adults_before, entries_before = districts.get(district, ("", 0, []))[1:]
        districts[district] = (district, adults_before + adults, entries_before + list(found.entries))
    return IndicatorReport(year, tuple(centres), tuple(_area(k, (n, n), a, e, year, last_day)
                                                       for k, (n, a, e) in sorted(districts.items())))
