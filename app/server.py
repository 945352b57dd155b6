"""How ``qreact serve`` runs uvicorn: the options that keep slow clients from holding connections.

uvicorn reads a request's headers before the app sees it and has no timeout for them: its
keep-alive timer starts only after a response, and any byte received stops it, so a client that
opens a connection and trickles (or never finishes) its headers holds it forever (slowloris).
``HeaderTimeoutProtocol`` is uvicorn's h11 protocol with that timer: a request's headers must be
complete within ``header_timeout_s`` of the connection opening or of the first byte after the
previous response, else the connection gets ``408`` and is closed. A model request's body has its
own timeout in the app (``QREACT_BODY_TIMEOUT_S``, ``app.limits.ModelSlotMiddleware``).

It also caps the open connections (``max_connections``, ``QREACT_MAX_CONNECTIONS``): a connection
beyond the cap is answered ``503`` (JSON, ``Retry-After``) as soon as its first bytes arrive, or
closed after at most a second if it sends nothing, and never reaches the app. A flood of idle or
slow sockets then costs a bounded number of file descriptors (the run store, the logs and the
engine's sockets keep theirs) and leaves the connections already open served. uvicorn's own
``limit_concurrency`` is not used: past it, it answers ``503`` in plain text to every new request,
on every connection, health probes included.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from app.settings import Settings


def _close_response(status: str, detail: str, extra_headers: str = "") -> bytes:
    body = json.dumps({"detail": detail}).encode()
    head = (
        f"HTTP/1.1 {status}\r\ncontent-type: application/json\r\nconnection: close\r\n{extra_headers}"
        f"content-length: {len(body)}\r\n\r\n"
    )
    return head.encode("latin-1") + body


def _timeout_response(timeout_s: float) -> bytes:
    return _close_response("408 Request Timeout", f"the request headers did not arrive within {timeout_s:g} s")


def _full_response(max_connections: int) -> bytes:
    detail = f"too many open connections (at most {max_connections}: QREACT_MAX_CONNECTIONS); retry shortly"
    return _close_response("503 Service Unavailable", detail, "retry-after: 1\r\n")


OVER_CAP_GRACE_S = 1.0  # how long a connection beyond the cap may take to send its first bytes


class HeaderTimeoutProtocol(H11Protocol):
    """uvicorn's h11 protocol, plus a deadline for each request's headers (``header_timeout_s``) and
    a cap on open connections (``max_connections``; 0 = none)."""

    header_timeout_s: float = 10.0
    max_connections: int = 0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_timer: asyncio.TimerHandle | None = None
        self._over_cap = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)  # adds this connection to the server's set
        if self.max_connections and len(self.connections) > self.max_connections:
            self._over_cap = True
            self.connections.discard(self)  # it does not count against the connections being served
            self._header_timer = self.loop.call_later(min(OVER_CAP_GRACE_S, self.header_timeout_s), transport.close)
            return
        self._arm_header_timer()  # a connection that sends nothing at all

    def data_received(self, data: bytes) -> None:
        if self._over_cap:  # answered without parsing: the app never sees it
            if not self.transport.is_closing():
                self.transport.write(_full_response(self.max_connections))
                self.transport.close()
            return
        super().data_received(data)
        if self.conn.their_state is h11.IDLE:  # a request line or headers are still incomplete
            if not self.transport.is_closing():
                self._arm_header_timer()
        else:  # the headers are in: the app (and its body timeout) takes over
            self._cancel_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_header_timer()
        super().connection_lost(exc)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        # idle keep-alive: uvicorn's own keep-alive timer runs; the next request's first byte re-arms ours
        self._cancel_header_timer()

    def _arm_header_timer(self) -> None:
        if self._header_timer is None:
            self._header_timer = self.loop.call_later(self.header_timeout_s, self._header_timeout)

    def _cancel_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _header_timeout(self) -> None:
        self._header_timer = None
        if self.conn.their_state is not h11.IDLE or self.transport.is_closing():
            return
        if self.cycle is not None and not self.cycle.response_complete:
            return  # a response is still being written (pipelining): never cut it
        self.transport.write(_timeout_response(self.header_timeout_s))
        self.transport.close()


def header_timeout_protocol(timeout_s: float, max_connections: int = 0) -> type[HeaderTimeoutProtocol]:
    """The protocol class for ``uvicorn.run(http=...)`` with this header timeout and connection cap."""
    fields = {"header_timeout_s": timeout_s, "max_connections": max_connections}
    return type("HeaderTimeoutProtocol", (HeaderTimeoutProtocol,), fields)


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """uvicorn.run's keyword arguments for the settings' bind, proxies and slow-client limits."""
    return {
        "host": settings.host,
        "port": settings.port,
        "log_config": None,  # the app installs its own logging (JSON lines, request ids)
        "access_log": False,
        # X-Forwarded-For / -Proto only from the configured proxies (uvicorn trusts loopback by
        # default, which let any local client pick its rate-limit address)
        "proxy_headers": bool(settings.forwarded_allow_ips),
        "forwarded_allow_ips": ",".join(settings.forwarded_allow_ips) or "",
        "http": header_timeout_protocol(settings.header_timeout_s, settings.max_connections),
    }
