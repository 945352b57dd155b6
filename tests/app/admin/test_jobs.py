"""/admin/finetune and /admin/jobs: training jobs (fake train/eval children, and one real slow run), the
eval gate's progress, one job per host, errors that say why and leak no password."""

from __future__ import annotations

import json
import logging
import sys
import textwrap
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.jobs.config import check_gpu_budget
from app.jobs.job import Job, JobConflict, JobSpec
from app.jobs.manager import JobManager
from app.logging import ScrubbingFormatter, redact
from app.settings import Settings
from app.store.runs import RunStore
from finetune.promote import AdapterRegistry
from tests.app.admin.helpers import AUTH, FAKE_TRAIN, ask_adapter, install_jobs
from tests.finetune.test_export import calc_run

FAKE_EVAL_SLOW = textwrap.dedent(
    """
    import json, sys, time
    out, n, pause = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    for i in range(n):  # one results line per (adapter, question), as app.gate evaluate appends them
        with open(out[: -len(".json")] + ".results.jsonl", "a") as f:
            f.write(json.dumps({"i": i}) + "\\n")
        time.sleep(pause)
    json.dump({"baseline": {"accuracy": 0.5, "n": n // 2}, "candidate": {"accuracy": 0.4, "n": n // 2}}, open(out, "w"))
    """
)


def test_job_shows_the_eval_gates_progress(client: TestClient, adapters: dict[str, Path], tmp_path: Path) -> None:
    """While the gate scores both adapters, GET /admin/jobs/{id} counts the (adapter, question) pairs done."""
    jobs = install_jobs(client, adapters["ad2"], cand=0.0, base=0.0, steps=1)
    jobs.eval_command = lambda _s, job: [sys.executable, "-c", FAKE_EVAL_SLOW, str(job.scores_path), "6", "0.3"]
    questions = tmp_path / "five.jsonl"
    questions.write_text("".join(f'{{"id": "q{i}", "question": "q", "answer": 1}}\n' for i in range(5)))
    body = {"eval_questions": str(questions), "eval_limit": 3}
    job_id = client.post("/admin/finetune", json=body, headers=AUTH).json()["id"]
    seen: list[dict] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        job = client.get(f"/admin/jobs/{job_id}", headers=AUTH).json()
        if job["state"] == "evaluating" and job["progress"].get("eval_done"):
            seen.append(job["progress"])
        if not job["active"]:
            break
        time.sleep(0.05)
    assert job["state"] == "rejected", job
    assert seen, "the eval gate's progress was never shown"
    assert {p["eval_total"] for p in seen} == {6}  # 3 questions (the limit of 5) x 2 adapters
    done = [p["eval_done"] for p in seen]
    assert done == sorted(done) and 1 <= done[0] < 6
    assert any("eval_eta_s" in p and p["eval_eta_s"] > 0 for p in seen)


def test_job_promotes_a_better_adapter(client: TestClient, adapters: dict[str, Path]) -> None:
    client.post("/admin/adapters/activate", json={"path": str(adapters["ad1"])}, headers=AUTH)
    jobs = install_jobs(client, adapters["ad2"], cand=0.6, base=0.5)
    r = client.post("/admin/finetune", json={}, headers=AUTH)
    assert r.status_code == 202, r.text
    job = jobs.wait(r.json()["id"], timeout=60)
    assert job["state"] == "promoted", job
    assert job["baseline"] == str(adapters["ad1"]) and job["progress"]["step"] == 3
    assert job["decision"]["promote"] is True and job["decision"]["current_accuracy"] == 0.5
    assert ask_adapter(client) == job["name"]  # new runs carry the new adapter
    listing = client.get("/admin/adapters", headers=AUTH).json()
    scores = {a["name"]: a["scores"] for a in listing["adapters"]}
    assert (
        scores[job["name"]]["dev.jsonl@20"]["accuracy"] == 0.6
        and scores["ad1"]["dev.jsonl@20"]["accuracy"] == 0.5
    )
    assert client.get(f"/admin/jobs/{job['id']}", headers=AUTH).json()["state"] == "promoted"
    assert client.post("/admin/adapters/rollback", headers=AUTH).json()["active"] == "ad1"


