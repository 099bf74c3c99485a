"""The workstation page of a multi-disciplinary session's video room: the participants, the records shared on
the consultation (an imaging study opens in the image viewer), and the call (static/room.js on static/media.js).

The page reads the room through teleconsult/sessions.py, which lets in only the requesting doctor and the convened
specialists and audits the look; the shared records are read as the caller through the access policy. A
clinician of the consultation who was not convened, or anyone once the session is over, gets the page with a
sentence saying why; a stranger gets the 404 page.
"""

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from smartcare.hospital.teleconsult import directory, service, sessions
from smartcare.hospital.video.views import own_file_url
from smartcare.platform.db import unit_of_work
from smartcare.platform.web import guard
from smartcare.platform.web.pages import not_found, render_private

router = APIRouter(include_in_schema=False)


def _page(request: Request, teleconsult_id: str) -> HTMLResponse:
    with unit_of_work() as conn:
        v = guard.visitor(conn, request, "workstation")
    refused: sessions.Refusal | None = None
    try:
        with unit_of_work() as conn:
            found = sessions.read(conn, ctx=v.ctx, task_id=teleconsult_id)
            shared = service.shared_records(conn, ctx=v.ctx, teleconsult=found.teleconsult)
            names = directory.practitioner_names(conn, found.participants)
    except sessions.Refusal as exc:
        refused = exc
    except service.TeleconsultError:
        return not_found(request)
    if refused is not None:
        sessions.audit_refusal(refused)
        return render_private(request, "video/room.html", status_code=refused.status, user=v.user, room=None,
                              teleconsult_id=teleconsult_id, refused=True)
    return render_private(request, "video/room.html", user=v.user, room=found, shared=shared, names=names,
                          refused=False, teleconsult_id=teleconsult_id, record_text=service.record_text,
                          media_js=own_file_url("media.js"), room_js=own_file_url("room.js"),
                          video_css=own_file_url("video.css"))


@router.get("/workstation/video/rooms/{teleconsult_id}", response_class=HTMLResponse)
async def room_page(request: Request, teleconsult_id: str) -> HTMLResponse:
    """A multi-disciplinary session's room: several specialists and the requesting doctor on video, looking at the
    shared records together."""
    return await run_in_threadpool(_page, request, teleconsult_id[:64])
