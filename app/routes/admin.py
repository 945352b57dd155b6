"""/admin: training jobs, the adapter list, hot swap and rollback. Needs the admin key when one is set."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field, model_validator
from starlette.concurrency import run_in_threadpool

from app.deps import ChatModelDep
from app.jobs import GPU_TRAIN_BUDGET_MB, JobError, JobManager, JobSpec
from app.limits import Overloaded
from app.schemas import ErrorResponse, ValidationErrorResponse
from app.security import require_admin
from finetune.promote import DEFAULT_EVAL_LIMIT, DEV_SET, AdapterRegistry

router = APIRouter(prefix="/admin", tags=["admin"], dependencies=[Depends(require_admin)])
_INIT = threading.Lock()

AUTH_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse, "description": "missing or wrong admin key"},
    403: {"model": ErrorResponse, "description": "admin routes disabled, or a user key was given"},
}


# --------------------------------------------------------------------------- models
class FinetuneRequest(BaseModel):
    """A training job: the config's gold data plus the run store's confirmed runs, then the eval gate."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {},
                {"overrides": {"max_steps": 200, "learning_rate": 1e-4}, "eval_limit": 30},
                {"config": "finetune/configs/tiny-test.yaml", "promote": False},
            ]
        },
    )

    config: str | None = Field(default=None, description="finetune YAML (default: the from-runs config)")
    train_files: list[str] = Field(default_factory=list, description="extra trajectory JSONL files")
    from_runs: bool = Field(default=True, description="train on confirmed runs from the run store too")
    overrides: dict[str, str | int | float | bool | list[str]] = Field(
        default_factory=dict, description="fine-tuning options (FinetuneConfig fields), e.g. max_steps"
    )
    eval_questions: str = Field(default=str(DEV_SET), description="eval set for the gate (JSONL)")
    eval_limit: int | None = Field(default=DEFAULT_EVAL_LIMIT, ge=1, description="first N eval questions")
    promote: bool = Field(default=True, description="false: train and register only (no gate, no swap)")
    gpu_budget_mb: int = Field(
        default=GPU_TRAIN_BUDGET_MB, ge=0, description="free GPU memory the job needs to start, MiB"
    )


class JobInfo(BaseModel):
    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={
            "examples": [
                {
                    "id": "3f9a1c2b7d4e",
                    "name": "job-3f9a1c2b7d4e",
                    "state": "training",
                    "active": True,
                    "progress": {"step": 40, "max_steps": 200, "loss": 0.41, "eta_s": 912.5},
                    "baseline": "/app/adapters/default",
                    "adapter_dir": "/root/.cache/qreact/adapters/job-3f9a1c2b7d4e",
                    "scores": None,
                    "decision": None,
                    "error": None,
                    "created_at": 1764460800.0,
                    "started_at": 1764460801.2,
                    "ended_at": None,
                }
            ]
        },
    )

    id: str
    name: str
    state: str = Field(
        description="queued, training, evaluating, promoted, rejected, trained, failed, cancelled"
    )
    active: bool
    progress: dict[str, Any] = Field(description="step, max_steps, loss, eta_s (seconds) from the trainer")
    baseline: str = Field(description="the adapter serving when the job started")
    adapter_dir: str
    scores: dict[str, Any] | None = Field(description="baseline and candidate on the eval set")
    decision: dict[str, Any] | None = Field(description="promote or not, and why")
    error: str | None
    created_at: float
    started_at: float | None
    ended_at: float | None


class AdapterInfo(BaseModel):
    name: str
    path: str | None
    active: bool
    loaded: bool = Field(description="in the live model's memory (activation is instant)")
    source: str | None = None
    scores: dict[str, Any] = Field(default_factory=dict, description="eval scores by eval set (name@limit)")


class AdapterList(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "active": "job-3f9a1c2b7d4e",
                    "adapters": [
                        {
                            "name": "default",
                            "path": "/app/adapters/default",
                            "active": False,
                            "loaded": True,
                            "source": "startup",
                            "scores": {"dev.jsonl@20": {"accuracy": 0.8, "n": 20}},
                        },
                        {
                            "name": "job-3f9a1c2b7d4e",
                            "path": "/root/.cache/qreact/adapters/job-3f9a1c2b7d4e",
                            "active": True,
                            "loaded": True,
                            "source": "job 3f9a1c2b7d4e",
                            "scores": {"dev.jsonl@20": {"accuracy": 0.85, "n": 20}},
                        },
                    ],
                    "history": [{"name": "default", "reason": "serving at startup"}],
                }
            ]
        }
    )

    active: str | None = Field(description="the adapter new requests use; null = the base model")
    adapters: list[AdapterInfo]
    history: list[dict[str, Any]] = Field(description="activations, oldest first (rollback walks back)")


