"""The web app's files, served by os1 itself: no CDN, no build step, no third-party requests.

Only the files named here are served (no directory traversal is possible). The one font,
Inter, comes from the Debian package fonts-inter when installed; without it the page falls
back to the system's sans-serif.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse, Response

router = APIRouter(include_in_schema=False)

WEB = resources.files("os1.server") / "web"
FILES = {
    "app.css": "text/css; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "voice.js": "text/javascript; charset=utf-8",
    "mic-worklet.js": "text/javascript; charset=utf-8",
    "icon.svg": "image/svg+xml",
    "manifest.webmanifest": "application/manifest+json",
}
FONT_DIR = Path("/usr/share/fonts/opentype/inter")
FONTS = {"300": "Inter-Light.otf", "400": "Inter-Regular.otf", "500": "Inter-Medium.otf"}


def _file(name: str, media_type: str) -> Response:
    data = (WEB / name).read_bytes()
    return Response(data, media_type=media_type, headers={"cache-control": "no-cache"})


@router.get("/")
def index() -> Response:
    return _file("index.html", "text/html; charset=utf-8")


@router.get("/static/{name}")
def static(name: str) -> Response:
    media_type = FILES.get(name)
    if media_type is None:
        raise HTTPException(404, "Not found.")
    return _file(name, media_type)


@router.get("/fonts/inter-{weight}.otf")
def font(weight: str) -> FileResponse:
    path = FONT_DIR / FONTS.get(weight, "-")
    if weight not in FONTS or not path.is_file():
        raise HTTPException(404, "Not found.")
    return FileResponse(path, media_type="font/otf", headers={"cache-control": "max-age=86400"})


__all__ = ["router"]
