"""What a training run resolves from its config before anything loads: the device, the precision (and
why), the base model's folder, and the training files (plus the run store's confirmed runs, exported
by the caller that owns the store)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch

from agent.backends.gguf import ensure_default_model
from agent.config import default_cache_dir
from finetune.config import DEFAULT_BASE_MODEL, ConfigError, FinetuneConfig
from finetune.data import DataError, FileSummary, scan_files

logger = logging.getLogger(__name__)


@dataclass
class Plan:
    """What the run resolved from the config: where, how and why."""

    device: str
    precision: str
    reason: str
    base_path: str
    train_files: list[str]
    eval_files: list[str]
    summaries: dict[str, list[FileSummary]] = field(default_factory=dict)


def resolve_device(cfg: FinetuneConfig) -> str:
    if cfg.device == "cuda" and not torch.cuda.is_available():
        raise ConfigError(
            "1 problem(s) in the fine-tuning config:\n  - device: cuda requested but no CUDA device"
        )
    if cfg.device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return cfg.device


def resolve_precision(cfg: FinetuneConfig, device: str) -> tuple[str, str]:
    """(precision, reason) — the reason is printed at start and written to the training card."""
    cpu_fp32 = (
        "fp32 LoRA on CPU (bf16 training is >10x slower on CPUs without native bf16; "
        "NF4 is no faster and lowers top-1 agreement, see MEASURED.md)"
    )
    qlora = "4-bit NF4 QLoRA with double quantization and bf16 compute (the seed recipe, least VRAM)"
    if cfg.precision == "auto":
        return ("4bit", f"auto on CUDA: {qlora}") if device == "cuda" else ("fp32", f"auto: {cpu_fp32}")
    if device == "cpu":
        if cfg.precision == "bf16":
            logger.warning("bf16 on CPU: expect >10x slower training than fp32 on CPUs without native bf16")
            return "bf16", "bf16 requested on CPU (slow; fp32 is the CPU default)"
        if cfg.precision == "4bit":
            return "4bit", "4bit on CPU: NF4 base with fp32 compute (bf16 compute is ~16x slower on CPU)"
        return "fp32", cpu_fp32
    reasons = {"4bit": qlora, "bf16": "bf16 LoRA on CUDA (no quantization)", "fp32": "fp32 LoRA on CUDA"}
    return cfg.precision, reasons[cfg.precision]


def resolve_base_model(cfg: FinetuneConfig) -> str:
    """A folder or hub id; the default name converts the packaged GGUF once into the qreact cache."""
    if cfg.base_model != DEFAULT_BASE_MODEL:
        return cfg.base_model
    return str(ensure_default_model(_cache_dir(cfg)))


def _cache_dir(cfg: FinetuneConfig) -> Path:
    return Path(cfg.cache_dir).expanduser() if cfg.cache_dir else default_cache_dir()


# Confirmed runs of the service's run store → a trajectory JSONL at the given path (returned).
# The caller that owns the store passes it in (``qreact finetune``, training jobs: ``app.cli``).
RunsExporter = Callable[[FinetuneConfig, Path], Path]


def export_from_runs(cfg: FinetuneConfig, out_path: Path, export_runs: RunsExporter | None) -> Path:
    """Write confirmed runs from the run store as trajectory JSONL (``finetune.export.export_runs``)."""
    if export_runs is None:
        raise ConfigError(
            "1 problem(s) in the fine-tuning config:\n  - from_runs: the run store is the service's: "
            "train with `qreact finetune --from-runs`, or export runs with `qreact data export` and "
            "pass the file in train_files"
        )
    out_path.parent.mkdir(parents=True, exist_ok=True)
    return export_runs(cfg, out_path)


def plan_run(cfg: FinetuneConfig, export_runs: RunsExporter | None = None) -> Plan:
    device = resolve_device(cfg)
    precision, reason = resolve_precision(cfg, device)
    logger.info("device %s, precision %s: %s", device, precision, reason)
    train_files = list(cfg.train_files)
    if cfg.from_runs:
        train_files.append(str(export_from_runs(cfg, Path(cfg.output_dir) / "from_runs.jsonl", export_runs)))
    plan = Plan(device, precision, reason, "", train_files, list(cfg.eval_files))
    plan.summaries = {
        "train": scan_files(train_files, cfg.on_bad_line),
        "eval": scan_files(plan.eval_files, cfg.on_bad_line),
    }
    if not sum(s.used for s in plan.summaries["train"]):
        raise DataError(f"no usable trajectories in {', '.join(train_files)}")
    plan.base_path = resolve_base_model(cfg)
    return plan
