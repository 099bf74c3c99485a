"""Bedside monitors on the wards: their readings charted into the stay, NEWS2 scored on each complete set, escalated.

A bedside monitor is a Device of kind bedside-monitor whose `location` is a bed; whoever is admitted to the bed
is its `patient` until they leave it (follow_stay, called by admission, transfer and discharge). When the
devices module has stored a monitor's frame ("ReadingsStored", after its commit), the frame's Observations are
linked to the patient's current stay, so they show in the stay's trend and on the ward board. When the monitor's
readings of the last few minutes make a complete set and the nurse charted consciousness (ACVPU) and air or
oxygen within 12 hours, the set is scored with NEWS2 and written as vitals.news2_observation writes a charted
set's score; without that charting there is no score (a monitor cannot see confusion or an oxygen mask). Scores
at the RCP's urgent or emergency thresholds notify the ward's nurses and the attending doctor, once per rise of
the band and again after the band's monitoring interval, each notice recorded as a Communication of the stay.
"""

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import yaml
from sqlalchemy.engine import Connection

from smartcare.family.devices import equipment, registry
from smartcare.fhir import gateway, store
from smartcare.fhir.errors import FhirError
from smartcare.fhir.http import FhirRequest
from smartcare.hospital.wards import admissions, beds, board, codes, vitals
from smartcare.hospital.wards.errors import WardRefused
from smartcare.knowledge.scores import news2
from smartcare.platform import audit, clock, events, i18n
from smartcare.platform.db import unit_of_work
from smartcare.platform.i18n import _
from smartcare.platform.jobs import Job, enqueue, handler
from smartcare.platform.notifications import notify
from smartcare.platform.security.context import AccessContext
from smartcare.platform.security.tables import user_account
from smartcare.platform.web import fhir_text

log = logging.getLogger(__name__)

READINGS_STORED = "ReadingsStored"
CHART_JOB = "wards.chart_monitor_frame"
NOTICE_KIND = "ward-news2"
SCORE_SID = "https://smartcare.example/fhir/sid/ward-monitor-news2"
ESCALATION = "news2-escalation"
# The platform itself links and scores a monitor's readings (the monitor may only create Observations); history
# and audit name it apart from the loaders and jobs.
MONITORS = AccessContext(kind="system", name="ward-monitors", roles=frozenset({"system"}))
_PARAMETER_LABELS = {
    "respiratory_rate": _("Respiratory rate"), "spo2": _("SpO2"), "air_or_oxygen": _("Air or oxygen"),
    "systolic_bp": _("Systolic blood pressure"), "pulse": _("Heart rate"), "consciousness": _("Consciousness"),
    "temperature": _("Temperature"),
}
_BAND_LABELS = {"zero": _("Low risk"), "low": _("Low risk"), "low-medium": _("Low–medium risk: a single 3"),
                "medium": _("Medium risk"), "high": _("High risk")}
URGENT_TITLE = _("Urgent response: NEWS2 {total} for {patient}, {bed}")
EMERGENCY_TITLE = _("EMERGENCY response: NEWS2 {total} for {patient}, {bed}")
NOTICE_BODY = _("NEWS2 {total} ({band}) from the bedside monitor {source} at {time}. Scored: {parameters}.")
URGENT_ACTION = _("Assess the patient urgently and decide whether care must be escalated.")
EMERGENCY_ACTION = _("Emergency assessment by a team with critical care skills; consider a higher level of care.")
NEEDS_CHARTING = _("needs consciousness and oxygen charted")


@cache
def settings() -> dict[str, Any]:
    """Set window, charting age and escalation by band (data/bedside_monitors.yaml)."""
    return yaml.safe_load((Path(__file__).parent / "data" / "bedside_monitors.yaml").read_text(encoding="utf-8"))


@dataclass(frozen=True, slots=True)
class Charted:
    """What became of a monitor frame on the ward: linked to a stay, scored, or waiting for the nurse's charting."""

    encounter_id: str | None
    status: str  # not-a-ward-monitor, no-stay, incomplete, needs-charting, child, scored, already-scored
    score: news2.Score | None = None
    notified: int = 0


# --- following the patient in the bed ------------------------------------------------------------------------


