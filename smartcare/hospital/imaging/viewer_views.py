"""The browser image viewer: a study's series and images in the workstation, and read-only in the patient app.

The page itself holds no pixels: it reads the ImagingStudy through the gateway (so the one access policy decides,
and the look is audited) and hands the study's UID to static/js/dicom-viewer.js, which fetches series, instances,
metadata and rendered frames from /dicomweb with the same session, where each request is checked again. A study
the caller may not read, or one without a DICOM study UID, is a 404, as if it did not exist. Key images marked
in the workstation are kept in the browser (localStorage, by study UID), not in the record.
"""

import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from smartcare.fhir import gateway
from smartcare.fhir.errors import FhirError
from smartcare.hospital.imaging.imaging_study import DICOM_UID
from smartcare.hospital.imaging.storage import is_uid
from smartcare.platform import clock
from smartcare.platform.db import unit_of_work
from smartcare.platform.web import fhir_text, guard
from smartcare.platform.web.pages import not_found, render_private

router = APIRouter(include_in_schema=False)
_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
# CT window presets (center, width in Hounsfield units), as radiology departments commonly set them.
PRESETS = (("lung", -600, 1500), ("bone", 300, 1500), ("brain", 40, 80), ("abdomen", 40, 400))


def study_uid(study: dict[str, Any]) -> str | None:
    """The StudyInstanceUID of an ImagingStudy (its identifier urn:oid:<uid>), or None."""
    for identifier in study.get("identifier", []):
        value = str(identifier.get("value", ""))
        if identifier.get("system") == DICOM_UID and value.startswith("urn:oid:") and is_uid(value[8:]):
            return value[8:]
    return None


def _viewer(request: Request, study_id: str, surface: str) -> HTMLResponse:
    with unit_of_work() as conn:
        v = guard.visitor(conn, request, surface)
    if not _ID.fullmatch(study_id):
        return not_found(request)
    try:
        study = gateway.read(v.ctx, f"ImagingStudy/{study_id}")
    except FhirError:
        return not_found(request)
    uid = study_uid(study)
    if uid is None:
        return not_found(request)
    read_only = surface == "app"
    back = "/app/imaging" if read_only else f"/workstation/imaging/studies/{study_id}"
    return render_private(request, "imaging/viewer.html", user=v.user, study_uid=uid, read_only=read_only,
                          back=back, presets=PRESETS, title=study.get("description") or fhir_text.concept_text(
                              next(iter(study.get("procedureCode", [])), None)),
                          started=clock.wall_clock(study.get("started")))


@router.get("/workstation/imaging/studies/{study_id}/viewer", response_class=HTMLResponse)
async def workstation_viewer(request: Request, study_id: str) -> HTMLResponse:
    """The study's images for staff who may read it: series, scrolling, windows, zoom, measuring, key images."""
    return await run_in_threadpool(_viewer, request, study_id[:65], "workstation")


@router.get("/app/imaging/studies/{study_id}/viewer", response_class=HTMLResponse)
async def app_viewer(request: Request, study_id: str) -> HTMLResponse:
    """The patient's (or their proxy's) own study's images, read-only, for a phone as well as a desk."""
    return await run_in_threadpool(_viewer, request, study_id[:65], "app")
