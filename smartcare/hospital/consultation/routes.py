"""The consultation's pages, both sides, as one router for the app."""

from fastapi import APIRouter

from smartcare.hospital.consultation.order_views import router as order_pages
from smartcare.hospital.consultation.views import router as app_pages
from smartcare.hospital.consultation.workstation_views import router as workstation_pages

router = APIRouter(include_in_schema=False)
router.include_router(app_pages)
router.include_router(workstation_pages)
router.include_router(order_pages)
