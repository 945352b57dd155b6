"""Admin fixtures: tiny LoRA adapters for the tiny model, one LocalChatModel per module, the app on it."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from agent.backends.local import LocalChatModel
from tests.app.admin.helpers import make_app
from tests.tiny import make_lora_adapter


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

    return LocalChatModel.from_pretrained(
        str(tiny_model_dir),
        device="cpu",
        dtype="float32",
        quantize="none",
        max_new_tokens=4,
        model_name="tiny",
    )


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
