"""Fast decode, the hand-written Gemma 3 forward (agent/backends/fast_decode.py), against the Hugging Face
forward, on the tiny model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from agent.backends.fast_decode import FastDecoder, KVBuffers
from agent.backends.local import LocalChatModel
from agent.prompt import STOP, observation_suffix, render_prompt
from tests.tiny import make_lora_adapter

PROMPT = render_prompt("What is the capital of Australia?")


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _load(tiny_model_dir: Path, **fields: Any) -> LocalChatModel:
    return LocalChatModel.from_pretrained(str(tiny_model_dir), device="cpu", max_new_tokens=40, **fields)


def _make_adapter(tiny_model_dir: Path, folder: Path, seed: int, **lora: Any) -> Path:
    lora.setdefault("target_modules", ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"])
    return make_lora_adapter(tiny_model_dir, folder, seed, std=1.0, **lora)  # large: visibly changes the output


@pytest.fixture(scope="module")
def adapters(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("fast-decode-adapters")
    return {
        "a": _make_adapter(tiny_model_dir, root / "a", 1),
        "b": _make_adapter(tiny_model_dir, root / "b", 2, target_modules=["q_proj", "v_proj", "down_proj"]),
        "dora": _make_adapter(tiny_model_dir, root / "dora", 3, target_modules=["q_proj", "v_proj"], use_dora=True),
    }


def _steps(model: LocalChatModel) -> list[str]:
    """Three ReAct-shaped generations that grow one prompt (prefix reuse, sliding window of 64 exceeded)."""
    prompt, texts = PROMPT, []
    for observation in ("Canberra", "25 million", "7.7 million km2"):
        text = model.generate_text(prompt, stop=[STOP]).text
        texts.append(text)
        prompt = prompt + text + observation_suffix(observation)
    return texts


def test_tiny_gemma_takes_the_fast_decode_path(tiny_model_dir: Path) -> None:
    assert _load(tiny_model_dir).decode_path == "fast_decode"
    assert _load(tiny_model_dir, fast_decode=False).decode_path == "hf"


def test_logits_match_the_hf_forward_past_the_sliding_window(tiny_model_dir: Path) -> None:
    from transformers import DynamicCache

    chat = _load(tiny_model_dir)
    model, decoder = chat.model, chat._decoder
    assert decoder.window == 64
    ids = chat.tokenizer(PROMPT)["input_ids"]
    assert len(ids) > 2 * decoder.window
    cache, buffers = DynamicCache(), decoder.new_cache(4)  # tiny capacity: the buffers must grow
    with torch.inference_mode():
        hf = model(input_ids=torch.tensor([ids]), past_key_values=cache, use_cache=True).logits[0, -1]
        fast = decoder.logits_last(ids, buffers)
        assert torch.allclose(hf, fast, atol=1e-5)
        token = int(hf.argmax())
        for _ in range(40):
            hf = model(input_ids=torch.tensor([[token]]), past_key_values=cache, use_cache=True).logits[0, -1]
            fast = decoder.logits_last([token], buffers)
            assert torch.allclose(hf, fast, atol=1e-5)
            assert int(fast.argmax()) == int(hf.argmax())
            token = int(hf.argmax())
    assert buffers.length == len(ids) + 40 and buffers.capacity >= buffers.length


def test_prefill_in_chunks_equals_one_prefill(tiny_model_dir: Path) -> None:
    decoder = _load(tiny_model_dir)._decoder
    ids = _load(tiny_model_dir).tokenizer(PROMPT)["input_ids"]
    with torch.inference_mode():
        whole = decoder.logits_last(ids, decoder.new_cache())
        parts = decoder.new_cache()
        decoder.hidden_last(ids[:70], parts)
        decoder.hidden_last(ids[70:71], parts)
        chunked = decoder.logits_last(ids[71:], parts)
        copied = parts.prefix_copy(100)
        assert copied.length == 100 and copied is not parts
        assert torch.equal(copied.keys[0][:, :, :100], parts.keys[0][:, :, :100])
        again = decoder.logits_last(ids[100:], copied)
    assert torch.allclose(whole, chunked, atol=1e-5)
    assert torch.allclose(whole, again, atol=1e-5)


def test_generation_identical_to_the_hf_path(tiny_model_dir: Path) -> None:
    fast, hf = _load(tiny_model_dir), _load(tiny_model_dir, fast_decode=False)
    assert _steps(fast) == _steps(hf)
    # the second and third steps reused the cached prefix: the stored caches are fast decode's buffers
    assert any(key[0].startswith("fast_decode:") for key in fast.kv_cache._entries)
    streamed = "".join(fast.stream_text(PROMPT, stop=[STOP]))
    assert streamed == hf.generate_text(PROMPT, stop=[STOP]).text


def test_merged_adapter_matches_peft_unmerged(tiny_model_dir: Path, adapters: dict[str, Path]) -> None:
    fast, hf = _load(tiny_model_dir), _load(tiny_model_dir, fast_decode=False)
    base_text = _steps(fast)
    for name in ("a", "b"):
        for model in (fast, hf):
            model.load_adapter(adapters[name], name)
            model.activate_adapter(name)
        assert fast.decode_path == "fast_decode" and fast._decoder.adapter is not None
        texts = _steps(fast)
        assert texts == _steps(hf)
        assert texts != base_text  # the adapter is really applied
    fast.activate_adapter(None)
    assert _steps(fast) == base_text


def test_swaps_restore_the_exact_base_weights(tiny_model_dir: Path, adapters: dict[str, Path]) -> None:
    chat = _load(tiny_model_dir)
    snapshot = {k: v.clone() for k, v in chat.model.state_dict().items()}
    fused = [layer.qkv.clone() for layer in chat._decoder.layers]
    with torch.inference_mode():
        base_logits = chat._forward(chat.tokenizer(PROMPT)["input_ids"], chat._decoder.new_cache(), "cpu")
    chat.load_adapter(adapters["a"], "a")
    chat.load_adapter(adapters["b"], "b")
    for _ in range(15):  # many swaps: no drift may accumulate
        chat.activate_adapter("a")
        chat.activate_adapter("b")
    chat.load_adapter(adapters["a"], "a")  # hot reload of the same name
    chat.activate_adapter(None)
    base = chat._base
    for key, value in snapshot.items():
        peft_key = key
        if key not in base.state_dict():  # peft wrapped the layer: the original lives in base_layer
            peft_key = key.replace(".weight", ".base_layer.weight")
        assert torch.equal(base.state_dict()[peft_key], value), key
    assert all(torch.equal(a, layer.qkv) for a, layer in zip(fused, chat._decoder.layers, strict=True))
    with torch.inference_mode():
        again = chat._forward(chat.tokenizer(PROMPT)["input_ids"], chat._decoder.new_cache(), "cpu")
    assert torch.equal(again, base_logits)


def test_unmergeable_adapter_falls_back_to_hf(tiny_model_dir: Path, adapters: dict[str, Path]) -> None:
    fast, hf = _load(tiny_model_dir), _load(tiny_model_dir, fast_decode=False)
    for model in (fast, hf):
        model.load_adapter(adapters["dora"], "dora")
        model.activate_adapter("dora")
    assert fast.decode_path == "hf"  # DoRA is not merged into fast decode's copies
    assert fast.generate_text(PROMPT).text == hf.generate_text(PROMPT).text
    fast.activate_adapter(None)
    assert fast.decode_path == "fast_decode"


def test_unsupported_models_are_named() -> None:
    from transformers import LlamaConfig, LlamaForCausalLM

    llama = LlamaForCausalLM(
        LlamaConfig(vocab_size=64, hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2)
    )
    assert "gemma3_text" in (FastDecoder.unsupported(llama) or "")


def test_kv_buffers_grow_and_keep_their_contents() -> None:
    buffers = KVBuffers(layers=2, kv_heads=1, head_dim=4, capacity=2, dtype=torch.float32, device="cpu")
    buffers.keys[1][0, 0, :2] = torch.arange(8.0).view(2, 4)
    buffers.length = 2
    buffers.reserve(3)
    assert buffers.capacity >= 64
    assert torch.equal(buffers.keys[1][0, 0, :2], torch.arange(8.0).view(2, 4))


def test_setting_turns_fast_decode_off(tiny_model_dir: Path) -> None:
    from app.settings import Settings
    from app.wiring import local_model_config

    for on, path in ((True, "fast_decode"), (False, "hf")):
        settings = Settings(_env_file=None, local_model=str(tiny_model_dir), fast_decode=on)  # type: ignore[call-arg]
        assert LocalChatModel.from_config(local_model_config(settings)).decode_path == path
