"""Outbreak signals: an alarm of a detector on a count series, kept for public-health officers to triage.

A signal is a FHIR DetectedIssue with no patient: FHIR's resource for "an actual or potential issue ... identified
by a system", here about a population, not a person. It holds counts only: the series' key (disease or syndrome,
district or region, count basis, daily or weekly), the method, the period, the count observed, the expected count and
the upper bound, the reason in English and Chinese (detail, with a translation extension), and the detector's output
over the series' window as SampledData (counts, expected, upper bound, alarms) for the chart. Its evidence is the run
(a Task, detection.py) that raised it. Nothing in it names a case, so it can be shown and sent without exposing one.

    new (status preliminary) ──verify──▶ verified (final) ──open an outbreak──▶ outbreaks.py
      └──discard (with a reason)──▶ discarded (entered-in-error)

Code `outbreak-signal` for notifiable-disease series, `syndromic-signal` for chief-complaint syndromes (kept apart
and labelled on every page). An alarm raises a signal unless one already stands for it (see `covered`). Every read
and act is audited; officers only (the case-reports dataset); each act names the version the officer saw (If-Match).
"""

import copy
import re
import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy.engine import Connection

from smartcare.fhir import store
from smartcare.fhir.errors import FhirError, PreconditionFailed
from smartcare.platform import audit, clock, i18n
from smartcare.platform.i18n import _
from smartcare.platform.notifications.preferences import notification_kind
from smartcare.platform.notifications.service import notify
from smartcare.platform.security import users
from smartcare.platform.security.context import SYSTEM, AccessContext
from smartcare.platform.security.policy import decide_dataset
from smartcare.regional.public_health import signal_text
from smartcare.regional.public_health.case_model import LOCAL, extension, set_extension
from smartcare.regional.public_health.releases import search_as_platform

CASE_REPORTS = "case-reports"
PURPOSE = "PUBHLTH"
SYSTEM_URL = LOCAL + "CodeSystem/surveillance-signal"
DISEASE_SIGNAL, SYNDROMIC_SIGNAL = "outbreak-signal", "syndromic-signal"
KIND_CODE = {"disease": DISEASE_SIGNAL, "syndrome": SYNDROMIC_SIGNAL}
IDENTIFIER = LOCAL + "sid/surveillance-signal"
EXT = LOCAL + "StructureDefinition/surveillance-signal-"
STATE, SERIES, METHOD, PERIOD = EXT + "state", EXT + "series", EXT + "method", EXT + "period"
OBSERVED, EXPECTED, UPPER, SCORE = EXT + "observed", EXT + "expected", EXT + "upper", EXT + "score"
CHART, TRIAGE, OUTBREAK = EXT + "chart", EXT + "triage", EXT + "outbreak"
TRANSLATION = "http://hl7.org/fhir/StructureDefinition/translation"
STATES = ("new", "verified", "discarded")
# A discarded signal is a false alarm: the issue it states does not hold, which DetectedIssue says entered-in-error.
STATUS_OF = {"new": "preliminary", "verified": "final", "discarded": "entered-in-error"}
ACTS = {"verify": "verified", "discard": "discarded"}
PERIOD_DAYS = {"daily": 1, "weekly": 7}
MS_PER_DAY = 86_400_000
MAX_REASON = 500
MAX_LISTED = 500
MAX_SERIES = 50  # signals triaged together: one spike raises one per method, a few runs a handful more
_SERIES_ITEM = re.compile(r"([A-Za-z0-9.-]{1,64}):([0-9]{1,9})")
RECENT = timedelta(days=180)

LINK = "/console/public-health/signals"
SUMMARY_OVER = 5  # more new signals than this in one run: one notice for them all, not one each
SIGNAL_KIND = notification_kind("public-health.signal", label=_("Outbreak and syndromic signals"))
DISEASE_TITLE = _("New outbreak signal")
SYNDROMIC_TITLE = _("New syndromic signal")
MANY_TITLE = _("%(count)s new outbreak and syndromic signals")
MANY_BODY = _("The detection run raised more signals than usual. Triage them on the signals page.")

