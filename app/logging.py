"""Structured logs: one JSON object per line, the request id on every line, secrets scrubbed.

``RequestIdMiddleware`` gives each HTTP request an id (the client's ``X-Request-ID`` when it is
safe, else a fresh one), keeps it in a contextvar for every log line written while the request is
served (threads and tool calls included: they copy the context), echoes it in the ``X-Request-ID``
response header, writes one access line per request, and turns an unhandled exception into a 500
JSON body that carries the id (never a stack trace). ``configure_logging`` installs the formatter.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
import time
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_ID_HEADER = "X-Request-ID"
REQUEST_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar("qreact_request_id", default=None)

logger = logging.getLogger("qreact.http")

# A client-supplied id is reused only when it cannot break a log line or a header.
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,64}$")
# "Bearer <token>" anywhere in a log line (a header echoed by some library, an exception message).
_BEARER = re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=\-]+")
# The password of a URL (a run store's postgresql+psycopg://user:password@host/db).
_URL_PASSWORD = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://[^:/@\s]*):[^@\s]+@")
# Attributes every LogRecord has; anything else was passed through ``extra=`` and is logged as a field.
_RECORD_FIELDS = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}
_SECRETS: set[str] = set()
_HANDLER_MARK = "_qreact_handler"
_QUIET_SUFFIXES = ("/healthz", "/readyz", "/metrics")


def current_request_id() -> str | None:
    """The id of the request being served in this context, if any (for error bodies)."""
    return REQUEST_ID.get()


def register_secrets(values: Iterable[str | None]) -> None:
    """Values that must never appear in a log line (API keys, admin key, backend key)."""
    for value in values:
        if value and len(value) >= 4:  # shorter strings would scrub ordinary words
            _SECRETS.add(value)


def redact(text: str) -> str:
    """Replace registered secrets, bearer tokens and URL passwords in ``text`` with ``***``."""
    for secret in sorted(_SECRETS, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, "***")
    return _URL_PASSWORD.sub(r"\1:***@", _BEARER.sub(r"\1 ***", text))


class ScrubbingFormatter(logging.Formatter):
    """A plain ``logging.Formatter`` whose lines go through ``redact`` (command-line tools)."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def basic_logging(level: str | int = "INFO", fmt: str = "%(levelname)s %(name)s: %(message)s") -> None:
    """``logging.basicConfig`` for the command-line tools and job processes, with secrets scrubbed."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(ScrubbingFormatter(fmt))
    logging.basicConfig(level=level.upper() if isinstance(level, str) else level, handlers=[handler])


class JsonFormatter(logging.Formatter):
    """One JSON object per record: ts, level, logger, msg, request_id, extra fields, exc."""

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
            "request_id": getattr(record, "request_id", None) or REQUEST_ID.get(),
        }
        for key, value in vars(record).items():
            if key not in _RECORD_FIELDS and key != "request_id" and not key.startswith("_"):
                payload[key] = value
        if record.exc_info:
            payload["exc"] = self.formatException(record.exc_info)
        return redact(json.dumps(payload, default=str, ensure_ascii=False))


class TextFormatter(logging.Formatter):
    """Human-readable lines for a terminal; still carries the request id and scrubs secrets."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        if not getattr(record, "request_id", None):
            record.request_id = REQUEST_ID.get() or "-"
        return redact(super().format(record))


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at emit time (test runners swap it)."""

    def __init__(self) -> None:
        logging.Handler.__init__(self)

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


def configure_logging(level: str = "INFO", json_logs: bool = True, stream: Any = None) -> logging.Handler:
    """Install qreact's handler on the root logger (idempotent: replaces a previous one).

    uvicorn's loggers are routed through it too, and uvicorn's own access log is silenced
    because ``RequestIdMiddleware`` writes a richer one.
    """
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, _HANDLER_MARK, False)]:
        root.removeHandler(old)
    handler: logging.Handler = logging.StreamHandler(stream) if stream is not None else _StderrHandler()
    handler.setFormatter(JsonFormatter() if json_logs else TextFormatter())
    setattr(handler, _HANDLER_MARK, True)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error"):
        uv = logging.getLogger(name)
        uv.handlers.clear()
        uv.propagate = True
    logging.getLogger("uvicorn.access").disabled = True
    return handler


def _client_id(headers: list[tuple[bytes, bytes]]) -> str | None:
    for name, value in headers:
        if name == b"x-request-id":
            text = value.decode("latin-1").strip()
            return text if _SAFE_ID.match(text) else None
    return None


class RequestIdMiddleware:
    """Request id + access log + last-resort 500 handler, as a plain ASGI middleware."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _client_id(scope.get("headers", [])) or uuid.uuid4().hex
        token = REQUEST_ID.set(request_id)
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status = 500
        response_started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = int(message["status"])
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"x-request-id"]
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            logger.exception("unhandled error", extra={"path": scope.get("path")})
            if not response_started:
                body = json.dumps({"detail": "Internal server error", "request_id": request_id}).encode()
                await send_with_id(
                    {
                        "type": "http.response.start",
                        "status": 500,
                        "headers": [
                            (b"content-type", b"application/json"),
                            (b"content-length", b"%d" % len(body)),
                        ],
                    }
                )
                await send_with_id({"type": "http.response.body", "body": body})
        finally:
            route = scope.get("route")
            path = scope.get("path") or ""
            # probes and scrapes every few seconds would drown the log: DEBUG unless they fail
            quiet = path.endswith(_QUIET_SUFFIXES) and status < 400
            logger.log(
                logging.DEBUG if quiet else logging.INFO,
                "request",
                extra={
                    "method": scope.get("method"),
                    "path": scope.get("path"),  # never the query string: it may hold secrets
                    "route": getattr(route, "path", None),
                    "status": status,
                    "ms": round((time.perf_counter() - started) * 1000, 2),
                    "client": (scope.get("client") or ("-",))[0],
                },
            )
            REQUEST_ID.reset(token)
