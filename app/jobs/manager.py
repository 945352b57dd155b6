"""``JobManager``: starts a job's two child processes one after the other on a monitor thread (train,
then the eval gate), reads their progress, cancels them, and promotes the adapter the gate accepts."""

from __future__ import annotations

import atexit
import builtins
import fcntl
import json
import logging
import os
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import IO, Any

from agent.backends import AdapterHost
from app.jobs.config import (
    REPO_ROOT,
    check_gpu_budget,
    default_eval_command,
    default_train_command,
    train_env,
    validate_spec,
    write_train_config,
)
from app.jobs.job import ACTIVE_STATES, Job, JobConflict, JobNotFound, JobSpec
from app.logging import redact
from app.settings import Settings
from finetune.promote import Registry, decide

logger = logging.getLogger(__name__)

CANCEL_GRACE_S = 30.0  # SIGTERM lets training save a checkpoint; SIGKILL after this many seconds


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
