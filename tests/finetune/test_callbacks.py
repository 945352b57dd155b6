"""Trainer callbacks (finetune/callbacks.py): the progress file job pollers read."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

from finetune.callbacks import ProgressFile


def test_progress_file_moves_at_every_step_not_only_at_logs(tmp_path: Path) -> None:
    """A job poller (GET /admin/jobs/{id}) sees step and ETA after each optimizer step."""
    path = tmp_path / "progress.json"
    progress = ProgressFile(str(path))
    state = SimpleNamespace(global_step=0, max_steps=10, epoch=0.0, log_history=[])
    progress.on_train_begin(None, state, None)
    assert json.loads(path.read_text())["step"] == 0
    state.log_history.append({"loss": 0.5, "sup_tok_s": 30.0})
    for step in (1, 2, 3):  # logging_steps 5: no on_log yet
        state.global_step, state.epoch = step, step / 10
        progress.on_step_end(None, state, None)
        data = json.loads(path.read_text())
        assert data["step"] == step and data["max_steps"] == 10 and data["eta_s"] >= 0
    assert data["loss"] == 0.5 and data["sup_tok_s"] == 30.0
    state.log_history.append({"eval_loss": 0.4})  # an eval log, then more steps: the eval loss stays shown
    state.global_step = 4
    progress.on_step_end(None, state, None)
    data = json.loads(path.read_text())
    assert data["step"] == 4 and data["eval_loss"] == 0.4 and data["loss"] == 0.5