NO_SUCH_SIGNAL = _("There is no signal %(id)s.")
STALE = _("Someone else triaged this signal while you had it open: read it again, then decide.")
NOT_NEW = _("This signal has already been triaged.")
UNKNOWN_ACT = _("Choose to verify or to discard the signal.")
REASON_NEEDED = _("Say why you discard the signal.")
TOO_LONG = _("At most %(max)s characters.")
NOT_OF_SERIES = _("Only the new signals of this signal's series can be triaged with it.")
CONTROL = _("Remove the control characters from this text.")


class SignalRefused(Exception):
    """A request on signals or outbreaks that cannot be carried out: message is a catalog msgid, values fill it in;
    field names the form field at fault; nothing was changed."""

    status = 400

    def __init__(self, message: str, *, field: str | None = None, **values: Any):
        super().__init__(message % values if values else message)
        self.message, self.values, self.field = message, values, field


class SignalNotFound(SignalRefused):
    """No signal (or outbreak) has that id."""

    status = 404


class SignalConflict(SignalRefused):
    """The signal or outbreak changed since the officer read it, or its state does not allow the act."""

    status = 409


@dataclass(frozen=True, slots=True)
class SeriesKey:
    """What a series counts: kind (disease or syndrome), subject (disease, disease/subtype or syndrome id), place (a
    district code or "region"), basis (onset, report or visit) and frequency (daily or weekly)."""

    kind: str
    subject: str
    place: str
    basis: str
    frequency: str

    @property
    def text(self) -> str:
        """The key as one line, as identifiers and outbreaks keep it."""
        return "|".join((self.kind, self.subject, self.place, self.basis, self.frequency))


@dataclass(frozen=True, slots=True)
class Alarm:
    """A detector's alarm on a series: the key, the method, the period's first day and the detector's rows for the
    whole series (the alarm is the row at index)."""

    key: SeriesKey
    method: str
    start: date
    index: int
    rows: list[Any]

    @property
    def period_start(self) -> date:
        """The first day of the alarmed period."""
        return self.start + timedelta(days=self.index * PERIOD_DAYS[self.key.frequency])

    @property
    def identifier(self) -> str:
        """The signal's business identifier: series, method and period (one signal per alarm at most)."""
        return f"{self.key.text}|{self.method}|{self.period_start.isoformat()}"


@dataclass(frozen=True, slots=True)
class Signal:
    """A signal as read back from its DetectedIssue."""

    id: str
    version: int
    key: SeriesKey
    method: str
    period_start: date
    period_end: date
    observed: int
    expected: float | None
    upper: float | None
    score: float | None
    state: str
    identified: str
    reason_en: str
    reason_zh: str
    run: str | None
    outbreak: str | None
    triage: dict[str, str] = field(default_factory=dict)
    chart: dict[str, Any] = field(default_factory=dict)

    def reason(self, lang: str) -> str:
        """Why the signal was raised, in lang."""
        return self.reason_zh if lang.startswith("zh") and self.reason_zh else self.reason_en

    @property
    def label(self) -> str:
        """The period as people read it: a day, or an ISO week."""
        return signal_text.period_label(self.period_start, self.key.frequency)


def _number(value: float | None) -> str:
    return "E" if value is None else f"{value:.3f}".rstrip("0").rstrip(".")


def _sampled(values: list[str], frequency: str) -> dict[str, Any]:
    return {"origin": {"value": 0}, "period": MS_PER_DAY * PERIOD_DAYS[frequency], "dimensions": 1,
            "data": " ".join(values)}


def _parts(values: dict[str, Any]) -> dict[str, Any]:
    """A complex extension's parts as {"extension": [...]}, each value keyed by its FHIR type."""
    return {"extension": [{"url": name, **value} for name, value in values.items()]}


