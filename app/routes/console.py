"""The web console: ``GET /`` serves the page, ``GET /static/{name}`` its script and style.

Plain files from ``app/static`` (no build step). Only files that sit directly in that folder are
served, so a request can never reach outside it. The page loads nothing from other origins and
runs no inline script, which the Content-Security-Policy header enforces.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".png": "image/png",
    ".svg": "image/svg+xml",
    ".ico": "image/x-icon",
}
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
# Revalidate every time (ETag/Last-Modified make that cheap): a redeployed console shows at once.
HEADERS = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}

router = APIRouter(include_in_schema=False)


def static_files() -> dict[str, Path]:
    """The servable files by name: regular files directly in ``app/static`` with a known type."""
    return {p.name: p for p in STATIC_DIR.iterdir() if p.is_file() and p.suffix in MEDIA_TYPES}


@router.get("/")
async def console_page() -> FileResponse:
    headers = HEADERS | {"Content-Security-Policy": CSP, "Referrer-Policy": "no-referrer"}
    return FileResponse(STATIC_DIR / "index.html", media_type=MEDIA_TYPES[".html"], headers=headers)


@router.get("/static/{name}")
async def static_file(name: str) -> FileResponse:
    path = static_files().get(name)
    if path is None:
        raise HTTPException(status_code=404, detail=f"no static file {name!r}")
    return FileResponse(path, media_type=MEDIA_TYPES[path.suffix], headers=HEADERS)