def test_job_rejects_a_worse_adapter(client: TestClient, adapters: dict[str, Path]) -> None:
    jobs = install_jobs(client, adapters["ad2"], cand=0.4, base=0.5)
    r = client.post("/admin/finetune", json={}, headers=AUTH)
    job = jobs.wait(r.json()["id"], timeout=60)
    assert job["state"] == "rejected" and job["decision"]["promote"] is False
    assert "40.0% < 50.0%" in job["decision"]["reason"]
    assert ask_adapter(client) is None  # unchanged: the base model still serves


def test_one_job_at_a_time_and_cancel(client: TestClient, adapters: dict[str, Path]) -> None:
    jobs = install_jobs(client, adapters["ad2"], cand=1.0, base=0.0, steps=1000, pause=0.05)
    first = client.post("/admin/finetune", json={}, headers=AUTH).json()
    second = client.post("/admin/finetune", json={}, headers=AUTH)
    assert second.status_code == 409 and first["id"] in second.json()["detail"]
    deadline = time.monotonic() + 120  # the job is a fresh Python process: slow to start on a loaded box
    while client.get(f"/admin/jobs/{first['id']}", headers=AUTH).json()["progress"].get("step") is None:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    running = client.get(f"/admin/jobs/{first['id']}", headers=AUTH).json()
    assert running["state"] == "training" and running["progress"]["max_steps"] == 1000
    assert ask_adapter(client) is None  # serving goes on while the job trains
    assert client.post(f"/admin/jobs/{first['id']}/cancel", headers=AUTH).status_code == 200
    assert jobs.wait(first["id"], timeout=30)["state"] == "cancelled"
    assert client.post(f"/admin/jobs/{first['id']}/cancel", headers=AUTH).status_code == 409
    assert client.get("/admin/jobs/nope", headers=AUTH).status_code == 404
    assert ask_adapter(client) is None


class StubModel:
    active_adapter = None

    def load_adapter(self, path: Path, name: str) -> None: ...

    def activate_adapter(self, name: str | None) -> None: ...

    def list_adapters(self) -> list[dict]:
        return []


def test_one_job_per_host_across_processes(tmp_path: Path) -> None:
    """Two server processes (two managers here) on one cache: the second job start is refused."""
    settings = Settings(cache_dir=tmp_path)

    def slow(_s: Settings, job: Job) -> list[str]:
        return [
            sys.executable,
            "-c",
            FAKE_TRAIN,
            "-",
            str(job.adapter_dir),
            str(job.progress_path),
            "1000",
            "0.05",
        ]

    managers = [
        JobManager(settings, chat_model=StubModel, registry=AdapterRegistry(tmp_path / f"r{i}.json"),
                   train_command=slow, poll_s=0.02, cancel_grace_s=5)
        for i in range(2)
    ]  # fmt: skip
    first = managers[0].start(JobSpec(promote=False))
    with pytest.raises(JobConflict, match="another server process"):
        managers[1].start(JobSpec(promote=False))
    managers[0].cancel(first["id"])
    assert managers[0].wait(first["id"], timeout=30)["state"] == "cancelled"
    second = managers[1].start(JobSpec(promote=False))  # the lock went with the first job
    managers[1].cancel(second["id"])
    assert managers[1].wait(second["id"], timeout=30)["state"] == "cancelled"


def test_failed_training_reports_why(client: TestClient) -> None:
    jobs = install_jobs(client, "-", cand=1.0, base=0.0, steps=1, pause=0)  # writes no adapter
    job = jobs.wait(client.post("/admin/finetune", json={}, headers=AUTH).json()["id"], timeout=30)
    assert job["state"] == "failed" and "no adapter" in job["error"]