def follow_stay(ctx: AccessContext, *, left: str | None, taken: str | None, patient: str) -> None:
    """The bedside monitors of the bed left (a "Location/<id>") stop being the patient's, those of the bed taken
    start: called by the ward flow after admission, transfer and discharge."""
    with unit_of_work() as conn:
        if left:
            for device_id in equipment.devices_at(conn, location=left):
                if _device_patient(conn, device_id) == patient:
                    equipment.assign_patient(conn, ctx=ctx, device_id=device_id, patient=None)
        if taken:
            for device_id in equipment.devices_at(conn, location=taken):
                equipment.assign_patient(conn, ctx=ctx, device_id=device_id, patient=patient)


def _device_patient(conn: Connection, device_id: str) -> str | None:
    device = store.read(conn, MONITORS, res_type="Device", res_id=device_id).resource
    return (device.get("patient") or {}).get("reference")


def connect(ctx: AccessContext, *, hospital: str, device_id: str, bed_id: str) -> None:
    """Connect a bedside monitor of the hospital to a bed: it is placed there and follows the bed's patient."""
    if equipment.kind_of(device_id) != equipment.BEDSIDE_MONITOR:
        raise registry.DeviceNotFound("There is no such bedside monitor")
    spot = beds.place(ctx, hospital=hospital, bed_id=bed_id)
    held = admissions.current_stays(ctx, [f"Location/{spot.bed['id']}"]).get(f"Location/{spot.bed['id']}")
    with unit_of_work() as conn:
        equipment.place_device(conn, ctx=ctx, device_id=device_id, location=f"Location/{spot.bed['id']}",
                               organization=hospital)
        equipment.assign_patient(conn, ctx=ctx, device_id=device_id,
                                 patient=held["subject"]["reference"] if held else None)


def disconnect(ctx: AccessContext, *, hospital: str, device_id: str) -> None:
    """Take a monitor away from its bed: it is nobody's until connected again."""
    with unit_of_work() as conn:
        equipment.place_device(conn, ctx=ctx, device_id=device_id, location=None, organization=hospital)
        equipment.assign_patient(conn, ctx=ctx, device_id=device_id, patient=None)


# --- a stored frame ------------------------------------------------------------------------------------------


def chart_frame(*, device: str, patient: str, observations: list[str]) -> Charted:
    """Link a monitor frame's Observations to the patient's stay in the monitor's bed, score a complete set with
    NEWS2 and escalate it; safe to run twice for the same frame."""
    if equipment.kind_of(device.removeprefix("Device/")) != equipment.BEDSIDE_MONITOR:
        return Charted(None, "not-a-ward-monitor")
    try:
        monitor = gateway.read(MONITORS, device)
    except FhirError:
        return Charted(None, "not-a-ward-monitor")
    bed = (monitor.get("location") or {}).get("reference")
    if not bed:
        return Charted(None, "not-a-ward-monitor")
    encounter = admissions.current_stays(MONITORS, [bed]).get(bed)
    if encounter is None or encounter["subject"]["reference"] != patient:
        return Charted(None, "no-stay")
    _link(encounter, observations)
    found = _complete_set(encounter, device, observations)
    if found is None:
        return Charted(encounter["id"], "incomplete")
    readings, when = found
    charting = _charting(encounter, when)
    if charting is None:
        return Charted(encounter["id"], "needs-charting")
    if not board.is_adult(gateway.read(MONITORS, patient), clock.now().date()):
        return Charted(encounter["id"], "child")
    scored = _score(encounter, monitor, readings, charting, when)
    if scored is None:
        return Charted(encounter["id"], "already-scored")
    score, news_id = scored
    sent = escalate(encounter, monitor, score, news_id, when, bed)
    return Charted(encounter["id"], "scored", score, sent)


