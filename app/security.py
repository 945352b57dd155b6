"""Access control and request limits, attached to the app from outside (plain ASGI middleware).

Closed by default (docs/security.md has the threat model and every setting):

- Host header: only ``allowed_hosts`` (loopback names by default) are answered, else 400 — a
  DNS-rebinding page cannot reach a loopback server under its own name.
- Cross-site forms: a state-changing request (POST, PUT, PATCH, DELETE) needs a JSON content type,
  or an ``Authorization`` / ``X-Requested-With`` header — none of which a cross-site form or a
  no-preflight ``fetch`` can send — else 415.
- API keys (``app.auth``): ``Authorization: Bearer <key>`` on every route except the public ones
  (``/healthz``, ``/readyz``, the console page ``/`` and ``/static/*``) when ``api_keys`` is set;
  ``/docs``, ``/openapi.json`` and ``/metrics`` are protected like the rest. Constant-time comparison.
- Admin (``app.auth``): ``/admin/*`` always needs ``admin_key``; unset, the admin routes answer 403
  and say how to enable them (an API key never grants admin).
- Open access (``app.auth.check_bind``): without ``api_keys`` the server starts only on a loopback
  address, unless ``allow_open_access`` says so (then a warning at every start).
- Rate limit (``app.ratelimit``): ``rate_limit_per_minute`` per key (per client IP without a key),
  token bucket, 429 + ``Retry-After``.
- Body size: ``max_body_bytes`` (Starlette's limiter: Content-Length and chunked bodies) → 413.
- CORS: off unless ``cors_origins`` is set.

``install_hardening(app, settings)`` installs all of it plus request ids, metrics and the model
slots in the right order; it is the one line ``app/main.py`` needs.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Sequence

from fastapi import FastAPI
from pydantic import ValidationError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from starlette.middleware.body_limit import RequestBodyLimitMiddleware
from starlette.middleware.cors import CORSMiddleware
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app import contract, limits, metrics
from app.asgi import route_match, send_json_error
from app.auth import ApiKeyMiddleware, KeyRing, document_bearer_auth
from app.logging import RequestIdMiddleware, configure_logging, register_secrets
from app.ratelimit import RateLimiter, RateLimitMiddleware
from app.schemas.ask import AskRequest
from app.schemas.openai_compat import ChatCompletionRequest, CompletionRequest
from app.settings import Settings

# Methods that change state: a cross-site form can send POST; the others need CORS anyway.
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})


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
