"""The qreact HTTP service: ``create_app()`` builds the FastAPI app; the lifespan loads the agent.

Run it with ``qreact serve`` (or ``uvicorn app.main:create_app --factory``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import threading
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from langchain_core.language_models import BaseChatModel
from langchain_core.tools import BaseTool

import app.wiring as wiring
from app.adapters import AdapterService
from app.auth import check_bind
from app.deps import ServiceUnavailable
from app.routes import admin, ask, console, health, openai_compat, runs
from app.security import install_hardening
from app.settings import Settings, get_settings
from app.state import AppState, ReplicaState, app_state
from app.store.database import StoreUnusable
from app.store.registry import AdapterStore, default_replica_id
from app.store.runs import RunStore

logger = logging.getLogger(__name__)

DESCRIPTION = """\
**qreact** answers questions with a zero-shot **ReAct agent** (LangChain's ZERO_SHOT_REACT prompt)
that thinks step by step and uses two tools: **Search** (DuckDuckGo, or a local knowledge base of
every country) and **Calculator** (safe arithmetic, no `eval`).

The chat model is either an OpenAI-compatible API (`QREACT_BACKEND=openai`) or a **local model**
(`QREACT_BACKEND=local`, the default): Gemma-3-270M embedded from PyPI, with a LoRA adapter
fine-tuned on ReAct trajectories, running offline on a CPU.

* `POST /ask` runs the agent and returns the answer with a trace of every step;
  `POST /ask/stream` sends each step as a Server-Sent Event while it happens.
* `POST /v1/chat/completions`, `POST /v1/completions` (a raw prompt) and `GET /v1/models` serve the
  local model to any OpenAI client.
* `GET /healthz` (alive) and `GET /readyz` (model loaded) are for probes.

Every run ends with an honest status: `answered`, `max_steps`, `timeout` or `error`.
"""


def _load_agent(
    app: FastAPI, settings: Settings, chat_model: BaseChatModel | None, tools: Sequence[BaseTool] | None
) -> None:
    """Build the agent (the local model may take minutes on a first start); runs in a thread."""
    state = app_state(app)
    if state.load_error is not None:  # the run store failed: runs could not be recorded
        return
    registry = state.adapter_registry
    try:  # a single-host registry.json from before the database held it: imported once
        if isinstance(registry, AdapterStore):
            registry.import_json(Path(settings.cache_dir) / "adapters" / "registry.json")
    except Exception:  # the adapters' history is lost to this start, serving is not
        logger.exception("could not import the adapter registry file")
    try:
        agent = wiring.build_agent(settings, chat_model=chat_model, tools=tools)
    except Exception as exc:  # readiness reports it; the process stays up for /healthz and logs
        logger.exception("the agent failed to load")
        state.load_error = f"the agent failed to load: {type(exc).__name__}: {exc}"
        return
    state.chat_model, state.agent = agent.llm, agent
    try:
        AdapterService(app).register_startup()
    except Exception:  # admin lists and follows less well; answering questions is unaffected
        logger.exception("could not register the served adapters in the store")
    state.startup_registered = True
    state.ready = True
    logger.info("ready: backend=%s model=%s adapter=%s", agent.backend, agent.model, agent.adapter)


def _field(loc: Sequence[str | int]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path")]
    return ".".join(parts) or "body"


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
        for e in exc.errors()
    ]
    message = "; ".join(f"{_field(e['loc'])}: {e['msg']}" for e in errors)
    return JSONResponse(status_code=422, content=jsonable_encoder({"detail": errors, "message": message}))


async def _service_unavailable(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ServiceUnavailable)
    headers = {"Retry-After": str(exc.retry_after_s)} if exc.retry_after_s else None
    content = {"detail": exc.reason} | ({"run_id": exc.run_id} if exc.run_id else {})
    return JSONResponse(status_code=503, content=content, headers=headers)


async def _unhandled(_request: Request, exc: Exception) -> JSONResponse:
    logger.error("unhandled error", exc_info=exc)
    return JSONResponse(status_code=500, content={"detail": "internal server error (see the server log)"})


def create_app(
    settings: Settings | None = None,
    *,
    chat_model: BaseChatModel | None = None,
    tools: Sequence[BaseTool] | None = None,
) -> FastAPI:
    """The FastAPI app. ``chat_model``/``tools`` replace the configured ones (tests, embedding)."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        check_bind(settings, settings.host)  # no keys on a public address: refuse (or warn, if opted in)
        state = app_state(app)
        state.starting()
        # this process in the activation history: host:pid plus a tag (several apps in one process)
        replica_id = f"{default_replica_id()}:{secrets.token_hex(2)}"
        state.replica = ReplicaState(id=replica_id, sync_interval_s=settings.adapter_sync_s)
        try:
            state.store = RunStore(settings.resolved_store_url)
            state.adapter_registry = state.store.adapter_registry(replica_id)
        except Exception as exc:  # e.g. PostgreSQL down: /readyz and every stored route say why (503)
            logger.exception("the run store could not be opened")
            reason = str(exc) if isinstance(exc, StoreUnusable) else type(exc).__name__
            state.load_error = f"the run store could not be opened: {reason}"
        # Loading runs beside the server so /healthz answers and /readyz says "loading" meanwhile.
        threading.Thread(
            target=_load_agent, args=(app, settings, chat_model, tools), name="qreact-load", daemon=True
        ).start()
        follower = None
        if settings.adapter_sync_s > 0 and settings.backend == "local":
            follower = asyncio.create_task(AdapterService(app).follow(settings.adapter_sync_s))
        try:
            yield
        finally:
            state.ready = False
            if follower is not None:
                follower.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await follower
            if state.store is not None:
                state.store.close()

    app = FastAPI(title="qreact", description=DESCRIPTION, version="0.1.0", lifespan=lifespan)
    app.state = AppState(settings)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(ServiceUnavailable, _service_unavailable)
    app.add_exception_handler(Exception, _unhandled)

    app.include_router(health.router)
    app.include_router(ask.router)
    app.include_router(openai_compat.router)
    app.include_router(runs.router)
    app.include_router(admin.router)
    app.include_router(console.router)  # the web console at / and /static
    # logs with request ids, /metrics, CORS, body limit, API keys, rate limit, model slots
    install_hardening(app, settings)
    return app
