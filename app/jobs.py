"""Training jobs on the serving host: train → evaluate → promote, one job at a time.

A job is two child processes run one after the other by a monitor thread, so serving goes on:

1. ``python -m app.cli finetune`` (``finetune.train``: the run store's confirmed runs with
   ``--from_runs``, plus the config's gold files) writes a LoRA adapter and a progress JSON that
   ``GET /admin/jobs/{id}`` reads (step, loss, ETA);
2. ``python -m app.gate evaluate`` scores the serving adapter and the new one on the same
   dev questions, on its own copy of the base model;
3. ``finetune.promote.decide``: if accuracy >= current + ``promote_min_delta`` the adapter is
   hot-swapped into the live chat model (``load_adapter`` + ``activate_adapter``), otherwise the
   job ends "rejected" with the scores that decided it.

Every job keeps its folder (``cache_dir/jobs/<id>/``: job.json, progress.json, train.log,
scores.json); adapters go to ``cache_dir/adapters/job-<id>/``.
"""

from __future__ import annotations

import atexit
import builtins
import fcntl
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
import types
import typing
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any, Literal

import yaml

from agent.backends import AdapterHost
from app.adapter_policy import AdapterPathRefused, resolve_activation_path
from app.logging import redact
from app.settings import Settings
from finetune.config import ConfigError, FinetuneConfig, load_yaml, make_config
from finetune.promote import DEFAULT_EVAL_LIMIT, DEV_SET, Registry, decide

logger = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[1]
ACTIVE_STATES = frozenset({"queued", "training", "evaluating"})
# GPU memory a job needs free before it starts, MiB. Measured on an H200 (torch 2.11, Gemma-3-270M
# shapes, bf16 weights, which bounds NF4 from above; LoRA r=64 all-linear, seq 512, batch 1, gradient
# checkpointing): peak reserved 1182 MiB with logits only at supervised positions (the default),
# 3166 MiB with full logits; + 621 MiB of CUDA context per process. The eval process that follows
# peaks at 608 MiB (+ context). Batch 4 with full logits needs ~8.2 GiB: raise gpu_budget_mb then.
GPU_TRAIN_BUDGET_MB = 4096
CANCEL_GRACE_S = 30.0  # SIGTERM lets training save a checkpoint; SIGKILL after this many seconds
RESERVED_OVERRIDES = frozenset({"output_dir", "progress_file", "base_model", "store_url", "cache_dir"})


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
    roots = [REPO_ROOT / d for d in REPO_DATA_DIRS] + [Path(settings.cache_dir) / "data", *settings.data_roots]
    out: list[Path] = []
    for root in roots:
        resolved = Path(root).expanduser().resolve()
        if resolved not in out:
            out.append(resolved)
    return out


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


def _count_lines(path: Path) -> int:
    try:
        with path.open("rb") as f:
            return sum(1 for line in f if line.strip())
    except OSError:
        return 0


def eval_pairs(spec: JobSpec) -> int:
    """(adapter, question) pairs the eval gate scores: both adapters on the first ``eval_limit`` questions."""
    questions = _count_lines(REPO_ROOT / spec.eval_questions)  # relative: to the repository, as for the child
    return 2 * (min(questions, spec.eval_limit) if spec.eval_limit else questions)


def eval_progress(job: Job) -> dict[str, Any]:
    """The eval gate's progress: pairs scored of ``job.eval_total``, and an ETA."""
    total = job.eval_total or 0
    done = min(_count_lines(job.eval_results_path), total)
    out: dict[str, Any] = {"eval_done": done, "eval_total": total}
    if job.eval_started_at and 0 < done < total:  # the model load is in the first question's share
        out["eval_eta_s"] = round((time.time() - job.eval_started_at) / done * (total - done), 1)
    return out


