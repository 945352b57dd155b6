"""Dependencies: the heavy objects built in the lifespan, handed to routes as Annotated aliases."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from langchain_core.language_models import BaseChatModel

from agent.loop import ReActAgent
from app.limits import SLOT_SCOPE_KEY, ModelLimiter, Overloaded, limiter_from_settings
from app.settings import Settings
from app.state import app_state
from app.store.runs import RunStore

RETRY_AFTER_S = 5  # seconds a client should wait while the model loads


class ServiceUnavailable(Exception):
    """503 with a reason: the model is loading or failed to load, or a backend is unreachable."""

    def __init__(
        self, reason: str, retry_after_s: int | None = RETRY_AFTER_S, run_id: str | None = None
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after_s = retry_after_s
        self.run_id = run_id


def not_ready_reason(request: Request) -> str | None:
    """None when the agent is loaded; otherwise why not (loading, or the load error)."""
    state = app_state(request.app)
    if state.ready:
        return None
    error = state.load_error
    if error:
        return str(error)
    return "the model is still loading; retry in a few seconds"


def get_app_settings(request: Request) -> Settings:
    return app_state(request.app).settings


def get_agent(request: Request) -> ReActAgent:
    state = app_state(request.app)
    reason = not_ready_reason(request)
    if reason is not None or state.agent is None:
        failed = state.load_error is not None
        raise ServiceUnavailable(reason or "the model is still loading", None if failed else RETRY_AFTER_S)
    return state.agent


def get_chat_model(request: Request) -> BaseChatModel:
    return get_agent(request).llm  # same readiness rule; the model the agent runs on


def get_store(request: Request) -> RunStore:
    state = app_state(request.app)
    if state.store is None:
        raise ServiceUnavailable(state.load_error or "the run store is not open", None)
    return state.store


SettingsDep = Annotated[Settings, Depends(get_app_settings)]
AgentDep = Annotated[ReActAgent, Depends(get_agent)]
ChatModelDep = Annotated[BaseChatModel, Depends(get_chat_model)]
StoreDep = Annotated[RunStore, Depends(get_store)]


def get_limiter(request: Request) -> ModelLimiter:
    """The app's model slots (installed with the middleware on the local backend; else made here, once)."""
    state = app_state(request.app)
    if state.model_limiter is None:
        state.model_limiter = limiter_from_settings(state.settings)
    return state.model_limiter


async def model_slot(request: Request) -> AsyncIterator[None]:
    """FastAPI dependency: hold a model slot while the route runs (no-op under the middleware)."""
    if request.scope.get(SLOT_SCOPE_KEY):
        yield
        return
    try:
        async with get_limiter(request).slot():
            request.scope[SLOT_SCOPE_KEY] = True
            yield
    except Overloaded as exc:
        raise HTTPException(
            status_code=503, detail=str(exc), headers={"Retry-After": str(exc.retry_after_s)}
        ) from None


ModelSlotDep = Annotated[None, Depends(model_slot)]
