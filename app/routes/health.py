"""GET /healthz (the process is alive) and GET /readyz (the agent can take questions)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from app.deps import not_ready_reason
from app.schemas.health import Health, Readiness
from app.state import app_state

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health, summary="Liveness: answers at once, never touches the model")
async def healthz() -> Health:
    return Health()


@router.get(
    "/readyz",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "still loading, or the load failed (see reason)"}},
    summary="Readiness: 200 once the model, tools and run store are loaded",
)
async def readyz(request: Request) -> Readiness | JSONResponse:
    state = app_state(request.app)
    settings = state.settings
    reason = not_ready_reason(request)
    agent = state.agent
    if reason is None and agent is not None:
        return Readiness(status="ready", backend=agent.backend, model=agent.model, adapter=agent.adapter)
    failed = state.load_error is not None
    body = Readiness(status="failed" if failed else "loading", backend=settings.backend, reason=reason)
    return JSONResponse(status_code=503, content=body.model_dump())
