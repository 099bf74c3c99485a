"""The ward board: every bed of a ward with its patient, stay, latest NEWS2 and whether observations are overdue.

What a bed shows about its patient is what the access policy lets the reader see: a bed held by a
patient outside the reader's reach shows as occupied, without a name.
"""

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from smartcare.fhir import gateway
from smartcare.fhir.errors import FhirError
from smartcare.hospital.wards import admissions, beds, codes, vitals
from smartcare.knowledge.scores import news2
from smartcare.platform import clock
from smartcare.platform.security.context import AccessContext
from smartcare.platform.web import fhir_text

# Children have no NEWS2 here (it is not validated under 16): their chart is flagged after 12 hours, as a zero score.
CHILD_MINUTES = 12 * 60


@dataclass(frozen=True, slots=True)
class BedRow:
    """One bed on the board, with its stay when there is one the reader may see."""

    bed_id: str
    bed: str
    room: str
    status: str
    encounter_id: str | None = None
    patient_id: str | None = None
    patient: str = ""
    age: int | None = None
    sex: str = ""
    days: int | None = None
    attending: str = ""
    news2: int | None = None
    band: str = ""
    scored: str = ""
    charted: str = ""
    overdue: bool = False
    adult: bool = True


def age_on(birth_date: str | None, today: date) -> int | None:
    """Whole years from a FHIR birthDate (YYYY, YYYY-MM or YYYY-MM-DD) to today; None when unknown."""
    if not birth_date or len(birth_date) < 4 or not birth_date[:4].isdigit():
        return None
    parts = [int(p) for p in birth_date.split("-") if p.isdigit()]
    born = date(parts[0], parts[1] if len(parts) > 1 else 1, parts[2] if len(parts) > 2 else 1)
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def is_adult(patient: dict[str, Any], today: date) -> bool:
    """True when NEWS2 applies by age (16 or over; an unknown age counts as adult)."""
    age = age_on(patient.get("birthDate"), today)
    return age is None or age >= news2.ADULT_AGE


def _moment(text: str | None) -> datetime | None:
    try:
        return clock.parse_instant(text) if text else None
    except ValueError:
        return None


def _names(ctx: AccessContext, references: set[str]) -> dict[str, str]:
    names = {}
    for reference in sorted(references):
        try:
            names[reference] = fhir_text.person_name(gateway.read(ctx, reference))
        except FhirError:
            names[reference] = ""
    return names


def _attending(encounter: dict[str, Any]) -> str:
    for participant in encounter.get("participant", []):
        if any(codes.coding_of(t, codes.PARTICIPATION) == codes.ATTENDER for t in participant.get("type", [])):
            return (participant.get("individual") or {}).get("reference", "")
    return ""


def _overdue(minutes: int | None, charted: datetime | None, now: datetime) -> bool:
    if charted is None:
        return True
    return minutes is not None and (now - charted).total_seconds() > minutes * 60


def rows(ctx: AccessContext, layout: list[beds.Room]) -> list[BedRow]:
    """The board's rows for a ward laid out as rooms and beds."""
    bed_refs = [f"Location/{b['id']}" for room in layout for b in room.beds]
    stays = admissions.current_stays(ctx, bed_refs)
    encounter_ids = [e["id"] for e in stays.values()]
    scores = vitals.latest_scores(ctx, encounter_ids)
    charted = vitals.latest_charted(ctx, encounter_ids)
    patients = {}
    for encounter in stays.values():
        reference = encounter["subject"]["reference"]
        try:
            patients[reference] = gateway.read(ctx, reference)
        except FhirError:
            patients[reference] = {}
    doctors = _names(ctx, {_attending(e) for e in stays.values()} - {""})
    now = clock.now()
    today = now.date()
    shown = []
    for room in layout:
        room_name = room.location.get("name", "")
        for bed in room.beds:
            row = BedRow(bed_id=bed["id"], bed=bed.get("name", ""), room=room_name, status=beds.status_of(bed))
            encounter = stays.get(f"Location/{bed['id']}")
            if encounter is not None:
                row = _with_stay(row, encounter, patients.get(encounter["subject"]["reference"], {}),
                                 doctors.get(_attending(encounter), ""), scores.get(encounter["id"]),
                                 charted.get(encounter["id"]), now, today)
            shown.append(row)
    return shown


def _with_stay(row: BedRow, encounter: dict[str, Any], patient: dict[str, Any], attending: str,
               score: dict[str, Any] | None, charted_at: str | None, now: datetime, today: date) -> BedRow:
    started = _moment((encounter.get("period") or {}).get("start"))
    adult = is_adult(patient, today)
    total = score.get("valueInteger") if score else None
    band, minutes = "", None
    if score is not None and isinstance(total, int):
        red = any(c.get("valueInteger") == 3 for c in score.get("component", [])
                  if codes.coding_of(c.get("code"), codes.WARD_OBSERVATION) != "news2-spo2-scale")
        band, minutes = news2.band_of(total, red=red)
    last = _moment(charted_at)
    return BedRow(
        bed_id=row.bed_id, bed=row.bed, room=row.room, status=row.status, encounter_id=encounter["id"],
        patient_id=patient.get("id"), patient=fhir_text.person_name(patient) if patient else "",
        age=age_on(patient.get("birthDate"), today), sex=patient.get("gender", ""),
        days=(today - started.date()).days if started else None, attending=attending,
        news2=total if isinstance(total, int) else None, band=band,
        scored=(score or {}).get("effectiveDateTime", ""), charted=charted_at or "",
        overdue=_overdue(minutes if adult else CHILD_MINUTES, last, now), adult=adult,
    )
