"""Every remote consultation route, the JSON API and the workstation pages, for the app to include at once."""

from fastapi import APIRouter

from smartcare.hospital.teleconsult import api, views

router = APIRouter()
router.include_router(api.router)
router.include_router(views.router)