def _chart(alarm: Alarm) -> dict[str, Any]:
    rows, frequency = alarm.rows, alarm.key.frequency
    return _parts({"start": {"valueDate": alarm.start.isoformat()},
                   "counts": {"valueSampledData": _sampled([str(r.count) for r in rows], frequency)},
                   "expected": {"valueSampledData": _sampled([_number(r.expected) for r in rows], frequency)},
                   "upper": {"valueSampledData": _sampled([_number(r.upper) for r in rows], frequency)},
                   "alarms": {"valueSampledData": _sampled(["1" if r.alarm else "0" for r in rows], frequency)}})


def _decimal(value: float | None) -> dict[str, Any] | None:
    return {"valueDecimal": round(value, 3)} if value is not None else None


def to_resource(alarm: Alarm, *, run: str) -> dict[str, Any]:
    """The new signal's DetectedIssue for an alarm raised by run (Task/id)."""
    row = alarm.rows[alarm.index]
    end = alarm.period_start + timedelta(days=PERIOD_DAYS[alarm.key.frequency] - 1)
    reason_en, reason_zh = signal_text.reason(alarm.key, alarm.method, alarm.period_start, row, "en"), \
        signal_text.reason(alarm.key, alarm.method, alarm.period_start, row, "zh")
    key = alarm.key
    resource: dict[str, Any] = {
        "resourceType": "DetectedIssue", "status": STATUS_OF["new"],
        "identifier": [{"system": IDENTIFIER, "value": alarm.identifier}],
        "code": {"coding": [{"system": SYSTEM_URL, "code": KIND_CODE[key.kind],
                             "display": "Syndromic signal" if key.kind == "syndrome" else "Outbreak signal"}]},
        "identifiedDateTime": clock.format_instant(clock.now()), "detail": reason_en,
        "_detail": {"extension": [{"url": TRANSLATION, "extension": [{"url": "lang", "valueCode": "zh-Hans"},
                                                                      {"url": "content", "valueString": reason_zh}]}]},
        "evidence": [{"detail": [{"reference": run}]}],
        "extension": [{"url": STATE, "valueCode": "new"},
                      {"url": SERIES, **_parts({name: {"valueCode": getattr(key, name)} for name in
                                                ("kind", "subject", "place", "basis", "frequency")})},
                      {"url": METHOD, "valueCode": alarm.method},
                      {"url": PERIOD, "valuePeriod": {"start": alarm.period_start.isoformat(),
                                                      "end": end.isoformat()}},
                      {"url": OBSERVED, "valueInteger": int(row.count)}, {"url": CHART, **_chart(alarm)}],
    }
    for url, value in ((EXPECTED, row.expected), (UPPER, row.upper), (SCORE, row.score)):
        if (decimal := _decimal(value)) is not None:
            resource["extension"].append({"url": url, **decimal})
    return resource


def signal_id(resource: dict[str, Any]) -> str:
    """The id a new signal is created with, derived from its identifier: two runs that raise the same alarm at the
    same moment write the same id, so the second fails (the store's Conflict) instead of adding a twin."""
    value = next((i.get("value") for i in resource.get("identifier") or [] if i.get("system") == IDENTIFIER), "")
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{IDENTIFIER}|{value}"))


def _part_values(found: dict[str, Any] | None) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for part in (found or {}).get("extension") or []:
        value = next((v for k, v in part.items() if k.startswith("value")), None)
        values[str(part.get("url"))] = value
    return values


def _decode(sampled: dict[str, Any] | None) -> list[float | None]:
    return [None if v in ("E", "L", "U") else float(v) for v in str((sampled or {}).get("data") or "").split()]


def chart_of(resource: dict[str, Any], frequency: str) -> dict[str, Any]:
    """The detector's output stored on a signal: period labels, counts, expected, upper bound and alarms."""
    parts = _part_values(extension(resource, CHART))
    start = date.fromisoformat(parts.get("start") or "2000-01-01")
    counts = [int(v or 0) for v in _decode(parts.get("counts"))]
    return {"labels": [signal_text.period_label(start + timedelta(days=n * PERIOD_DAYS[frequency]), frequency)
                       for n in range(len(counts))],
            "counts": counts, "expected": _decode(parts.get("expected")), "upper": _decode(parts.get("upper")),
            "alarms": [bool(v) for v in _decode(parts.get("alarms"))]}


