"""Prometheus metrics at ``GET /metrics`` (prometheus-client, one registry for the process).

HTTP series come from a middleware (route template, never the raw path, so random URLs cannot
blow up the label set). Run series come from ``record_run(result)``: the middleware wraps
``app.state.agent.run`` once the agent exists, so every run of the app is counted without a hook
in the routes; calling ``record_run`` again for the same run is a no-op. Gauges that describe the
app's state (queue depth, active adapter, readiness, training job) are refreshed at scrape time.
"""

from __future__ import annotations

import functools
import time
from collections import deque
from typing import Any, get_args

from fastapi import FastAPI
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    gc_collector,
    generate_latest,
    platform_collector,
    process_collector,
)
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from agent.backends import AdapterHost
from agent.trace import RunResult, RunStatus
from app.limits import ModelLimiter
from app.state import AppState

REGISTRY = CollectorRegistry()
process_collector.ProcessCollector(registry=REGISTRY)
platform_collector.PlatformCollector(registry=REGISTRY)
gc_collector.GCCollector(registry=REGISTRY)

# Latency buckets, seconds: sub-ms probes up to multi-minute CPU runs (a run's budget is 120 s).
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300)

HTTP_REQUESTS = Counter(
    "qreact_http_requests_total",
    "HTTP requests by method, route template and status",
    ["method", "route", "status"],
    registry=REGISTRY,
)
HTTP_LATENCY = Histogram(
    "qreact_http_request_duration_seconds",
    "HTTP request latency by route template (streams: until the last byte)",
    ["method", "route"],
    buckets=_LATENCY_BUCKETS,
    registry=REGISTRY,
)
ASK_LATENCY = Histogram(
    "qreact_ask_duration_seconds",
    "Wall time of one agent run (/ask and /ask/stream), by final status",
    ["status"],
    buckets=_LATENCY_BUCKETS,
    registry=REGISTRY,
)
RUNS = Counter("qreact_runs_total", "Agent runs by final status", ["status"], registry=REGISTRY)
UNGROUNDED = Counter(
    "qreact_ungrounded_answers_total",
    "Final answers the grounding check found unsupported by the run's observations (returned as they are, "
    "or replaced by the not-found answer when QREACT_UNGROUNDED=not_found)",
    registry=REGISTRY,
)
SECOND_LOOKS = Counter(
    "qreact_second_looks_total",
    "Second looks after the model's not-found answer (QREACT_SECOND_LOOK): 'kept' = the check supported the "
    "forced answer and it replaced the not-found one, 'refused' = it did not and the not-found answer stands",
    ["outcome"],
    registry=REGISTRY,
)
STEPS = Histogram(
    "qreact_run_steps",
    "Model steps per run",
    buckets=(1, 2, 3, 4, 5, 6, 8, 10, 12, 20, 50),
    registry=REGISTRY,
)
TOOL_CALLS = Counter("qreact_tool_calls_total", "Tool calls by tool", ["tool"], registry=REGISTRY)
TOOL_ERRORS = Counter(
    "qreact_tool_errors_total",
    "Tool calls whose observation is an error (timeout, failure, bad input)",
    ["tool"],
    registry=REGISTRY,
)
FORMAT_ERRORS = Counter(
    "qreact_format_errors_total",
    "Malformed model steps (unparsable, or an unknown tool) fed back",
    registry=REGISTRY,
)
TOKENS = Counter(
    "qreact_tokens_total",
    "Tokens processed by the model, by kind (prompt, completion = generated)",
    ["kind"],
    registry=REGISTRY,
)
QUEUE_DEPTH = Gauge("qreact_model_queue_depth", "Runs waiting for a model slot", registry=REGISTRY)
ACTIVE_RUNS = Gauge("qreact_model_active_runs", "Runs holding a model slot", registry=REGISTRY)
REJECTED = Counter(
    "qreact_model_rejected_total", "Requests answered 503 because the model queue was full", registry=REGISTRY
)
RATE_LIMITED = Counter(
    "qreact_rate_limited_total", "Requests answered 429 by the rate limiter", registry=REGISTRY
)
ACTIVE_ADAPTER = Gauge(
    "qreact_active_adapter",
    "1 for the LoRA adapter now serving ('none' without one)",
    ["adapter"],
    registry=REGISTRY,
)
READY = Gauge("qreact_ready", "1 when the model is loaded and /readyz answers 200", registry=REGISTRY)
TRAINING_JOB = Gauge(
    "qreact_training_job_state",
    "1 for the state of the latest fine-tuning job ('none' before any)",
    ["state"],
    registry=REGISTRY,
)

# Known label values start at 0, so a dashboard sees every series before the first event.
for _status in get_args(RunStatus):
    RUNS.labels(_status)
    ASK_LATENCY.labels(_status)
for _tool in ("Search", "Calculator", "other"):
    TOOL_CALLS.labels(_tool)
    TOOL_ERRORS.labels(_tool)
for _kind in ("prompt", "completion"):
    TOKENS.labels(_kind)
for _outcome in ("kept", "refused"):
    SECOND_LOOKS.labels(_outcome)

_ERROR_PREFIXES = ("Error:", "Error ")
_recorded: deque[str] = deque(maxlen=4096)  # run ids already counted (record_run is idempotent)
_seen_rejections: dict[int, int] = {}
_adapter_labels: set[str] = set()
_job_labels: set[str] = set()


