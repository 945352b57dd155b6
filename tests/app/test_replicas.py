"""Two replicas (two apps, two tiny models, separate cache folders) sharing one run store.

SQLite file always; PostgreSQL too when QREACT_TEST_PG_URL is set (as in tests/app/store/). Each replica
follows the cluster's latest activation every 0.1 s; adapter files reach the other replica only
through the database (the folder an adapter was activated from is deleted right after).
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from app.main import create_app
from app.settings import Settings
from app.store.runs import RunStore
from app.store.schema import adapter_blobs, metadata
from tests.app.admin.helpers import install_jobs
from tests.app.conftest import four_calculator as calculator
from tests.tiny import make_lora_adapter

KEY = "admin-secret"
AUTH = {"Authorization": f"Bearer {KEY}"}
PG_URL = os.environ.get("QREACT_TEST_PG_URL")
SYNC_S = 0.1  # replicas poll the desired adapter this often in these tests, seconds
WAIT_S = 20.0  # longest wait for a replica to follow, seconds (a loaded 2-core box)


@pytest.fixture(scope="module")
def lora_dirs(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two tiny LoRA adapters for the tiny model (kept; tests copy them)."""
    root = tmp_path_factory.mktemp("replica-adapters")
    return {name: make_lora_adapter(tiny_model_dir, root / name, 10 + i) for i, name in enumerate(["ad1", "ad2"])}


@pytest.fixture(scope="module")
def models(tiny_model_dir: Path) -> list[Any]:
    """One live model per replica."""
    from agent.backends.local import LocalChatModel

    return [
        LocalChatModel.from_pretrained(
            str(tiny_model_dir), device="cpu", dtype="float32", quantize="none", max_new_tokens=4, model_name="tiny"
        )
        for _ in range(2)
    ]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'shared' / 'runs.db'}"
    if not PG_URL:
        pytest.skip("QREACT_TEST_PG_URL not set")
    store = RunStore(PG_URL)
    metadata.drop_all(store.engine)  # the server is shared between tests: start empty
    metadata.create_all(store.engine)
    store.close()
    return PG_URL


def make_replica(tmp_path: Path, name: str, store_url: str, model: Any) -> FastAPI:
    for a in model.list_adapters():  # the models are shared by the module's tests: start clean
        model.activate_adapter(None)
        model.unload_adapter(a["name"])
    settings = Settings(
        cache_dir=tmp_path / name, store_url=store_url, admin_key=KEY, adapter=None, max_steps=1,
        log_json=False, adapter_sync_s=SYNC_S, adapter_roots=[tmp_path / "a-only"],
    )  # fmt: skip
    return create_app(settings, chat_model=model, tools=[calculator])


@pytest.fixture
def replicas(tmp_path: Path, store_url: str, models: list[Any]) -> Iterator[tuple[TestClient, TestClient]]:
    apps = [make_replica(tmp_path, n, store_url, m) for n, m in zip(["a", "b"], models, strict=True)]
    with ExitStack() as stack:
        clients = [stack.enter_context(TestClient(app)) for app in apps]
        for app in apps:
            wait_for(lambda app=app: app.state.ready, what=f"{app} ready")
        yield clients[0], clients[1]


def wait_for(check: Callable[[], Any], what: str, timeout_s: float = WAIT_S) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def serving(client: TestClient) -> str | None:
    r = client.post("/ask", json={"question": "What is 2 + 2?"})
    assert r.status_code == 200, r.text
    return r.json()["adapter"]


def listing(client: TestClient) -> dict[str, Any]:
    r = client.get("/admin/adapters", headers=AUTH)
    assert r.status_code == 200, r.text
    return r.json()


def refusals(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "app.adapters" and r.levelno >= logging.ERROR]


@contextmanager
def paused(*others: TestClient) -> Iterator[None]:
    """Other replicas do not look at the store meanwhile (as if they had not polled yet)."""
    for c in others:
        c.app.state.ready = False  # type: ignore[attr-defined]  # AdapterService.sync skips a replica not ready
    try:
        yield
    finally:
        for c in others:
            c.app.state.ready = True  # type: ignore[attr-defined]


