"""The admin tests' shared pieces: the admin key, the app on a chat model, and training jobs with fake
train/eval children (also used by tests/app/test_replicas.py)."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.jobs.job import Job
from app.jobs.manager import JobManager
from app.main import create_app
from app.settings import Settings
from tests.app.conftest import four_calculator as calculator

KEY = "admin-secret"


AUTH = {"Authorization": f"Bearer {KEY}"}


def make_app(tmp_path: Path, chat_model: object, **overrides: object) -> FastAPI:
    fields: dict[str, object] = {
        "cache_dir": tmp_path,
        "store_url": f"sqlite:///{tmp_path / 'runs.db'}",
        "admin_key": KEY,
        "adapter": None,
        "max_steps": 1,
        "log_json": False,
        **overrides,
    }
    return create_app(Settings(**fields), chat_model=chat_model, tools=[calculator])  # type: ignore[arg-type]


def ask_adapter(client: TestClient) -> str | None:
    r = client.post("/ask", json={"question": "What is 2 + 2?"})
    assert r.status_code == 200, r.text
    return r.json()["adapter"]


FAKE_TRAIN = textwrap.dedent(
    """
    import json, os, shutil, signal, sys, time
    src, out, progress, steps, pause = sys.argv[1:6]
    def write(**d):
        open(progress + ".tmp", "w").write(json.dumps(d)); os.replace(progress + ".tmp", progress)
    def stop(*_):
        write(state="interrupted"); sys.exit(130)
    signal.signal(signal.SIGTERM, stop)
    for step in range(1, int(steps) + 1):
        write(state="running", step=step, max_steps=int(steps), loss=1.0 / step, eta_s=0.1)
        time.sleep(float(pause))
    if src != "-":
        shutil.copytree(src, out)
    """
)


FAKE_EVAL = textwrap.dedent(
    """
    import json, sys
    out, cand, base = sys.argv[1:4]
    scores = {"baseline": {"accuracy": float(base), "n": 10}, "candidate": {"accuracy": float(cand), "n": 10}}
    json.dump(scores, open(out, "w"))
    """
)


def install_jobs(
    client: TestClient, src: Path | str, cand: float, base: float, steps: int = 3, pause: float = 0.05
):
    """The app's own JobManager (hot swap through the model slots), with fake train/eval children."""

    def train(_s: Settings, job: Job) -> list[str]:
        args = [str(src), str(job.adapter_dir), str(job.progress_path), str(steps), str(pause)]
        return [sys.executable, "-c", FAKE_TRAIN, *args]

    def evaluate(_s: Settings, job: Job) -> list[str]:
        return [sys.executable, "-c", FAKE_EVAL, str(job.scores_path), str(cand), str(base)]

    assert client.get("/admin/jobs", headers=AUTH).status_code == 200  # builds app.state.jobs
    jobs: JobManager = client.app.state.jobs  # type: ignore[attr-defined]
    jobs.train_command, jobs.eval_command, jobs.poll_s, jobs.cancel_grace_s = train, evaluate, 0.02, 5
    return jobs
