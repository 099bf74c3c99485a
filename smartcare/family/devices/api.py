"""Device JSON routes: HTTPS batch ingestion for gateways, and pairing a device from the patient's app.

`POST /api/v1/devices/readings` takes up to 500 frames in the documented payload (data/payload-schema.json),
each naming its "device", under a device's bearer token (client credentials): a device token posts only its own
frames; a backend client with the right to create Observations (a ward's gateway) may post any device's.
Each frame gets its own answer: accepted, partial, duplicate or rejected with reasons. Malformed requests get
RFC 9457 problem JSON.
"""

from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from smartcare.family.devices import registry, service
from smartcare.platform import audit
from smartcare.platform.db import unit_of_work
from smartcare.platform.security import throttle
from smartcare.platform.security.context import AccessContext
from smartcare.platform.security.policy import AccessDenied, decide
from smartcare.platform.security.tokens import InvalidToken, verify_access_token
from smartcare.platform.web import guard

router = APIRouter(prefix="/api/v1/devices", tags=["devices"])
MAX_FRAMES = 500
MAX_BODY = 4 * 1024 * 1024
MAX_PAIR_BODY = 1024
# A pairing code has 31^8 values and lives 10 minutes; ten tries a quarter-hour per account make guessing hopeless.
PAIR_ATTEMPTS = 10
PAIR_WINDOW_SECONDS = 15 * 60
PROBLEM_JSON = "application/problem+json"


class Problem(Exception):
    """A refused request, rendered as problem JSON."""

    def __init__(self, status: int, title: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.title, self.detail = status, title, detail

    def response(self) -> JSONResponse:
        """The problem as an RFC 9457 response."""
        headers = dict(guard.NO_STORE)
        if self.status == 401:
            headers["WWW-Authenticate"] = 'Bearer realm="smartcare"'
        return JSONResponse({"type": "about:blank", "title": self.title, "status": self.status,
                             "detail": self.detail}, status_code=self.status, media_type=PROBLEM_JSON,
                            headers=headers)


def _caller(request: Request) -> AccessContext:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Problem(401, "Unauthorized", "Send Authorization: Bearer <token> from /auth/token (client credentials)")
    try:
        claims = verify_access_token(token.strip(), audience=str(request.base_url).rstrip("/") + "/fhir")
    except InvalidToken as exc:
        raise Problem(401, "Unauthorized", str(exc)) from exc
    ctx = AccessContext(kind=claims.kind, name=claims.name, roles=claims.roles, organization=claims.organization,
                        remote_addr=guard.remote(request), subject=claims.subject, fhir_user=claims.fhir_user,
                        scopes=claims.scopes)
    if ctx.kind not in ("device", "client"):
        raise Problem(403, "Forbidden", "Readings are posted by devices and gateways, not by people")
    try:
        decide(ctx, "create", "Observation", personal=True)
    except AccessDenied as exc:
        raise Problem(403, "Forbidden", str(exc)) from exc
    return ctx


def _frames(raw: bytes) -> list[service.FrameIn]:
    if len(raw) > MAX_BODY:
        raise Problem(413, "Payload Too Large", f"The body is over {MAX_BODY} bytes; send fewer frames at a time")
    try:
        body = orjson.loads(raw or b"null")
    except orjson.JSONDecodeError:
        raise Problem(400, "Bad Request", "The body is not JSON") from None
    frames = body.get("frames") if isinstance(body, dict) else None
    if not isinstance(body, dict) or set(body) != {"frames"} or not isinstance(frames, list):
        raise Problem(400, "Bad Request", 'The body must be {"frames": [...]}, nothing else')
    if not 1 <= len(frames) <= MAX_FRAMES:
        raise Problem(400, "Bad Request", f"Send 1 to {MAX_FRAMES} frames")
    out = []
    for i, frame in enumerate(frames):
        device = frame.get("device") if isinstance(frame, dict) else None
        if not isinstance(device, str) or not 1 <= len(device) <= 64:
            raise Problem(400, "Bad Request", f"frames[{i}] must be an object naming its \"device\" (an id)")
        out.append(service.FrameIn(device.removeprefix("Device/"), {k: v for k, v in frame.items() if k != "device"}))
    return out


def _own_frames_only(ctx: AccessContext, frames: list[service.FrameIn]) -> None:
    if ctx.kind != "device":
        return
    own = (ctx.fhir_user or "").removeprefix("Device/")
    others = sorted({f.device_id for f in frames if f.device_id != own})
    if others:
        with unit_of_work() as conn:
            audit.record(conn, ctx=ctx, action="C", subtype="access-refused", outcome="4",
                         entities=[f"Device/{d}" for d in others[:20]],
                         description="a device token posted another device's readings")
        raise Problem(403, "Forbidden", "A device posts only its own readings: "
                                        f"this token is {own or 'no device'}'s, the body names {others[0]}")


@router.post("/readings", responses={400: {"description": "Malformed body (problem JSON)"},
                                     401: {"description": "No valid bearer token"},
                                     403: {"description": "Another device's frames, or no right to post"}})
async def post_readings(request: Request) -> JSONResponse:
    """Take a gateway's batch of frames; answers each frame: accepted, partial, duplicate or rejected."""
    raw = await request.body()

    def run() -> list[dict[str, Any]]:
        ctx = _caller(request)
        frames = _frames(raw)
        _own_frames_only(ctx, frames)
        return [r.as_json() for r in service.ingest_frames(None, frames, live=False)]

    try:
        results = await run_in_threadpool(run)
    except Problem as exc:
        return exc.response()
    return JSONResponse({"results": results}, headers=guard.NO_STORE)


@router.post("/pair", responses={400: {"description": "Wrong or expired code (problem JSON)"}})
async def pair(request: Request) -> JSONResponse:
    """Pair the device whose code the patient scanned or typed with the patient signed in."""
    raw = await request.body()

    def run() -> dict[str, Any]:
        with unit_of_work() as conn:
            ctx = guard.api_caller(conn, request, "app")
            if "patient" not in ctx.roles or not (ctx.fhir_user or "").startswith("Patient/"):
                raise Problem(403, "Forbidden", "Only a patient pairs a device with himself")
            # Counted in its own transaction, so a wrong code (which rolls the pairing back) still counts.
            try:
                throttle.check_and_count(conn, f"pair:{ctx.subject or ctx.name}"[:120], limit=PAIR_ATTEMPTS,
                                         window_seconds=PAIR_WINDOW_SECONDS)
            except throttle.Throttled as exc:
                raise Problem(429, "Too Many Requests", str(exc)) from exc
        if len(raw) > MAX_PAIR_BODY:
            raise Problem(400, "Bad Request", "The body is too large")
        try:
            body = orjson.loads(raw or b"null")
        except orjson.JSONDecodeError:
            body = None
        code = body.get("code") if isinstance(body, dict) else None
        if not isinstance(code, str):
            raise Problem(400, "Bad Request", 'The body must be {"code": "<pairing code>"}')
        with unit_of_work() as conn:
            try:
                device = registry.pair_device(conn, ctx=ctx, code=code,
                                              patient_id=(ctx.fhir_user or "").removeprefix("Patient/"))
            except registry.DeviceError as exc:
                raise Problem(exc.status, "Bad Request", str(exc)) from exc
            return {"device": device.device_id, "kind": device.kind, "patient": f"Patient/{device.patient_id}"}

    try:
        body = await run_in_threadpool(run)
    except Problem as exc:
        return exc.response()
    return JSONResponse(body, headers=guard.NO_STORE)
