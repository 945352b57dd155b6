"""Access control and request limits, attached to the app from outside (plain ASGI middleware).

- API keys: ``Authorization: Bearer <key>`` on every route except the public ones (``/healthz``,
  ``/readyz``, the console page ``/`` and ``/static/*``) when ``api_keys`` is set; ``/docs``,
  ``/openapi.json`` and ``/metrics`` are protected like the rest. Constant-time comparison.
- Admin: ``/admin/*`` needs ``admin_key`` when it is set; when it is unset, admin is open only if
  no ``api_keys`` are configured (otherwise 403: an API key never grants admin).
- Rate limit: ``rate_limit_per_minute`` per key (per client IP without a key), token bucket,
  429 + ``Retry-After``.
- Body size: ``max_body_bytes`` (Starlette's limiter: Content-Length and chunked bodies) → 413.
- CORS: off unless ``cors_origins`` is set.

``install_hardening(app, settings)`` installs all of it plus request ids, metrics and the model
slots in the right order; it is the one line ``app/main.py`` needs.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import sys
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Annotated, Literal

from fastapi import Depends, HTTPException, Request
from starlette.middleware.body_limit import RequestBodyLimitMiddleware
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from app.logging import current_request_id

if TYPE_CHECKING:
    from fastapi import FastAPI

    from app.settings import Settings

PUBLIC_PATHS = frozenset({"/healthz", "/readyz", "/", "/favicon.ico"})
PUBLIC_PREFIXES = ("/static/",)
ADMIN_PREFIX = "/admin"
# Paths the rate limiter never counts: probes and scrapes must keep working under a flood.
UNLIMITED_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
SCOPE_PRINCIPAL = "qreact.principal"

Role = Literal["admin", "user"]


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


def _is_public(path: str) -> bool:
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


def _is_admin(path: str) -> bool:
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
        if _is_public(path):
            return None
        role = self.role(token)
        if _is_admin(path):
            if self._admin is None:
                if self._api:
                    return 403, "admin routes are disabled: set QREACT_ADMIN_KEY to enable them"
                return None
            if role == "admin":
                return None
            if role == "user":
                return 403, "this route needs the admin key"
            return 401, "missing or invalid admin key (Authorization: Bearer <admin key>)"
        if not self._api or role is not None:
            return None
        return 401, "missing or invalid API key (Authorization: Bearer <key>)"


async def send_json_error(
    send: Send, status: int, detail: str, extra_headers: Sequence[tuple[bytes, bytes]] = ()
) -> None:
    """A JSON error written by a middleware: ``{"detail", "request_id"}`` like the app's own errors."""
    body = json.dumps({"detail": detail, "request_id": current_request_id()}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body)), *extra_headers]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


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
        if denied is not None:
            status, reason = denied
            extra = [(b"www-authenticate", b'Bearer realm="qreact"')] if status == 401 else []
            await send_json_error(send, status, reason, extra)
            return
        if token and self.keys.role(token):
            # the key's hash (never the key) identifies the caller for rate limits and logs
            scope[SCOPE_PRINCIPAL] = "key:" + hashlib.sha256(token.encode()).hexdigest()[:12]
        await self.app(scope, receive, send)


