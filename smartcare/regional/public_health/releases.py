"""Public releases of notifiable-disease figures: one officer prepares a release, another approves or rejects it.

A release is a FHIR MeasureReport of type "summary": FHIR's resource for counts of a population over a period,
broken down by stratifiers, about no one in particular (it has no subject). It holds only what the public will see:
the period, the notifiable list, and per disease (plus one group for all diseases) the total and the counts by
ISO week, by district, by week and district, and for the last 4 weeks and the 4 before, all already suppressed
(release_figures.py). A hidden count has no `count`; its population carries the data-absent-reason "masked" and
the text the public sees ("<5" or "suppressed"). Who prepared and who decided are officers' user ids and names in
extensions; nothing in it names a case.

    pending (status pending) ──approve (another officer)──▶ approved (status complete)
       └──reject (with a reason)──▶ rejected (status error: the figures must not be used)

Only approved releases are public, and the one approved last is the current one (a newer approval supersedes).
The same four-eyes decision serves the announcements (announcements.py).
"""

from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any

from sqlalchemy.engine import Connection

from smartcare.fhir import store
from smartcare.fhir.errors import FhirError
from smartcare.fhir.search.execute import SearchResult, run_search
from smartcare.fhir.search.query import QueryCompiler
from smartcare.platform import audit, clock
from smartcare.platform.i18n import _
from smartcare.platform.security.context import SYSTEM, AccessContext
from smartcare.platform.security.policy import decide_dataset
from smartcare.regional.public_health.case_model import (
    DISEASE_SYSTEM,
    DISTRICT_SYSTEM,
    LOCAL,
    extension,
    facts,
)
from smartcare.regional.public_health.case_reports import document_type
from smartcare.regional.public_health.districts import code_of, region_districts
from smartcare.regional.public_health.release_figures import (
    Count,
    Period,
    ReleaseInvalid,
    catalogue,
    count_cases,
    publish,
    week_label,
)
from smartcare.regional.public_health.suppression import HIDDEN, disclosure_rule

CASE_REPORTS = "case-reports"  # the dataset whose readers (public-health officers) prepare and decide releases
MEASURE = LOCAL + "Measure/notifiable-disease-weekly-counts"
EXTENSION = LOCAL + "StructureDefinition/public-release-"
STATE, PREPARED_BY, DECIDED_BY, DECIDED_AT = (EXTENSION + n for n in ("state", "prepared-by", "decided-by",
                                                                        "decided-at"))
REASON, LIST, THRESHOLD, SHOWN_AS = (EXTENSION + n for n in ("reason", "notifiable-list", "threshold", "shown-as"))
DATA_ABSENT = "http://hl7.org/fhir/StructureDefinition/data-absent-reason"
USER_SYSTEM = LOCAL + "sid/user"
GROUP_SYSTEM = LOCAL + "CodeSystem/public-release-group"
STRATIFIER_SYSTEM = LOCAL + "CodeSystem/public-release-stratifier"
POPULATION = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/measure-population",
                          "code": "initial-population"}]}
PENDING, APPROVED, REJECTED = "pending", "approved", "rejected"
MEASURE_STATUS = {PENDING: "pending", APPROVED: "complete", REJECTED: "error"}
MAX_REASON = 500
PAGE_SIZE = 500
MAX_CASE_REPORTS = 200_000
MAX_LISTED = 30  # releases are read whole (every published table), so lists stay short


class ReleaseRefused(ReleaseInvalid):
    """A decision the rules do not allow: not pending any more, or approving what one prepared oneself."""

    status = 409


@dataclass(frozen=True, slots=True)
class Decision:
    """Who prepared a release or announcement, and who approved or rejected it, when and why."""

    state: str
    prepared_by: str
    prepared_by_id: str
    prepared_at: str
    decided_by: str | None
    decided_at: str | None
    reason: str | None


@dataclass(frozen=True, slots=True)
class Release:
    """A release read back from its MeasureReport."""

    id: str
    version: int
    list_id: str
    period: Period
    decision: Decision
    figures: dict[str, Any]


def officer(ctx: AccessContext) -> dict[str, Any]:
    """A Reference naming the officer acting (their user id and name)."""
    return {"identifier": {"system": USER_SYSTEM, "value": ctx.subject or ctx.name}, "display": ctx.name}


def decision_of(resource: dict[str, Any], prepared_at: str) -> Decision:
    """The decision extensions of a release or announcement."""
    def value(url: str, key: str) -> Any:
        found = extension(resource, url)
        return found.get(key) if found else None

    prepared, decided = value(PREPARED_BY, "valueReference") or {}, value(DECIDED_BY, "valueReference") or {}
    return Decision(state=value(STATE, "valueCode") or PENDING, prepared_by=str(prepared.get("display") or ""),
                    prepared_by_id=str((prepared.get("identifier") or {}).get("value") or ""),
                    prepared_at=prepared_at, decided_by=decided.get("display"),
                    decided_at=value(DECIDED_AT, "valueDateTime"), reason=value(REASON, "valueString"))