def _link(encounter: dict[str, Any], observations: list[str]) -> None:
    """Put the frame's Observations in the stay (a new version of each, written by the platform)."""
    stay = f"Encounter/{encounter['id']}"
    with unit_of_work() as conn:
        writes = []
        for reference in observations:
            res_type, _slash, res_id = reference.partition("/")
            if res_type != "Observation" or not beds.valid_id(res_id):
                continue
            try:
                current = store.read(conn, MONITORS, res_type="Observation", res_id=res_id)
            except FhirError:
                continue
            resource = dict(current.resource)
            if (resource.get("encounter") or {}).get("reference") == stay:
                continue
            if (resource.get("subject") or {}).get("reference") != encounter["subject"]["reference"]:
                continue
            resource["encounter"] = {"reference": stay}
            # Profile, tags (a corrected device clock) and source stay as the device wrote them.
            resource["meta"] = {k: v for k, v in (resource.get("meta") or {}).items()
                                if k not in ("versionId", "lastUpdated")}
            writes.append(store.Write("PUT", "Observation", res_id, resource, current.version))
        if writes:
            store.write_batch(conn, MONITORS, writes)
            audit.record(conn, ctx=MONITORS, action="U", subtype="update",
                         entities=[f"Observation/{w.res_id}" for w in writes],
                         patient=encounter["subject"]["reference"])


def _loinc_keys() -> dict[str, str]:
    return {spec["loinc"]: key for key, spec in vitals.definitions()["vitals"].items()}


def _readings_of(found: list[dict[str, Any]]) -> dict[str, tuple[str, float, str, float | None]]:
    """The newest value of each charted vital among Observations: key -> (time, value, reference, diastolic)."""
    by_loinc = _loinc_keys()
    panel = vitals.definitions()["blood_pressure_panel"]["loinc"]
    newest: dict[str, tuple[str, float, str, float | None]] = {}
    for observation in found:
        when = observation.get("effectiveDateTime", "")
        reference = f"Observation/{observation['id']}"
        loinc = codes.coding_of(observation.get("code"), codes.LOINC)
        if loinc == panel:
            parts = {codes.coding_of(c.get("code"), codes.LOINC): (c.get("valueQuantity") or {}).get("value")
                     for c in observation.get("component", [])}
            systolic = parts.get(vitals.definitions()["vitals"]["systolic"]["loinc"])
            diastolic = parts.get(vitals.definitions()["vitals"]["diastolic"]["loinc"])
            if isinstance(systolic, int | float) and when > newest.get("systolic", ("",))[0]:
                newest["systolic"] = (when, systolic, reference, diastolic)
        elif loinc in by_loinc:
            value = (observation.get("valueQuantity") or {}).get("value")
            if isinstance(value, int | float) and when > newest.get(by_loinc[loinc], ("",))[0]:
                newest[by_loinc[loinc]] = (when, value, reference, None)
    return newest


def _complete_set(encounter: dict[str, Any], device: str,
                  observations: list[str]) -> tuple[dict[str, tuple[str, float, str, float | None]], str] | None:
    """The monitor's newest reading of each NEWS2 vital within the set window ending at this frame, and the time
    of the newest; None when one is missing."""
    frame = [o for o in gateway.search(MONITORS, "Observation", [
        ("_id", ",".join(r.removeprefix("Observation/") for r in observations[:100]))])]
    times = [o.get("effectiveDateTime", "") for o in frame if o.get("effectiveDateTime")]
    if not times:
        return None
    end = max(times, key=clock.parse_instant)
    start = clock.parse_instant(end) - timedelta(minutes=settings()["set_minutes"])
    found = gateway.search(MONITORS, "Observation", [
        ("encounter", f"Encounter/{encounter['id']}"), ("device", device),
        ("date", f"ge{clock.format_instant(start)}"), ("date", f"le{clock.format_instant(clock.parse_instant(end))}"),
        ("_count", "200")])
    newest = _readings_of(found)
    if any(key not in newest for key in settings()["set_readings"]):
        return None
    return newest, end


def _charting(encounter: dict[str, Any], when: str) -> dict[str, dict[str, Any]] | None:
    """The nurse's latest ACVPU and air-or-oxygen Observations of the stay, both charted within the hours allowed
    before when; None when either is missing or older."""
    since = clock.parse_instant(when) - timedelta(hours=settings()["charted_hours"])
    latest = {}
    for code in ("acvpu", "air-or-oxygen"):
        found = gateway.search(MONITORS, "Observation", [
            ("encounter", f"Encounter/{encounter['id']}"), ("code", f"{codes.WARD_OBSERVATION}|{code}"),
            ("_sort", "-date"), ("_count", "1")])
        charted = found[0] if found else None
        if charted is None or clock.parse_instant(charted.get("effectiveDateTime", "1970-01-01T00:00:00Z")) < since:
            return None
        latest[code] = charted
    return latest


