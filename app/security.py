"""Access control and request limits, attached to the app from outside (plain ASGI middleware).

Closed by default (docs/security.md has the threat model and every setting):

- Host header: only ``allowed_hosts`` (loopback names by default) are answered, else 400 — a
  DNS-rebinding page cannot reach a loopback server under its own name.
- Cross-site forms: a state-changing request (POST, PUT, PATCH, DELETE) needs a JSON content type,
  or an ``Authorization`` / ``X-Requested-With`` header — none of which a cross-site form or a
  no-preflight ``fetch`` can send — else 415.
- API keys: ``Authorization: Bearer <key>`` on every route except the public ones (``/healthz``,
  ``/readyz``, the console page ``/`` and ``/static/*``) when ``api_keys`` is set; ``/docs``,
  ``/openapi.json`` and ``/metrics`` are protected like the rest. Constant-time comparison.
- Admin: ``/admin/*`` always needs ``admin_key``; unset, the admin routes answer 403 and say how to
  enable them (an API key never grants admin).
- Open access: without ``api_keys`` the server starts only on a loopback address, unless
  ``allow_open_access`` says so (then a warning at every start): ``check_bind``.
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
import ipaddress
import logging
import math
import sys
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Annotated, Literal

from fastapi import Depends, HTTPException, Request
from pydantic import ValidationError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from starlette.middleware.body_limit import RequestBodyLimitMiddleware
from starlette.middleware.cors import CORSMiddleware
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app import contract, limits, metrics
from app.asgi import route_path, send_json_error
from app.logging import RequestIdMiddleware, configure_logging, register_secrets
from app.schemas.ask import AskRequest
from app.schemas.openai_compat import ChatCompletionRequest, CompletionRequest

if TYPE_CHECKING:
    from fastapi import FastAPI

    from app.settings import Settings

logger = logging.getLogger(__name__)

PUBLIC_PATHS = frozenset({"/healthz", "/readyz", "/", "/favicon.ico"})
PUBLIC_PREFIXES = ("/static/",)
ADMIN_PREFIX = "/admin"
# Paths the rate limiter never counts: probes and scrapes must keep working under a flood.
UNLIMITED_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
SCOPE_PRINCIPAL = "qreact.principal"

Role = Literal["admin", "user"]
ADMIN_DISABLED = (
    "admin routes are disabled: set QREACT_ADMIN_KEY (e.g. in .env) and restart, then send "
    "Authorization: Bearer <admin key>"
)
ADMIN_OFF_NOTE = "**Disabled on this server** (QREACT_ADMIN_KEY is not set): every call answers 403. "
# Methods that change state: a cross-site form can send POST; the others need CORS anyway.
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})


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


def host_allowed(host_header: str | None, allowed: Sequence[str]) -> bool:
    """Whether a ``Host`` header names this server: exact names, ``*.suffix`` or ``*``; port ignored."""
    if "*" in allowed:
        return True
    if not host_header:
        return False
    host = host_header.strip().lower()
    if host.startswith("["):  # [::1]:8000
        host = host[1 : host.find("]")] if "]" in host else host
    elif host.count(":") == 1:
        host = host.split(":", 1)[0]
    for name in allowed:
        name = name.lower().strip("[]")
        if host == name or (name.startswith("*.") and host.endswith(name[1:])):
            return True
    return False


class HostHeaderMiddleware:
    """400 (JSON) unless the ``Host`` header is one of ``allowed`` (DNS rebinding)."""

    def __init__(self, app: ASGIApp, allowed: Sequence[str]) -> None:
        self.app = app
        self.allowed = list(allowed)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        host = next((v.decode("latin-1") for k, v in scope.get("headers", []) if k == b"host"), None)
        if not host_allowed(host, self.allowed):
            await send_json_error(
                send, 400, "unknown Host header: add this server's name to QREACT_ALLOWED_HOSTS"
            )
            return
        await self.app(scope, receive, send)


def form_safe(method: str, headers: Iterable[tuple[bytes, bytes]]) -> bool:
    """Whether a request could not have come from a cross-site form (or a no-preflight fetch).

    Safe methods pass; a state-changing one needs a JSON content type or an ``Authorization`` /
    ``X-Requested-With`` header (a browser sends those cross-site only after a CORS preflight).
    """
    if method not in STATE_CHANGING:
        return True
    for name, value in headers:
        if name in (b"authorization", b"x-requested-with"):
            return True
        if name == b"content-type":
            media = value.decode("latin-1").split(";", 1)[0].strip().lower()
            if media == "application/json" or (media.startswith("application/") and media.endswith("+json")):
                return True
    return False


class JsonTooLargeMiddleware:
    """Starlette's body limiter answers 413 in plain text; this rewrites that answer as JSON."""

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.detail = f"the request body is larger than {max_body_bytes} bytes (QREACT_MAX_BODY_BYTES)"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        replacing = False

        async def send_json(message: Message) -> None:
            nonlocal replacing
            if message["type"] == "http.response.start" and message["status"] == 413:
                plain = dict(message.get("headers", [])).get(b"content-type", b"").startswith(b"text/plain")
                if plain:
                    replacing = True
                    await send_json_error(send, 413, self.detail)
                    return
            if replacing:  # the plain-text body that followed
                return
            await send(message)

        await self.app(scope, receive, send_json)


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


