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
from starlette.concurrency import run_in_threadpool

from agent.backends import AdapterHost
from app.adapters import AdapterService, in_sync
from app.auth import require_admin
from app.deps import ChatModelDep
from app.jobs.job import JobError, JobSpec
from app.jobs.manager import JobManager
from app.schemas.admin import ActivateRequest, AdapterInfo, AdapterList, FinetuneRequest, JobInfo, ReplicaInfo
from app.schemas.common import ErrorResponse, ValidationErrorResponse
from finetune.promote import Registry

logger = logging.getLogger(__name__)
router = APIRouter(prefix="/admin", tags=["admin"], dependencies=[Depends(require_admin)])
_INIT = threading.Lock()

AUTH_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse, "description": "missing or wrong admin key"},
    403: {"model": ErrorResponse, "description": "admin routes disabled, or a user key was given"},
}


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
    active = model.active_adapter if isinstance(model, AdapterHost) else None
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
