"""Trainer callbacks of a run: a graceful stop on Ctrl-C / SIGTERM (checkpoint, then exit) and the
progress file that job pollers read (``app/jobs/manager.py``)."""

from __future__ import annotations

import json
import logging
import os
import resource
import signal
import threading
import time
from pathlib import Path
from typing import Any

from transformers import TrainerCallback


def peak_rss_mb() -> float:
    """This process's peak resident memory, MB (the trainer's logs and the training card report it)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB

logger = logging.getLogger(__name__)



class GracefulStop(TrainerCallback):
    """First Ctrl-C / SIGTERM: save a checkpoint at the end of this optimizer step and stop. Second: abort."""

    def __init__(self) -> None:
        self.requested = False

    def request(self, signum: int = signal.SIGINT, frame: Any = None) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        logger.warning("stop requested: saving a checkpoint after this step (press Ctrl-C again to abort)")

    def on_step_end(self, args, state, control, **kwargs):  # type: ignore[no-untyped-def]
        if self.requested:
            control.should_save = True
            control.should_training_stop = True
        return control


class ProgressFile(TrainerCallback):
    """Rewrites a small JSON file at every step and log: state, step, loss, ETA (for job pollers: app.jobs)."""

    def __init__(self, path: str | None) -> None:
        self.path = Path(path) if path else None
        self.started = time.time()
        self.first_step: int | None = None

    def write(self, **fields: Any) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(self.path.suffix + ".tmp")
        tmp.write_text(json.dumps({**fields, "updated": time.time()}))
        os.replace(tmp, self.path)  # atomic: a poller never reads half a file

    def on_train_begin(self, args, state, control, **kwargs):  # type: ignore[no-untyped-def]
        self.started = time.time()
        self.first_step = state.global_step
        self.write(state="running", step=state.global_step, max_steps=state.max_steps)

    def on_step_end(self, args, state, control, **kwargs):  # type: ignore[no-untyped-def]
        self._update(state)  # every optimizer step, not only every logging_steps: pollers see it move

    def on_log(self, args, state, control, logs=None, **kwargs):  # type: ignore[no-untyped-def]
        self._update(state)  # the Trainer appends ``logs`` to ``state.log_history`` before this call

    def _update(self, state: Any) -> None:
        done = state.global_step - (self.first_step or 0)
        elapsed = time.time() - self.started
        eta = elapsed / done * (state.max_steps - state.global_step) if done > 0 else None

        def last(key: str) -> Any:
            return next((h[key] for h in reversed(state.log_history) if key in h), None)

        self.write(
            state="running",
            step=state.global_step,
            max_steps=state.max_steps,
            epoch=state.epoch,
            loss=last("loss"),
            eval_loss=last("eval_loss"),
            eta_s=round(eta, 1) if eta is not None else None,
            sup_tok_s=last("sup_tok_s"),
        )


def install_signal_handlers(stop: GracefulStop) -> dict[int, Any]:
    if threading.current_thread() is not threading.main_thread():
        return {}  # signal handlers can only be set from the main thread
    old: dict[int, Any] = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        old[sig] = signal.signal(sig, stop.request)
    return old


def restore_signal_handlers(old: dict[int, Any]) -> None:
    for sig, handler in old.items():
        signal.signal(sig, handler)
