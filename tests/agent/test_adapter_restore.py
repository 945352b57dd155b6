"""A restart with QREACT_ADAPTER=default keeps serving the adapter last promoted/activated in the cache."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.backends import build_local_chat_model
from app.settings import Settings


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
    registry.parent.mkdir(parents=True)
    registry.write_text(json.dumps({"adapters": adapters, "history": history}))
    return Settings(cache_dir=tmp_path, local_model=str(tiny_model_dir), adapter="default", device="cpu")


def test_restart_restores_the_promoted_adapter(tmp_path: Path, tiny_model_dir: Path, tiny_adapter: Path) -> None:
    settings = _settings(
        tmp_path, tiny_model_dir,
        history=[{"name": "default", "at": 1}, {"name": "job-1", "at": 2, "reason": "promoted"}],
        adapters={"job-1": {"name": "job-1", "path": str(tiny_adapter)}},
    )  # fmt: skip
    model = build_local_chat_model(settings)
    assert model.active_adapter == "job-1"


def test_restart_after_rollback_to_the_base_model_serves_the_base(tmp_path: Path, tiny_model_dir: Path) -> None:
    settings = _settings(tmp_path, tiny_model_dir, history=[{"name": "job-1", "at": 1}, {"name": None, "at": 2}],
                         adapters={})  # fmt: skip
    model = build_local_chat_model(settings)
    assert model.active_adapter is None