def _value(resource: dict[str, Any], url: str) -> Any:
    found = extension(resource, url) or {}
    return next((v for k, v in found.items() if k.startswith("value")), None)


def read_signal(resource: dict[str, Any], version: int) -> Signal:
    """A signal from its DetectedIssue."""
    series = _part_values(extension(resource, SERIES))
    key = SeriesKey(*(str(series.get(n) or "") for n in ("kind", "subject", "place", "basis", "frequency")))
    period = _value(resource, PERIOD) or {}
    translated = ((resource.get("_detail") or {}).get("extension") or [{}])[0]
    zh = _part_values(translated).get("content") or ""
    evidence = [d.get("reference") for e in resource.get("evidence") or [] for d in e.get("detail") or []]
    outbreak = _value(resource, OUTBREAK) or {}
    return Signal(
        id=str(resource.get("id", "")), version=version, key=key, method=str(_value(resource, METHOD) or ""),
        period_start=date.fromisoformat(period.get("start") or "2000-01-01"),
        period_end=date.fromisoformat(period.get("end") or period.get("start") or "2000-01-01"),
        observed=int(_value(resource, OBSERVED) or 0), expected=_value(resource, EXPECTED),
        upper=_value(resource, UPPER), score=_value(resource, SCORE),
        state=str(_value(resource, STATE) or "new"), identified=str(resource.get("identifiedDateTime") or ""),
        reason_en=str(resource.get("detail") or ""), reason_zh=str(zh), run=next(iter(evidence), None),
        outbreak=outbreak.get("reference"), triage={k: str(v) for k, v in _part_values(extension(resource, TRIAGE))
                                                    .items()},
        chart=chart_of(resource, key.frequency if key.frequency in PERIOD_DAYS else "daily"))


def _search(conn: Connection, params: list[tuple[str, str]]) -> list[Signal]:
    codes = ",".join(f"{SYSTEM_URL}|{code}" for code in KIND_CODE.values())
    result = search_as_platform(conn, "DetectedIssue", [("code", codes), *params, ("_sort", "-identified")],
                                count=MAX_LISTED)
    return [read_signal(found.resource, found.version) for found in result.matches]


def standing(conn: Connection) -> list[Signal]:
    """The signals a new alarm may be covered by: every new one, and every one identified in the last RECENT."""
    since = clock.format_instant(clock.now() - RECENT)
    found = {s.id: s for s in _search(conn, [("status", STATUS_OF["new"])])}
    found.update({s.id: s for s in _search(conn, [("identified", f"ge{since}")])})
    return list(found.values())


def covered(alarm: Alarm, signals: list[Signal], *, hold: int, open_series: set[str]) -> bool:
    """Whether a signal already stands for this alarm: its series has an open outbreak; or a signal of the same
    series and method is new, is for this period or a later one, or was triaged for a period less than hold periods
    before (the officers have just looked at it)."""
    if alarm.key.text in open_series:
        return True
    step = PERIOD_DAYS[alarm.key.frequency]
    for signal in signals:
        if signal.key != alarm.key or signal.method != alarm.method:
            continue
        if signal.state == "new" or signal.period_start >= alarm.period_start:
            return True
        if (alarm.period_start - signal.period_start).days < hold * step:
            return True
    return False


def _audited(conn: Connection, ctx: AccessContext, action: str, subtype: str, entity: str, description: str) -> None:
    audit.record(conn, ctx=ctx, action=action, subtype=subtype, purpose=PURPOSE, entities=[entity],
                 description=description)