def clean_text(text: str, *, field: str, limit: int, lines: bool = False) -> str:
    """Typed text trimmed and checked: at most limit characters, no control characters (newlines when lines)."""
    value = text.replace("\r\n", "\n").strip()
    if len(value) > limit:
        raise ReleaseInvalid(_("Write at most {limit} characters here."), field=field, limit=limit)
    allowed = {"\n", "\t"} if lines else set()
    if any((ord(c) < 32 or 127 <= ord(c) < 160) and c not in allowed for c in value):
        raise ReleaseInvalid(_("Remove the control characters from this text."), field=field)
    return value


def decide(resource: dict[str, Any], *, ctx: AccessContext, approve: bool, reason: str, statuses: dict[str, str],
           prepared_at: str) -> str:
    """Approve or reject a pending release or announcement in place; the reason kept (required to reject).

    Raises ReleaseRefused when it is not pending or when its preparer tries to approve it (four eyes).
    """
    current = decision_of(resource, prepared_at)
    if current.state != PENDING:
        raise ReleaseRefused(_("This has already been decided."))
    if approve and current.prepared_by_id == (ctx.subject or ctx.name):
        raise ReleaseRefused(_("Another officer must approve what you prepared."))
    why = clean_text(reason, field="reason", limit=MAX_REASON)
    if not approve and not why:
        raise ReleaseInvalid(_("Say why you reject it."), field="reason")
    state = APPROVED if approve else REJECTED
    kept = [e for e in resource.get("extension") or [] if e.get("url") not in (STATE, DECIDED_BY, DECIDED_AT, REASON)]
    kept += [{"url": STATE, "valueCode": state}, {"url": DECIDED_BY, "valueReference": officer(ctx)},
             {"url": DECIDED_AT, "valueDateTime": clock.format_instant(clock.now())}]
    if why:
        kept.append({"url": REASON, "valueString": why})
    resource["extension"], resource["status"] = kept, statuses[state]
    return state


def _population(value: Count | None, *, coded: bool = False) -> list[dict[str, Any]]:
    # Only a group's population names its code: a stratum's is the same one, and leaving it out halves a release.
    code = {"code": POPULATION} if coded else {}
    if isinstance(value, int):
        return [{**code, "count": value}]
    return [{**code, "extension": [{"url": DATA_ABSENT, "valueCode": "masked"},
                                   {"url": SHOWN_AS, "valueString": str(value)}]}]


def _count(populations: list[dict[str, Any]]) -> Count:
    first = populations[0]
    if "count" in first:
        return int(first["count"])
    shown = extension(first, SHOWN_AS)
    return str(shown["valueString"]) if shown else HIDDEN


def _concept(code: str) -> dict[str, Any]:
    return {"coding": [{"system": STRATIFIER_SYSTEM, "code": code}]}


def _place(district: str | None) -> dict[str, Any]:
    return {"coding": [{"system": DISTRICT_SYSTEM, "code": district}]} if district else {"text": "unknown"}


def _place_of(value: dict[str, Any]) -> str | None:
    return next((c.get("code") for c in value.get("coding") or []), None)


def _stratifier(code: str, strata: list[tuple[dict[str, Any], Count]]) -> dict[str, Any]:
    return {"code": [_concept(code)], "stratum": [{"value": v, "population": _population(n)} for v, n in strata]}


def _group(code: dict[str, Any], table: dict[str, Any]) -> dict[str, Any]:
    stratifiers = [_stratifier("week", [({"text": w["week"]}, w["count"]) for w in table["weeks"]]),
                   _stratifier("district", [(_place(g["district"]), g["count"]) for g in table["districts"]])]
    if table["recent_4_weeks"] is not None:
        stratifiers.append(_stratifier("trend", [({"text": "recent-4-weeks"}, table["recent_4_weeks"]),
                                                 ({"text": "previous-4-weeks"}, table["previous_4_weeks"])]))
    if "cells" in table:
        stratifiers.append({"code": [_concept("week"), _concept("district")], "stratum": [
            {"component": [{"code": _concept("week"), "value": {"text": c["week"]}},
                           {"code": _concept("district"), "value": _place(c["district"])}],
             "population": _population(c["count"])} for c in table["cells"]]})
    return {"code": code, "population": _population(table["total"], coded=True), "stratifier": stratifiers}


