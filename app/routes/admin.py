"""/admin: training jobs, the adapter list, hot swap and rollback. Needs the admin key.

The routes are thin: every adapter change goes through ``app.adapters.AdapterService`` (the same
path for an admin, a replica following the cluster's activations and a training job's promotion).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    model_validator,
)
from starlette.concurrency import run_in_threadpool

from agent.backends import AdapterHost
from app.adapters import AdapterService, in_sync
from app.auth import require_admin
from app.deps import ChatModelDep
from app.jobs.job import GPU_TRAIN_BUDGET_MB, JobError, JobSpec
from app.jobs.manager import JobManager
from app.schemas.common import ErrorResponse, ValidationErrorResponse
from finetune.promote import DEFAULT_EVAL_LIMIT, DEV_SET, Registry

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
    train_files: list[str] = Field(
        default_factory=list, description="extra trajectory JSONL files, inside the data roots (QREACT_DATA_ROOTS)"
    )
    from_runs: bool = Field(default=True, description="train on confirmed runs from the run store too")
    overrides: dict[str, StrictBool | StrictInt | StrictFloat | StrictStr | list[StrictStr] | list[StrictInt]] = Field(
        default_factory=dict,
        description="fine-tuning options (FinetuneConfig fields, each of its type; a list stays a list, no "
        "value starts with '-'), e.g. max_steps; paths inside the data roots (QREACT_DATA_ROOTS)",
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
            ],
            # what _one_of checks, said in the schema: a name or a path, and 'none' names no folder
            "anyOf": [
                {"required": ["name"], "properties": {"name": {"type": "string"}}},
                {"required": ["path"], "properties": {"path": {"type": "string"}}},
            ],
            "not": {
                "required": ["name", "path"],
                "properties": {"name": {"type": "string", "pattern": "^[Nn][Oo][Nn][Ee]$"}, "path": {"type": "string"}},
            },
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


# --------------------------------------------------------------------------- dependencies
def get_registry(request: Request) -> Registry:
    service = AdapterService(request.app)
    service.ensure_registered()
    return service.registry


async def get_jobs(request: Request) -> JobManager:
    service = AdapterService(request.app)
    state = service.state
    registry = await run_in_threadpool(get_registry, request)
    loop = asyncio.get_running_loop()
    with _INIT:
        if state.jobs is None:

            def live_model() -> Any:
                return state.chat_model if state.ready else None

            activate = service.job_activator(loop)
            state.jobs = JobManager(state.settings, chat_model=live_model, registry=registry, activate=activate)
        return state.jobs


RegistryDep = Annotated[Registry, Depends(get_registry)]
JobsDep = Annotated[JobManager, Depends(get_jobs)]


def _job_error(exc: JobError) -> HTTPException:
    return HTTPException(status_code=exc.status_code, detail=exc.message)


def _local(model: Any) -> AdapterHost:
    if not isinstance(model, AdapterHost):
        raise HTTPException(status_code=409, detail="adapters need the local backend (QREACT_BACKEND=local)")
    return model


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
    replica, desired = AdapterService(app).replica, registry.latest_activation()
    info = ReplicaInfo(
        id=replica.id,
        serving=active,
        serving_sha256=replica.shas.get(active) if active else None,
        in_sync=in_sync(replica, active, desired),
        followed_activation=replica.seen_id,
        last_sync_at=replica.last_sync_at,
        sync_error=replica.sync_error,
        sync_interval_s=replica.sync_interval_s,
    )
    return AdapterList(active=active, adapters=items, history=registry.history(), desired=desired, replica=info)


# --------------------------------------------------------------------------- routes
@router.post(
    "/finetune",
    response_model=JobInfo,
    status_code=202,
    responses={
        **AUTH_ERRORS,
        400: {"model": ErrorResponse, "description": "the job cannot start as asked (e.g. bad paths)"},
        409: {
            "model": ErrorResponse,
            "description": "a job is running, no GPU room, the model is loading, or the backend is not local",
        },
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
    await AdapterService(request.app).activate(local, name, body.path, reason="activated by an admin")
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
    await AdapterService(request.app).rollback(local)
    return await run_in_threadpool(_adapter_list, request.app, local, registry)
