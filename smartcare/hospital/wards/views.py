"""The ward pages: the hospital's wards, a ward's board, a bed (admit, vitals, transfer, status) and discharge.

Doctors and nurses of a hospital open them; every record is read and written through the FHIR gateway
as the signed-in clinician, so the access policy decides and each access is audited.
"""

from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from smartcare.fhir import gateway
from smartcare.fhir.errors import FhirError
from smartcare.hospital.wards import admissions, beds, board, codes, discharge, monitors, vitals
from smartcare.hospital.wards.errors import WardRefused
from smartcare.platform import clock
from smartcare.platform.db import unit_of_work
from smartcare.platform.i18n import _, current_locale, translations
from smartcare.platform.settings import get_settings
from smartcare.platform.web import fhir_text, guard
from smartcare.platform.web.pages import not_found, render_private

router = APIRouter(include_in_schema=False)
WARD_ROLES = frozenset({"doctor", "nurse"})
MAX_ID = 64
ACTIONS = ("admit", "vitals", "transfer", "status", "draft", "sign")
# Statuses a nurse may set by hand on a bed nobody holds (O is only set by an admission or transfer).
HAND_STATUSES = ("U", "H", "C", "K", "I")


def _clinician(request: Request) -> guard.Visitor:
    with unit_of_work() as conn:
        v = guard.visitor(conn, request, "workstation")
    if not v.ctx.roles & WARD_ROLES:
        raise guard.SurfaceForbidden("Only doctors and nurses work on the wards", ctx=v.ctx, surface="wards")
    return v


def _say(request: Request, message: str, **values: Any) -> str:
    text = translations(current_locale(request)).gettext(message)
    return text.format(**values) if values else text



def _local_name(location: dict[str, Any], locale: str) -> str:
    alias = (location.get("alias") or [""])[0]
    return alias if locale.startswith("zh") and alias else location.get("name", location.get("id", ""))


def _shown_time(instant: str) -> str:
    """A stored instant as the region's local month-day hour:minute."""
    try:
        moment = clock.parse_instant(instant) if instant else None
    except ValueError:
        return ""
    return moment.astimezone(ZoneInfo(get_settings().region_timezone)).strftime("%m-%d %H:%M") if moment else ""


def _wards(request: Request) -> HTMLResponse:
    v = _clinician(request)
    locale = current_locale(request)
    try:
        found = beds.wards(v.ctx, hospital=beds.hospital_of(v.ctx))
    except WardRefused as exc:
        return render_private(request, "wards/index.html", status_code=exc.status, user=v.user, wards=[],
                     error=_say(request, exc.message))
    shown = [{"id": w["id"], "name": _local_name(w, locale)} for w in found]
    return render_private(request, "wards/index.html", user=v.user, wards=shown, error="")


@router.get("/workstation/wards", response_class=HTMLResponse)
async def ward_list(request: Request) -> HTMLResponse:
    """The wards of the clinician's hospital."""
    return await run_in_threadpool(_wards, request)


def _board(request: Request, ward_id: str) -> HTMLResponse:
    v = _clinician(request)
    locale = current_locale(request)
    try:
        ward = beds.ward(v.ctx, hospital=beds.hospital_of(v.ctx), ward_id=ward_id)
    except WardRefused:
        return not_found(request)
    layout = beds.rooms(v.ctx, ward)
    rows = [{**_row(r, locale), "room": _local_name(room.location, locale)}
            for room, r in _paired(layout, board.rows(v.ctx, layout))]
    counts = {code: sum(1 for r in rows if r["status"] == code) for code in ("U", "O", "H")}
    # A monitor's complete set is scored only with the nurse's own consciousness and oxygen: say where it waits.
    waiting = monitors.needs_charting(v.ctx, [r["encounter"] for r in rows if r["encounter"]])
    return render_private(request, "wards/board.html", user=v.user, ward={"id": ward["id"], "name": _local_name(ward, locale)},
                 rows=rows, counts=counts, statuses=_status_names(locale), waiting=waiting)


def _paired(layout: list[beds.Room], rows: list[board.BedRow]) -> list[tuple[beds.Room, board.BedRow]]:
    rooms = [room for room in layout for _ in room.beds]
    return list(zip(rooms, rows, strict=True))