def listed(conn: Connection, *, ctx: AccessContext, state: str | None = None, kind: str | None = None) -> list[Signal]:
    """The newest signals (at most MAX_LISTED), of one state and kind when given; audited."""
    decide_dataset(ctx, CASE_REPORTS)
    params = [("status", STATUS_OF[state])] if state in STATUS_OF else []
    found = [s for s in _search(conn, params) if kind is None or s.key.kind == kind]
    _audited(conn, ctx, "R", "search", "DetectedIssue?code=surveillance-signal", "outbreak signals listed")
    return found


def stored_signal(conn: Connection, signal_id: str) -> store.Stored:
    """A signal's stored DetectedIssue (not audited); SignalNotFound for anything that is not a signal."""
    try:
        found = store.read(conn, SYSTEM, res_type="DetectedIssue", res_id=signal_id[:64])
    except FhirError:
        raise SignalNotFound(NO_SUCH_SIGNAL, id=signal_id[:64]) from None
    codes = {c.get("code") for c in (found.resource.get("code") or {}).get("coding") or []
             if c.get("system") == SYSTEM_URL}
    if not codes & set(KIND_CODE.values()):
        raise SignalNotFound(NO_SUCH_SIGNAL, id=signal_id[:64])
    return found


def get(conn: Connection, *, ctx: AccessContext, signal_id: str) -> Signal:
    """One signal; audited. SignalNotFound for anything that is not a signal."""
    decide_dataset(ctx, CASE_REPORTS)
    found = stored_signal(conn, signal_id)
    _audited(conn, ctx, "R", "read", found.reference, "outbreak signal opened")
    return read_signal(found.resource, found.version)


def checked_text(text: str, *, field: str, limit: int, required: str | None = None) -> str:
    """Typed text trimmed and checked (length, control characters, required); SignalRefused naming field."""
    value = text.replace("\r\n", "\n").strip()
    if len(value) > limit:
        raise SignalRefused(TOO_LONG, field=field, max=limit)
    if any((ord(c) < 32 or 127 <= ord(c) < 160) and c not in "\n\t" for c in value):
        raise SignalRefused(CONTROL, field=field)
    if required and not value:
        raise SignalRefused(required, field=field)
    return value


def triage(conn: Connection, *, ctx: AccessContext, signal_id: str, act: str, version: int,
           reason: str = "") -> Signal:
    """Verify or discard (with a reason) the version of a new signal the officer saw; audited.

    Raises SignalRefused (bad act or text), SignalNotFound, SignalConflict (triaged or changed meanwhile).
    """
    decide_dataset(ctx, CASE_REPORTS)
    if act not in ACTS:
        raise SignalRefused(UNKNOWN_ACT, field="act")
    why = checked_text(reason, field="reason", limit=MAX_REASON,
                       required=REASON_NEEDED if act == "discard" else None)
    found = stored_signal(conn, signal_id)
    if found.version != version:
        raise SignalConflict(STALE)
    resource = copy.deepcopy(found.resource)
    if _value(resource, STATE) != "new":
        raise SignalConflict(NOT_NEW)
    state = ACTS[act]
    set_extension(resource, STATE, {"valueCode": state})
    set_extension(resource, TRIAGE, _parts({"act": {"valueCode": act}, "by": {"valueString": ctx.name[:200]},
                                            "at": {"valueDateTime": clock.format_instant(clock.now())},
                                            **({"text": {"valueString": why}} if why else {})}))
    resource["status"] = STATUS_OF[state]
    try:
        saved = store.update(conn, SYSTEM, resource, res_type="DetectedIssue", res_id=found.res_id, if_match=version)
    except PreconditionFailed:
        raise SignalConflict(STALE) from None
    _audited(conn, ctx, "U", "update", saved.reference, f"outbreak signal {state}")
    return read_signal(saved.resource, saved.version)


def parse_series(text: str) -> dict[str, int]:
    """The other signals a form triages with its own, written "id:version,id:version"; SignalRefused when garbled."""
    items = [item for item in text.split(",") if item.strip()][: MAX_SERIES + 1]
    found = [_SERIES_ITEM.fullmatch(item.strip()) for item in items]
    if len(items) > MAX_SERIES or not all(found):
        raise SignalRefused(NOT_OF_SERIES)
    return {m.group(1): int(m.group(2)) for m in found if m}


