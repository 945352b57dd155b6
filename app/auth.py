"""API keys and the admin key: who may call what, checked before a request reaches a route.

``Authorization: Bearer <key>`` on every route except the public ones (``/healthz``, ``/readyz``,
the console page ``/`` and ``/static/*``) when ``api_keys`` is set; ``/admin/*`` always needs
``admin_key`` (unset, those routes answer 403 and say how to enable them; an API key never grants
admin). Constant-time comparison. Without keys the server starts only on a loopback address,
unless ``allow_open_access`` says so (``check_bind``). ``app.security.install_hardening`` installs it.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
from collections.abc import Iterable
from typing import Annotated, Literal

from fastapi import Depends, FastAPI, HTTPException, Request
from starlette.routing import Match
from starlette.types import ASGIApp, Receive, Scope, Send

from app.asgi import route_match, route_path, send_json_error
from app.settings import Settings

logger = logging.getLogger(__name__)

PUBLIC_PATHS = frozenset({"/healthz", "/readyz", "/", "/favicon.ico"})
PUBLIC_PREFIXES = ("/static/",)
ADMIN_PREFIX = "/admin"
SCOPE_PRINCIPAL = "qreact.principal"

Role = Literal["admin", "user"]
ADMIN_DISABLED = (
    "admin routes are disabled: set QREACT_ADMIN_KEY (e.g. in .env) and restart, then send "
    "Authorization: Bearer <admin key>"
)
ADMIN_OFF_NOTE = "**Disabled on this server** (QREACT_ADMIN_KEY is not set): every call answers 403. "


def is_public(path: str) -> bool:
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


def is_admin(path: str) -> bool:
    return path == ADMIN_PREFIX or path.startswith(ADMIN_PREFIX + "/")


def bearer_token(headers: Iterable[tuple[bytes, bytes]]) -> str | None:
    for name, value in headers:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            return (token.strip() or None) if scheme.lower() == "bearer" else None
    return None


class KeyRing:
    """The configured keys; ``role(token)`` compares in constant time against every key."""

    def __init__(self, api_keys: Iterable[str], admin_key: str | None) -> None:
        self._api = [k.encode() for k in api_keys if k]
        self._admin = admin_key.encode() if admin_key else None

    @classmethod
    def from_settings(cls, settings: Settings) -> KeyRing:
        admin = settings.admin_key.get_secret_value() if settings.admin_key else None
        return cls([k.get_secret_value() for k in settings.api_keys], admin)

    @property
    def keys_required(self) -> bool:
        return bool(self._api)

    @property
    def admin_configured(self) -> bool:
        return self._admin is not None

    def role(self, token: str | None) -> Role | None:
        if not token:
            return None
        given = token.encode()
        is_admin = self._admin is not None and hmac.compare_digest(given, self._admin)
        is_user = False
        for key in self._api:  # no early exit: the time does not depend on which key matched
            is_user |= hmac.compare_digest(given, key)
        return "admin" if is_admin else "user" if is_user else None

    def check(self, path: str, token: str | None) -> tuple[int, str] | None:
        """None when allowed, else (status, reason)."""
        if is_public(path):
            return None
        role = self.role(token)
        if is_admin(path):
            if self._admin is None:
                return 403, ADMIN_DISABLED
            if role == "admin":
                return None
            if role == "user":
                return 403, "this route needs the admin key"
            return 401, "missing or invalid admin key (Authorization: Bearer <admin key>)"
        if not self._api or role is not None:
            return None
        return 401, "missing or invalid API key (Authorization: Bearer <key>)"


class ApiKeyMiddleware:
    """401/403 before the request reaches a route; records who asked for the rate limiter."""

    def __init__(self, app: ASGIApp, keys: KeyRing) -> None:
        self.app = app
        self.keys = keys

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        token = bearer_token(scope.get("headers", []))
        denied = self.keys.check(route_path(scope), token)
        if denied is not None and route_match(scope) is Match.PARTIAL:
            denied = None  # a method the path does not serve: the router's 405 (with Allow), nothing runs
        if denied is not None:
            status, reason = denied
            extra = [(b"www-authenticate", b'Bearer realm="qreact"')] if status == 401 else []
            await send_json_error(send, status, reason, extra)
            return
        if token and self.keys.role(token):
            # the key's hash (never the key) identifies the caller for rate limits and logs
            scope[SCOPE_PRINCIPAL] = "key:" + hashlib.sha256(token.encode()).hexdigest()[:12]
        await self.app(scope, receive, send)


def require_admin(request: Request) -> None:
    """FastAPI dependency for admin routers (same rule as the middleware; harmless twice)."""
    denied = KeyRing.from_settings(request.app.state.settings).check(
        ADMIN_PREFIX + "/", bearer_token(request.scope.get("headers", []))
    )
    if denied is not None:
        status, reason = denied
        headers = {"WWW-Authenticate": 'Bearer realm="qreact"'} if status == 401 else None
        raise HTTPException(status_code=status, detail=reason, headers=headers)


AdminDep = Annotated[None, Depends(require_admin)]


def document_bearer_auth(app: FastAPI, keys_required: bool = True, admin_configured: bool = True) -> None:
    """Declare the Bearer scheme in the OpenAPI schema (Swagger's Authorize button, client generators).

    ``/admin/*`` always needs the (admin) key; with ``keys_required`` every other route but the
    public ones does too (those are marked ``security: []``). Without an admin key configured no
    credential opens ``/admin/*``: those operations are documented as disabled (``security: []``,
    every call answers 403).
    """
    build = app.openapi

    def openapi() -> dict:
        schema = build()
        schemes = schema.setdefault("components", {}).setdefault("securitySchemes", {})
        schemes["bearerAuth"] = {
            "type": "http",
            "scheme": "bearer",
            "description": "an API key (QREACT_API_KEYS); /admin/* needs the admin key (QREACT_ADMIN_KEY)",
        }
        if keys_required:
            schema["security"] = [{"bearerAuth": []}]
        for path, operations in schema.get("paths", {}).items():
            for operation in operations.values():
                if not isinstance(operation, dict):
                    continue
                if is_admin(path) and not admin_configured:
                    operation["security"] = []
                    if not operation.get("description", "").startswith(ADMIN_OFF_NOTE):
                        operation["description"] = ADMIN_OFF_NOTE + operation.get("description", "")
                elif is_admin(path):
                    operation["security"] = [{"bearerAuth": []}]
                elif is_public(path) and keys_required:
                    operation["security"] = []
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def is_loopback(host: str) -> bool:
    name = host.strip().strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False  # a host name other than localhost may resolve anywhere


def bind_refusal(settings: Settings, host: str) -> str | None:
    """Why serving on ``host`` is refused (no API keys on a non-loopback address), else None."""
    if settings.api_keys or settings.allow_open_access or is_loopback(host):
        return None
    return (
        f"refusing to serve on {host} without API keys: anyone who can reach it could use the model. "
        "Set QREACT_API_KEYS (comma-separated bearer keys), bind 127.0.0.1, or set "
        "QREACT_ALLOW_OPEN_ACCESS=true if open access is intended"
    )


def check_bind(settings: Settings, host: str) -> None:
    """At every start: ``RuntimeError`` when ``bind_refusal`` refuses; a warning when open access
    on a public address was asked for (``allow_open_access``)."""
    refusal = bind_refusal(settings, host)
    if refusal is not None:
        raise RuntimeError(refusal)
    if not settings.api_keys and not is_loopback(host):
        logger.warning(
            "serving on %s WITHOUT API keys (QREACT_ALLOW_OPEN_ACCESS=true): anyone who can reach it "
            "can use the model; set QREACT_API_KEYS to require keys",
            host,
        )
