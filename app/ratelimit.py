"""The rate limit: ``rate_limit_per_minute`` per key (per client IP without a key), a token bucket
per caller, 429 + ``Retry-After``. ``app.security.install_hardening`` installs it."""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable

from starlette.types import ASGIApp, Receive, Scope, Send

from app.asgi import route_path, send_json_error
from app.auth import PUBLIC_PREFIXES, SCOPE_PRINCIPAL

# Paths the rate limiter never counts: probes and scrapes must keep working under a flood.
UNLIMITED_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


class RateLimiter:
    """Token buckets per caller: ``per_minute`` requests, refilled continuously.

    At most ``max_callers`` buckets are kept (least recently seen dropped first), so a flood of
    new client addresses costs bounded memory.
    """

    def __init__(self, per_minute: int, max_callers: int = 10_000, clock: Callable[[], float] = time.monotonic) -> None:
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

    def __init__(self, app: ASGIApp, limiter: RateLimiter, on_limited: Callable[[], None] | None = None) -> None:
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
            detail = f"rate limit of {self.limiter.capacity:g} requests per minute exceeded; retry in {retry} s"
            await send_json_error(send, 429, detail, [(b"retry-after", str(retry).encode())])
            return
        await self.app(scope, receive, send)
