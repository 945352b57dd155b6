"""/admin: training jobs, the adapter list, hot swap and rollback. Needs the admin key when one is set.

Replicas: activations are recorded in the run store's database; every replica follows the latest one
(``follow_activations``, every ``adapter_sync_s`` seconds) through the same path as an admin's activation.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from agent.backends import DEFAULT_ADAPTER_NAME, AdapterHost
from app.adapter_policy import (
    AdapterPathRefused,
    check_adapter_name,
    redact,
    resolve_activation_path,
    shipped_adapter_dir,
)
from app.deps import ChatModelDep
from app.jobs import GPU_TRAIN_BUDGET_MB, JobError, JobManager, JobSpec
from app.limits import Overloaded
from app.schemas import ErrorResponse, ValidationErrorResponse
from app.security import require_admin
from app.settings import Settings
from app.state import ReplicaState, app_state
from app.store import folder_sha256
from finetune.promote import DEFAULT_EVAL_LIMIT, DEV_SET, AdapterRegistry, Registry

logger = logging.getLogger(__name__)
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
                {
                    "config": "finetune/configs/cpu-continue.yaml",
                    "overrides": {
                        "init_adapter": "adapters/default",
                        "train_files": ["data/gold/replay64.jsonl"],
                        "max_steps": 10,
                        "learning_rate": 5e-5,
                    },
                    "eval_limit": 20,
                },
                {"config": "finetune/configs/tiny-test.yaml", "promote": False},
            ]
        },
    )

    config: str | None = Field(
        default=None,
        description="finetune YAML (default: gpu-qlora.yaml on CUDA, else cpu-default.yaml; a new LoRA on gold data)",
    )
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
    progress: dict[str, Any] = Field(
        description="step, max_steps, loss, eta_s (seconds) from the trainer; while evaluating also eval_done, "
        "eval_total ((adapter, question) pairs: both adapters) and eval_eta_s"
    )
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
    sha256: str | None = Field(default=None, description="of its files stored in the database (every replica)")
    size_bytes: int | None = None


class ReplicaInfo(BaseModel):
    """This process: what it serves and whether it follows the cluster's latest activation."""

    id: str = Field(description="host:pid:tag of this replica")
    serving: str | None = Field(description="the adapter this replica's new requests use; null = base model")
    serving_sha256: str | None = None
    in_sync: bool = Field(description="serving the cluster's desired adapter")
    followed_activation: int = Field(description="id of the latest activation this replica acted on")
    last_sync_at: float | None = Field(description="when it last read the desired adapter, epoch seconds")
    sync_error: str | None = Field(description="why the last activation could not be followed (still serving)")
    sync_interval_s: float = Field(description="QREACT_ADAPTER_SYNC_S; 0 = not following")


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
                    "desired": {"id": 2, "name": "job-3f9a1c2b7d4e", "replica": "host-a:7:1f2e"},
                    "replica": {
                        "id": "host-b:7:9c0d",
                        "serving": "job-3f9a1c2b7d4e",
                        "in_sync": True,
                        "followed_activation": 2,
                        "last_sync_at": 1764460805.0,
                        "sync_error": None,
                        "sync_interval_s": 5.0,
                    },
                }
            ]
        }
    )

    active: str | None = Field(description="the adapter new requests use on this replica; null = the base model")
    adapters: list[AdapterInfo]
    history: list[dict[str, Any]] = Field(description="activations, oldest first (rollback walks back)")
    desired: dict[str, Any] | None = Field(
        default=None, description="the cluster's latest activation (id, name, sha256, replica, reason, at)"
    )
    replica: ReplicaInfo | None = Field(default=None, description="this replica's own state")


