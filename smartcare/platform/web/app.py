"""The ASGI application: FHIR REST API, app APIs and pages, in one FastAPI app."""

from fastapi import FastAPI

from smartcare import __version__
from smartcare.fhir.api import router as fhir_router
from smartcare.platform.security.oauth import router as oauth_router
from smartcare.platform.web.assets import mount_assets
from smartcare.platform.web.auth_pages import router as auth_router
from smartcare.platform.web.guard import install_guard
from smartcare.platform.web.pages import install_pages


def create_app() -> FastAPI:
    """Build the SmartCare ASGI application."""
    app = FastAPI(title="SmartCare", version=__version__, description="Open smart medical care platform")
    app.include_router(fhir_router)
    app.include_router(oauth_router)
    install_pages(app)
    install_guard(app)
    app.include_router(auth_router)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    mount_assets(app)
    return app
