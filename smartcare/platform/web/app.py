"""The ASGI application: FHIR REST API, app APIs and pages, in one FastAPI app."""

from fastapi import FastAPI
from fastapi.responses import HTMLResponse

from smartcare import __version__
from smartcare.fhir.api import router as fhir_router

_HOME = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>SmartCare</title></head>
<body>
<main>
<h1>SmartCare</h1>
<p>The open smart medical care platform for a region &middot; 智慧医疗平台</p>
<ul>
<li><a href="/fhir/metadata">FHIR R4 CapabilityStatement</a> (/fhir/metadata)</li>
<li><a href="/fhir/Patient?_count=10">Residents</a> (/fhir/Patient)</li>
<li><a href="/fhir/Organization?_count=50">Hospitals and health centres</a> (/fhir/Organization)</li>
<li><a href="/docs">API documentation</a> (/docs)</li>
</ul>
</main>
</body></html>
"""


def create_app() -> FastAPI:
    """Build the SmartCare ASGI application."""
    app = FastAPI(title="SmartCare", version=__version__, description="Open smart medical care platform")
    app.include_router(fhir_router)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def home() -> str:
        return _HOME

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
