"""The app's state: one typed object on ``app.state``, filled by the lifespan (``app.main``).

Starlette keeps ``app.state`` as an attribute bag; ``AppState`` is that bag with every field named,
typed and given its value before the first request, so code reads ``app_state(app).store`` instead of
``getattr(app.state, "store", None)``.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from langchain_core.language_models import BaseChatModel
from starlette.applications import Starlette
from starlette.datastructures import State

from agent.loop import ReActAgent
from app.jobs.manager import JobManager
from app.limits import ModelLimiter
from app.settings import Settings
from app.store.runs import RunStore
from finetune.promote import Registry


@dataclass
class ReplicaState:
    """What this process serves, and how far it has followed the cluster's activations."""

    id: str
    sync_interval_s: float = 0.0
    seen_id: int = 0  # the latest activation acted on (applied, or refused and logged)
    shas: dict[str, str | None] = field(default_factory=dict)  # sha256 of the files loaded under each name
    last_sync_at: float | None = None
    sync_error: str | None = None


class AppState(State):
    """Everything the lifespan builds and the routes, middleware and admin read."""

    settings: Settings
    ready: bool  # the agent is loaded and serving
    load_error: str | None  # why the agent or the run store did not load (503 with this reason)
    agent: ReActAgent | None
    chat_model: BaseChatModel | None
    store: RunStore | None
    adapter_registry: Registry | None  # the run store's (or the single-host JSON file when it is away)
    replica: ReplicaState | None
    startup_registered: bool  # the served adapters are in the registry (done once after loading)
    jobs: JobManager | None  # created on the first /admin/finetune
    model_limiter: ModelLimiter | None  # the model slots (installed with the middleware on the local backend)
    swap_lock: asyncio.Lock | None  # one adapter swap at a time

    def __init__(self, settings: Settings) -> None:
        super().__init__()
        self.settings = settings
        self.adapter_registry, self.replica = None, None
        self.jobs, self.model_limiter, self.swap_lock = None, None, None
        self.starting()

    def starting(self) -> None:
        """What a (re)started lifespan builds anew; the model slots installed with the middleware stay."""
        self.ready, self.load_error = False, None
        self.agent, self.chat_model = None, None
        self.store, self.startup_registered = None, False


def app_state(app: Starlette) -> AppState:
    state = app.state
    if not isinstance(state, AppState):
        raise TypeError("the app was not built by app.main.create_app (app.state is not an AppState)")
    return state
