"""A job request → the trainer's whole config (the YAML, the overrides, the job's own fields), every
path confined to the data roots and checked against ``FinetuneConfig``'s types, written as one 0600
file; and the command lines and environment of the training and eval-gate processes."""

from __future__ import annotations

import os
import sys
import types
import typing
from pathlib import Path
from typing import Any, Literal

import yaml

from app.adapter_policy import AdapterPathRefused, resolve_activation_path, unique_resolved
from app.jobs.job import Job, JobConflict, JobInvalid, JobSpec
from app.settings import Settings
from finetune.config import ConfigError, FinetuneConfig, load_yaml, make_config

REPO_ROOT = Path(__file__).resolve().parents[2]
RESERVED_OVERRIDES = frozenset({"output_dir", "progress_file", "base_model", "store_url", "cache_dir"})


def cuda_available(settings: Settings) -> bool:
    if settings.device == "cpu":
        return False
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def default_config(settings: Settings) -> str:
    """The config a job uses unless the request names one: the GPU QLoRA or the CPU LoRA recipe."""
    name = "gpu-qlora.yaml" if cuda_available(settings) else "cpu-default.yaml"
    return str(REPO_ROOT / "finetune" / "configs" / name)


# Folders (of the repository) a job may read data and configs from; cache_dir/data and
# QREACT_DATA_ROOTS are added in ``data_roots``. Paths elsewhere are refused without being read.
REPO_DATA_DIRS = ("data", "finetune/configs", "finetune/evalsets")
OUTSIDE_DATA_ROOTS = (
    "outside the data roots (the repository's data/, finetune/configs/, finetune/evalsets/, "
    "cache_dir/data, QREACT_DATA_ROOTS)"
)
PATH_LIST_FIELDS = ("train_files", "eval_files")


def data_roots(settings: Settings) -> list[Path]:
    repo = [REPO_ROOT / d for d in REPO_DATA_DIRS]
    return unique_resolved([*repo, Path(settings.cache_dir) / "data", *settings.data_roots])


def confine(roots: list[Path], field: str, value: str, problems: list[str]) -> str | None:
    """``value`` (relative: to the repository) as an absolute file inside ``roots``, else a problem.

    Nothing outside the roots is opened or even checked for existence; a message never holds a
    file's content.
    """
    path = Path(value).expanduser()
    path = (path if path.is_absolute() else REPO_ROOT / path).resolve()
    if not any(path.is_relative_to(root) for root in roots):
        problems.append(f"{field}: {OUTSIDE_DATA_ROOTS}")
        return None
    if not path.is_file():
        problems.append(f"{field}: {value} does not exist")
        return None
    return str(path)


def _type_problem(value: Any, tp: Any) -> str | None:
    """Why a JSON value does not fit a ``FinetuneConfig`` field type (None: it fits). Strict: no
    string is read as a number or a flag; no string may start with '-'."""
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    if typing.get_origin(tp) in (typing.Union, types.UnionType) and len(args) == 1:
        tp = args[0]
    origin = typing.get_origin(tp)
    if origin is Literal:
        choices = typing.get_args(tp)
        return None if value in choices else "one of " + ", ".join(map(str, choices))
    if origin is list:
        (item,) = typing.get_args(tp) or (str,)
        if not isinstance(value, list):
            return f"a list of {item.__name__}"
        bad = [v for v in value if _type_problem(v, item) is not None]
        return f"a list of {item.__name__} (none starting with '-')" if bad else None
    if tp is bool:
        return None if isinstance(value, bool) else "true or false"
    if tp is int:
        return None if isinstance(value, int) and not isinstance(value, bool) else "a whole number"
    if tp is float:
        return None if isinstance(value, int | float) and not isinstance(value, bool) else "a number"
    if tp is str:
        if not isinstance(value, str):
            return "a string"
        return "a string not starting with '-'" if value.startswith("-") else None
    return f"a value of type {tp}"


def override_problems(overrides: dict[str, Any]) -> list[str]:
    """Every override that is unknown, set by the job itself, or of the wrong type (a pure check)."""
    hints = typing.get_type_hints(FinetuneConfig)
    problems = []
    for key, value in overrides.items():
        if key not in hints:
            problems.append(f"overrides.{key}: unknown fine-tuning option")
        elif key in RESERVED_OVERRIDES:
            problems.append(f"overrides.{key}: set by the job itself")
        elif (expected := _type_problem(value, hints[key])) is not None:
            problems.append(f"overrides.{key}: must be {expected}")
    return problems


