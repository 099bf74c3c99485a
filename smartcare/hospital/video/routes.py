"""Every video-visit route, the JSON API with its WebSocket and the pages, for the app to include at once."""

from fastapi import APIRouter

from smartcare.hospital.video import api, views

router = APIRouter()
router.include_router(api.router)
router.include_router(views.router)
