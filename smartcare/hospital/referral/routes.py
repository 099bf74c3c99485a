"""Every referral route, the JSON API and the workstation pages, for the app to include at once."""

from fastapi import APIRouter

from smartcare.hospital.referral import api, compose_views, views

router = APIRouter()
router.include_router(api.router)
# Before the pages: /workstation/referrals/new is not a referral's id.
router.include_router(compose_views.router)
router.include_router(views.router)