def _table(group: dict[str, Any]) -> dict[str, Any]:
    table: dict[str, Any] = {"total": _count(group["population"]), "weeks": [], "districts": [],
                             "recent_4_weeks": None, "previous_4_weeks": None}
    for stratifier in group.get("stratifier") or []:
        kind = "-".join(c["coding"][0]["code"] for c in stratifier["code"])
        for stratum in stratifier["stratum"]:
            count = _count(stratum["population"])
            if kind == "week":
                table["weeks"].append({"week": stratum["value"]["text"], "count": count})
            elif kind == "district":
                table["districts"].append({"district": _place_of(stratum["value"]), "count": count})
            elif kind == "trend":
                table[stratum["value"]["text"].replace("-", "_")] = count
            else:
                week, place = (c["value"] for c in stratum["component"])
                table.setdefault("cells", []).append({"week": week["text"], "district": _place_of(place),
                                                      "count": count})
    return table


def to_measure_report(figures: dict[str, Any], *, list_id: str, ctx: AccessContext) -> dict[str, Any]:
    """A pending release's MeasureReport holding exactly the published figures."""
    listing = catalogue()
    rule = figures["suppression"]
    groups = [_group({"coding": [{"system": GROUP_SYSTEM, "code": "all", "display": "All notifiable diseases"}]},
                     figures["all"])]
    for entry in figures["diseases"]:
        known = listing.disease(entry["disease"])
        coding = {"system": DISEASE_SYSTEM, "code": entry["disease"], **({"display": known.name_en} if known else {})}
        groups.append(_group({"coding": [coding]}, entry))
    return {
        "resourceType": "MeasureReport", "status": MEASURE_STATUS[PENDING], "type": "summary", "measure": MEASURE,
        "date": clock.format_instant(clock.now()),
        "period": {"start": figures["period"]["start"], "end": figures["period"]["end"]},
        "extension": [{"url": STATE, "valueCode": PENDING}, {"url": PREPARED_BY, "valueReference": officer(ctx)},
                      {"url": LIST, "valueString": list_id}, {"url": THRESHOLD, "valueInteger": rule["threshold"]},
                      {"url": SHOWN_AS, "valueString": rule["small_shown_as"]}],
        "group": groups,
    }


