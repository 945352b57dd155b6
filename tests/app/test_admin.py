"""/admin: admin key, adapter hot swap (tiny model + tiny peft adapters), rollback, training jobs."""

from __future__ import annotations

import shutil
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.adapters import AdapterService, rollback_choice
from app.jobs.config import check_gpu_budget, validate_spec
from app.jobs.job import Job, JobConflict, JobInvalid, JobSpec
from app.jobs.manager import JobManager
from app.main import create_app
from app.settings import Settings
from finetune.promote import AdapterRegistry, decide
from tests.app.conftest import four_calculator as calculator
from tests.tiny import make_lora_adapter

KEY = "admin-secret"
AUTH = {"Authorization": f"Bearer {KEY}"}


@pytest.fixture(scope="module")
def adapters(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two tiny LoRA adapters for the tiny model, and a truncated copy of one."""
    from peft import LoraConfig, get_peft_model
    from transformers import Gemma3ForCausalLM, Gemma3TextConfig

    root = tmp_path_factory.mktemp("adapters")
    out = {name: make_lora_adapter(tiny_model_dir, root / name, i) for i, name in enumerate(["ad1", "ad2"])}

    other = Gemma3ForCausalLM(Gemma3TextConfig(
        vocab_size=400, hidden_size=48, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
        num_key_value_heads=1, head_dim=16, pad_token_id=0, eos_token_id=1, bos_token_id=2,
    ))  # fmt: skip
    get_peft_model(other, LoraConfig(r=4, target_modules=["q_proj", "v_proj"])).save_pretrained(
        root / "other"
    )
    out["other"] = root / "other"  # a LoRA for a model of another width
    bad = root / "broken"
    shutil.copytree(out["ad1"], bad)
    weights = bad / "adapter_model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    out["broken"] = bad
    return out


@pytest.fixture(scope="module")
def local_model(tiny_model_dir: Path):  # type: ignore[no-untyped-def]
    from agent.backends.local import LocalChatModel

    return LocalChatModel.from_pretrained(
        str(tiny_model_dir),
        device="cpu",
        dtype="float32",
        quantize="none",
        max_new_tokens=4,
        model_name="tiny",
    )


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


@pytest.fixture
def client(tmp_path: Path, local_model, adapters: dict[str, Path]) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    for a in local_model.list_adapters():  # the model is shared by the module's tests: start clean
        local_model.activate_adapter(None)
        local_model.unload_adapter(a["name"])
    app = make_app(tmp_path, local_model, adapter_roots=[adapters["ad1"].parent])  # the test adapters' root
    with TestClient(app) as c:
        deadline = time.monotonic() + 30
        while not app.state.ready and time.monotonic() < deadline:
            time.sleep(0.02)
        assert app.state.ready, app.state.load_error
        yield c


def ask_adapter(client: TestClient) -> str | None:
    r = client.post("/ask", json={"question": "What is 2 + 2?"})
    assert r.status_code == 200, r.text
    return r.json()["adapter"]


def test_admin_key_required(client: TestClient) -> None:
    assert client.get("/admin/adapters").status_code == 401
    assert client.get("/admin/adapters", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert client.post("/admin/finetune", json={}).status_code == 401
    ok = client.get("/admin/adapters", headers=AUTH)
    assert ok.status_code == 200 and ok.json()["active"] is None


def test_hot_swap_refuses_bad_adapters_and_rolls_back(client: TestClient, adapters: dict[str, Path]) -> None:
    r = client.post("/admin/adapters/activate", json={"path": str(adapters["ad1"])}, headers=AUTH)
    assert r.status_code == 200, r.text
    assert r.json()["active"] == "ad1" and ask_adapter(client) == "ad1"

    bad = client.post("/admin/adapters/activate", json={"path": str(adapters["broken"])}, headers=AUTH)
    assert bad.status_code == 422 and "unreadable or truncated" in bad.json()["detail"]
    missing = client.post(
        "/admin/adapters/activate", json={"path": str(adapters["ad1"].parent / "gone")}, headers=AUTH
    )
    assert missing.status_code == 422 and "does not exist" in missing.json()["detail"]
    assert str(adapters["ad1"].parent) not in missing.json()["detail"]  # named relative to its root
    other = client.post("/admin/adapters/activate", json={"path": str(adapters["other"])}, headers=AUTH)
    assert other.status_code == 422 and "another model" in other.json()["detail"]
    assert client.post("/admin/adapters/activate", json={"name": "nobody"}, headers=AUTH).status_code == 404
    assert client.post("/admin/adapters/activate", json={}, headers=AUTH).status_code == 422
    assert ask_adapter(client) == "ad1"  # the previous adapter still answers

    r = client.post(
        "/admin/adapters/activate", json={"path": str(adapters["ad2"]), "name": "second"}, headers=AUTH
    )
    assert r.json()["active"] == "second" and ask_adapter(client) == "second"
    listing = client.get("/admin/adapters", headers=AUTH).json()
    assert {a["name"]: a["active"] for a in listing["adapters"]} == {"ad1": False, "second": True}
    assert client.post("/admin/adapters/rollback", headers=AUTH).json()["active"] == "ad1"
    assert ask_adapter(client) == "ad1"
    assert (
        client.post("/admin/adapters/activate", json={"name": "none"}, headers=AUTH).json()["active"] is None
    )
    assert ask_adapter(client) is None
    assert client.post("/admin/adapters/rollback", headers=AUTH).json()["active"] == "ad1"
    history = [h["name"] for h in client.get("/admin/adapters", headers=AUTH).json()["history"]]
    assert history == [None, "ad1", "second", "ad1", None, "ad1"]


def _activate(client: TestClient, **body: str) -> tuple[int, str]:
    r = client.post("/admin/adapters/activate", json=body, headers=AUTH)
    return r.status_code, r.json().get("detail") if r.status_code != 200 else r.json()["active"]


def test_activation_by_path_only_inside_the_adapter_roots(
    client: TestClient, adapters: dict[str, Path], tmp_path: Path
) -> None:
    from app.adapter_policy import OUTSIDE_ROOTS

    assert _activate(client, path=str(adapters["ad1"])) == (200, "ad1")
    root = adapters["ad1"].parent
    outside = tmp_path / "elsewhere" / "ad9"
    shutil.copytree(adapters["ad1"], outside)  # a valid adapter, outside every root
    link = root / f"link-{tmp_path.name}"
    link.symlink_to(outside)  # inside a root by name, outside by target
    try:
        probes = [str(outside), "/nonexistent/adapter", "/etc", "/etc/shadow", "../../../../etc", str(link),
                  f"{root}/../{tmp_path.name}", "~/.ssh", str(root)]  # fmt: skip
        for path in probes:  # every refusal reads the same: nothing about what exists
            assert _activate(client, path=path) == (422, OUTSIDE_ROOTS), path
    finally:
        link.unlink()
    assert _activate(client, path=adapters["ad2"].name) == (200, "ad2")  # relative to a root
    assert ask_adapter(client) == "ad2"
    names = {a["name"] for a in client.get("/admin/adapters", headers=AUTH).json()["adapters"]}
    assert "ad9" not in names and not any(n.startswith("link-") for n in names)


def test_a_pre_policy_registry_entry_outside_the_roots_is_not_served_by_name(
    client: TestClient, adapters: dict[str, Path], tmp_path: Path
) -> None:
    """Before the roots policy an activation took any folder and copied it into the database; such
    an entry is refused by name (admin, rollback, the follower), whatever its files, saying so."""
    outside = tmp_path / "elsewhere" / "old-evil"
    shutil.copytree(adapters["ad1"], outside)
    registry = client.app.state.adapter_registry
    registry.register("old-evil", outside, source="activated")  # as main before fec11e9 wrote it
    code, detail = _activate(client, name="old-evil")
    assert code == 422 and "outside the adapter roots" in detail and str(tmp_path) not in detail
    assert ask_adapter(client) is None  # the base model still serves
    assert _activate(client, path=str(adapters["ad1"])) == (200, "ad1")  # a folder inside a root: fine


def test_the_name_default_is_reserved_for_the_shipped_adapter(
    client: TestClient, adapters: dict[str, Path], tmp_path: Path
) -> None:
    code, detail = _activate(client, path=str(adapters["ad1"]), name="default")
    assert code == 422 and "reserved for the shipped adapter" in detail
    impostor = adapters["ad1"].parent / f"x-{tmp_path.name}" / "default"  # a folder named default
    shutil.copytree(adapters["ad1"], impostor)
    try:
        code, detail = _activate(client, path=str(impostor))
        assert code == 422 and "reserved" in detail
    finally:
        shutil.rmtree(impostor.parent)
    assert _activate(client, path=str(adapters["ad1"]), name="none")[0] == 422
    registry = client.get("/admin/adapters", headers=AUTH).json()
    assert "default" not in {a["name"] for a in registry["adapters"]} and registry["active"] is None


@pytest.mark.parametrize(
    "change,refused",
    [
        ({}, None),
        ({"layer_replication": [[0, 2], [1, 2]]}, "layer_replication"),
        ({"modules_to_save": ["lm_head"]}, "modules_to_save"),
        ({"trainable_token_indices": [1, 2]}, "trainable_token_indices"),
        ({"bias": "all"}, "bias"),
        ({"use_dora": True}, None),  # DoRA adds beside the base layers too
        ({"some_future_option": 1}, "some_future_option"),
        ({"layer_replication": None, "modules_to_save": [], "bias": "none"}, None),
    ],
)
def test_adapter_config_whitelist(change: dict, refused: str | None) -> None:
    import json

    from agent.backends.adapter_check import adapter_config_problems

    shipped = json.loads((Path(__file__).parents[2] / "adapters" / "default" / "adapter_config.json").read_text())
    problems = adapter_config_problems(shipped | change)
    assert (problems == []) if refused is None else (len(problems) == 1 and problems[0].startswith(refused))


def test_structure_changing_adapter_is_refused_and_the_current_one_keeps_serving(
    client: TestClient, adapters: dict[str, Path], tmp_path: Path
) -> None:
    import json

    assert _activate(client, path=str(adapters["ad1"])) == (200, "ad1")
    bad = adapters["ad1"].parent / f"replicated-{tmp_path.name}"
    shutil.copytree(adapters["ad1"], bad)
    config = json.loads((bad / "adapter_config.json").read_text())
    (bad / "adapter_config.json").write_text(json.dumps(config | {"layer_replication": [[0, 2], [1, 2]]}))
    try:
        code, detail = _activate(client, path=str(bad))
    finally:
        shutil.rmtree(bad)
    assert code == 422 and "layer_replication" in detail and str(bad.parent) not in detail
    assert client.get("/readyz").json()["adapter"] == "ad1" == ask_adapter(client)
    assert _activate(client, path=str(adapters["ad2"])) == (200, "ad2")  # later activations still work
    assert client.get("/readyz").json()["adapter"] == "ad2" == ask_adapter(client)


def test_a_failed_activation_is_atomic(
    client: TestClient, adapters: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    from agent.backends.local import LocalChatModel

    assert _activate(client, path=str(adapters["ad1"])) == (200, "ad1")
    real = LocalChatModel._apply_active

    def failing(self: LocalChatModel) -> None:
        if self._active == "ad2":
            raise RuntimeError("boom while swapping")
        real(self)

    monkeypatch.setattr(LocalChatModel, "_apply_active", failing)
    code, detail = _activate(client, path=str(adapters["ad2"]))
    assert code == 422 and "still serving ad1" in detail
    assert client.get("/readyz").json()["adapter"] == "ad1" == ask_adapter(client)
    assert client.get("/admin/adapters", headers=AUTH).json()["history"][-1]["name"] == "ad1"


@pytest.mark.parametrize(
    "found,previous,current,shipped,expected",
    [
        (True, "ad1", "ad2", True, (True, "ad1")),
        (True, None, "ad2", True, (True, None)),
        (False, None, "ad2", True, (True, "default")),  # no history: the shipped adapter
        (False, None, "ad2", False, (True, None)),  # ... or the base model
        (False, None, "default", True, (True, None)),
        (False, None, None, True, (True, "default")),
        (False, None, None, False, (False, None)),  # the base model and nothing shipped: 409
    ],
)
def test_rollback_always_has_a_target(
    found: bool, previous: str | None, current: str | None, shipped: bool, expected: tuple
) -> None:
    assert rollback_choice(found, previous, current, shipped) == expected


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


def test_validate_spec_lists_every_problem(tmp_path: Path) -> None:
    settings = Settings(cache_dir=tmp_path)
    job = Job(id="x", name="job-x", spec=JobSpec(), dir=tmp_path / "j", adapter_dir=tmp_path / "a")
    job.spec = JobSpec(overrides={"nonsense": 1, "output_dir": "/tmp/x"}, config="/missing.yaml")
    with pytest.raises(JobInvalid) as err:
        validate_spec(settings, job.spec, job)
    message = str(err.value)
    assert "nonsense" in message and "output_dir" in message and "config: outside the data roots" in message
    job.spec = JobSpec(
        config="finetune/configs/tiny-test.yaml", train_files=["data/nope.jsonl"], overrides={"lora_r": 0}
    )
    with pytest.raises(JobInvalid, match="data/nope.jsonl does not exist.*lora_r: must be >= 1"):
        validate_spec(settings, job.spec, job)  # the trainer's own checks, every problem at once
    job.spec = JobSpec(config="finetune/configs/tiny-test.yaml", overrides={"max_steps": 5})
    values = validate_spec(settings, job.spec, job)  # from_runs alone is a valid job
    assert values["max_steps"] == 5 and values["output_dir"] == str(job.adapter_dir)
    assert values["from_runs"] is True and "store_url" not in values


@pytest.mark.parametrize(
    "overrides,problem",
    [
        ({"max_steps": 5, "learning_rate": 1, "lora_layers": [0, 1], "precision": "fp32"}, None),
        ({"target_modules": ["q_proj", "v_proj"]}, None),
        ({"target_modules": ["q_proj", "--output_dir", "/tmp/evil"]}, "overrides.target_modules"),
        ({"target_modules": ["--store_url=postgresql://x"]}, "overrides.target_modules"),
        ({"lr_scheduler_type": "--output_dir"}, "overrides.lr_scheduler_type"),
        ({"max_steps": "5"}, "overrides.max_steps: must be a whole number"),
        ({"max_steps": True}, "overrides.max_steps: must be a whole number"),
        ({"max_steps": 2.5}, "overrides.max_steps"),
        ({"gradient_checkpointing": "false"}, "overrides.gradient_checkpointing: must be true or false"),
        ({"precision": "fp64"}, "overrides.precision: must be one of"),
        ({"lora_layers": ["0"]}, "overrides.lora_layers"),
        ({"train_files": "data/x.jsonl"}, "overrides.train_files: must be a list"),
        ({"store_url": "sqlite:///x"}, "overrides.store_url: set by the job itself"),
        ({"cache_dir": "/"}, "overrides.cache_dir: set by the job itself"),
        ({"base_model": "/etc"}, "overrides.base_model: set by the job itself"),
        ({"--output_dir": "/tmp"}, "unknown fine-tuning option"),
    ],
)
def test_override_types_follow_the_config_dataclass(overrides: dict, problem: str | None) -> None:
    from app.jobs.config import override_problems

    problems = override_problems(overrides)
    assert problems == [] if problem is None else (len(problems) == 1 and problem in problems[0]), problems


def test_job_paths_are_confined_and_file_content_never_echoed(tmp_path: Path) -> None:
    from app.jobs.config import OUTSIDE_DATA_ROOTS

    settings = Settings(cache_dir=tmp_path, data_roots=[tmp_path / "mine"])
    job = Job(id="x", name="job-x", spec=JobSpec(), dir=tmp_path / "j", adapter_dir=tmp_path / "a")
    secret = tmp_path / "secret.yaml"  # outside every root
    secret.write_text("lora_r: hunter2-SECRET\n")
    for spec in (
        JobSpec(config="/etc/passwd"),
        JobSpec(config=str(secret)),
        JobSpec(config="../../../../etc/passwd"),
        JobSpec(train_files=["/etc/shadow"]),
        JobSpec(overrides={"train_files": ["/etc/shadow"]}),
        JobSpec(overrides={"eval_files": ["/proc/self/environ"]}),
        JobSpec(eval_questions="/etc/shadow"),
        JobSpec(overrides={"init_adapter": "/etc"}),
    ):
        with pytest.raises(JobInvalid) as err:
            validate_spec(settings, spec, job)
        text = str(err.value)
        assert "outside the" in text and "hunter2" not in text and "root:" not in text, (spec, text)
    inside = tmp_path / "mine" / "bad.yaml"  # inside a root: its values are not echoed either
    inside.parent.mkdir()
    inside.write_text("lora_r: hunter2-SECRET\nstore_url: postgresql://u:pw-SECRET@db/x\n")
    with pytest.raises(JobInvalid) as err:
        validate_spec(settings, JobSpec(config=str(inside), promote=False), job)
    assert "lora_r" in str(err.value) and "SECRET" not in str(err.value)
    (inside.parent / "bin.yaml").write_bytes(b"\xff\xfe: [")
    with pytest.raises(JobInvalid, match="config: not a YAML mapping"):
        validate_spec(settings, JobSpec(config=str(inside.parent / "bin.yaml")), job)
    assert OUTSIDE_DATA_ROOTS in str(JobInvalid(OUTSIDE_DATA_ROOTS))


def test_the_trainer_gets_one_private_config_file_and_the_store_url_in_its_environment(tmp_path: Path) -> None:
    import os
    import stat

    from app.jobs.config import default_train_command, train_env, write_train_config

    url = "postgresql+psycopg://qreact:pw-SECRET@db:5432/qreact"
    settings = Settings(cache_dir=tmp_path, store_url=url)
    job = Job(id="x", name="job-x", spec=JobSpec(), dir=tmp_path / "j", adapter_dir=tmp_path / "a")
    spec = JobSpec(config="finetune/configs/tiny-test.yaml", overrides={"target_modules": ["q_proj"]})
    path = write_train_config(job, validate_spec(settings, spec, job))
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert "pw-SECRET" not in path.read_text()
    argv = default_train_command(settings, job)
    assert argv[-2:] == ["--config", str(path)] and not any("SECRET" in a for a in argv)
    assert train_env(settings)["QREACT_STORE_URL"] == url


def test_job_errors_and_cli_logs_scrub_store_passwords(client: TestClient, capsys: pytest.CaptureFixture) -> None:
    import logging

    from app.logging import ScrubbingFormatter, redact

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


def test_swap_waits_for_runs_in_flight(tmp_path: Path) -> None:
    """AdapterService.exclusive holds every model slot: a run in flight ends first, a new run waits for the swap."""
    import asyncio

    from app.limits import ModelLimiter
    from app.state import AppState

    events: list[str] = []
    app = FastAPI()
    app.state = AppState(Settings(cache_dir=tmp_path))
    app.state.model_limiter = limiter = ModelLimiter(max_concurrency=2, max_queue=4)

    async def run(name: str, hold_s: float) -> None:
        async with limiter.slot():
            events.append(f"{name} start")
            await asyncio.sleep(hold_s)
            events.append(f"{name} end")

    async def scenario() -> None:
        first = asyncio.create_task(run("old-run", 0.2))
        await asyncio.sleep(0.05)  # the run is in flight
        swap = asyncio.create_task(AdapterService(app).exclusive(lambda: events.append("swap")))
        await asyncio.sleep(0.05)
        late = asyncio.create_task(run("new-run", 0.0))  # arrives during the swap's wait
        await asyncio.gather(first, swap, late)

    asyncio.run(scenario())
    assert events == ["old-run start", "old-run end", "swap", "new-run start", "new-run end"]
    assert limiter.active == 0


def test_decide_and_registry(tmp_path: Path) -> None:
    assert decide({"accuracy": 0.5, "n": 10}, {"accuracy": 0.5}, 0.0).promote  # not worse is enough
    assert not decide({"accuracy": 0.5, "n": 10}, {"accuracy": 0.5}, 0.05).promote
    assert not decide({"accuracy": 1.0, "n": 0}, None, 0.0).promote
    reg = AdapterRegistry(tmp_path / "reg.json")
    for name in ["a", "b", "b", None]:
        reg.record_activation(name)
    reg.register("a", tmp_path, source="t")
    reg.record_scores("a", "dev.jsonl@5", {"accuracy": 0.4})
    again = AdapterRegistry(tmp_path / "reg.json")  # survives a restart
    assert [h["name"] for h in again.history()] == ["a", "b", None]
    assert again.previous(None) == (True, "b") and again.previous("a") == (False, None)
    assert again.get("a")["scores"]["dev.jsonl@5"]["accuracy"] == 0.4


@pytest.mark.slow
def test_real_job_trains_evaluates_and_promotes(
    tiny_model_dir: Path,
    local_model,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
) -> None:
    """The real child processes (qreact finetune, app.gate evaluate) on the tiny model: ~1-2 min."""
    import json

    from app.store.runs import RunStore
    from tests.finetune.test_export import calc_run

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