def test_job_errors_and_cli_logs_scrub_store_passwords(client: TestClient, capsys: pytest.CaptureFixture) -> None:
    line = "connection to postgresql+psycopg://qreact:pw-SECRET@db:5432/qreact failed"
    assert redact(line) == "connection to postgresql+psycopg://qreact:***@db:5432/qreact failed"
    record = logging.LogRecord("x", logging.INFO, "f", 1, "%s", (line,), None)
    assert "pw-SECRET" not in ScrubbingFormatter("%(message)s").format(record)
    leak = f"import sys; print({line!r}); sys.exit(3)"
    jobs = install_jobs(client, "-", cand=1.0, base=0.0, steps=1, pause=0)
    jobs.train_command = lambda settings, job: [sys.executable, "-c", leak]
    job = jobs.wait(client.post("/admin/finetune", json={}, headers=AUTH).json()["id"], timeout=30)
    assert job["state"] == "failed" and "qreact:***@db" in job["error"] and "pw-SECRET" not in job["error"]


def test_finetune_request_refused_with_every_problem(client: TestClient) -> None:
    body = {"overrides": {"nonsense": 1, "output_dir": "/x"}, "config": "finetune/configs/tiny-test.yaml"}
    r = client.post("/admin/finetune", json=body, headers=AUTH)
    assert r.status_code == 422 and "nonsense" in r.json()["detail"] and "output_dir" in r.json()["detail"]
    assert client.get("/admin/jobs", headers=AUTH).json() == []  # nothing was started
    assert client.post("/admin/finetune", json={"eval_limit": 0}, headers=AUTH).status_code == 422


def test_gpu_budget_refuses_when_memory_is_short(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(
        torch.cuda, "mem_get_info", lambda: (3000 * 2**20, 80000 * 2**20)
    )  # bytes free, total
    settings = Settings(cache_dir=tmp_path, device="auto")
    with pytest.raises(JobConflict, match="3000 MiB free of 80000 MiB, the job needs 4096 MiB"):
        check_gpu_budget(settings, 4096)
    check_gpu_budget(settings, 2048)  # fits
    check_gpu_budget(Settings(cache_dir=tmp_path, device="cpu"), 10**9)  # CPU jobs are not gated


@pytest.mark.slow
def test_real_job_trains_evaluates_and_promotes(
    tiny_model_dir: Path,
    local_model,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
) -> None:
    """The real child processes (qreact finetune, app.gate evaluate) on the tiny model: ~1-2 min."""


    monkeypatch.setenv("QREACT_MAX_NEW_TOKENS", "16")  # the eval child reads it: tiny model, short steps
    settings = Settings(
        cache_dir=tmp_path, store_url=f"sqlite:///{tmp_path / 'runs.db'}", local_model=str(tiny_model_dir),
        device="cpu", adapter=None, search="local",
    )  # fmt: skip
    store = RunStore(settings.resolved_store_url)
    for i in range(4):
        store.save(calc_run(f"r{i}", expr=f"{i} + 2", obs=str(i + 2), answer=str(i + 2)))
        store.add_feedback(f"r{i}", True)
    store.close()
    questions = tmp_path / "dev.jsonl"
    questions.write_text(json.dumps({"id": "q0", "question": "What is 1 + 2?", "answer": 3}) + "\n")
    for a in local_model.list_adapters():
        local_model.activate_adapter(None)
        local_model.unload_adapter(a["name"])
    jobs = JobManager(
        settings, chat_model=lambda: local_model, registry=AdapterRegistry(tmp_path / "reg.json")
    )
    spec = JobSpec(config="finetune/configs/tiny-test.yaml", eval_questions=str(questions), eval_limit=1)
    jobs.settings = jobs.settings.model_copy(update={"data_roots": [tmp_path]})  # dev.jsonl is here
    job = jobs.wait(jobs.start(spec)["id"], timeout=600)
    assert job["state"] == "promoted", job["error"]
    assert job["progress"]["step"] == 3 and job["scores"]["candidate"]["n"] == 1
    assert (Path(job["adapter_dir"]) / "adapter_model.safetensors").is_file()
    assert local_model.active_adapter == job["name"]
