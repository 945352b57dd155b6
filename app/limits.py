"""Bounded concurrency on the model: ``max_concurrency`` runs at once, ``max_queue`` waiting.

A request beyond that is answered at once with ``503`` and ``Retry-After`` (never queued without
bound, never a crash or an out-of-memory). ``ModelSlotMiddleware`` holds a slot for the whole
request on the model routes (streams included, until the last byte); ``app.deps.model_slot`` is the same
as a FastAPI dependency for routes that prefer to say it (it is a no-op when the middleware
already holds a slot for the request). ``/healthz`` and ``/readyz`` never pass through a slot.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from typing import Any

from pydantic import ValidationError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from agent.loop import DEADLINE
from app.asgi import route_path, send_json_error
from app.settings import Settings

# Routes that run the model. POST only: GETs of these paths do not exist or are cheap.
MODEL_PATHS = ("/ask", "/ask/stream", "/v1/chat/completions", "/v1/completions")
SLOT_SCOPE_KEY = "qreact.model_slot"  # set while a request holds a slot (the middleware or app.deps.model_slot)
_HOLD_KEY = "qreact.model_slot_hold"


class Overloaded(Exception):
    """No slot and no room in the queue (or the wait ran past the queue timeout)."""

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class ModelLimiter:
    """A semaphore with a bounded FIFO queue, for one event loop (the server's).

    Slots are handed over directly to the next waiter on release, so the order is fair and a
    burst cannot starve the queue. ``Retry-After`` is estimated from the mean time a run holds
    a slot (an exponential moving average), clamped to 1..120 s.
    """

    def __init__(self, max_concurrency: int, max_queue: int, queue_timeout_s: float | None = None) -> None:
        if max_concurrency < 1 or max_queue < 0:
            raise ValueError("max_concurrency must be >= 1 and max_queue >= 0")
        self.max_concurrency = max_concurrency
        self.max_queue = max_queue
        self.queue_timeout_s = queue_timeout_s
        self.active = 0
        self.rejected = 0
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._mean_hold_s = 1.0  # prior before the first run finishes, seconds
        self.on_change: list[Callable[[ModelLimiter], None]] = []

    @property
    def waiting(self) -> int:
        return sum(1 for f in self._waiters if not f.done())

    def retry_after_s(self) -> int:
        # expected wait for the back of the queue: queued runs / concurrency x mean run time
        rounds = (self.waiting + 1) / self.max_concurrency
        return max(1, min(120, math.ceil(rounds * self._mean_hold_s)))

    def _changed(self) -> None:
        for callback in self.on_change:
            callback(self)

    async def acquire(self) -> None:
        if self.active < self.max_concurrency and not self.waiting:
            self.active += 1
            self._changed()
            return
        if self.waiting >= self.max_queue:
            self.rejected += 1
            self._changed()
            raise Overloaded(
                f"model busy: {self.active} running, {self.waiting} queued (limits: "
                f"max_concurrency={self.max_concurrency}, max_queue={self.max_queue})",
                self.retry_after_s(),
            )
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(future)
        self._changed()
        try:
            await asyncio.wait_for(asyncio.shield(future), self.queue_timeout_s)
        except (TimeoutError, asyncio.CancelledError) as exc:
            if future.done() and not future.cancelled():
                self.release(0.0)  # the slot arrived as we gave up: pass it on
            else:
                future.cancel()
            self._prune()
            self._changed()
            if isinstance(exc, TimeoutError):
                self.rejected += 1
                raise Overloaded(
                    f"model busy: waited {self.queue_timeout_s:g} s in the queue", self.retry_after_s()
                ) from None
            raise
        # the releasing run handed its slot to us: self.active is unchanged

    def release(self, held_s: float | None = None) -> None:
        if held_s:
            self._mean_hold_s = 0.8 * self._mean_hold_s + 0.2 * held_s
        while self._waiters:
            future = self._waiters.popleft()
            if not future.done():
                future.set_result(None)
                self._changed()
                return
        self.active = max(0, self.active - 1)
        self._changed()

    def _prune(self) -> None:
        self._waiters = deque(f for f in self._waiters if not f.done())

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        await self.acquire()
        started = time.monotonic()
        try:
            yield
        finally:
            self.release(time.monotonic() - started)


def limiter_from_settings(settings: Settings) -> ModelLimiter:
    return ModelLimiter(
        max_concurrency=settings.max_concurrency,
        max_queue=settings.max_queue,
        queue_timeout_s=settings.timeout_s,  # a queued request waits at most one run's budget, seconds
    )


class SlotHold:
    """The model slot a request holds; ``release`` is idempotent. A route whose work outlives its
    response (a stream whose client left while its run finishes the current step) calls
    ``detach`` and releases the slot itself when the work really ends."""

    def __init__(self, limiter: ModelLimiter) -> None:
        self.limiter = limiter
        self.started = time.monotonic()
        self.detached = False
        self._released = False

    def detach(self) -> None:
        self.detached = True

    def release(self) -> None:
        if not self._released:
            self._released = True
            self.limiter.release(time.monotonic() - self.started)


def slot_hold(scope: Scope) -> SlotHold | None:
    hold = scope.get(_HOLD_KEY)
    return hold if isinstance(hold, SlotHold) else None


class BodyTimeout(Exception):
    """The request body did not arrive within the body timeout."""


async def read_body(receive: Receive, timeout_s: float | None) -> bytes | None:
    """The whole request body, or None when the client disconnected; ``BodyTimeout`` past ``timeout_s``."""

    async def read() -> bytes | None:
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                return b"".join(chunks)

    try:
        return await asyncio.wait_for(read(), timeout_s)
    except TimeoutError:
        raise BodyTimeout from None


def replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands out ``body`` once, then waits on the real one (disconnects)."""
    sent = False

    async def receive_again() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return receive_again


class ModelSlotMiddleware:
    """Holds a model slot around every POST to ``paths``; 503 + Retry-After when full.

    The body is read first, within ``body_timeout_s`` (else 408), and checked against the route's
    request model (``validators``): a slow or invalid request never holds a slot (an invalid one
    goes on to the route, which answers its 422). With ``budget_s`` it also sets
    ``agent.loop.DEADLINE`` for the request, so generation outside an agent run (the ``/v1`` API,
    up to 4096 tokens) stops at the same wall-clock budget as a run (an agent run sets its own
    deadline on top, from its start).
    """

    def __init__(
        self,
        app: ASGIApp,
        limiter: ModelLimiter,
        paths: Iterable[str] = MODEL_PATHS,
        budget_s: float | None = None,
        body_timeout_s: float | None = None,
        validators: dict[str, Callable[[bytes], bool]] | None = None,
    ) -> None:
        self.app = app
        self.limiter = limiter
        self.paths = frozenset(p.rstrip("/") or "/" for p in paths)
        self.budget_s = budget_s
        self.body_timeout_s = body_timeout_s
        self.validators = validators or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = (route_path(scope).rstrip("/") or "/") if scope["type"] == "http" else ""
        if scope["type"] != "http" or scope.get("method") != "POST" or path not in self.paths:
            await self.app(scope, receive, send)
            return
        try:
            body = await read_body(receive, self.body_timeout_s)
        except BodyTimeout:
            detail = f"the request body did not arrive within {self.body_timeout_s:g} s"
            await send_json_error(send, 408, detail, [(b"connection", b"close")])
            return
        if body is None:  # the client left before sending its body
            return
        receive = replay(body, receive)
        valid = self.validators.get(path)
        if valid is not None and not valid(body):
            await self.app(scope, receive, send)  # the route answers 422; no slot was taken
            return
        try:
            await self.limiter.acquire()
        except Overloaded as exc:
            await send_json_error(send, 503, str(exc), [(b"retry-after", b"%d" % exc.retry_after_s)])
            return
        hold = SlotHold(self.limiter)
        scope[SLOT_SCOPE_KEY], scope[_HOLD_KEY] = True, hold
        token = DEADLINE.set(hold.started + self.budget_s) if self.budget_s else None
        try:
            await self.app(scope, receive, send)
        finally:
            if token is not None:
                DEADLINE.reset(token)
            if not hold.detached:
                hold.release()


def pydantic_validator(model: Any) -> Callable[[bytes], bool]:
    """A body check for ``ModelSlotMiddleware``: whether ``model`` accepts the JSON ``body``."""
    def valid(body: bytes) -> bool:
        try:
            model.model_validate_json(body)
        except ValidationError:
            return False
        return True

    return valid