def _spo2_scale(encounter: dict[str, Any]) -> int:
    """The SpO2 scale the nurse last charted for the stay (scale 2 is prescribed for hypercapnic patients)."""
    found = gateway.search(MONITORS, "Observation", [
        ("encounter", f"Encounter/{encounter['id']}"), ("code", f"{codes.WARD_OBSERVATION}|{vitals.NEWS2_TOTAL}"),
        ("performer:missing", "false"), ("_sort", "-date"), ("_count", "1")])
    for component in (found[0] if found else {}).get("component", []):
        if codes.coding_of(component.get("code"), codes.WARD_OBSERVATION) == "news2-spo2-scale":
            return 2 if component.get("valueInteger") == 2 else 1
    return 1


def _score(encounter: dict[str, Any], monitor: dict[str, Any], newest: dict[str, tuple[str, float, str, float | None]],
           charting: dict[str, dict[str, Any]], when: str) -> tuple[news2.Score, str] | None:
    """Write the set's NEWS2 Observation; None when this very set was scored before."""
    acvpu = codes.coding_of(charting["acvpu"].get("valueCodeableConcept"), codes.ACVPU) or "A"
    oxygen = codes.coding_of(charting["air-or-oxygen"].get("valueCodeableConcept"), codes.WARD_OBSERVATION)
    systolic = newest["systolic"]
    readings = vitals.Readings(
        systolic=round(systolic[1]), diastolic=round(systolic[3] or 0), pulse=round(newest["pulse"][1]),
        respiratory_rate=round(newest["respiratory_rate"][1]), temperature=float(newest["temperature"][1]),
        spo2=round(newest["spo2"][1]), spo2_scale=_spo2_scale(encounter), on_oxygen=oxygen == "oxygen",
        consciousness=acvpu if acvpu in news2.CONSCIOUSNESS else "A")
    derived = [*sorted({entry[2] for entry in newest.values()}),
               *(f"Observation/{charting[c]['id']}" for c in ("acvpu", "air-or-oxygen"))]
    key = hashlib.sha256("|".join([monitor["id"], *derived]).encode()).hexdigest()[:32]
    base = {"subject": encounter["subject"], "encounter": {"reference": f"Encounter/{encounter['id']}"},
            "effectiveDateTime": when}
    observation = vitals.news2_observation(readings, base, derived)
    observation["identifier"] = [{"system": SCORE_SID, "value": key}]
    observation["note"] = [*observation.get("note", []),
                           {"text": f"Scored from the readings of bedside monitor Device/{monitor['id']} with the "
                                    "consciousness and air or oxygen last charted by the nurse."}]
    with unit_of_work() as conn:
        bundle = gateway.serve_within(conn, MONITORS, FhirRequest(method="GET", path="Observation", query=[
            ("identifier", f"{SCORE_SID}|{key}"), ("_count", "1")])).body or {}
        if any(e.get("resource", {}).get("resourceType") == "Observation" for e in bundle.get("entry", [])):
            return None
        news_id = store.new_id()
        store.write_batch(conn, MONITORS, [store.Write("POST", "Observation", news_id, observation)])
        audit.record(conn, ctx=MONITORS, action="C", subtype="create", entities=[f"Observation/{news_id}"],
                     patient=encounter["subject"]["reference"])
    return news2.score(readings.vital_set()), news_id


# --- escalation ----------------------------------------------------------------------------------------------


def _rank(band: str) -> int:
    order = settings()["band_order"]
    return order.index(band) if band in order else -1


def _last_notice(conn: Connection, encounter_id: str) -> dict[str, Any] | None:
    bundle = gateway.serve_within(conn, MONITORS, FhirRequest(method="GET", path="Communication", query=[
        ("encounter", f"Encounter/{encounter_id}"), ("category", f"{codes.WARD_OBSERVATION}|{ESCALATION}"),
        ("_sort", "-sent"), ("_count", "1")])).body or {}
    found = [e["resource"] for e in bundle.get("entry", []) if e.get("resource", {}).get("resourceType")
             == "Communication"]
    return found[0] if found else None


