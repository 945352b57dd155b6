"""Small ASGI helpers the middlewares share (security, auth, rate limit, limits): the routed path, how
the routes match a request, a JSON error."""

from __future__ import annotations

import json
from collections.abc import Sequence

from starlette.routing import Match
from starlette.types import Scope, Send

from app.logging import current_request_id


def route_path(scope: Scope) -> str:
    """The path the router matches: without the ``root_path`` a proxy mounts the app under.

    Checks must use this, not ``scope["path"]``: with ``--root-path /api`` the raw path is
    ``/api/admin/...``, and a prefix test on it would miss the admin routes.
    """
    path = scope.get("path") or "/"
    root = scope.get("root_path") or ""
    if root and path.startswith(root):
        path = path[len(root) :] or "/"
    return path


async def send_json_error(
    send: Send, status: int, detail: str, extra_headers: Sequence[tuple[bytes, bytes]] = ()
) -> None:
    """A JSON error written by a middleware: ``{"detail", "request_id"}`` like the app's own errors."""
    body = json.dumps({"detail": detail, "request_id": current_request_id()}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body)), *extra_headers]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def route_match(scope: Scope) -> Match:
    """How the app's routes match the request: FULL (served), PARTIAL (the path is, the method is
    not: the router answers 405) or NONE (404). FULL when the app has no router to ask."""
    router = getattr(scope.get("app"), "router", None)
    if router is None:
        return Match.FULL
    best = Match.NONE
    for route in router.routes:
        match = route.matches(scope)[0]
        if match is Match.FULL:
            return match
        best = Match.PARTIAL if match is Match.PARTIAL else best
    return best
