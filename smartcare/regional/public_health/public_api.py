"""The public JSON API of released figures: approved releases only, with the same suppression as the page.

No sign-in and no audit: a release holds only suppressed counts by disease, ISO week and district (releases.py).
Counts are numbers, "<5" for 1 to 4 cases, or "suppressed" for a count hidden so that a small one cannot be
worked out from a total.
"""

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from smartcare.platform import i18n
from smartcare.platform.db import unit_of_work
from smartcare.regional.public_health import releases
from smartcare.regional.public_health.districts import region_districts
from smartcare.regional.public_health.public_views import ELSEWHERE, PUBLIC_CACHE, RELEASE_ID
from smartcare.regional.public_health.release_figures import catalogue
from smartcare.regional.public_health.releases import Release

router = APIRouter(prefix="/public/api", tags=["public health"])

HEADERS = {**PUBLIC_CACHE, "Access-Control-Allow-Origin": "*"}
LISTED = 26  # half a year of weekly releases; each is read whole from the store


def _not_found(message: str) -> JSONResponse:
    return JSONResponse({"error": "not-found", "message": message}, status_code=404, headers=HEADERS)


def summary(release: Release, *, current: bool) -> dict[str, Any]:
    """A release as the list shows it: period, approval time and links."""
    return {"id": release.id, "period": release.figures["period"], "approved_at": release.decision.decided_at,
            "notifiable_list": release.list_id, "current": current,
            "links": {"self": f"/public/api/releases/{release.id}", "page": f"/public?release={release.id}"}}


def release_json(release: Release, *, current: bool) -> dict[str, Any]:
    """An approved release's figures with the names of its districts and diseases."""
    figures = release.figures
    districts = {d.code: d for d in region_districts()}
    listing = catalogue()

    def place(code: str | None) -> dict[str, Any]:
        found = districts.get(code or "")
        if found:
            return {"code": code, "name_en": found.name_en, "name_zh": found.name_zh}
        return {"code": code, "name_en": code or ELSEWHERE,
                "name_zh": code or i18n.translations("zh-Hans").gettext(ELSEWHERE)}

    def disease(entry: dict[str, Any]) -> dict[str, Any]:
        known = listing.disease(entry["disease"])
        names = {"name_en": known.name_en, "name_zh": known.name_zh, "class": known.disease_class} if known else {}
        return {"disease": entry["disease"], **names, **{k: v for k, v in entry.items() if k != "disease"}}

    return {
        **summary(release, current=current),
        "notifiable_list": {"id": release.list_id, "title_en": listing.title_en, "title_zh": listing.title_zh},
        "weeks": figures["weeks"], "districts": [place(code) for code in figures["districts"]],
        "suppression": figures["suppression"], "all": figures["all"],
        "diseases": [disease(entry) for entry in figures["diseases"]],
    }


def _list() -> JSONResponse:
    with unit_of_work() as conn:
        found = releases.approved(conn, limit=LISTED)
    return JSONResponse({"releases": [summary(r, current=n == 0) for n, r in enumerate(found)]}, headers=HEADERS)


@router.get("/releases", summary="Approved releases of notifiable-disease figures")
async def release_list() -> JSONResponse:
    """The 26 releases approved last, the current one first: period, approval time and links."""
    return await run_in_threadpool(_list)


def _latest() -> JSONResponse:
    with unit_of_work() as conn:
        found = releases.approved(conn, limit=1)
    if not found:
        return _not_found("No release has been approved yet")
    return JSONResponse(release_json(found[0], current=True), headers=HEADERS)


@router.get("/releases/latest", summary="The current release's figures")
async def latest_release() -> JSONResponse:
    """The figures of the release approved last: counts by disease, ISO week and district, small cells hidden."""
    return await run_in_threadpool(_latest)


def _one(release_id: str) -> JSONResponse:
    if not RELEASE_ID.fullmatch(release_id):
        return _not_found("There is no approved release with this id")
    with unit_of_work() as conn:
        release = releases.public_release(conn, release_id)
        current = releases.approved(conn, limit=1)
    if release is None:
        return _not_found("There is no approved release with this id")
    return JSONResponse(release_json(release, current=bool(current) and current[0].id == release.id),
                        headers=HEADERS)


@router.get("/releases/{release_id}", summary="One approved release's figures")
async def one_release(release_id: str) -> JSONResponse:
    """An approved release's figures (404 for an id that is not an approved release)."""
    return await run_in_threadpool(_one, release_id[:80])