def due_notice(score: news2.Score, last: dict[str, Any] | None, now: datetime) -> bool:
    """True when a score must be escalated now: its band rose above the one last escalated, or the band's
    monitoring interval has passed since the last notice."""
    if last is None:
        return True
    last_band = codes.coding_of((last.get("reasonCode") or [{}])[0], codes.NEWS2_BAND) or ""
    if _rank(score.band) > _rank(last_band):
        return True
    sent = clock.parse_instant(last.get("sent", "1970-01-01T00:00:00Z"))
    return now - sent >= timedelta(minutes=score.minutes)


def _recipients(encounter: dict[str, Any], ward: dict[str, Any] | None, tell: list[str]) -> list[str]:
    """The Practitioners to tell: the nurses of the bed's ward and the stay's attending doctor."""
    wanted: set[str] = set()
    if "nurses" in tell and ward is not None:
        wanted.update(beds.ward_team(MONITORS, ward, roles="nurse"))
    if "attending" in tell:
        attending = board._attending(encounter)
        if attending:
            wanted.add(attending)
    return sorted(wanted)


def _parameters(score: news2.Score, locale: str) -> str:
    scored = [f"{i18n.translations(locale).gettext(_PARAMETER_LABELS[k])} {p}" for k, p in score.points.items() if p]
    return ", ".join(scored) or "-"


def _say(locale: str, message: str, **values: Any) -> str:
    text = i18n.translations(locale).gettext(message)
    return text.format(**values) if values else text


def escalate(encounter: dict[str, Any], monitor: dict[str, Any], score: news2.Score, news_id: str, when: str,
             bed: str) -> int:
    """Tell the ward's nurses and the attending doctor of a score at an urgent or emergency threshold (once per
    rise of the band, again after its monitoring interval); returns how many people were told."""
    rule = settings()["escalation"].get(score.band)
    if rule is None:
        return 0
    hospital = (encounter.get("serviceProvider") or {}).get("reference", "")
    try:
        spot: beds.BedPlace | None = beds.place(MONITORS, hospital=hospital, bed_id=bed.removeprefix("Location/"))
    except WardRefused:
        log.warning("the ward of %s could not be found; NEWS2 is escalated to the attending doctor only", bed)
        spot = None
    recipients = _recipients(encounter, spot.ward if spot else None, rule["tell"])
    patient = gateway.read(MONITORS, encounter["subject"]["reference"])
    place = spot.bed if spot else gateway.read(MONITORS, bed)
    link = f"/workstation/wards/{spot.ward['id']}/beds/{spot.bed['id']}" if spot else "/workstation/wards"
    source = " ".join(p for p in (monitor.get("modelNumber", ""), monitor.get("serialNumber", "")) if p) or \
        f"Device/{monitor['id']}"
    now = clock.now()
    with unit_of_work() as conn:
        if not due_notice(score, _last_notice(conn, encounter["id"]), now):
            return 0
        people = conn.execute(sa.select(user_account.c.id, user_account.c.locale).where(
            user_account.c.fhir_ref.in_(recipients))).all() if recipients else []
        emergency = rule["response"] == "emergency"
        for person in people:
            values = {"total": score.total, "patient": fhir_text.person_name(patient), "bed": place.get("name", ""),
                      "band": _say(person.locale, _BAND_LABELS[score.band]), "source": source,
                      "time": when, "parameters": _parameters(score, person.locale)}
            title = _say(person.locale, EMERGENCY_TITLE if emergency else URGENT_TITLE, **values)
            body = " ".join([_say(person.locale, NOTICE_BODY, **values),
                             _say(person.locale, EMERGENCY_ACTION if emergency else URGENT_ACTION)])
            notify(conn, user_id=person.id, kind=NOTICE_KIND, title=title[:200], body=body,
                   link=link,
                   data={"news2": score.total, "band": score.band, "response": rule["response"],
                         "observation": f"Observation/{news_id}", "device": f"Device/{monitor['id']}"})
        _record_notice(conn, encounter, score, rule["response"], news_id, monitor, recipients, now)
    return len(people)