class ActivateRequest(BaseModel):
    """Which adapter to serve: a known name, a folder (loaded as ``name`` or its folder name), or 'none'."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"name": "default"},
                {"path": "/root/.cache/qreact/adapters/job-3f9a1c2b7d4e"},
                {"name": "none"},
            ]
        },
    )

    name: str | None = Field(default=None, min_length=1, max_length=200)
    path: str | None = Field(default=None, min_length=1, max_length=4096)

    @model_validator(mode="after")
    def _one_of(self) -> ActivateRequest:
        if not self.name and not self.path:
            raise ValueError("give name or path")
        if self.path and self.name and self.name.lower() == "none":
            raise ValueError("'none' is the base model; it cannot name an adapter folder")
        return self


# --------------------------------------------------------------------------- state on the app
def get_registry(request: Request) -> AdapterRegistry:
    state = request.app.state
    with _INIT:
        registry = getattr(state, "adapter_registry", None)
        if registry is None:
            settings = state.settings
            registry = AdapterRegistry(Path(settings.cache_dir) / "adapters" / "registry.json")
            state.adapter_registry = registry
    model = state.chat_model if getattr(state, "ready", False) else None
    if model is not None and hasattr(model, "list_adapters") and not getattr(state, "adapters_synced", False):
        for a in model.list_adapters():  # what the server loaded at startup (QREACT_ADAPTER)
            if registry.get(a["name"]) is None:
                registry.register(a["name"], a["path"], source="startup")
        registry.record_activation(model.active_adapter, "serving at startup")
        state.adapters_synced = True
    return registry


async def get_jobs(request: Request) -> JobManager:
    app, state = request.app, request.app.state
    registry = await run_in_threadpool(get_registry, request)
    loop = asyncio.get_running_loop()
    with _INIT:
        jobs = getattr(state, "jobs", None)
        if jobs is None:

            def live_model() -> Any:
                return state.chat_model if getattr(state, "ready", False) else None

            def activate(model: Any, name: str) -> None:  # called from the job's thread
                swap = exclusive_model(app, model.activate_adapter, name)
                asyncio.run_coroutine_threadsafe(swap, loop).result()

            jobs = JobManager(state.settings, chat_model=live_model, registry=registry, activate=activate)
            state.jobs = jobs
    return jobs


async def exclusive_model(app: FastAPI, fn: Callable[..., Any], *args: Any) -> Any:
    """Run ``fn`` holding every model slot: runs in flight finish first (on the old adapter) and
    runs that arrive meanwhile wait in the queue, so no run ever mixes two adapters."""
    state = app.state
    limiter = getattr(state, "model_limiter", None)
    lock = getattr(state, "swap_lock", None)
    if lock is None:
        lock = state.swap_lock = asyncio.Lock()
    held = 0
    async with lock:
        deadline = time.monotonic() + float(state.settings.timeout_s)  # at most one run's budget, seconds
        try:
            while limiter is not None and held < limiter.max_concurrency:
                try:
                    await limiter.acquire()
                    held += 1
                except Overloaded as exc:  # queue full: try again until the deadline
                    if time.monotonic() > deadline:
                        raise HTTPException(
                            status_code=503, detail=f"could not swap adapters: {exc}"
                        ) from exc
                    await asyncio.sleep(0.05)
            return await run_in_threadpool(fn, *args)
        finally:
            for _ in range(held if limiter is not None else 0):
                limiter.release()  # type: ignore[union-attr]


RegistryDep = Annotated[AdapterRegistry, Depends(get_registry)]
JobsDep = Annotated[JobManager, Depends(get_jobs)]


def _job_error(exc: JobError) -> HTTPException:
    return HTTPException(status_code=exc.status_code, detail=exc.message)


def _local(model: Any) -> Any:
    if not hasattr(model, "load_adapter"):
        raise HTTPException(status_code=409, detail="adapters need the local backend (QREACT_BACKEND=local)")
    return model


def _adapter_list(model: Any, registry: AdapterRegistry) -> AdapterList:
    loaded = {a["name"]: a["path"] for a in model.list_adapters()} if hasattr(model, "list_adapters") else {}
    active = getattr(model, "active_adapter", None)
    known = {e["name"]: e for e in registry.all()}
    items = []
    for name in sorted(set(known) | set(loaded)):
        e = known.get(name, {})
        items.append(
            AdapterInfo(
                name=name,
                path=loaded.get(name) or e.get("path"),
                active=name == active,
                loaded=name in loaded,
                source=e.get("source"),
                scores=e.get("scores") or {},
            )
        )
    return AdapterList(active=active, adapters=items, history=registry.history())


def _prepare(model: Any, registry: AdapterRegistry, name: str | None, path: str | None) -> str | None:
    """Load the adapter when needed (serving is untouched); a bad one raises 4xx. Returns its name."""
    loaded = {a["name"] for a in model.list_adapters()}
    try:
        if path is not None:
            name = name or Path(path).expanduser().resolve().name
            model.load_adapter(Path(path), name)
            registry.register(name, Path(path).expanduser().resolve(), source="activated")
        elif name is not None and name not in loaded:
            entry = registry.get(name)
            if entry is None or not entry.get("path"):
                known = sorted(loaded | {e["name"] for e in registry.all()})
                raise HTTPException(
                    status_code=404, detail=f"unknown adapter {name!r}; known: {known or 'none'}"
                )
            model.load_adapter(Path(entry["path"]), name)
    except (ValueError, OSError) as exc:  # AdapterError is a ValueError: missing, corrupt, incompatible
        raise HTTPException(
            status_code=422, detail=f"adapter refused, the current one keeps serving: {exc}"
        ) from exc
    return name


async def _activate(
    request: Request, model: Any, registry: AdapterRegistry, name: str | None, path: str | None, reason: str
) -> None:
    name = await run_in_threadpool(_prepare, model, registry, name, path)
    await exclusive_model(request.app, model.activate_adapter, name)
    registry.record_activation(name, reason)


# --------------------------------------------------------------------------- routes
@router.post(
    "/finetune",
    response_model=JobInfo,
    status_code=202,
    responses={
        **AUTH_ERRORS,
        400: {"model": ErrorResponse, "description": "the job cannot start as asked (e.g. bad paths)"},
        409: {"model": ErrorResponse, "description": "a job is running, or no GPU room"},
        422: {"model": ErrorResponse | ValidationErrorResponse, "description": "bad body or missing data"},
        503: {"model": ErrorResponse, "description": "the job could not be launched"},
    },
    summary="Start a training job (train → evaluate → promote if not worse)",
)
def start_finetune(body: FinetuneRequest, jobs: JobsDep) -> JobInfo:
    spec = JobSpec(**body.model_dump())
    try:
        return JobInfo.model_validate(jobs.start(spec))
    except JobError as exc:
        raise _job_error(exc) from exc


@router.get(
    "/jobs", response_model=list[JobInfo], responses=AUTH_ERRORS, summary="Training jobs, newest first"
)
def list_jobs(jobs: JobsDep) -> list[JobInfo]:
    return [JobInfo.model_validate(j) for j in jobs.list()]


@router.get(
    "/jobs/{job_id}",
    response_model=JobInfo,
    responses={**AUTH_ERRORS, 404: {"model": ErrorResponse, "description": "no such job"}},
    summary="A job's state, step, loss, ETA",
)
def get_job(job_id: str, jobs: JobsDep) -> JobInfo:
    try:
        return JobInfo.model_validate(jobs.get(job_id))
    except JobError as exc:
        raise _job_error(exc) from exc


@router.post(
    "/jobs/{job_id}/cancel",
    response_model=JobInfo,
    responses={
        **AUTH_ERRORS,
        400: {"model": ErrorResponse, "description": "the job cannot be cancelled"},
        404: {"model": ErrorResponse, "description": "no such job"},
        409: {"model": ErrorResponse, "description": "the job already ended"},
    },
    summary="Cancel a running job",
)
def cancel_job(job_id: str, jobs: JobsDep) -> JobInfo:
    try:
        return JobInfo.model_validate(jobs.cancel(job_id))
    except JobError as exc:
        raise _job_error(exc) from exc


@router.get(
    "/adapters", response_model=AdapterList, responses=AUTH_ERRORS, summary="Adapters, scores, the active one"
)
def list_adapters(model: ChatModelDep, registry: RegistryDep) -> AdapterList:
    return _adapter_list(model, registry)


@router.post(
    "/adapters/activate",
    response_model=AdapterList,
    responses={
        **AUTH_ERRORS,
        404: {"model": ErrorResponse, "description": "unknown adapter name"},
        409: {"model": ErrorResponse, "description": "the backend has no adapters (openai)"},
        422: {
            "model": ErrorResponse | ValidationErrorResponse,
            "description": "missing, corrupt or incompatible adapter (the current one keeps serving), or a bad body",
        },
        503: {"model": ErrorResponse, "description": "the swap could not complete"},
    },
    summary="Hot-swap the served adapter (no restart; in-flight requests finish on the old one)",
)
async def activate_adapter(
    body: ActivateRequest, request: Request, model: ChatModelDep, registry: RegistryDep
) -> AdapterList:
    local = _local(model)
    name = None if body.name and body.name.lower() == "none" and not body.path else body.name
    await _activate(request, local, registry, name, body.path, reason="activated by an admin")
    return _adapter_list(local, registry)


@router.post(
    "/adapters/rollback",
    response_model=AdapterList,
    responses={**AUTH_ERRORS, 409: {"model": ErrorResponse, "description": "nothing to roll back to"}},
    summary="Serve the adapter that was active before the current one",
)
async def rollback_adapter(request: Request, model: ChatModelDep, registry: RegistryDep) -> AdapterList:
    local = _local(model)
    current = local.active_adapter
    found, previous = registry.previous(current)
    if not found:
        raise HTTPException(
            status_code=409, detail=f"no adapter was active before {current or 'the base model'}"
        )
    await _activate(request, local, registry, previous, None, reason=f"rollback from {current or 'none'}")
    return _adapter_list(local, registry)