def activate_from_a_private_folder(
    a: TestClient, src: Path, tmp_path: Path, name: str, *others: TestClient,
    damage: Callable[[str], None] | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Activate on A from a folder only A has, then delete it: the other replicas (paused until then,
    on one machine they would see it) can only get the files from the database."""
    private = tmp_path / "a-only" / name
    shutil.copytree(src, private)
    with paused(*others):
        r = a.post("/admin/adapters/activate", json={"path": str(private)}, headers=AUTH)
        assert r.status_code == 200, r.text
        shutil.rmtree(private)
        if damage is not None:
            damage(r.json()["desired"]["sha256"])
    return r.json()


def test_activation_and_rollback_reach_the_other_replica(
    replicas: tuple[TestClient, TestClient], lora_dirs: dict[str, Path], tmp_path: Path
) -> None:
    a, b = replicas
    assert serving(a) is None and serving(b) is None
    body = activate_from_a_private_folder(a, lora_dirs["ad1"], tmp_path, "ad1", b)
    assert body["active"] == "ad1" and body["replica"]["in_sync"] and body["desired"]["name"] == "ad1"
    sha = body["desired"]["sha256"]
    assert sha and {x["name"]: x["sha256"] for x in body["adapters"]}["ad1"] == sha

    state = wait_for(lambda: (s := listing(b))["active"] == "ad1" and s, what="B to serve ad1")
    assert state["replica"]["in_sync"] and state["replica"]["serving_sha256"] == sha
    assert state["replica"]["id"] != body["replica"]["id"] and state["desired"]["replica"] == body["replica"]["id"]
    assert serving(b) == "ad1"  # new runs on B use it
    unpacked = tmp_path / "b" / "adapters" / f"ad1-{sha[:8]}"
    assert (unpacked / "adapter_model.safetensors").is_file()  # B's copy, from the database

    r = a.post("/admin/adapters/rollback", headers=AUTH)
    assert r.status_code == 200 and r.json()["active"] is None
    wait_for(lambda: listing(b)["active"] is None, what="B to follow the rollback")
    assert serving(b) is None and serving(a) is None
    history = [(h["name"], h["reason"]) for h in listing(b)["history"]]
    assert history == [(None, "serving at startup"), ("ad1", "activated by an admin"), (None, "rollback from ad1")]

    # B activates by name: A follows; B had the files already, A has them loaded
    assert b.post("/admin/adapters/activate", json={"name": "ad1"}, headers=AUTH).json()["active"] == "ad1"
    wait_for(lambda: listing(a)["active"] == "ad1", what="A to follow B")
    assert serving(a) == "ad1"


def test_a_corrupt_blob_is_refused_and_the_replica_keeps_serving(
    replicas: tuple[TestClient, TestClient],
    lora_dirs: dict[str, Path],
    tmp_path: Path,
    store_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    a, b = replicas
    activate_from_a_private_folder(a, lora_dirs["ad1"], tmp_path, "ad1", b)
    wait_for(lambda: listing(b)["active"] == "ad1", what="B to serve ad1")

    def truncate(sha: str) -> None:  # another process damages ad2's stored files after A activated it
        store = RunStore(store_url)
        try:
            with store.engine.begin() as conn:
                blob = adapter_blobs.c
                data = conn.execute(select(blob.data).where(blob.sha256 == sha)).scalar_one()
                conn.execute(update(adapter_blobs).where(blob.sha256 == sha).values(data=data[: len(data) // 2]))
        finally:
            store.close()

    caplog.set_level(logging.ERROR, logger="app.adapters")
    body = activate_from_a_private_folder(a, lora_dirs["ad2"], tmp_path, "ad2", b, damage=truncate)
    sha = body["desired"]["sha256"]
    # A swapped from its own folder before the blob was damaged; B must fetch the blob
    assert serving(a) == "ad2"

    state = wait_for(lambda: (s := listing(b))["replica"]["sync_error"] and s, what="B to refuse ad2")
    assert state["active"] == "ad1" and not state["replica"]["in_sync"]
    assert "corrupt" in state["replica"]["sync_error"] and "keeps serving" in state["replica"]["sync_error"]
    assert len(refusals(caplog)) == 1 and "refused, still serving 'ad1'" in refusals(caplog)[0]
    assert serving(b) == "ad1"  # the current adapter still answers
    assert not (tmp_path / "b" / "adapters" / f"ad2-{sha[:8]}").exists()  # nothing half-written

    time.sleep(5 * SYNC_S)  # not retried every interval: one error per activation
    assert len(refusals(caplog)) == 1

    # the next activation (A rolls back to ad1) is followed again
    assert a.post("/admin/adapters/rollback", headers=AUTH).json()["active"] == "ad1"
    state = wait_for(
        lambda: (s := listing(b))["replica"]["followed_activation"] == s["desired"]["id"] and s, what="B to follow"
    )
    assert state["active"] == "ad1" and state["replica"]["in_sync"] and state["replica"]["sync_error"] is None


def test_an_explicit_adapter_is_kept_until_the_next_activation(
    tmp_path: Path, store_url: str, models: list[Any], lora_dirs: dict[str, Path]
) -> None:
    """A replica started with QREACT_ADAPTER=<folder> or none serves it; it follows later activations."""
    first = make_replica(tmp_path, "a", store_url, models[0])
    with TestClient(first) as a:
        wait_for(lambda: first.state.ready, what="A ready")
        activate_from_a_private_folder(a, lora_dirs["ad1"], tmp_path, "ad1")
    second = make_replica(tmp_path, "b", store_url, models[1])  # adapter=None: the base model on purpose
    with TestClient(second) as b:
        wait_for(lambda: second.state.ready, what="B ready")
        time.sleep(5 * SYNC_S)
        state = listing(b)
        assert state["active"] is None and state["desired"]["name"] == "ad1" and not state["replica"]["in_sync"]
        r = b.post("/admin/adapters/activate", json={"name": "ad1"}, headers=AUTH)  # files from the database
        assert r.status_code == 200 and r.json()["replica"]["in_sync"]


def test_sync_off_does_not_follow(
    tmp_path: Path, store_url: str, models: list[Any], lora_dirs: dict[str, Path]
) -> None:
    first = make_replica(tmp_path, "a", store_url, models[0])
    second = make_replica(tmp_path, "b", store_url, models[1])
    second.state.settings.adapter_sync_s = 0  # QREACT_ADAPTER_SYNC_S=0
    with TestClient(first) as a, TestClient(second) as b:
        wait_for(lambda: first.state.ready and second.state.ready, what="replicas ready")
        activate_from_a_private_folder(a, lora_dirs["ad1"], tmp_path, "ad1", b)
        time.sleep(10 * SYNC_S)
        state = listing(b)
        assert state["active"] is None and state["replica"]["sync_interval_s"] == 0
        assert state["desired"]["name"] == "ad1" and not state["replica"]["in_sync"]


def test_a_promotion_by_a_training_job_reaches_the_other_replica(
    replicas: tuple[TestClient, TestClient], lora_dirs: dict[str, Path]
) -> None:
    """The job runs on A (fake train/eval children, as in tests/app/admin/test_jobs.py); B serves the promoted
    adapter."""
    a, b = replicas
    jobs = install_jobs(a, lora_dirs["ad2"], cand=0.6, base=0.5)
    r = a.post("/admin/finetune", json={}, headers=AUTH)
    assert r.status_code == 202, r.text
    job = jobs.wait(r.json()["id"], timeout=60)
    assert job["state"] == "promoted", job
    state = wait_for(lambda: (s := listing(b))["active"] == job["name"] and s, what="B to serve the promoted adapter")
    assert state["replica"]["in_sync"] and state["desired"]["reason"].startswith(f"promoted by job {job['id']}")
    scores = {x["name"]: x["scores"] for x in state["adapters"]}
    assert scores[job["name"]]["dev.jsonl@20"]["accuracy"] == 0.6  # B lists the scores A's job recorded
    assert serving(b) == job["name"]
    assert b.post("/admin/adapters/rollback", headers=AUTH).json()["active"] is None
    wait_for(lambda: listing(a)["active"] is None, what="A to follow B's rollback")


def test_new_files_under_the_same_name_are_reloaded(
    replicas: tuple[TestClient, TestClient], lora_dirs: dict[str, Path], tmp_path: Path
) -> None:
    a, b = replicas
    first = activate_from_a_private_folder(a, lora_dirs["ad1"], tmp_path, "ad1", b)["desired"]["sha256"]
    wait_for(lambda: listing(b)["replica"]["serving_sha256"] == first, what="B to serve ad1")
    private = tmp_path / "a-only" / "v2"
    shutil.copytree(lora_dirs["ad2"], private)  # retrained: other weights, the same name
    with paused(b):
        r = a.post("/admin/adapters/activate", json={"path": str(private), "name": "ad1"}, headers=AUTH)
        assert r.status_code == 200, r.text
        shutil.rmtree(private)
    second = r.json()["desired"]["sha256"]
    assert second != first and r.json()["replica"]["serving_sha256"] == second
    state = wait_for(lambda: (s := listing(b))["replica"]["serving_sha256"] == second and s, what="B to reload")
    assert state["active"] == "ad1" and state["replica"]["in_sync"]
    assert (tmp_path / "b" / "adapters" / f"ad1-{second[:8]}" / "adapter_model.safetensors").is_file()
