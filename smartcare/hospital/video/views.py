"""The video-visit pages: the patient's in the app (phone first) and the doctor's (or the nurse's) in the workstation,
the nurse's start of a visit with a patient, and their script and styles.

A page holds no media: it reads the visit through the service (which asks the consultation service and the
access policy who the caller is, and audits the look) and hands the visit id and the page's words to
static/video.js, which checks the camera and microphone, opens the signalling socket and runs the WebRTC call
(with static/media.js, what it shares with the room's static/room.js).
A visit the caller may not see is a 404, as if it did not exist.
"""

import re
from functools import lru_cache
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from smartcare.fhir import gateway
from smartcare.fhir.errors import FhirError
from smartcare.hospital.video import service
from smartcare.platform.db import unit_of_work
from smartcare.platform.i18n import _
from smartcare.platform.security.context import AccessContext
from smartcare.platform.web import fhir_text, guard
from smartcare.platform.web.pages import not_found, render_private

router = APIRouter(include_in_schema=False)
STATIC_DIR = Path(__file__).resolve().parent / "static"
# The module's own files, by the name in their URL (never a path built from input). Under /static/ like the
# shell's own files: public, and cached until their version changes.
OWN_FILES = {"media.js": "text/javascript", "video.js": "text/javascript", "video.css": "text/css",
             "room.js": "text/javascript"}
STATIC_BASE = "/static/video"
_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")


@lru_cache(maxsize=len(OWN_FILES))
def _own_file(name: str) -> bytes:
    return (STATIC_DIR / name).read_bytes()


def own_file_url(name: str) -> str:
    """The versioned URL of one of this module's files (its modification time, so a change is fetched anew)."""
    return f"{STATIC_BASE}/{name}?v={int((STATIC_DIR / name).stat().st_mtime)}"


def _patient_name(ctx: AccessContext, patient_id: str | None) -> str:
    """The name the doctor knows the visit's patient by (read through the policy, audited), else ""."""
    try:
        return fhir_text.person_name(gateway.read(ctx, f"Patient/{patient_id}")) if patient_id else ""
    except FhirError:
        return ""


def _page(request: Request, visit_id: str, surface: str) -> HTMLResponse:
    with unit_of_work() as conn:
        v = guard.visitor(conn, request, surface)
        if not _ID.fullmatch(visit_id):
            return not_found(request)
        try:
            visit = service.visit(conn, v.ctx, visit_id=visit_id)
        except service.VideoError:
            return not_found(request)
    doctor = surface == "workstation"
    if (visit["side"] == "doctor") != doctor:
        return not_found(request)
    template = "video/doctor.html" if doctor else "video/patient.html"
    return render_private(request, template, user=v.user, visit=visit, media_js=own_file_url("media.js"),
                          patient_name=_patient_name(v.ctx, visit["patient"]) if doctor else "",
                          video_js=own_file_url("video.js"), video_css=own_file_url("video.css"))


def _open_as_nurse(request: Request, fields: dict[str, str]) -> Response:
    with unit_of_work() as conn:
        v = guard.visitor(conn, request, "workstation")
    guard.check_csrf(request, v, fields.get("csrf_token"))
    if not v.ctx.roles & service.NURSE_ROLES:
        raise guard.SurfaceForbidden("Only nurses open a video visit from the patient's page", ctx=v.ctx,
                                     surface="video", explain=_(
                                         "Only nurses start a video visit from a patient's page: doctors start "
                                         "theirs from the patient's online consultation."))
    try:
        with unit_of_work() as conn:
            opened = service.open_as_nurse(conn, v.ctx, patient_id=fields.get("patient", "")[:65])
    except service.VideoError:
        return not_found(request)
    return guard.see_other(f"/workstation/video/{opened['id']}")


@router.post("/workstation/video")
async def nurse_opens(request: Request) -> Response:
    """A nurse starts a video visit now with a patient they may see (form: patient); CSRF-checked."""
    fields = await guard.form_fields(request)
    return await run_in_threadpool(_open_as_nurse, request, fields)


@router.get("/app/video/{visit_id}", response_class=HTMLResponse)
async def patient_page(request: Request, visit_id: str) -> HTMLResponse:
    """The patient's (or proxy's) video visit: device check, waiting room, and the call, on a phone first."""
    return await run_in_threadpool(_page, request, visit_id[:65], "app")


@router.get("/workstation/video/{visit_id}", response_class=HTMLResponse)
async def doctor_page(request: Request, visit_id: str) -> HTMLResponse:
    """The doctor's video visit: device check, the waiting patient to admit, the call, screen share and notes."""
    return await run_in_threadpool(_page, request, visit_id[:65], "workstation")


@router.get(STATIC_BASE + "/{name}")
def own_file(name: str) -> Response:
    """The pages' script and styles."""
    media_type = OWN_FILES.get(name)
    if media_type is None:
        return Response(status_code=404)
    return Response(_own_file(name), media_type=media_type,
                    headers={"Cache-Control": "public, max-age=31536000, immutable"})
