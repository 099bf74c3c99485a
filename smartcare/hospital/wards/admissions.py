"""Admitting a patient to a free bed and moving them to another: in-patient Encounters with their bed history.

An admission is an Encounter (class IMP, in-progress) whose location list is the bed history: the bed
now held is `active`, earlier ones `completed` with the time they were left. A CareTeam for the stay
names the attending doctor, whoever admitted the patient and the staff of the ward's department, so the
access policy lets the ward's nurses and doctors reach the patient for as long as the stay lasts. Each
step is one FHIR transaction written as the signed-in clinician: the bed statuses (If-Match), the
Encounter and the CareTeam change together or not at all.
"""

from dataclasses import dataclass
from typing import Any

from smartcare.fhir import gateway
from smartcare.fhir.errors import FhirError, PreconditionFailed
from smartcare.fhir.http import FhirRequest
from smartcare.hospital.wards import beds, codes, monitors
from smartcare.hospital.wards.errors import NOT_FOUND, WardRefused
from smartcare.knowledge.diseases import icd10
from smartcare.platform import clock
from smartcare.platform.i18n import _
from smartcare.platform.security.context import AccessContext

MAX_QUERY = 60
PATIENTS_FOUND = 10
BED_TAKEN = _("Someone else has just changed that bed; look at the board again and choose a free bed.")
CHANGED = _("This stay was changed by someone else at the same time; open it again and repeat.")


@dataclass(frozen=True, slots=True)
class Admission:
    """A current in-patient stay: the Encounter and the bed it holds now."""

    encounter: dict[str, Any]
    bed: str  # "Location/<id>"


def active_bed(encounter: dict[str, Any]) -> str | None:
    """The bed ("Location/<id>") the stay holds now, from its active location entry."""
    for entry in encounter.get("location", []):
        if entry.get("status") == "active":
            return (entry.get("location") or {}).get("reference")
    return None


def is_current_stay(encounter: dict[str, Any]) -> bool:
    """True for an in-patient Encounter that is in progress."""
    return (encounter.get("status") == "in-progress"
            and codes.coding_of(encounter.get("class"), codes.ACT_CODE) == codes.INPATIENT)


def current_stays(ctx: AccessContext, bed_refs: list[str]) -> dict[str, dict[str, Any]]:
    """The in-progress stays the caller may see that hold one of the beds, by bed reference."""
    if not bed_refs:
        return {}
    found = beds.search_any(ctx, "Encounter", "location", bed_refs, [
        ("status", "in-progress"), ("class", f"{codes.ACT_CODE}|{codes.INPATIENT}"), ("_count", str(beds.MAX_BEDS))])
    held = {}
    for encounter in found:
        bed = active_bed(encounter)
        if encounter.get("resourceType") == "Encounter" and bed in bed_refs:
            held[bed] = encounter
    return held


def stay(ctx: AccessContext, *, hospital: str, encounter_id: str) -> dict[str, Any]:
    """A current in-patient stay at the hospital; WardRefused 404 otherwise."""
    if not beds.valid_id(encounter_id):
        raise WardRefused(NOT_FOUND, status=404)
    try:
        encounter = gateway.read(ctx, f"Encounter/{encounter_id}")
    except FhirError:
        raise WardRefused(NOT_FOUND, status=404) from None
    if not is_current_stay(encounter) or (encounter.get("serviceProvider") or {}).get("reference") != hospital:
        raise WardRefused(NOT_FOUND, status=404)
    return encounter


def find_patients(ctx: AccessContext, query: str) -> list[dict[str, Any]]:
    """Patients in the caller's reach whose name or id matches query (at most PATIENTS_FOUND)."""
    query = query.strip()[:MAX_QUERY]
    if not query:
        return []
    found = gateway.search(ctx, "Patient", [("name", query), ("_count", str(PATIENTS_FOUND))])
    if beds.valid_id(query):
        found += gateway.search(ctx, "Patient", [("_id", query)])
        found += gateway.search(ctx, "Patient", [("identifier", query), ("_count", str(PATIENTS_FOUND))])
    unique = {p["id"]: p for p in found if p.get("resourceType") == "Patient"}
    return list(unique.values())[:PATIENTS_FOUND]


