"""Static files: our own CSS/JS under /static/, and an allow-list of npm files under /static/vendor/."""

import json
import logging
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, Response
from fastapi.staticfiles import StaticFiles

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"
NODE_MODULES = Path(__file__).resolve().parents[3] / "node_modules"
VENDOR_CACHE_CONTROL = "public, max-age=31536000, immutable"


@dataclass(frozen=True)
class VendorFile:
    """One file an npm package provides, served at /static/vendor/<name>/<file>."""

    package: str
    path: str  # inside the package folder
    media_type: str


# The only vendor files the app serves: URL (name, file) -> file inside node_modules. Never built from input.
VENDOR_FILES: dict[tuple[str, str], VendorFile] = {
    ("htmx", "htmx.min.js"): VendorFile("htmx.org", "dist/htmx.min.js", "text/javascript"),
    ("alpinejs", "cdn.min.js"): VendorFile("alpinejs", "dist/cdn.min.js", "text/javascript"),
    ("echarts", "echarts.min.js"): VendorFile("echarts", "dist/echarts.min.js", "text/javascript"),
    ("pico", "pico.min.css"): VendorFile("@picocss/pico", "css/pico.min.css", "text/css"),
}


def vendor_files(node_modules: Path | None = None) -> dict[tuple[str, str], tuple[Path, str]]:
    """The allow-listed vendor files present in node_modules: (name, file) -> (path on disk, package version)."""
    return _vendor_files(node_modules or NODE_MODULES)


@lru_cache(maxsize=8)
def _vendor_files(node_modules: Path) -> dict[tuple[str, str], tuple[Path, str]]:
    found: dict[tuple[str, str], tuple[Path, str]] = {}
    missing: list[str] = []
    for key, vendor in VENDOR_FILES.items():
        package_dir = node_modules / vendor.package
        path = package_dir / vendor.path
        if not path.is_file():
            missing.append(f"{vendor.package}/{vendor.path}")
            continue
        try:
            version = json.loads((package_dir / "package.json").read_text(encoding="utf-8"))["version"]
        except (OSError, ValueError, KeyError):
            version = "0"
        found[key] = (path, str(version))
    if missing:
        log.warning(
            "Front-end packages missing under %s (%s): pages work without them; run `npm ci` to install",
            node_modules, ", ".join(missing),
        )
    return found


def vendor_url(name: str, file: str, node_modules: Path | None = None) -> str | None:
    """The URL of an allow-listed vendor file (versioned, so it may be cached for a year), or None if absent."""
    entry = vendor_files(node_modules).get((name, file))
    if entry is None:
        return None
    return f"/static/vendor/{name}/{file}?v={entry[1]}"


def mount_assets(app: FastAPI, node_modules: Path | None = None) -> None:
    """Serve /static/vendor/<name>/<file> from the allow-list and everything else under /static/ from our folder."""
    available = vendor_files(node_modules)

    @app.get("/static/vendor/{name}/{file}", include_in_schema=False)
    def vendor_asset(name: str, file: str) -> Response:
        entry = available.get((name, file))
        if entry is None:
            return Response(status_code=404)
        vendor = VENDOR_FILES[(name, file)]
        return FileResponse(entry[0], media_type=vendor.media_type,
                            headers={"Cache-Control": VENDOR_CACHE_CONTROL})

    app.mount("/static", StaticFiles(directory=STATIC_DIR, follow_symlink=False), name="static")