def record_run(result: RunResult, known_tools: set[str] | None = None) -> None:
    """Count one finished run: status, latency, steps, tool calls/errors, tokens. Idempotent."""
    if result.run_id in _recorded:
        return
    _recorded.append(result.run_id)
    RUNS.labels(result.status).inc()
    ASK_LATENCY.labels(result.status).observe(result.latency_ms / 1000)
    STEPS.observe(len(result.steps))
    g = result.grounding
    if g is not None and not g.supported and not g.not_found and any(s.kind == "final" for s in result.steps):
        UNGROUNDED.inc()
    last = result.steps[-1] if result.steps else None
    if last is not None and last.kind == "final" and last.second_look is not None:
        SECOND_LOOKS.labels("kept" if result.status == "answered" else "refused").inc()
    for step in result.steps:
        if step.kind == "format_error":
            FORMAT_ERRORS.inc()
        elif step.kind == "tool" and step.tool:
            # label values only from the real tool set: a model (or an injected text) cannot add series
            tool = step.tool if known_tools is None or step.tool in known_tools else "other"
            TOOL_CALLS.labels(tool).inc()
            if (step.observation or "").startswith(_ERROR_PREFIXES):
                TOOL_ERRORS.labels(tool).inc()
    TOKENS.labels("prompt").inc(result.usage.prompt_tokens)
    TOKENS.labels("completion").inc(result.usage.completion_tokens)


def record_tokens(completion_tokens: int, prompt_tokens: int = 0) -> None:
    """For generation outside agent runs (the /v1 API)."""
    TOKENS.labels("prompt").inc(prompt_tokens)
    TOKENS.labels("completion").inc(completion_tokens)


def set_training_job_state(state: str | None) -> None:
    """The latest fine-tuning job's state (queued, running, evaluating, succeeded, failed, ...)."""
    label = state or "none"
    _job_labels.add(label)
    for other in _job_labels:
        TRAINING_JOB.labels(other).set(1 if other == label else 0)


def _set_adapter(name: str | None) -> None:
    label = name or "none"
    _adapter_labels.add(label)
    for other in _adapter_labels:
        ACTIVE_ADAPTER.labels(other).set(1 if other == label else 0)


def watch_limiter(limiter: ModelLimiter) -> None:
    def update(lim: ModelLimiter) -> None:
        QUEUE_DEPTH.set(lim.waiting)
        ACTIVE_RUNS.set(lim.active)
        seen = _seen_rejections.get(id(lim), 0)
        if lim.rejected > seen:
            REJECTED.inc(lim.rejected - seen)
        _seen_rejections[id(lim)] = lim.rejected

    limiter.on_change.append(update)


def instrument_agent(agent: Any) -> None:
    """Wrap ``agent.run`` so each finished run is recorded (once per agent object)."""
    if agent is None or getattr(agent, "_qreact_metrics", False):
        return
    run = agent.run
    known = set(getattr(agent, "tools", {}) or {})

    @functools.wraps(run)
    def counted_run(*args: Any, **kwargs: Any) -> Any:
        result = run(*args, **kwargs)
        try:
            record_run(result, known)
        except Exception:  # metrics must never break a run
            pass
        return result

    agent.run = counted_run
    agent._qreact_metrics = True


def _served(app: Any) -> AppState | None:
    """The app's state; None for an app not built by ``create_app`` (the middleware alone, in tests)."""
    state = app.state
    return state if isinstance(state, AppState) else None


def _job_state(state: AppState) -> str | None:
    """The newest training job's state from the app's JobManager (``jobs.list()``, newest first)."""
    if state.jobs is None:
        return None
    try:
        newest = next(iter(state.jobs.list()), None)
    except Exception:  # a scrape must not fail because the job store is unreadable
        return None
    return str(newest.get("state")) if isinstance(newest, dict) and newest.get("state") else None


def refresh(app: Any) -> None:
    """Set the state gauges from the app (called at scrape time)."""
    state = _served(app)
    READY.set(1 if state is not None and state.ready else 0)
    if state is None:
        return
    if state.model_limiter is not None:
        QUEUE_DEPTH.set(state.model_limiter.waiting)
        ACTIVE_RUNS.set(state.model_limiter.active)
    if isinstance(state.chat_model, AdapterHost):
        _set_adapter(state.chat_model.active_adapter)
    elif state.agent is not None:
        _set_adapter(state.agent.adapter)
    set_training_job_state(_job_state(state))


async def metrics_endpoint(request: Request) -> Response:
    refresh(request.app)
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)


class MetricsMiddleware:
    """Counts every HTTP request by route template and status; times it until the last byte."""

    def __init__(self, app: ASGIApp, fastapi_app: Any) -> None:
        self.app = app
        self.fastapi_app = fastapi_app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = _served(self.fastapi_app)
        instrument_agent(state.agent if state is not None else None)
        started = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            method = scope.get("method", "GET")
            HTTP_REQUESTS.labels(method, route, str(status)).inc()
            HTTP_LATENCY.labels(method, route).observe(time.perf_counter() - started)
            instrument_agent(state.agent if state is not None else None)


def install_metrics(app: FastAPI) -> None:
    """Add ``GET /metrics`` and the HTTP middleware (``install_hardening`` calls this)."""
    app.add_api_route(
        "/metrics",
        metrics_endpoint,
        methods=["GET"],
        tags=["ops"],
        summary="Prometheus metrics",
        description="Prometheus text format; see docs/metrics.md for every series.",
        response_class=Response,
        responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
    )
    app.add_middleware(MetricsMiddleware, fastapi_app=app)