def _status_names(locale: str) -> dict[str, str]:
    return {c["code"]: codes.label(c, locale) for c in codes.choices("bed_statuses")}


def _row(row: board.BedRow, locale: str) -> dict[str, Any]:
    return {"bed_id": row.bed_id, "bed": row.bed, "status": row.status, "encounter": row.encounter_id,
            "patient": row.patient, "patient_id": row.patient_id, "age": row.age, "sex": row.sex, "days": row.days,
            "attending": row.attending, "news2": row.news2, "band": row.band, "scored": _shown_time(row.scored),
            "charted": _shown_time(row.charted), "overdue": row.overdue, "adult": row.adult}


@router.get("/workstation/wards/{ward_id}", response_class=HTMLResponse)
async def ward_board(request: Request, ward_id: str) -> HTMLResponse:
    """A ward's board: each bed with its patient, days in, attending doctor, latest NEWS2 and overdue flag."""
    return await run_in_threadpool(_board, request, ward_id[:MAX_ID + 1])


def _doctors(v: guard.Visitor, ward: dict[str, Any]) -> list[dict[str, str]]:
    refs = beds.ward_team(v.ctx, ward, roles="doctor")
    if v.ctx.fhir_user and "doctor" in v.ctx.roles and v.ctx.fhir_user not in refs:
        refs.insert(0, v.ctx.fhir_user)
    shown = []
    for ref in refs:
        try:
            shown.append({"id": ref.split("/", 1)[1], "name": fhir_text.person_name(gateway.read(v.ctx, ref))})
        except FhirError:
            continue
    return shown


def _free_beds(v: guard.Visitor, ward: dict[str, Any], locale: str, keep: str) -> list[dict[str, str]]:
    return [{"id": b["id"], "name": f"{_local_name(room.location, locale)} · {_local_name(b, locale)}"}
            for room in beds.rooms(v.ctx, ward) for b in room.beds
            if beds.status_of(b) == codes.FREE and b["id"] != keep]


def _bed(request: Request, ward_id: str, bed_id: str, *, status_code: int = 200, error: str = "",
         errors: dict[str, str] | None = None, form: dict[str, str] | None = None) -> HTMLResponse:
    v = _clinician(request)
    locale = current_locale(request)
    try:
        hospital = beds.hospital_of(v.ctx)
        spot = beds.place(v.ctx, hospital=hospital, bed_id=bed_id, ward_id=ward_id)
    except WardRefused:
        return not_found(request)
    layout = [beds.Room(spot.room, [spot.bed])]
    row = _row(board.rows(v.ctx, layout)[0], locale)
    values: dict[str, Any] = {"user": v.user, "ward": {"id": spot.ward["id"], "name": _local_name(spot.ward, locale)},
                              "bed": {"id": spot.bed["id"], "name": _local_name(spot.bed, locale),
                                      "room": _local_name(spot.room, locale)},
                              "row": row, "error": error, "errors": errors or {}, "form": form or {},
                              "statuses": _status_names(locale), "hand_statuses": HAND_STATUSES,
                              "consciousness": [(k, _say(request, label)) for k, (label, _) in
                                                vitals.CONSCIOUSNESS_LABELS.items()]}
    if row["encounter"]:
        to_ward = request.query_params.get("to_ward", "")[:MAX_ID + 1] or spot.ward["id"]
        try:
            target = beds.ward(v.ctx, hospital=hospital, ward_id=to_ward)
        except WardRefused:
            target = spot.ward
        values |= {"trend": vitals.trend(v.ctx, row["encounter"]),
                   "wards": [{"id": w["id"], "name": _local_name(w, locale)} for w in beds.wards(v.ctx,
                                                                                               hospital=hospital)],
                   "to_ward": target["id"], "free_beds": _free_beds(v, target, locale, spot.bed["id"])}
    elif row["status"] == codes.FREE:
        query = request.query_params.get("q", "")[:admissions.MAX_QUERY]
        values |= {"query": query, "found": [
            {"id": p["id"], "name": fhir_text.person_name(p), "born": p.get("birthDate", ""),
             "sex": p.get("gender", "")} for p in admissions.find_patients(v.ctx, query)],
            "doctors": _doctors(v, spot.ward), "admit_sources": [
                (c["code"], codes.label(c, locale)) for c in codes.choices("admit_sources")]}
    return render_private(request, "wards/bed.html", status_code=status_code, **values)