def _patient(ctx: AccessContext, patient_id: str) -> dict[str, Any]:
    if not beds.valid_id(patient_id):
        raise WardRefused(_("Choose the patient to admit."), status=400)
    try:
        patient = gateway.read(ctx, f"Patient/{patient_id}")
    except FhirError:
        raise WardRefused(NOT_FOUND, status=404) from None
    if patient.get("deceasedBoolean") is True or "deceasedDateTime" in patient:
        raise WardRefused(_("This patient is recorded as deceased and cannot be admitted."), status=409)
    return patient


def _reason(code: str) -> dict[str, Any]:
    diagnosis = icd10.find(code.strip()) if code and len(code) <= 12 else None
    if diagnosis is None:
        raise WardRefused(_("Give the reason for admission as an ICD-10 code, such as J18.9."), status=400)
    return {"coding": [{"system": codes.ICD10, "code": diagnosis.code, "display": diagnosis.title_en}],
            "text": diagnosis.title_zh or diagnosis.title_en}


def _participant(kind: str, display: str, practitioner: str) -> dict[str, Any]:
    return {"type": [codes.concept(codes.PARTICIPATION, kind, display)], "individual": {"reference": practitioner}}


def _attending(ctx: AccessContext, hospital: str, attending_id: str) -> str:
    if not attending_id and "doctor" in ctx.roles and (ctx.fhir_user or "").startswith("Practitioner/"):
        return ctx.fhir_user or ""
    reference = f"Practitioner/{attending_id}"
    if not beds.valid_id(attending_id) or not beds.is_doctor_of(ctx, reference, hospital):
        raise WardRefused(_("Choose the attending doctor from this hospital's doctors."), status=400)
    return reference


def _team_entry(ctx: AccessContext, *, patient: str, encounter: str, members: list[str], now: str,
                hospital: str) -> dict[str, Any]:
    team = {
        "resourceType": "CareTeam", "status": "active", "name": "Ward care team",
        "subject": {"reference": patient}, "encounter": {"reference": encounter}, "period": {"start": now},
        "participant": [{"member": {"reference": m}} for m in members],
        "managingOrganization": [{"reference": hospital}],
    }
    return {"fullUrl": "urn:uuid:care-team", "resource": team, "request": {"method": "POST", "url": "CareTeam"}}


def run(ctx: AccessContext, entries: list[dict[str, Any]], *, conflict: str = BED_TAKEN) -> dict[str, Any]:
    """Write entries as one transaction as the caller; a version conflict becomes WardRefused(conflict, 409)."""
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": entries}
    try:
        return gateway.serve(ctx, FhirRequest(method="POST", path="", body=bundle)).body or {}
    except PreconditionFailed:
        raise WardRefused(conflict, status=409) from None


def created_id(response: dict[str, Any], index: int) -> str:
    """The id of what entry index of a transaction created."""
    return response["entry"][index]["resource"]["id"]


def admit(ctx: AccessContext, *, hospital: str, ward_id: str, bed_id: str, patient_id: str, reason_code: str,
          admit_source: str, attending_id: str = "") -> str:
    """Admit the patient to the free bed under an attending doctor; returns the new Encounter's id."""
    reason = _reason(reason_code)
    source = codes.choice("admit_sources", admit_source)
    if source is None:
        raise WardRefused(_("Say where the patient is admitted from."), status=400)
    patient = _patient(ctx, patient_id)
    held = gateway.search(ctx, "Encounter", [("subject", f"Patient/{patient['id']}"), ("status", "in-progress"),
                                             ("class", f"{codes.ACT_CODE}|{codes.INPATIENT}"), ("_count", "1")])
    if held:
        raise WardRefused(_("This patient is already admitted; transfer them instead."), status=409)
    spot = beds.place(ctx, hospital=hospital, bed_id=bed_id, ward_id=ward_id)
    if beds.status_of(spot.bed) != codes.FREE:
        raise WardRefused(_("That bed is not free."), status=409)
    attending = _attending(ctx, hospital, attending_id)
    now = clock.format_instant(clock.now())
    participants = [_participant(codes.ATTENDER, "attender", attending)]
    admitter = ctx.fhir_user if (ctx.fhir_user or "").startswith("Practitioner/") else None
    if admitter and admitter != attending:
        participants.append(_participant(codes.ADMITTER, "admitter", admitter))
    encounter = {
        "resourceType": "Encounter", "status": "in-progress",
        "class": {"system": codes.ACT_CODE, "code": codes.INPATIENT, "display": "inpatient encounter"},
        "subject": {"reference": f"Patient/{patient['id']}"}, "participant": participants,
        "period": {"start": now}, "reasonCode": [reason],
        "hospitalization": {"admitSource": codes.concept(codes.ADMIT_SOURCE, source["code"], source["display"])},
        "location": [{"location": {"reference": f"Location/{spot.bed['id']}", "display": spot.bed.get("name", "")},
                      "status": "active", "period": {"start": now}}],
        "serviceProvider": {"reference": hospital},
    }
    members = sorted({attending, *([admitter] if admitter else []), *beds.ward_team(ctx, spot.ward)})
    response = run(ctx, [
        beds.status_entry(spot.bed, codes.OCCUPIED),
        {"fullUrl": "urn:uuid:stay", "resource": encounter, "request": {"method": "POST", "url": "Encounter"}},
        _team_entry(ctx, patient=encounter["subject"]["reference"], encounter="urn:uuid:stay", members=members,
                    now=now, hospital=hospital),
    ])
    monitors.follow_stay(ctx, left=None, taken=f"Location/{spot.bed['id']}", patient=encounter["subject"]["reference"])
    return created_id(response, 1)