def read_release(resource: dict[str, Any], version: int) -> Release:
    """A release from its MeasureReport."""
    start, end = date.fromisoformat(resource["period"]["start"]), date.fromisoformat(resource["period"]["end"])
    period = Period(start, (end - start).days // 7 + 1)
    rule = disclosure_rule()
    limit, small = extension(resource, THRESHOLD), extension(resource, SHOWN_AS)
    groups = [_table(g) for g in resource.get("group") or []]
    everything = groups[0]
    diseases = [{"disease": g["code"]["coding"][0]["code"], **t} for g, t in zip(resource["group"][1:], groups[1:],
                                                                                 strict=True)]
    figures = {
        "period": {"start": start.isoformat(), "end": end.isoformat(), "first_week": week_label(start),
                   "last_week": week_label(period.mondays[-1])},
        "weeks": [w["week"] for w in everything["weeks"]],
        "districts": [g["district"] for g in everything["districts"]],
        "suppression": {"threshold": limit["valueInteger"] if limit else rule.threshold,
                        "small_shown_as": small["valueString"] if small else rule.shown_as,
                        "hidden_shown_as": HIDDEN, "reason": rule.reason, "source": rule.source},
        "all": everything, "diseases": diseases,
    }
    listed = extension(resource, LIST)
    return Release(id=str(resource["id"]), version=version, list_id=listed["valueString"] if listed else "",
                   period=period, decision=decision_of(resource, str(resource.get("date") or "")), figures=figures)


def search_as_platform(conn: Connection, res_type: str, params: list[tuple[str, str]], *, count: int,
                       offset: int = 0) -> SearchResult:
    """One page of a store search run as the platform itself: callers have asked the policy and audit themselves."""
    request = QueryCompiler(strict=True).parse(res_type, params, default_count=count, max_count=count)
    request.offset, request.total = offset, "none"
    return run_search(conn, SYSTEM, request)


def _case_reports(conn: Connection, period: Period) -> Iterator[Any]:
    """Facts of every case report edited since the period began (a report is written after onset and diagnosis),
    with the district taken from the case's address where the report names none."""
    wanted = document_type()
    params = [("type", f"{wanted['system']}|{wanted['code']}"), ("date", f"ge{period.start - timedelta(days=1)}"),
              ("_include", "Composition:subject:Patient")]
    offset = 0
    while True:
        result = search_as_platform(conn, "Composition", params, count=PAGE_SIZE, offset=offset)
        patients = {f"Patient/{s.res_id}": s.resource for s in result.included if s.res_type == "Patient"}
        for found in result.matches:
            case = facts(found.resource)
            if case.district is None and case.patient in patients:
                case = replace(case, district=code_of(patients[case.patient]))
            yield case
        offset += len(result.matches)
        if not result.has_next:
            return
        if offset >= MAX_CASE_REPORTS:
            raise ReleaseInvalid(_("More than {count} case reports fall in this period: choose a shorter period."),
                                 field="first_week", count=MAX_CASE_REPORTS)


def prepare(conn: Connection, *, ctx: AccessContext, period: Period) -> Release:
    """Count the case reports of period into a pending release (suppressed figures only); audited.

    Raises AccessDenied unless ctx may read case reports (public-health officers).
    """
    decide_dataset(ctx, CASE_REPORTS)
    listing = catalogue()
    codes = [d.code for d in region_districts()]
    counts = count_cases(_case_reports(conn, period), period, codes)
    figures = publish(counts, period, districts=codes, order=[d.id for d in listing.diseases], rule=disclosure_rule())
    stored = store.create(conn, SYSTEM, to_measure_report(figures, list_id=listing.id, ctx=ctx))
    wanted = document_type()
    audit.record(conn, ctx=ctx, action="R", subtype="search", purpose="PUBHLTH",
                 entities=[f"Composition?type={wanted['system']}|{wanted['code']}&date=ge{period.start}"],
                 description=f"public release: {sum(counts.values())} cases counted")
    audit.record(conn, ctx=ctx, action="C", subtype="create", purpose="PUBHLTH", entities=[stored.reference],
                 description=f"public release of {week_label(period.start)} to {week_label(period.mondays[-1])} "
                             "prepared, awaiting approval")
    return read_release(stored.resource, stored.version)


def _stored(conn: Connection, release_id: str) -> store.Stored | None:
    try:
        found = store.read(conn, SYSTEM, res_type="MeasureReport", res_id=release_id)
    except FhirError:
        return None
    return found if (found.resource or {}).get("measure") == MEASURE else None


def get(conn: Connection, *, ctx: AccessContext, release_id: str) -> Release | None:
    """A release in any state, for officers (audited); None when there is no such release."""
    decide_dataset(ctx, CASE_REPORTS)
    found = _stored(conn, release_id)
    if found is None:
        return None
    audit.record(conn, ctx=ctx, action="R", subtype="read", purpose="PUBHLTH", entities=[found.reference],
                 description="public release opened for review")
    return read_release(found.resource, found.version)


def decide_release(conn: Connection, *, ctx: AccessContext, release_id: str, approve: bool, reason: str = "",
                   version: int | None = None) -> Release:
    """Approve or reject a pending release (four eyes); audited. version, when given, must still be current.

    Raises ReleaseRefused (decided already, or its preparer approving), ReleaseInvalid (no reason to reject).
    """
    decide_dataset(ctx, CASE_REPORTS)
    found = _stored(conn, release_id)
    if found is None:
        raise ReleaseRefused(_("There is no such release."))
    resource = dict(found.resource)
    state = decide(resource, ctx=ctx, approve=approve, reason=reason, statuses=MEASURE_STATUS,
                   prepared_at=str(resource.get("date") or ""))
    try:
        stored = store.update(conn, SYSTEM, resource, res_type="MeasureReport", res_id=release_id,
                              if_match=version or found.version)
    except FhirError as exc:
        raise ReleaseRefused(_("Someone else changed this release meanwhile: look at it again.")) from exc
    audit.record(conn, ctx=ctx, action="U", subtype="update", purpose="PUBHLTH", entities=[stored.reference],
                 description=f"public release {state}")
    return read_release(stored.resource, stored.version)


def listed(conn: Connection, *, ctx: AccessContext) -> list[Release]:
    """The 30 newest releases in every state, for officers; audited."""
    decide_dataset(ctx, CASE_REPORTS)
    result = search_as_platform(conn, "MeasureReport", [("measure", MEASURE), ("_sort", "-date")], count=MAX_LISTED)
    audit.record(conn, ctx=ctx, action="R", subtype="search", purpose="PUBHLTH",
                 entities=[f"MeasureReport?measure={MEASURE}"], description="public releases listed")
    return [read_release(found.resource, found.version) for found in result.matches]


def approved(conn: Connection, *, limit: int = MAX_LISTED) -> list[Release]:
    """The approved releases (at most 30), the one approved last first (public figures, so no caller and no audit).

    Approval is the last change a release gets, so the order of last update is the order of approval.
    """
    result = search_as_platform(conn, "MeasureReport", [("measure", MEASURE), ("status", MEASURE_STATUS[APPROVED]),
                                             ("_sort", "-_lastUpdated")], count=max(1, min(limit, MAX_LISTED)))
    return [read_release(found.resource, found.version) for found in result.matches]


def public_release(conn: Connection, release_id: str) -> Release | None:
    """An approved release (public figures, so no caller and no audit); None for any other."""
    found = _stored(conn, release_id)
    if found is None or found.resource.get("status") != MEASURE_STATUS[APPROVED]:
        return None
    release = read_release(found.resource, found.version)
    return release if release.decision.state == APPROVED else None
