"""/healthz and /readyz."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class Health(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"status": "ok"}]})

    status: Literal["ok"] = "ok"


class Readiness(BaseModel):
    """Whether the agent (model, tools, run store) is loaded and can take questions."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "status": "ready",
                    "backend": "local",
                    "model": "gemma-3-270m",
                    "adapter": "default",
                    "reason": None,
                },
                {
                    "status": "loading",
                    "backend": "local",
                    "model": None,
                    "adapter": None,
                    "reason": "loading the local model (first start converts it: ~2 minutes)",
                },
            ]
        }
    )

    status: Literal["ready", "loading", "failed"]
    backend: str
    model: str | None = None
    adapter: str | None = None
    reason: str | None = Field(default=None, description="why the service is not ready")