def care_team(ctx: AccessContext, encounter_id: str) -> dict[str, Any] | None:
    """The active care team of a stay, if the caller may see it."""
    teams = gateway.search(ctx, "CareTeam", [("encounter", f"Encounter/{encounter_id}"), ("status", "active"),
                                             ("_count", "1")])
    return teams[0] if teams else None


def versioned_put(resource: dict[str, Any]) -> dict[str, Any]:
    """A transaction entry updating resource only if it is still the version that was read."""
    version = (resource.get("meta") or {}).get("versionId")
    request = {"method": "PUT", "url": f"{resource['resourceType']}/{resource['id']}"}
    if version:
        request["ifMatch"] = f'W/"{version}"'
    return {"resource": {k: v for k, v in resource.items() if k != "meta"}, "request": request}


def leave_bed(encounter: dict[str, Any], now: str) -> dict[str, Any]:
    """The stay with its active bed entry completed at now."""
    moved = []
    for entry in encounter.get("location", []):
        if entry.get("status") == "active":
            entry = {**entry, "status": "completed", "period": {**entry.get("period", {}), "end": now}}
        moved.append(entry)
    return {**encounter, "location": moved}


def transfer(ctx: AccessContext, *, hospital: str, encounter_id: str, to_bed_id: str) -> None:
    """Move a current stay to another free bed (this ward or another); the bed left goes to housekeeping."""
    encounter = stay(ctx, hospital=hospital, encounter_id=encounter_id)
    old_bed = active_bed(encounter)
    if not old_bed or old_bed == f"Location/{to_bed_id}":
        raise WardRefused(_("Choose a different bed to move the patient to."), status=400)
    target = beds.place(ctx, hospital=hospital, bed_id=to_bed_id)
    if beds.status_of(target.bed) != codes.FREE:
        raise WardRefused(_("That bed is not free."), status=409)
    leaving = beds.place(ctx, hospital=hospital, bed_id=old_bed.split("/", 1)[1])
    now = clock.format_instant(clock.now())
    moved = leave_bed(encounter, now)
    moved["location"].append({"location": {"reference": f"Location/{target.bed['id']}",
                                           "display": target.bed.get("name", "")},
                              "status": "active", "period": {"start": now}})
    entries = [beds.status_entry(leaving.bed, codes.HOUSEKEEPING), beds.status_entry(target.bed, codes.OCCUPIED),
               versioned_put(moved)]
    team = care_team(ctx, encounter_id)
    if team is not None and target.ward["id"] != leaving.ward["id"]:
        present = {p["member"]["reference"] for p in team.get("participant", []) if p.get("member")}
        joining = [m for m in beds.ward_team(ctx, target.ward) if m not in present]
        if joining:
            entries.append(versioned_put({**team, "participant": [*team.get("participant", []),
                                                                  *({"member": {"reference": m}} for m in joining)]}))
    run(ctx, entries)
    monitors.follow_stay(ctx, left=old_bed, taken=f"Location/{target.bed['id']}",
                         patient=encounter["subject"]["reference"])