def triage_series(conn: Connection, *, ctx: AccessContext, signal_id: str, act: str, version: int, reason: str = "",
                  others: dict[str, int] | None = None) -> list[Signal]:
    """Triage a signal and, with the same act and reason, the other new signals of its series the officer saw (each
    at the version shown); all or none, in the caller's transaction. Raises as `triage` does, and SignalRefused
    when one of the others is not a new signal of the same series."""
    done = [triage(conn, ctx=ctx, signal_id=signal_id, act=act, version=version, reason=reason)]
    if not others:
        return done
    same = {s.id: s for s in series_signals(conn, done[0])}
    for other, seen in sorted(others.items()):
        if other not in same or same[other].state != "new":
            raise SignalRefused(NOT_OF_SERIES)
        done.append(triage(conn, ctx=ctx, signal_id=other, act=act, version=seen, reason=reason))
    return done


def series_signals(conn: Connection, signal: Signal) -> list[Signal]:
    """The other signals of the same series (any method), newest first (not audited: the caller read the signal)."""
    return [s for s in _search(conn, []) if s.key == signal.key and s.id != signal.id]


def new_signals(conn: Connection, alarms: list[tuple[Alarm, int]], *, run: str, open_series: set[str]) -> list[dict]:
    """The DetectedIssues to write for a run's alarms (each with its series' hold): for each series and method the
    latest alarm, unless a signal already stands for it (`covered`)."""
    latest: dict[tuple[SeriesKey, str], tuple[Alarm, int]] = {}
    for alarm, hold in alarms:
        kept = latest.get((alarm.key, alarm.method))
        if kept is None or kept[0].period_start < alarm.period_start:
            latest[(alarm.key, alarm.method)] = (alarm, hold)
    existing = standing(conn) if latest else []
    raised = [to_resource(alarm, run=run) for alarm, hold in latest.values()
              if not covered(alarm, existing, hold=hold, open_series=open_series)]
    stored = _stored_ids(conn, [signal_id(r) for r in raised])
    return [r for r in raised if signal_id(r) not in stored]


def _stored_ids(conn: Connection, ids: list[str]) -> set[str]:
    """Which of these signal ids are stored already (a signal for the same alarm, older than `standing` reads)."""
    found: set[str] = set()
    for start in range(0, len(ids), 20):  # 20 ids keep the search value well inside the store's 1024 characters
        chunk = ids[start:start + 20]
        result = search_as_platform(conn, "DetectedIssue", [("_id", ",".join(chunk))], count=len(chunk))
        found |= {f.res_id for f in result.matches}
    return found


def tell_officers(conn: Connection, raised: list[dict[str, Any]]) -> int:
    """Tell every public-health officer of the signals a run raised, in their language: a notice per signal, or one
    for all when more than SUMMARY_OVER came at once (signals hold no personal data); how many notices were sent."""
    found = [read_signal(resource, 1) for resource in raised]
    sent = 0
    for account in users.list_users(conn, role="public_health_officer") if found else []:
        if account.locked:
            continue
        t = i18n.translations(account.locale)
        if len(found) > SUMMARY_OVER:
            notify(conn, user_id=account.id, kind=SIGNAL_KIND.name, title=t.gettext(MANY_TITLE) % {
                "count": len(found)}, body=t.gettext(MANY_BODY), link=LINK + "?state=new")
            sent += 1
            continue
        for signal in found:
            title = SYNDROMIC_TITLE if signal.key.kind == "syndrome" else DISEASE_TITLE
            notify(conn, user_id=account.id, kind=SIGNAL_KIND.name, title=t.gettext(title),
                   body=signal.reason(account.locale)[:2000], link=f"{LINK}/{signal.id}",
                   data={"signal": f"DetectedIssue/{signal.id}"})
            sent += 1
    return sent
