"""Dependencies: the heavy objects built in the lifespan, handed to routes as Annotated aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from langchain_core.language_models import BaseChatModel

from agent.loop import ReActAgent
from app.settings import Settings
from app.store import RunStore

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
    state = request.app.state
    if getattr(state, "ready", False):
        return None
    error = getattr(state, "load_error", None)
    if error:
        return str(error)
    return "the model is still loading; retry in a few seconds"


def get_app_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_agent(request: Request) -> ReActAgent:
    reason = not_ready_reason(request)
    if reason is not None:
        failed = getattr(request.app.state, "load_error", None) is not None
        raise ServiceUnavailable(reason, None if failed else RETRY_AFTER_S)
    return request.app.state.agent


def get_chat_model(request: Request) -> BaseChatModel:
    get_agent(request)  # same readiness rule
    return request.app.state.chat_model


def get_store(request: Request) -> RunStore:
    store = getattr(request.app.state, "store", None)
    if store is None:
        reason = getattr(request.app.state, "load_error", None) or "the run store is not open"
        raise ServiceUnavailable(reason, None)
    return store


SettingsDep = Annotated[Settings, Depends(get_app_settings)]
AgentDep = Annotated[ReActAgent, Depends(get_agent)]
ChatModelDep = Annotated[BaseChatModel, Depends(get_chat_model)]
StoreDep = Annotated[RunStore, Depends(get_store)]
