"""A training job: what was asked (``JobSpec``), its state and files (``Job``), and the errors a job
request answers with (each carries its HTTP status)."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from finetune.promote import DEFAULT_EVAL_LIMIT, DEV_SET

ACTIVE_STATES = frozenset({"queued", "training", "evaluating"})
# GPU memory a job needs free before it starts, MiB. Measured on an H200 (torch 2.11, Gemma-3-270M
# shapes, bf16 weights, which bounds NF4 from above; LoRA r=64 all-linear, seq 512, batch 1, gradient
# checkpointing): peak reserved 1182 MiB with logits only at supervised positions (the default),
# 3166 MiB with full logits; + 621 MiB of CUDA context per process. The eval process that follows
# peaks at 608 MiB (+ context). Batch 4 with full logits needs ~8.2 GiB: raise gpu_budget_mb then.
GPU_TRAIN_BUDGET_MB = 4096


class JobError(Exception):
    """A job request that cannot be served; ``status_code`` is the HTTP status to answer with."""

    status_code = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class JobConflict(JobError):
    status_code = 409


class JobNotFound(JobError):
    status_code = 404


class JobInvalid(JobError):
    status_code = 422


@dataclass
class JobSpec:
    """What to train and how to judge it."""

    config: str | None = None  # finetune YAML (default: gpu-qlora.yaml on CUDA, else cpu-default.yaml)
    train_files: list[str] = field(default_factory=list)  # extra trajectory JSONL files
    from_runs: bool = True  # add the run store's confirmed runs (finetune.export)
    overrides: dict[str, Any] = field(default_factory=dict)  # FinetuneConfig fields, as flags
    eval_questions: str = str(DEV_SET)
    eval_limit: int | None = DEFAULT_EVAL_LIMIT
    promote: bool = True  # False: train (and register) only, no eval gate, no swap
    gpu_budget_mb: int = GPU_TRAIN_BUDGET_MB


@dataclass
class Job:
    id: str
    name: str
    spec: JobSpec
    dir: Path
    adapter_dir: Path
    state: str = "queued"
    created_at: float = field(default_factory=time.time)
    started_at: float | None = None
    ended_at: float | None = None
    pid: int | None = None
    eval_started_at: float | None = None
    eval_total: int | None = None  # (adapter, question) pairs the eval gate scores, counted when it starts
    baseline: str = "none"  # the adapter serving when the job started (folder or "none")
    baseline_name: str | None = None
    progress: dict[str, Any] = field(default_factory=dict)
    scores: dict[str, Any] | None = None
    decision: dict[str, Any] | None = None
    error: str | None = None

    @property
    def progress_path(self) -> Path:
        return self.dir / "progress.json"

    @property
    def scores_path(self) -> Path:
        return self.dir / "scores.json"

    @property
    def eval_results_path(self) -> Path:
        """One line per (adapter, question) scored so far: ``app.gate evaluate`` appends them."""
        return self.scores_path.with_suffix(".results.jsonl")

    @property
    def log_path(self) -> Path:
        return self.dir / "train.log"

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["dir"], d["adapter_dir"] = str(self.dir), str(self.adapter_dir)
        d["active"] = self.state in ACTIVE_STATES
        return d