def _record_notice(conn: Connection, encounter: dict[str, Any], score: news2.Score, response: str, news_id: str,
                   monitor: dict[str, Any], recipients: list[str], now: datetime) -> None:
    """Keep the escalation in the record: a Communication of the stay about the NEWS2 Observation."""
    parameters = ", ".join(f"{k.replace('_', ' ')} {p}" for k, p in score.points.items() if p)
    communication = {
        "resourceType": "Communication", "status": "completed",
        "category": [{"coding": [{"system": codes.WARD_OBSERVATION, "code": ESCALATION,
                                  "display": "NEWS2 escalation"}]}],
        "priority": "stat" if response == "emergency" else "urgent",
        "subject": encounter["subject"], "encounter": {"reference": f"Encounter/{encounter['id']}"},
        "about": [{"reference": f"Observation/{news_id}"}], "sent": clock.format_instant(now),
        "recipient": [{"reference": r} for r in recipients],
        "sender": {"reference": f"Device/{monitor['id']}"},
        "reasonCode": [{"coding": [{"system": codes.NEWS2_BAND, "code": score.band}], "text": response}],
        "payload": [{"contentString": f"NEWS2 {score.total} ({score.band}, {response} response) from bedside "
                                      f"monitor Device/{monitor['id']}; scored: {parameters}."}],
    }
    comm_id = store.new_id()
    store.write_batch(conn, MONITORS, [store.Write("POST", "Communication", comm_id, communication)])
    audit.record(conn, ctx=MONITORS, action="C", subtype="create", entities=[f"Communication/{comm_id}"],
                 patient=encounter["subject"]["reference"])


# --- the board -----------------------------------------------------------------------------------------------


def needs_charting(ctx: AccessContext, encounter_ids: list[str]) -> set[str]:
    """The stays whose monitor sent a complete set within the set window but whose nurse has not charted
    consciousness and air or oxygen within 12 hours, so their set has no NEWS2 ("needs consciousness and oxygen
    charted" on the board)."""
    waiting = set()
    since = clock.now() - timedelta(minutes=settings()["set_minutes"])
    for encounter_id in encounter_ids:
        found = gateway.search(ctx, "Observation", [
            ("encounter", f"Encounter/{encounter_id}"), ("device:missing", "false"),
            ("date", f"ge{clock.format_instant(since)}"), ("_count", "200")])
        newest = _readings_of(found)
        if not newest or any(key not in newest for key in settings()["set_readings"]):
            continue
        when = max((v[0] for v in newest.values()), key=clock.parse_instant)
        if _charting({"id": encounter_id}, when) is None:
            waiting.add(encounter_id)
    return waiting


# --- wiring --------------------------------------------------------------------------------------------------


def on_readings_stored(event: events.DomainEvent) -> None:
    """Chart a stored frame into the ward when it came from a bedside monitor; when that fails, a job retries.

    The event says which kind of device sent the frame, so the frames of home devices (nearly all of them) return
    at once, without asking the database."""
    kind = event.payload.get("deviceKind")
    if kind is not None and kind != equipment.BEDSIDE_MONITOR:
        return
    payload = {"device": str(event.payload.get("device", ""))[:80],
               "patient": str(event.payload.get("patient", ""))[:80],
               "observations": [str(o)[:80] for o in event.payload.get("observations", [])][:200]}
    if not payload["device"].startswith("Device/") or not payload["observations"]:
        return
    try:
        chart_frame(**payload)
    except Exception:  # the readings are stored; charting them must still happen, so a job takes it over
        log.exception("charting the readings of %s into the ward failed; a job will retry", payload["device"])
        with unit_of_work() as conn:
            enqueue(conn, kind=CHART_JOB, payload=payload)


@handler(CHART_JOB, in_transaction=False)
def chart_job(_engine: Any, job: Job) -> None:
    """Chart a monitor frame whose charting failed when it was stored."""
    chart_frame(device=job.payload["device"], patient=job.payload["patient"],
                observations=list(job.payload["observations"]))


_installed: list[bool] = []


def install() -> None:
    """Chart bedside monitor readings when they are stored (once per process)."""
    if not _installed:
        events.subscribe(READINGS_STORED, on_readings_stored)
        _installed.append(True)


install()