def job_config(settings: Settings, spec: JobSpec, job: Job) -> dict[str, Any]:
    """The whole training config of a job (the YAML, the overrides, the job's own fields), every
    path confined and absolute, validated by ``finetune.config.make_config``; ``JobInvalid``
    lists every problem at once. The job passes it to the trainer as one 0600 YAML file."""
    roots = data_roots(settings)
    problems = override_problems(spec.overrides)
    values: dict[str, Any] = {}
    config = confine(roots, "config", spec.config or default_config(settings), problems)
    loaded = False
    if config is not None:
        try:
            values, loaded = load_yaml(config), True
        except (ConfigError, yaml.YAMLError, OSError, UnicodeDecodeError):
            problems.append("config: not a YAML mapping of fine-tuning options")  # never its text
    for key in RESERVED_OVERRIDES:
        values.pop(key, None)
    # the file's own strings (a secret someone put in a YAML) are never echoed in a problem
    from_file = [repr(v) for k, v in values.items() if k not in spec.overrides and isinstance(v, str) and len(v) > 3]
    values.update({k: v for k, v in spec.overrides.items() if k not in RESERVED_OVERRIDES})
    if spec.train_files:
        values["train_files"] = [*_as_list(values.get("train_files")), *spec.train_files]
    for name in PATH_LIST_FIELDS:
        files = [confine(roots, f"{name}[{i}]", str(p), problems) for i, p in enumerate(_as_list(values.get(name)))]
        values[name] = [p for p in files if p is not None]
    if values.get("init_adapter"):
        try:
            values["init_adapter"] = str(resolve_activation_path(settings, str(values["init_adapter"])))
        except AdapterPathRefused:
            problems.append("init_adapter: outside the adapter roots (see QREACT_ADAPTER_ROOTS)")
    if spec.promote:
        confine(roots, "eval_questions", spec.eval_questions, problems)
    values |= {
        "base_model": settings.local_model,
        "cache_dir": str(settings.cache_dir),
        "output_dir": str(job.adapter_dir),
        "progress_file": str(job.progress_path),
    }
    if spec.from_runs:
        values["from_runs"] = True  # the store URL reaches the trainer in its environment, never argv
    if settings.device != "auto":
        values["device"] = settings.device
    if loaded:  # the trainer's own checks too, so every problem is listed at once
        try:
            make_config(values, source="the job")
        except ConfigError as exc:
            listed = [line.strip()[2:] for line in str(exc).splitlines() if line.strip().startswith("- ")]
            for text in from_file:  # the config file's values are not echoed
                listed = [p.replace(text, "(the config file's value)") for p in listed]
            problems += listed
    if any("data/gold" in p and "does not exist" in p for p in problems):
        problems.append("hint: build the gold data first: qreact data gold --out data/gold --seed 0")
    if problems:
        raise JobInvalid("; ".join(problems))
    return values


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def train_config_path(job: Job) -> Path:
    return job.dir / "train.yaml"


def write_train_config(job: Job, values: dict[str, Any]) -> Path:
    """The job's training config, readable by this user only (0600)."""
    path = train_config_path(job)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        yaml.safe_dump(values, f, sort_keys=True)
    os.chmod(path, 0o600)
    return path


def default_train_command(settings: Settings, job: Job) -> list[str]:
    """Only the job's config file on argv: no option, path or secret of the request."""
    return [sys.executable, "-m", "app.cli", "finetune", "--config", str(train_config_path(job))]


def train_env(settings: Settings) -> dict[str, str]:
    """The trainer's environment: the run store URL (with its password) travels here, not on argv."""
    return {**os.environ, "QREACT_STORE_URL": settings.resolved_store_url}


def default_eval_command(settings: Settings, job: Job) -> list[str]:
    cmd = [sys.executable, "-m", "app.gate", "evaluate", "--candidate", str(job.adapter_dir)]
    cmd += ["--baseline", job.baseline, "--questions", job.spec.eval_questions, "--out", str(job.scores_path)]
    cmd += ["--local-model", settings.local_model, "--cache-dir", str(settings.cache_dir)]
    cmd += ["--device", settings.device, "--dtype", settings.dtype, "--quantize", settings.quantize]
    if job.spec.eval_limit:
        cmd += ["--limit", str(job.spec.eval_limit)]
    return cmd


def validate_spec(settings: Settings, spec: JobSpec, job: Job) -> dict[str, Any]:
    """Every problem with the request at once (422), before the job starts; returns its config."""
    return job_config(settings, spec, job)


def check_gpu_budget(settings: Settings, budget_mb: int) -> None:
    """Refuse (409) on a GPU host whose free memory is below the job's budget."""
    if settings.device == "cpu":
        return
    try:
        import torch
    except ImportError:
        return
    if not torch.cuda.is_available():
        return
    free, total = torch.cuda.mem_get_info()
    free_mb, total_mb = free / 2**20, total / 2**20
    if free_mb < budget_mb:
        raise JobConflict(
            f"not enough free GPU memory for a training job: {free_mb:.0f} MiB free of {total_mb:.0f} MiB, "
            f"the job needs {budget_mb} MiB (gpu_budget_mb); serving keeps its share"
        )
