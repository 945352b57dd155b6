"""/admin: the training job request and its state, the adapter list with this replica's state, the
activation request."""

from __future__ import annotations

from typing import Any

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

from app.jobs.job import GPU_TRAIN_BUDGET_MB
from finetune.promote import DEFAULT_EVAL_LIMIT, DEV_SET


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
    state: str = Field(description="queued, training, evaluating, promoted, rejected, trained, failed, cancelled")
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