class JobManager:
    """Starts, watches and cancels training jobs; at most one is active."""

    def __init__(
        self,
        settings: Settings,
        *,
        chat_model: Callable[[], Any],
        registry: Registry,
        jobs_dir: Path | None = None,
        adapters_dir: Path | None = None,
        train_command: Callable[[Settings, Job], list[str]] | None = None,
        eval_command: Callable[[Settings, Job], list[str]] | None = None,
        activate: Callable[[Any, str], None] | None = None,
        poll_s: float = 1.0,  # how often the monitor reads the progress file, seconds
        cancel_grace_s: float = CANCEL_GRACE_S,
    ) -> None:
        self.settings = settings
        self.chat_model = chat_model
        self.registry = registry
        self.jobs_dir = Path(jobs_dir or settings.cache_dir / "jobs")
        self.adapters_dir = Path(adapters_dir or settings.cache_dir / "adapters")
        self.train_command = train_command
        self.eval_command = eval_command
        # makes a loaded adapter live; the app passes one that waits for runs in flight (admin.py)
        self.activate = activate or (lambda model, name: model.activate_adapter(name))
        self.poll_s = poll_s
        self.cancel_grace_s = cancel_grace_s
        self._lock = threading.RLock()
        self._jobs: dict[str, Job] = {}
        self._procs: dict[str, subprocess.Popen[bytes]] = {}
        self._cancelled: set[str] = set()
        self._threads: dict[str, threading.Thread] = {}
        self._load_previous()
        atexit.register(self.shutdown)

    # --- persistence
    def _save(self, job: Job) -> None:
        job.dir.mkdir(parents=True, exist_ok=True)
        tmp = job.dir / "job.json.tmp"
        tmp.write_text(json.dumps(job.to_dict(), indent=2, default=str), encoding="utf-8")
        os.replace(tmp, job.dir / "job.json")

    def _load_previous(self) -> None:
        if not self.jobs_dir.is_dir():
            return
        for path in sorted(self.jobs_dir.glob("*/job.json")):
            try:
                d = json.loads(path.read_text(encoding="utf-8"))
                d.pop("active", None)
                d["spec"] = JobSpec(**d["spec"])
                d["dir"], d["adapter_dir"] = Path(d["dir"]), Path(d["adapter_dir"])
                job = Job(**d)
            except (OSError, ValueError, TypeError, KeyError):
                logger.warning("ignoring unreadable job file %s", path)
                continue
            if job.state in ACTIVE_STATES:  # the server stopped while it ran
                job.state, job.error, job.ended_at = (
                    "failed",
                    "the server stopped during the job",
                    time.time(),
                )
                self._save(job)
            self._jobs[job.id] = job

    # --- API
    def start(self, spec: JobSpec) -> dict[str, Any]:
        model = self.chat_model()
        if model is None:
            raise JobConflict("the model is still loading; retry when /readyz says ready")
        if not isinstance(model, AdapterHost):
            raise JobConflict("training jobs need the local backend (QREACT_BACKEND=local): no adapters to swap")
        with self._lock:
            active = [j for j in self._jobs.values() if j.state in ACTIVE_STATES]
            if active:
                raise JobConflict(f"job {active[0].id} is {active[0].state}; one training job at a time")
            job_id = uuid.uuid4().hex[:12]
            name = f"job-{job_id}"
            job = Job(
                id=job_id,
                name=name,
                spec=spec,
                dir=self.jobs_dir / job_id,
                adapter_dir=self.adapters_dir / name,
            )
            baseline_name = model.active_adapter
            job.baseline_name = baseline_name
            job.baseline = next(
                (a["path"] for a in model.list_adapters() if a["name"] == baseline_name), "none"
            )
            if self.train_command is None:
                write_train_config(job, validate_spec(self.settings, spec, job))
            check_gpu_budget(self.settings, spec.gpu_budget_mb)
            host_lock = self._host_lock()
            self._jobs[job_id] = job
            self._save(job)
            thread = threading.Thread(
                target=self._run, args=(job, host_lock), name=f"qreact-job-{job_id}", daemon=True
            )
            self._threads[job_id] = thread
            thread.start()
            return job.to_dict()

    def get(self, job_id: str) -> dict[str, Any]:
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None:
                raise JobNotFound(f"no job with id {job_id!r}")
            if job.state in ("training", "evaluating"):
                self._read_progress(job)
            return job.to_dict()

    def list(self) -> list[dict[str, Any]]:
        with self._lock:
            return [
                j.to_dict() for j in sorted(self._jobs.values(), key=lambda j: j.created_at, reverse=True)
            ]

    def cancel(self, job_id: str) -> dict[str, Any]:
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None:
                raise JobNotFound(f"no job with id {job_id!r}")
            if job.state not in ACTIVE_STATES:
                raise JobConflict(f"job {job_id} already ended ({job.state})")
            self._cancelled.add(job_id)
            proc = self._procs.get(job_id)
        if proc is not None:
            self._terminate(proc)
        return self.get(job_id)

    def wait(self, job_id: str, timeout: float | None = None) -> dict[str, Any]:
        """Block until the job's monitor thread ends (tests, CLI)."""
        thread = self._threads.get(job_id)
        if thread is not None:
            thread.join(timeout)
        return self.get(job_id)

    def shutdown(self) -> None:
        """Stop running children (server exit): the job is marked failed on the next start."""
        with self._lock:
            procs = list(self._procs.values())
        for proc in procs:
            self._terminate(proc, grace_s=5.0)

    # --- the monitor
    def _terminate(self, proc: subprocess.Popen[bytes], grace_s: float | None = None) -> None:
        if proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, signal.SIGTERM)  # the child's own process group (start_new_session)
        except ProcessLookupError:
            return
        grace = self.cancel_grace_s if grace_s is None else grace_s

        def kill_later() -> None:
            try:
                proc.wait(grace)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass

        threading.Thread(target=kill_later, daemon=True).start()

    def _set(self, job: Job, **fields: Any) -> None:
        with self._lock:
            for k, v in fields.items():
                setattr(job, k, v)
            self._save(job)

    def _read_progress(self, job: Job) -> None:
        try:
            data = json.loads(job.progress_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return
        keep = ("state", "step", "max_steps", "epoch", "loss", "eval_loss", "eta_s", "sup_tok_s", "updated")
        job.progress = {k: data.get(k) for k in keep if k in data}
        if job.state == "evaluating":
            job.progress.update(eval_progress(job))

    def _spawn(
        self, job: Job, cmd: builtins.list[str], log_name: str, env: dict[str, str] | None = None
    ) -> int:
        """Run one child to its end (or cancellation); returns its exit status."""
        with (job.dir / log_name).open("ab") as log:
            proc = subprocess.Popen(
                cmd, stdout=log, stderr=subprocess.STDOUT, cwd=REPO_ROOT, start_new_session=True, env=env
            )
        with self._lock:
            self._procs[job.id] = proc
            job.pid = proc.pid
            cancelled = job.id in self._cancelled
        if cancelled:  # cancel arrived between two phases
            self._terminate(proc)
        while proc.poll() is None:
            time.sleep(self.poll_s)
            with self._lock:
                self._read_progress(job)
        with self._lock:
            self._procs.pop(job.id, None)
            self._read_progress(job)
        return int(proc.returncode)

    def _log_tail(self, job: Job, name: str, lines: int = 8) -> str:
        try:
            text = (job.dir / name).read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return redact("\n".join(text.strip().splitlines()[-lines:]))  # job.error is shown over HTTP

    def _host_lock(self) -> IO[bytes]:
        """An exclusive lock file in the jobs folder: one job per host, across server processes."""
        self.jobs_dir.mkdir(parents=True, exist_ok=True)
        handle = (self.jobs_dir / ".lock").open("ab")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            handle.close()
            raise JobConflict("a training job is running in another server process on this host") from exc
        return handle

    def _run(self, job: Job, host_lock: IO[bytes]) -> None:
        try:
            self._pipeline(job)
        except Exception as exc:  # the monitor never dies silently: the job says why
            logger.exception("job %s failed", job.id)
            self._set(job, state="failed", error=f"{type(exc).__name__}: {exc}", ended_at=time.time())
        finally:
            host_lock.close()  # releases the flock

    def _pipeline(self, job: Job) -> None:
        settings = self.settings
        self._set(job, state="training", started_at=time.time())
        train = (self.train_command or default_train_command)(settings, job)
        logger.info("job %s: training: %s", job.id, " ".join(train))
        rc = self._spawn(job, train, "train.log", env=train_env(settings))
        if job.id in self._cancelled:
            self._set(job, state="cancelled", ended_at=time.time(), error=None)
            return
        if rc != 0:
            tail = self._log_tail(job, "train.log")
            self._set(job, state="failed", ended_at=time.time(), error=f"training exited with {rc}: {tail}")
            return
        if not (job.adapter_dir / "adapter_config.json").is_file():
            self._set(
                job,
                state="failed",
                ended_at=time.time(),
                error=f"training wrote no adapter in {job.adapter_dir}",
            )
            return
        self.registry.register(job.name, job.adapter_dir, source=f"job {job.id}", roots_checked=True)  # cache adapters/
        if not job.spec.promote:
            self._set(job, state="trained", ended_at=time.time())
            return

        self._set(job, state="evaluating", eval_started_at=time.time(), eval_total=eval_pairs(job.spec))
        evaluate = (self.eval_command or default_eval_command)(settings, job)
        logger.info("job %s: evaluating: %s", job.id, " ".join(evaluate))
        rc = self._spawn(job, evaluate, "eval.log")
        if job.id in self._cancelled:
            self._set(job, state="cancelled", ended_at=time.time())
            return
        try:
            scores = json.loads(job.scores_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            scores = None
        if rc != 0 or not scores:
            tail = self._log_tail(job, "eval.log")
            self._set(job, state="failed", ended_at=time.time(), error=f"evaluation exited with {rc}: {tail}")
            return
        evalset = f"{Path(job.spec.eval_questions).name}@{job.spec.eval_limit or 'all'}"
        self.registry.record_scores(job.name, evalset, scores["candidate"])
        baseline = scores.get("baseline")
        if job.baseline_name and baseline:
            self.registry.record_scores(job.baseline_name, evalset, baseline)
        decision = decide(scores["candidate"], baseline, settings.promote_min_delta)
        self._set(job, scores=scores, decision=asdict(decision))
        if not decision.promote:
            self._set(job, state="rejected", ended_at=time.time())
            logger.info("job %s: adapter rejected: %s", job.id, decision.reason)
            return
        model = self.chat_model()
        if model is None:
            self._set(
                job, state="failed", ended_at=time.time(), error="the model is not loaded: cannot promote"
            )
            return
        model.load_adapter(job.adapter_dir, job.name)  # AdapterError → failed; the current one keeps serving
        self.activate(model, job.name)
        self.registry.record_activation(job.name, reason=f"promoted by job {job.id}: {decision.reason}")
        self._set(job, state="promoted", ended_at=time.time())
        logger.info("job %s: adapter %s promoted: %s", job.id, job.name, decision.reason)