class FormGuardMiddleware:
    """415 (JSON) for a state-changing request a cross-site form could have sent (CSRF). A method
    or path no route serves goes on to the router's 405/404: it cannot change anything."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and not form_safe(scope.get("method", ""), scope.get("headers", []))
            and route_match(scope) is Match.FULL
        ):
            await send_json_error(
                send,
                415,
                "state-changing requests need Content-Type: application/json (or an Authorization or "
                "X-Requested-With header): cross-site forms are refused",
            )
            return
        await self.app(scope, receive, send)


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
                if _is_admin(path) and not admin_configured:
                    operation["security"] = []
                    if not operation.get("description", "").startswith(ADMIN_OFF_NOTE):
                        operation["description"] = ADMIN_OFF_NOTE + operation.get("description", "")
                elif _is_admin(path):
                    operation["security"] = [{"bearerAuth": []}]
                elif _is_public(path) and keys_required:
                    operation["security"] = []
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def model_body_validators(settings: Settings) -> dict[str, Callable[[bytes], bool]]:
    """The model routes' request models (and the settings' limits on a question), checked before a
    request takes a model slot."""

    def ask(body: bytes) -> bool:
        try:
            request = AskRequest.model_validate_json(body)
        except ValidationError:
            return False
        return not request.limit_errors(settings.max_question_chars, settings.max_steps_cap)

    return {
        "/ask": ask,
        "/ask/stream": ask,
        "/v1/chat/completions": limits.pydantic_validator(ChatCompletionRequest),
        "/v1/completions": limits.pydantic_validator(CompletionRequest),
    }


def store_password(url: str) -> str | None:
    """The password in a store URL (never to be logged), if any."""
    try:
        return make_url(url).password  # type: ignore[return-value]
    except ArgumentError:
        return None


def install_hardening(app: FastAPI, settings: Settings) -> None:
    """Install logging, metrics, CORS, body limit, API keys, rate limit and model slots.

    Starlette runs the last-added middleware first, so they are added innermost first. Outermost
    to innermost: request id + access log, metrics, Host check, CORS, API keys, form guard, body
    limit, rate limit, model slots, then the app's routes.
    """
    secrets: list[str | None] = [k.get_secret_value() for k in settings.api_keys]
    secrets += [s.get_secret_value() for s in (settings.admin_key, settings.openai_api_key) if s]
    secrets.append(store_password(settings.resolved_store_url))
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
        app.add_middleware(
            limits.ModelSlotMiddleware,
            limiter=limiter,
            budget_s=settings.timeout_s,
            body_timeout_s=settings.body_timeout_s,
            validators=model_body_validators(settings),
        )
    if settings.rate_limit_per_minute > 0:
        app.add_middleware(
            RateLimitMiddleware,
            limiter=RateLimiter(settings.rate_limit_per_minute),
            on_limited=metrics.RATE_LIMITED.inc,
        )
    app.add_middleware(RequestBodyLimitMiddleware, max_body_size=settings.max_body_bytes)
    app.add_middleware(JsonTooLargeMiddleware, max_body_bytes=settings.max_body_bytes)
    app.add_middleware(FormGuardMiddleware)
    keys = KeyRing.from_settings(settings)
    # always: /admin/* is closed without the admin key. Before the form guard, so a request without
    # its key is a 401 whatever its content type (a cross-site form has no key either).
    app.add_middleware(ApiKeyMiddleware, keys=keys)
    document_bearer_auth(app, keys_required=keys.keys_required, admin_configured=keys.admin_configured)
    contract.document_contract(app, settings)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "OPTIONS"],
            allow_headers=["Authorization", "Content-Type", "X-Request-ID"],
            expose_headers=["X-Request-ID", "Retry-After"],
        )
    app.add_middleware(HostHeaderMiddleware, allowed=settings.allowed_hosts)
    metrics.install_metrics(app)
    app.add_middleware(RequestIdMiddleware)
