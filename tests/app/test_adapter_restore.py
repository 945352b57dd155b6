"""A restart with QREACT_ADAPTER=default keeps serving the adapter last promoted/activated in the cache."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.settings import Settings
from app.wiring import build_local_chat_model


@pytest.fixture(scope="module")
def tiny_adapter(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    out = tmp_path_factory.mktemp("promoted")
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    get_peft_model(model, LoraConfig(r=4, target_modules="all-linear")).save_pretrained(out)
    return out


def _settings(tmp_path: Path, tiny_model_dir: Path, history: list, adapters: dict) -> Settings:
    registry = tmp_path / "adapters" / "registry.json"
    registry.parent.mkdir(parents=True, exist_ok=True)
    registry.write_text(json.dumps({"adapters": adapters, "history": history}))
    return Settings(cache_dir=tmp_path, local_model=str(tiny_model_dir), adapter="default", device="cpu")


def test_restart_restores_the_promoted_adapter(tmp_path: Path, tiny_model_dir: Path, tiny_adapter: Path) -> None:
    import shutil

    job = tmp_path / "adapters" / "job-1"  # where a training job writes it: inside the adapter roots
    shutil.copytree(tiny_adapter, job)
    settings = _settings(
        tmp_path, tiny_model_dir,
        history=[{"name": "default", "at": 1}, {"name": "job-1", "at": 2, "reason": "promoted"}],
        adapters={"job-1": {"name": "job-1", "path": str(job)}},
    )  # fmt: skip
    model = build_local_chat_model(settings)
    assert model.active_adapter == "job-1"


def test_a_pre_policy_activation_outside_the_roots_is_not_restored(
    tmp_path: Path, tiny_model_dir: Path, tiny_adapter: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An adapter activated by any path before the roots policy (registry.json, or the run store with
    its files copied in) is re-checked at startup: the shipped adapter serves instead."""
    import agent.backends as backends

    monkeypatch.setattr(backends, "default_adapter_dir", lambda: tiny_adapter)  # the "shipped" one
    old = _settings(
        tmp_path / "file", tiny_model_dir,
        history=[{"name": "default", "at": 1}, {"name": "evil", "at": 2, "reason": "activated"}],
        adapters={"evil": {"name": "evil", "path": str(tiny_adapter)}},  # a folder outside the roots
    )  # fmt: skip
    assert build_local_chat_model(old).active_adapter == "default"
    url = _store_with(tmp_path, tiny_adapter, ["evil"], registered=tmp_path / "outside" / "evil")
    settings = Settings(cache_dir=tmp_path / "b", local_model=str(tiny_model_dir), adapter="default",
                        device="cpu", store_url=url)  # fmt: skip
    assert build_local_chat_model(settings).active_adapter == "default"  # not "evil", though its files are stored


def test_restart_after_rollback_to_the_base_model_serves_the_base(tmp_path: Path, tiny_model_dir: Path) -> None:
    settings = _settings(tmp_path, tiny_model_dir, history=[{"name": "job-1", "at": 1}, {"name": None, "at": 2}],
                         adapters={})  # fmt: skip
    model = build_local_chat_model(settings)
    assert model.active_adapter is None


def _store_with(
    tmp_path: Path, tiny_adapter: Path, activations: list[str | None], registered: Path | None = None
) -> str:
    """A run store (another replica's) whose history ends with ``activations``; the adapter folder
    it registered (``registered``, default: its job folder, at the same cache path as this host's
    ``tmp_path/b``) is not on this host (only its files in the database)."""
    import shutil

    from app.store.runs import RunStore

    url = f"sqlite:///{tmp_path / 'shared' / 'runs.db'}"
    elsewhere = registered or tmp_path / "b" / "adapters" / "job-1"
    name = elsewhere.name
    shutil.copytree(tiny_adapter, elsewhere)
    store = RunStore(url)
    reg = store.adapter_registry("replica-a")
    reg.register(name, elsewhere, source="job 1")
    for name in activations:
        reg.record_activation(name, "test")
    store.close()
    shutil.rmtree(elsewhere)
    return url


def test_restart_restores_from_the_run_store(tmp_path: Path, tiny_model_dir: Path, tiny_adapter: Path) -> None:
    url = _store_with(tmp_path, tiny_adapter, ["default", "job-1"])
    settings = _settings(
        tmp_path / "b", tiny_model_dir, history=[{"name": None, "at": 1}], adapters={}
    )  # the store wins over an older registry.json
    settings = settings.model_copy(update={"store_url": url})
    model = build_local_chat_model(settings)
    assert model.active_adapter == "job-1"
    folder = Path(model.list_adapters()[0]["path"])
    assert folder.parent == tmp_path / "b" / "adapters" and folder.name.startswith("job-1-")


def test_restart_restores_the_base_model_from_the_run_store(
    tmp_path: Path, tiny_model_dir: Path, tiny_adapter: Path
) -> None:
    url = _store_with(tmp_path, tiny_adapter, ["job-1", None])
    settings = Settings(cache_dir=tmp_path / "b", local_model=str(tiny_model_dir), adapter="default",
                        device="cpu", store_url=url)  # fmt: skip
    assert build_local_chat_model(settings).active_adapter is None


def test_a_corrupt_stored_adapter_falls_back_to_the_shipped_one(
    tmp_path: Path, tiny_model_dir: Path, tiny_adapter: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import agent.backends as backends
    from app.store.runs import RunStore
    from app.store.schema import adapter_blobs

    monkeypatch.setattr(backends, "default_adapter_dir", lambda: tiny_adapter)  # the "shipped" one
    url = _store_with(tmp_path, tiny_adapter, ["job-1"])
    store = RunStore(url)
    with store.engine.begin() as conn:
        conn.execute(adapter_blobs.update().values(data=b"truncated"))
    store.close()
    settings = Settings(cache_dir=tmp_path / "b", local_model=str(tiny_model_dir), adapter="default",
                        device="cpu", store_url=url)  # fmt: skip
    assert build_local_chat_model(settings).active_adapter == "default"


def test_adapter_entries_for_listings(tmp_path: Path, tiny_model_dir: Path, tiny_adapter: Path) -> None:
    """`qreact models` lists the store's registry; a cache with only a registry.json lists the file's."""
    from app.cli import adapter_entries

    old = _settings(tmp_path / "old", tiny_model_dir, history=[], adapters={"j": {"name": "j", "path": "/x"}})
    assert [e["name"] for e in adapter_entries(old)] == ["j"]
    url = _store_with(tmp_path, tiny_adapter, ["job-1"])
    entries = adapter_entries(old.model_copy(update={"store_url": url}))
    assert [e["name"] for e in entries] == ["job-1"] and entries[0]["sha256"]
