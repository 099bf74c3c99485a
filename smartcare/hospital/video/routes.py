"""Every video route, the visits' JSON API with its WebSocket, the rooms of multi-disciplinary sessions, and the
pages, for the app to include at once."""

from fastapi import APIRouter

from smartcare.hospital.video import api, room_views, rooms, views

router = APIRouter()
router.include_router(api.router)
router.include_router(views.router)
router.include_router(rooms.router)
router.include_router(room_views.router)