@router.get("/workstation/wards/{ward_id}/beds/{bed_id}", response_class=HTMLResponse)
async def ward_bed(request: Request, ward_id: str, bed_id: str) -> HTMLResponse:
    """One bed: its patient's vitals chart and forms (vitals, transfer, discharge), or admission to it when free."""
    return await run_in_threadpool(_bed, request, ward_id[:MAX_ID + 1], bed_id[:MAX_ID + 1])


def _discharge(request: Request, ward_id: str, bed_id: str, *, status_code: int = 200, error: str = "",
               form: dict[str, str] | None = None) -> HTMLResponse:
    v = _clinician(request)
    locale = current_locale(request)
    try:
        hospital = beds.hospital_of(v.ctx)
        spot = beds.place(v.ctx, hospital=hospital, bed_id=bed_id, ward_id=ward_id)
        held = admissions.current_stays(v.ctx, [f"Location/{spot.bed['id']}"])
        encounter = held[f"Location/{spot.bed['id']}"]
    except (WardRefused, KeyError):
        return not_found(request)
    summary = discharge.draft_of(v.ctx, encounter["id"])
    fields = form or discharge.summary_fields(summary)
    if not fields.get("reason"):
        fields["reason"] = ", ".join(f"{codes.coding_of(r, codes.ICD10) or ''} {fhir_text.concept_text(r)}".strip()
                                     for r in encounter.get("reasonCode", []))
    patient = gateway.read(v.ctx, encounter["subject"]["reference"])
    sections = [(s["key"], codes.label(s, locale)) for s in codes.choices("summary_sections")]
    return render_private(request, "wards/discharge.html", status_code=status_code, user=v.user, error=error,
                 ward={"id": spot.ward["id"]}, bed={"id": spot.bed["id"], "name": _local_name(spot.bed, locale)},
                 patient=fhir_text.person_name(patient), fields=fields, sections=sections,
                 drafted=bool(summary and summary.get("status") == "preliminary"), is_doctor="doctor" in v.ctx.roles,
                 dispositions=[(c["code"], codes.label(c, locale)) for c in codes.choices("discharge_dispositions")])


@router.get("/workstation/wards/{ward_id}/beds/{bed_id}/discharge", response_class=HTMLResponse)
async def ward_discharge(request: Request, ward_id: str, bed_id: str) -> HTMLResponse:
    """The discharge summary of the bed's patient: write the draft, then sign it (attending doctor)."""
    return await run_in_threadpool(_discharge, request, ward_id[:MAX_ID + 1], bed_id[:MAX_ID + 1])


def _field(form: dict[str, str], name: str, limit: int = MAX_ID) -> str:
    return form.get(name, "")[:limit + 1]


def _act(request: Request, ward_id: str, bed_id: str, action: str, form: dict[str, str]) -> Response:
    v = _clinician(request)
    guard.check_csrf(request, v, form.get("csrf_token"))
    if action not in ACTIONS:
        return not_found(request)
    back = f"/workstation/wards/{ward_id}/beds/{bed_id}"
    try:
        hospital = beds.hospital_of(v.ctx)
        if action == "admit":
            admissions.admit(v.ctx, hospital=hospital, ward_id=ward_id, bed_id=bed_id,
                             patient_id=_field(form, "patient"), reason_code=_field(form, "reason", 12),
                             admit_source=_field(form, "source", 20), attending_id=_field(form, "attending"))
        elif action in ("draft", "sign"):
            return _summary_action(request, v, hospital, ward_id, bed_id, action, form)
        else:
            spot = beds.place(v.ctx, hospital=hospital, bed_id=bed_id, ward_id=ward_id)
            encounter = admissions.current_stays(v.ctx, [f"Location/{spot.bed['id']}"]).get(
                f"Location/{spot.bed['id']}")
            if action == "status":
                _set_status(v, spot, encounter, _field(form, "status", 2))
            elif encounter is None:
                raise WardRefused(_NO_STAY, status=409)
            elif action == "vitals":
                return _record_vitals(request, v, hospital, ward_id, bed_id, encounter, form)
            else:
                admissions.transfer(v.ctx, hospital=hospital, encounter_id=encounter["id"],
                                    to_bed_id=_field(form, "to_bed"))
                return RedirectResponse(f"/workstation/wards/{ward_id}", status_code=303, headers=guard.NO_STORE)
    except WardRefused as exc:
        if exc.status == 404:
            return not_found(request)
        return _bed(request, ward_id, bed_id, status_code=exc.status, error=_say(request, exc.message, **exc.values),
                    form=form)
    return RedirectResponse(back, status_code=303, headers=guard.NO_STORE)