class ActivateRequest(BaseModel):
    """Which adapter to serve: a known name, a folder inside the adapter roots (loaded as ``name`` or
    its folder name; relative to a root, e.g. a job's ``job-<id>``), 'default' (the shipped one) or 'none'."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"name": "default"},
                {"path": "job-3f9a1c2b7d4e"},
                {"name": "none"},
            ]
        },
    )

    name: str | None = Field(default=None, min_length=1, max_length=200)
    path: str | None = Field(
        default=None,
        min_length=1,
        max_length=4096,
        description="a folder inside the adapter roots (repository adapters/, cache adapters/, QREACT_ADAPTER_ROOTS)",
    )

    @model_validator(mode="after")
    def _one_of(self) -> ActivateRequest:
        if not self.name and not self.path:
            raise ValueError("give name or path")
        if self.path and self.name and self.name.lower() == "none":
            raise ValueError("'none' is the base model; it cannot name an adapter folder")
        return self


# --------------------------------------------------------------------------- state on the app
def registry_of(app: FastAPI) -> Registry:
    """The app's registry: the run store's (set at startup), else the single-host JSON file."""
    state = app_state(app)
    with _INIT:
        registry = state.adapter_registry
        if registry is None:
            registry = AdapterRegistry(Path(state.settings.cache_dir) / "adapters" / "registry.json")
            state.adapter_registry = registry
    return registry


def _replica(app: FastAPI) -> ReplicaState:
    state = app_state(app)
    with _INIT:
        if state.replica is None:
            state.replica = ReplicaState(id="local")
    return state.replica


def register_startup(app: FastAPI) -> None:
    """After the model loaded: register what it serves (files into the database), seed an empty
    history, and decide where this replica starts following the cluster's activations.

    ``QREACT_ADAPTER=default`` already restored the latest activation (``agent.backends``), so it
    follows from the start; an explicit adapter or ``none`` is kept until the next activation.
    """
    state = app_state(app)
    registry, replica, model = registry_of(app), _replica(app), state.chat_model
    if not isinstance(model, AdapterHost):
        return
    for a in model.list_adapters():
        entry = registry.get(a["name"])
        # 'default' is the shipped adapter: an entry of that name with other files is replaced
        stale = a["name"] == DEFAULT_ADAPTER_NAME and entry is not None and entry.get("path") != str(a["path"])
        if entry is None or stale:
            registry.register(a["name"], a["path"], source="startup")
        replica.shas[a["name"]] = folder_sha256(Path(a["path"]))
    if registry.latest_activation() is None:
        seed = getattr(registry, "seed_activation", registry.record_activation)
        seed(model.active_adapter, "serving at startup")
    latest = registry.latest_activation()
    follows_now = state.settings.adapter == "default"
    replica.seen_id = 0 if follows_now or latest is None else int(latest["id"])


def get_registry(request: Request) -> Registry:
    app = request.app
    registry, state = registry_of(app), app_state(app)
    if state.ready and not state.startup_registered:
        with _INIT:  # an app whose lifespan did not register (embedding): once, here
            first, state.startup_registered = not state.startup_registered, True
        if first:
            register_startup(app)
    return registry


async def get_jobs(request: Request) -> JobManager:
    app, state = request.app, app_state(request.app)
    registry = await run_in_threadpool(get_registry, request)
    loop = asyncio.get_running_loop()
    with _INIT:
        jobs = state.jobs
        if jobs is None:

            def live_model() -> Any:
                return state.chat_model if state.ready else None

            def activate(model: Any, name: str) -> None:  # called from the job's thread
                swap = exclusive_model(app, model.activate_adapter, name)
                asyncio.run_coroutine_threadsafe(swap, loop).result()
                _replica(app).shas[name] = (registry.get(name) or {}).get("sha256")

            jobs = JobManager(state.settings, chat_model=live_model, registry=registry, activate=activate)
            state.jobs = jobs
    return jobs


async def exclusive_model(app: FastAPI, fn: Callable[..., Any], *args: Any) -> Any:
    """Run ``fn`` holding every model slot: runs in flight finish first (on the old adapter) and
    runs that arrive meanwhile wait in the queue, so no run ever mixes two adapters."""
    state = app_state(app)
    limiter, lock = state.model_limiter, state.swap_lock
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


RegistryDep = Annotated[Registry, Depends(get_registry)]
JobsDep = Annotated[JobManager, Depends(get_jobs)]


def _job_error(exc: JobError) -> HTTPException:
    return HTTPException(status_code=exc.status_code, detail=exc.message)


def _local(model: Any) -> AdapterHost:
    if not isinstance(model, AdapterHost):
        raise HTTPException(status_code=409, detail="adapters need the local backend (QREACT_BACKEND=local)")
    return model


def _in_sync(replica: ReplicaState, serving: str | None, desired: dict[str, Any] | None) -> bool:
    if desired is None:
        return True
    name, sha = desired["name"], desired.get("sha256")
    return bool(name == serving and (name is None or sha is None or replica.shas.get(name) == sha))


def _adapter_list(app: FastAPI, model: Any, registry: Registry) -> AdapterList:
    loaded = {a["name"]: a["path"] for a in model.list_adapters()} if isinstance(model, AdapterHost) else {}
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
                sha256=e.get("sha256"),
                size_bytes=e.get("size_bytes"),
            )
        )
    replica, desired = _replica(app), registry.latest_activation()
    info = ReplicaInfo(
        id=replica.id,
        serving=active,
        serving_sha256=replica.shas.get(active) if active else None,
        in_sync=_in_sync(replica, active, desired),
        followed_activation=replica.seen_id,
        last_sync_at=replica.last_sync_at,
        sync_error=replica.sync_error,
        sync_interval_s=replica.sync_interval_s,
    )
    return AdapterList(active=active, adapters=items, history=registry.history(), desired=desired, replica=info)


def _prepare(
    model: Any,
    registry: Registry,
    name: str | None,
    path: str | None,
    *,
    settings: Settings,
    replica: ReplicaState,
    sha256: str | None = None,
) -> str | None:
    """Load the adapter when needed (serving is untouched); a bad one raises 4xx. Returns its name.

    A path must lie inside the adapter roots (``app.adapter_policy``); ``default`` is always the
    shipped adapter. By name, the files come from this host's folder or the database
    (``registry.local_folder``); a name loaded with other files than ``sha256`` (an activation's)
    or the registry's is reloaded. Messages name folders relative to their root, never absolutely.
    """
    loaded = {a["name"] for a in model.list_adapters()}
    folder: Path | None = None
    try:
        if path is not None:
            folder = resolve_activation_path(settings, path)
            name = name or folder.name
            check_adapter_name(settings, name, folder)
            model.load_adapter(folder, name)
            replica.shas[name] = registry.register(name, folder, source="activated").get("sha256")
        elif name == DEFAULT_ADAPTER_NAME:
            if name not in loaded:
                folder = shipped_adapter_dir(settings)
                model.load_adapter(folder, name)
                replica.shas[name] = folder_sha256(folder)
        elif name is not None:
            known_entry = registry.get(name)
            want = sha256 or (known_entry or {}).get("sha256")  # the files the registry holds now
            if name not in loaded or (want is not None and replica.shas.get(name) != want):
                if known_entry is None or not (known_entry.get("path") or known_entry.get("sha256")):
                    known = sorted(loaded | {e["name"] for e in registry.all()})
                    raise HTTPException(
                        status_code=404, detail=f"unknown adapter {name!r}; known: {known or 'none'}"
                    )
                folder = registry.local_folder(name, Path(settings.cache_dir), want)
                model.load_adapter(folder, name)
                replica.shas[name] = want
    except AdapterPathRefused as exc:
        raise HTTPException(status_code=422, detail=str(exc)) from exc
    except (ValueError, OSError) as exc:  # AdapterError is a ValueError: missing, corrupt, incompatible
        reason = redact(settings, str(exc), folder)
        raise HTTPException(
            status_code=422, detail=f"adapter refused, the current one keeps serving: {reason}"
        ) from exc
    return name


async def _swap(app: FastAPI, model: Any, name: str | None) -> None:
    """Serve ``name`` (loaded); on a failure the previous adapter keeps serving (422)."""
    try:
        await exclusive_model(app, model.activate_adapter, name)
    except ValueError as exc:  # AdapterError: the model restored the previous adapter
        reason = redact(app_state(app).settings, str(exc))
        raise HTTPException(
            status_code=422, detail=f"adapter refused, the current one keeps serving: {reason}"
        ) from exc


async def _activate(
    request: Request, model: Any, registry: Registry, name: str | None, path: str | None, reason: str
) -> None:
    app = request.app
    replica, settings = _replica(app), app_state(app).settings
    name = await run_in_threadpool(_prepare, model, registry, name, path, settings=settings, replica=replica)
    await _swap(app, model, name)
    new_id = await run_in_threadpool(registry.record_activation, name, reason)
    if new_id is not None:
        replica.seen_id = max(replica.seen_id, new_id)


def rollback_choice(
    found: bool, previous: str | None, current: str | None, shipped_exists: bool
) -> tuple[bool, str | None]:
    """Where rollback goes: the previous activation, else the shipped adapter, else the base model.

    (possible, target); not possible only when the base model serves and there is no shipped adapter.
    """
    if found:
        return True, previous
    if current != DEFAULT_ADAPTER_NAME and shipped_exists:
        return True, DEFAULT_ADAPTER_NAME
    if current is not None:
        return True, None
    return False, None


# --------------------------------------------------------------------------- following the cluster
async def sync_adapters(app: FastAPI) -> str:
    """One pass: serve the cluster's latest activation if this replica does not yet.

    Returns "idle" (not ready, no local model), "in sync", "swapped", "refused" (a bad adapter:
    logged, the current one keeps serving, not retried until the next activation) or "retry"
    (the database or the model slots were busy: tried again next time).
    """
    state = app_state(app)
    model = state.chat_model if state.ready else None
    if not isinstance(model, AdapterHost):
        return "idle"
    registry, replica = registry_of(app), _replica(app)
    try:
        latest = await run_in_threadpool(registry.latest_activation)
    except SQLAlchemyError as exc:
        logger.warning("replica %s: cannot read the desired adapter (%s); retrying", replica.id, exc)
        return "retry"
    replica.last_sync_at = time.time()
    if latest is None or int(latest["id"]) <= replica.seen_id:
        return "in sync"
    name, sha, act_id = latest["name"], latest.get("sha256"), int(latest["id"])
    if _in_sync(replica, model.active_adapter, latest):
        replica.seen_id, replica.sync_error = act_id, None
        return "in sync"
    try:
        await run_in_threadpool(
            _prepare, model, registry, name, None, settings=state.settings, replica=replica, sha256=sha
        )
        await _swap(app, model, name)
    except HTTPException as exc:
        if exc.status_code == 503:  # the model slots stayed busy: try again next time
            logger.warning("replica %s: could not swap to %r yet: %s", replica.id, name, exc.detail)
            return "retry"
        replica.seen_id, replica.sync_error = act_id, str(exc.detail)
        logger.error(
            "replica %s: activation %d (%r by %s) refused, still serving %r: %s",
            replica.id, act_id, name, latest.get("replica"), model.active_adapter, exc.detail,
        )  # fmt: skip
        return "refused"
    except SQLAlchemyError as exc:
        logger.warning("replica %s: cannot fetch adapter %r (%s); retrying", replica.id, name, exc)
        return "retry"
    replica.seen_id, replica.sync_error = act_id, None
    logger.info(
        "replica %s now serves %r (activation %d by %s: %s)",
        replica.id, name, act_id, latest.get("replica"), latest.get("reason"),
    )  # fmt: skip
    return "swapped"


async def follow_activations(app: FastAPI, interval_s: float) -> None:
    """The lifespan's background task: ``sync_adapters`` every ``interval_s`` seconds, until cancelled."""
    while True:
        await asyncio.sleep(interval_s)
        try:
            await sync_adapters(app)
        except Exception:  # the follower never dies: it logs and tries again
            logger.exception("adapter sync failed")


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
def list_adapters(request: Request, model: ChatModelDep, registry: RegistryDep) -> AdapterList:
    return _adapter_list(request.app, model, registry)


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
    return await run_in_threadpool(_adapter_list, request.app, local, registry)


@router.post(
    "/adapters/rollback",
    response_model=AdapterList,
    responses={
        **AUTH_ERRORS,
        409: {"model": ErrorResponse, "description": "the base model serves and there is no shipped adapter"},
        422: {"model": ErrorResponse, "description": "the target does not load (the current one keeps serving)"},
    },
    summary="Serve the adapter active before the current one (else the shipped adapter, else the base model)",
)
async def rollback_adapter(request: Request, model: ChatModelDep, registry: RegistryDep) -> AdapterList:
    local = _local(model)
    current = local.active_adapter
    found, previous = await run_in_threadpool(registry.previous, current)
    shipped = (shipped_adapter_dir(app_state(request.app).settings) / "adapter_config.json").is_file()
    found, previous = rollback_choice(found, previous, current, shipped)
    if not found:
        raise HTTPException(status_code=409, detail="the base model serves and there is no shipped adapter")
    await _activate(request, local, registry, previous, None, reason=f"rollback from {current or 'none'}")
    return await run_in_threadpool(_adapter_list, request.app, local, registry)
