"""Photos in a consultation: checked by decoding them, cleaned by re-encoding, stored as FHIR Media.

Why Media (not Binary or DocumentReference): Media is a clinical record of the patient's compartment
(Media.subject, Media.encounter), so the store's access policy and audit already cover it, and a photo needs
nothing DocumentReference adds. The Communication of the message points at it with payload.contentReference.
The image bytes are kept in Media.content.data; photos are scaled to settings.photo_max_side, so a Media stays
about a megabyte at most.

An upload is accepted only when Pillow decodes it as JPEG, PNG or WebP, whatever its name or declared type says;
its size and its pixel count (checked from the header, before decoding, against decompression bombs) are
limited. Re-encoding from the decoded pixels alone drops EXIF (GPS position, camera, time), XMP, ICC and text
chunks; the EXIF orientation is applied first, so the photo stays upright. Only the consultation's two parties
fetch it through the consultation (parties, policy and audit as every consultation read).
"""

import base64
import hashlib
import io
import warnings
from dataclasses import dataclass
from typing import Any

from PIL import Image, ImageOps, UnidentifiedImageError
from sqlalchemy.engine import Connection

from smartcare.fhir import store
from smartcare.fhir.errors import FhirError
from smartcare.hospital.consultation import service
from smartcare.hospital.consultation.config import ConsultationSettings, get_settings
from smartcare.platform import clock
from smartcare.platform.security.context import SYSTEM, AccessContext

FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
MEDIA_TYPE = {"system": "http://terminology.hl7.org/CodeSystem/media-type", "code": "image", "display": "Image"}
MAX_CAPTION = 500
QUALITY = 85


class PhotoRefused(service.ConsultationError):
    """An upload that is not a photo we keep: not an image, another format, too large, or broken."""

    def __init__(self, message: str, *, code: str, status: int = 400) -> None:
        super().__init__(message, code=code, status=status)


@dataclass(frozen=True, slots=True)
class CleanPhoto:
    """A photo decoded and re-encoded without its metadata."""

    data: bytes
    content_type: str
    width: int
    height: int


def _open(data: bytes) -> Image.Image:
    """The image's header only: its pixels are decoded after the format and size checks."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError,
            Image.DecompressionBombWarning) as exc:
        raise PhotoRefused("This file is not a photo we can read: send a JPEG, PNG or WebP image",
                           code="not-an-image") from exc
    return image


def clean_photo(data: bytes, *, limits: ConsultationSettings | None = None) -> CleanPhoto:
    """Decode data as a JPEG, PNG or WebP photo and re-encode it without metadata, or PhotoRefused saying why."""
    limits = limits or get_settings()
    if not data:
        raise PhotoRefused("The file is empty", code="empty")
    if len(data) > limits.photo_max_bytes:
        raise PhotoRefused(f"A photo is at most {limits.photo_max_bytes // (1024 * 1024)} MB", code="too-large",
                           status=413)
    image = _open(data)
    if image.format not in FORMATS:
        raise PhotoRefused("Only JPEG, PNG and WebP photos can be sent", code="bad-format", status=415)
    if image.width * image.height > limits.photo_max_pixels:
        raise PhotoRefused(f"A photo has at most {limits.photo_max_pixels // 1_000_000} million pixels",
                           code="too-many-pixels", status=413)
    fmt = image.format
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image.load()
            upright = ImageOps.exif_transpose(image)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise PhotoRefused("This image is damaged and cannot be read", code="damaged") from exc
    mode = "RGB" if fmt == "JPEG" else ("RGBA" if upright.mode in ("RGBA", "LA", "P", "PA") else "RGB")
    converted = upright.convert(mode)
    # Built from the pixels alone: nothing of the upload's info (EXIF, XMP, ICC, text chunks) comes along.
    bare = Image.frombytes(mode, converted.size, converted.tobytes())
    bare.thumbnail((limits.photo_max_side, limits.photo_max_side))
    out = io.BytesIO()
    if fmt == "PNG":
        bare.save(out, "PNG", optimize=True)
    else:
        bare.save(out, fmt, quality=QUALITY)
    return CleanPhoto(out.getvalue(), FORMATS[fmt], bare.width, bare.height)


def attach_photo(conn: Connection, ctx: AccessContext, *, consultation_id: str, client_id: str, data: bytes,
                 caption: str = "") -> tuple[dict[str, Any], bool]:
    """Add a photo to the consultation as a message (once per client id): the cleaned image as a Media."""
    thread = service._thread(conn, consultation_id)
    side = service._side(conn, ctx, thread, "create")
    if not ctx.is_system:
        service._policy(ctx, "create", "Media")
    client_id = service.check_client_id(client_id)
    existing = service.stored_message(conn, thread.encounter_id, client_id)
    if existing is not None:
        return existing, False
    caption = (caption or "").strip()
    if len(caption) > MAX_CAPTION:
        raise PhotoRefused(f"A caption has at most {MAX_CAPTION} characters", code="bad-text")
    if thread.status in ("closed", "refunded"):
        raise service.ConsultationError("The consultation is closed", code="closed")
    photo = clean_photo(data)
    media = {
        "resourceType": "Media", "status": "completed", "type": {"coding": [MEDIA_TYPE]},
        "subject": {"reference": f"Patient/{thread.patient_id}"},
        "encounter": {"reference": f"Encounter/{thread.encounter_id}"},
        "createdDateTime": clock.format_instant(clock.now()), "width": photo.width, "height": photo.height,
        "content": {"contentType": photo.content_type, "data": base64.b64encode(photo.data).decode("ascii"),
                    "size": len(photo.data), "hash": base64.b64encode(hashlib.sha1(photo.data).digest()).decode(),
                    "title": f"Photo {client_id}"},
    }
    try:
        stored = store.create(conn, ctx, media)
    except FhirError as exc:
        raise service.ConsultationError("The photo could not be stored in the record", code="forbidden",
                                        status=403) from exc
    message = service.store_message(conn, ctx, thread=thread, side=side, client_id=client_id, text=caption,
                                    references=[f"Media/{stored.res_id}"])
    return message, True


def read_photo(conn: Connection, ctx: AccessContext, *, consultation_id: str, media_id: str) -> tuple[bytes, str]:
    """A photo of the consultation for one of its parties (audited): the bytes and their media type."""
    thread = service._thread(conn, consultation_id)
    service._side(conn, ctx, thread, "read")
    if not ctx.is_system:
        service._policy(ctx, "read", "Media")
    try:
        # The parties were decided above (a pool doctor has no care relationship before picking up).
        media = store.read(conn, SYSTEM, res_type="Media", res_id=media_id[:64]).resource
    except FhirError as exc:
        raise service.ConsultationError("There is no such photo", code="not-found", status=404) from exc
    content = media.get("content") or {}
    if ((media.get("encounter") or {}).get("reference") != f"Encounter/{thread.encounter_id}"
            or content.get("contentType") not in FORMATS.values() or not content.get("data")):
        raise service.ConsultationError("There is no such photo", code="not-found", status=404)
    service._audit(conn, ctx, thread, "R", f"Media/{media_id[:64]}")
    return base64.b64decode(content["data"]), content["contentType"]