_NO_STAY = _("Nobody is admitted to this bed.")


def _set_status(v: guard.Visitor, spot: beds.BedPlace, encounter: dict[str, Any] | None, status: str) -> None:
    if status not in HAND_STATUSES:
        raise WardRefused(_("Choose a bed status."))
    if encounter is not None or beds.status_of(spot.bed) == codes.OCCUPIED:
        raise WardRefused(_("An occupied bed is freed by transfer or discharge."), status=409)
    admissions.run(v.ctx, [beds.status_entry(spot.bed, status)])


def _record_vitals(request: Request, v: guard.Visitor, hospital: str, ward_id: str, bed_id: str,
                   encounter: dict[str, Any], form: dict[str, str]) -> Response:
    fields = {k: _field(form, k, vitals.MAX_FIELD) for k in (
        "systolic", "diastolic", "pulse", "respiratory_rate", "temperature", "spo2", "spo2_scale", "oxygen",
        "consciousness")}
    try:
        readings = vitals.parse_form(fields)
    except vitals.VitalsInvalid as exc:
        errors = {k: _say(request, m, **{**values, "what": _say(request, values["what"])} if values else {})
                  for k, (m, values) in exc.errors.items()}
        return _bed(request, ward_id, bed_id, status_code=400, errors=errors, form=fields)
    patient = gateway.read(v.ctx, encounter["subject"]["reference"])
    vitals.record(v.ctx, hospital=hospital, encounter_id=encounter["id"], readings=readings,
                  adult=board.is_adult(patient, clock.now().date()))
    return RedirectResponse(f"/workstation/wards/{ward_id}/beds/{bed_id}", status_code=303, headers=guard.NO_STORE)


def _summary_action(request: Request, v: guard.Visitor, hospital: str, ward_id: str, bed_id: str, action: str,
                    form: dict[str, str]) -> Response:
    spot = beds.place(v.ctx, hospital=hospital, bed_id=bed_id, ward_id=ward_id)
    encounter = admissions.current_stays(v.ctx, [f"Location/{spot.bed['id']}"]).get(f"Location/{spot.bed['id']}")
    if encounter is None:
        raise WardRefused(_NO_STAY, status=404)
    fields = {k: _field(form, k, discharge.MAX_SECTION) for k in (*discharge.TEXT_SECTIONS, "diagnoses")}
    try:
        if action == "draft":
            discharge.save_draft(v.ctx, hospital=hospital, encounter_id=encounter["id"], fields=fields,
                                 locale=current_locale(request))
            return RedirectResponse(f"/workstation/wards/{ward_id}/beds/{bed_id}/discharge", status_code=303,
                                    headers=guard.NO_STORE)
        discharge.sign(v.ctx, hospital=hospital, encounter_id=encounter["id"],
                       disposition=_field(form, "disposition", 20))
    except WardRefused as exc:
        return _discharge(request, ward_id, bed_id, status_code=exc.status,
                          error=_say(request, exc.message, **exc.values), form=fields if action == "draft" else None)
    return RedirectResponse(f"/workstation/wards/{ward_id}", status_code=303, headers=guard.NO_STORE)


@router.post("/workstation/wards/{ward_id}/beds/{bed_id}/{action}")
async def ward_action(request: Request, ward_id: str, bed_id: str, action: str) -> Response:
    """Admit, chart vitals, transfer, set a bed's status, or draft and sign the discharge summary; CSRF-checked."""
    form = await guard.form_fields(request)
    return await run_in_threadpool(_act, request, ward_id[:MAX_ID + 1], bed_id[:MAX_ID + 1], action[:20], form)
