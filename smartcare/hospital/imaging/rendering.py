"""DICOM frames rendered as PNG or JPEG for browsers (WADO-RS rendered resources, PS3.18 8.3.5.1.3).

The pipeline is the one PS3.3 C.11 gives for grayscale: stored values -> modality LUT (RescaleSlope and
RescaleIntercept) -> VOI window (linear, PS3.3 C.11.2.1.2.1) -> 8 bits for display, inverted for MONOCHROME1 (where
a high value is dark). The window is the caller's (`window=center,width,linear`), else the instance's own
WindowCenter/WindowWidth, else the frame's minimum and maximum. Colour images are shown as they are, converted
to RGB. Pixel data pydicom cannot decode without extra plugins (JPEG lossless, JPEG-LS here) gives
RenderRefused, which the web layer answers with a clear status rather than a crash.
"""

from dataclasses import dataclass
from io import BytesIO

import numpy as np
from PIL import Image
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.pixels import apply_modality_lut, get_decoder

MEDIA_TYPES = {"image/png": "PNG", "image/jpeg": "JPEG"}
MAX_VIEWPORT = 4096
MAX_WINDOW_TEXT = 100


class BadRenderParameter(ValueError):
    """A window or viewport parameter that cannot be understood (answered with 400)."""


class RenderRefused(Exception):
    """An instance that cannot be rendered here: no image, a frame it does not have, a codec not installed."""

    def __init__(self, message: str, *, status: int = 406) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class Window:
    """A VOI window: its center and width in modality units (Hounsfield units for CT)."""

    center: float
    width: float


def parse_window(text: str | None) -> Window | None:
    """The window of a `window=center,width,function` parameter (only the linear function); None when absent."""
    if not text:
        return None
    parts = [p.strip() for p in text[:MAX_WINDOW_TEXT].split(",")]
    if len(parts) not in (2, 3) or (len(parts) == 3 and parts[2].lower() != "linear"):
        raise BadRenderParameter("window must be center,width,linear (for example window=40,400,linear)")
    try:
        center, width = float(parts[0]), float(parts[1])
    except ValueError as exc:
        raise BadRenderParameter("window center and width must be numbers") from exc
    if not (np.isfinite(center) and np.isfinite(width)) or width < 1:
        raise BadRenderParameter("window width must be a finite number of at least 1")
    return Window(center, width)


def parse_viewport(text: str | None) -> tuple[int, int] | None:
    """The (width, height) of a `viewport=vw,vh` parameter; None when absent."""
    if not text:
        return None
    parts = text[:40].split(",")
    if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
        raise BadRenderParameter("viewport must be width,height in pixels (for example viewport=512,512)")
    width, height = int(parts[0]), int(parts[1])
    if not (1 <= width <= MAX_VIEWPORT and 1 <= height <= MAX_VIEWPORT):
        raise BadRenderParameter(f"viewport width and height must be between 1 and {MAX_VIEWPORT}")
    return width, height


def frame_count(ds: Dataset) -> int:
    """How many frames the instance holds (1 for a single-frame image)."""
    try:
        return max(int(ds.get("NumberOfFrames") or 1), 1)
    except (TypeError, ValueError):
        return 1


def _first(value: object) -> float | None:
    if value is None or value == "":
        return None
    try:
        number = float(value[0] if isinstance(value, (list, tuple, MultiValue)) else value)
    except (TypeError, ValueError, IndexError):
        return None
    return number if np.isfinite(number) else None


def stored_window(ds: Dataset) -> Window | None:
    """The instance's own first WindowCenter/WindowWidth, if it carries a usable pair."""
    center, width = _first(ds.get("WindowCenter")), _first(ds.get("WindowWidth"))
    if center is None or width is None or width < 1:
        return None
    return Window(center, width)


def frame_pixels(ds: Dataset, frame: int) -> np.ndarray:
    """The stored values of one frame (numbered from 1); RenderRefused when it cannot be decoded here."""
    if "PixelData" not in ds:
        raise RenderRefused("the instance has no pixel data to render", status=406)
    frames = frame_count(ds)
    if not 1 <= frame <= frames:
        raise RenderRefused(f"the instance has {frames} frame(s); there is no frame {frame}", status=404)
    syntax = ds.file_meta.get("TransferSyntaxUID") if hasattr(ds, "file_meta") else None
    if syntax is not None:
        try:
            available = get_decoder(syntax).is_available
        except NotImplementedError:
            available = False
        if not available:
            raise RenderRefused(f"pixel data in transfer syntax {syntax} ({getattr(syntax, 'name', '')}) cannot be "
                                "decoded by this server; retrieve the instance itself instead")
    try:
        pixels = ds.pixel_array
    except Exception as exc:  # pydicom raises many kinds on odd pixel data; each means "cannot render"
        raise RenderRefused(f"the pixel data cannot be decoded: {str(exc)[:160]}") from exc
    return pixels[frame - 1] if frames > 1 else pixels


def window_linear(values: np.ndarray, window: Window) -> np.ndarray:
    """values mapped to 0..255 by the linear VOI function of PS3.3 C.11.2.1.2.1."""
    low = window.center - 0.5 - (window.width - 1) / 2
    scaled = ((values - (window.center - 0.5)) / max(window.width - 1, 1) + 0.5) * 255.0
    scaled = np.where(values <= low, 0.0, scaled)
    scaled = np.where(values > window.center - 0.5 + (window.width - 1) / 2, 255.0, scaled)
    return np.clip(scaled, 0, 255).astype(np.uint8)


def _grayscale(ds: Dataset, pixels: np.ndarray, window: Window | None) -> np.ndarray:
    values = apply_modality_lut(pixels, ds).astype(np.float64)
    window = window or stored_window(ds)
    if window is None:
        low, high = float(values.min()), float(values.max())
        window = Window(center=(low + high) / 2 + 0.5, width=max(high - low + 1, 1))
    shown = window_linear(values, window)
    if str(ds.get("PhotometricInterpretation", "")).strip() == "MONOCHROME1":
        shown = 255 - shown
    return shown


def _colour(pixels: np.ndarray) -> np.ndarray:
    # pydicom already gives YBR colour images as RGB (its as_rgb default).
    if pixels.dtype != np.uint8:
        high = float(pixels.max()) or 1.0
        pixels = (pixels.astype(np.float64) * (255.0 / high)).astype(np.uint8)
    return pixels


def render(ds: Dataset, *, frame: int = 1, media_type: str = "image/png", window: Window | None = None,
           viewport: tuple[int, int] | None = None) -> bytes:
    """One frame of ds as PNG or JPEG bytes, windowed and fitted into the viewport (aspect ratio kept)."""
    pixels = frame_pixels(ds, frame)
    if int(ds.get("SamplesPerPixel", 1) or 1) == 1:
        image = Image.fromarray(_grayscale(ds, pixels, window), mode="L")
    else:
        image = Image.fromarray(_colour(pixels), mode="RGB")
    if viewport is not None:
        scale = min(viewport[0] / image.width, viewport[1] / image.height)
        size = (max(round(image.width * scale), 1), max(round(image.height * scale), 1))
        image = image.resize(size, Image.Resampling.LANCZOS)
    out = BytesIO()
    image.save(out, format=MEDIA_TYPES[media_type], **({"quality": 90} if media_type == "image/jpeg" else {}))
    return out.getvalue()