class RateLimiter:
    """Token buckets per caller: ``per_minute`` requests, refilled continuously.

    At most ``max_callers`` buckets are kept (least recently seen dropped first), so a flood of
    new client addresses costs bounded memory.
    """

    def __init__(
        self, per_minute: int, max_callers: int = 10_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0  # tokens per second
        self.max_callers = max_callers
        self.clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def take(self, caller: str) -> float:
        """0.0 when allowed, else the seconds until the next request would be."""
        now = self.clock()
        tokens, last = self._buckets.pop(caller, (self.capacity, now))
        tokens = min(self.capacity, tokens + (now - last) * self.rate)
        wait = 0.0
        if tokens >= 1.0:
            tokens -= 1.0
        else:
            wait = (1.0 - tokens) / self.rate
        self._buckets[caller] = (tokens, now)
        while len(self._buckets) > self.max_callers:
            self._buckets.popitem(last=False)
        return wait


class RateLimitMiddleware:
    """429 + Retry-After once a caller's bucket is empty (probes, scrapes and static files exempt)."""

    def __init__(
        self, app: ASGIApp, limiter: RateLimiter, on_limited: Callable[[], None] | None = None
    ) -> None:
        self.app = app
        self.limiter = limiter
        self.on_limited = on_limited

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = route_path(scope) if scope["type"] == "http" else ""
        if scope["type"] != "http" or path in UNLIMITED_PATHS or path.startswith(PUBLIC_PREFIXES):
            await self.app(scope, receive, send)
            return
        caller = scope.get(SCOPE_PRINCIPAL) or "ip:" + str((scope.get("client") or ("unknown",))[0])
        wait = self.limiter.take(caller)
        if wait > 0:
            if self.on_limited is not None:
                self.on_limited()
            retry = max(1, math.ceil(wait))
            detail = (
                f"rate limit of {self.limiter.capacity:g} requests per minute exceeded; retry in {retry} s"
            )
            await send_json_error(send, 429, detail, [(b"retry-after", str(retry).encode())])
            return
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


def document_bearer_auth(app: FastAPI) -> None:
    """Declare the Bearer scheme in the OpenAPI schema (Swagger's Authorize button, client generators).

    Public routes are marked ``security: []``; everything else needs the key.
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
        schema["security"] = [{"bearerAuth": []}]
        for path, operations in schema.get("paths", {}).items():
            if _is_public(path):
                for operation in operations.values():
                    if isinstance(operation, dict):
                        operation["security"] = []
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def install_hardening(app: FastAPI, settings: Settings) -> None:
    """Install logging, metrics, CORS, body limit, API keys, rate limit and model slots.

    Starlette runs the last-added middleware first, so they are added innermost first. Outermost
    to innermost: request id + access log, metrics, CORS, body limit, API keys, rate limit,
    model slots, then the app's routes.
    """
    from app import limits, metrics
    from app.logging import RequestIdMiddleware, configure_logging, register_secrets

    secrets = [k.get_secret_value() for k in settings.api_keys]
    secrets += [s.get_secret_value() for s in (settings.admin_key, settings.openai_api_key) if s]
    register_secrets(secrets)
    configure_logging(settings.log_level, settings.log_json)

    if settings.backend == "local":
        # The model's decode loop runs Python between torch kernels in a worker thread; a 1 ms GIL
        # switch interval (default 5 ms) lets the event loop answer probes while it runs (measured
        # with Gemma-270M on 2 busy cores: /healthz p99 119 ms -> 52 ms). Process-wide, cheap.
        sys.setswitchinterval(min(sys.getswitchinterval(), 0.001))
        limiter = limits.limiter_from_settings(settings)
        app.state.model_limiter = limiter
        metrics.watch_limiter(limiter)
        app.add_middleware(limits.ModelSlotMiddleware, limiter=limiter, budget_s=settings.timeout_s)
    if settings.rate_limit_per_minute > 0:
        app.add_middleware(
            RateLimitMiddleware,
            limiter=RateLimiter(settings.rate_limit_per_minute),
            on_limited=metrics.RATE_LIMITED.inc,
        )
    keys = KeyRing.from_settings(settings)
    if keys.keys_required or keys.admin_configured:
        app.add_middleware(ApiKeyMiddleware, keys=keys)
        document_bearer_auth(app)
    app.add_middleware(RequestBodyLimitMiddleware, max_body_size=settings.max_body_bytes)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "OPTIONS"],
            allow_headers=["Authorization", "Content-Type", "X-Request-ID"],
            expose_headers=["X-Request-ID", "Retry-After"],
        )
    metrics.install_metrics(app)
    app.add_middleware(RequestIdMiddleware)
