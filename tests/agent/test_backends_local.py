"""LocalChatModel on the tiny random Gemma-3: generation, stops, KV-cache reuse, healing, adapters."""

from __future__ import annotations

import json
import shutil
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import torch
from langchain_core.messages import AIMessage, HumanMessage
from pydantic import PrivateAttr

from agent.backends.adapter_check import AdapterError
from agent.backends.local import LocalChatModel
from agent.loop import DEADLINE
from agent.prompt import STOP, observation_suffix, render_prompt
from tests.tiny import make_lora_adapter

PROMPT = render_prompt("What is the capital of Australia?")


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture
def chat(tiny_model_dir: Path) -> LocalChatModel:
    return LocalChatModel.from_pretrained(str(tiny_model_dir), device="cpu", max_new_tokens=12)


class ScriptedChat(LocalChatModel):
    """The real tiny model runs (and fills the KV cache), but the next token is forced from a script."""

    _script: list[int] = PrivateAttr(default_factory=list)
    _pos: int = PrivateAttr(default=0)

    def set_script(self, text: str, eos: bool = False) -> list[int]:
        ids = list(self._tokenizer(text, add_special_tokens=False)["input_ids"])
        if eos:
            ids.append(self._tokenizer.eos_token_id)
        self._script, self._pos = ids, 0
        return ids

    def _run(self, *args: Any) -> Any:
        self._pos = 0  # each generation replays the script from its start
        yield from super()._run(*args)

    def _forward(self, new_ids: Any, cache: Any, device: Any) -> Any:
        logits = super()._forward(new_ids, cache, device)
        forced = torch.full_like(logits, -1e9)
        forced[self._script[min(self._pos, len(self._script) - 1)]] = 0.0
        self._pos += 1
        return forced


@pytest.fixture
def scripted(tiny_model_dir: Path) -> ScriptedChat:
    model = LocalChatModel.from_pretrained(str(tiny_model_dir), device="cpu")
    return ScriptedChat.from_model(model.model, model.tokenizer, max_new_tokens=60)


# --------------------------------------------------------------------------- generation


def test_greedy_matches_transformers_generate(chat: LocalChatModel) -> None:
    result = chat.generate_text(PROMPT + " ", max_new_tokens=12)
    ids = chat.tokenizer(PROMPT)["input_ids"]
    out = chat.model.generate(torch.tensor([ids]), max_new_tokens=12, do_sample=False)
    expected = chat.tokenizer.decode(out[0, len(ids) :], skip_special_tokens=True)
    assert expected.startswith(" ") or result.text == expected
    assert result.text == (expected[1:] if expected.startswith(" ") else expected)
    assert result.completion_tokens == 12 and result.finish_reason == "length"
    assert result.prompt_tokens == len(ids)
    again = chat.generate_text(PROMPT + " ", max_new_tokens=12)
    assert again.text == result.text


def test_stop_string_enforced_inside_generation(scripted: ScriptedChat) -> None:
    step = " I should search\nAction: Search\nAction Input: Australia"
    script = scripted.set_script(step + "\nObservation: Canberra")
    result = scripted.generate_text(PROMPT, stop=[STOP], max_new_tokens=60)
    assert result.text == " I should search\nAction: Search\nAction Input: Australia"
    assert result.finish_reason == "stop"
    assert STOP not in result.text
    # generation stopped at the token that completed "\nObservation:", not at the script's end
    assert result.completion_tokens < len(script)
    # without the stop, the scripted text continues past the marker (the test can fail)
    scripted.set_script(" I should search\nObservation: Canberra")
    free = scripted.generate_text(PROMPT, max_new_tokens=8)
    assert STOP in free.text


def test_eos_stops(scripted: ScriptedChat) -> None:
    scripted.set_script(" I now know the final answer\nFinal Answer: Canberra", eos=True)
    result = scripted.generate_text(PROMPT, stop=[STOP], max_new_tokens=60)
    assert result.text == " I now know the final answer\nFinal Answer: Canberra"
    assert result.finish_reason == "stop"


def test_token_healing(scripted: ScriptedChat) -> None:
    scripted.set_script(" I now know the final answer\nFinal Answer: Canberra", eos=True)
    prompt = PROMPT + " I need to search\nAction: Search\nAction Input: x" + observation_suffix("Canberra")
    assert prompt.endswith("Thought: ")
    result = scripted.generate_text(prompt, stop=[STOP])
    # the space the prompt lost is the one the model wrote: removed from the text once
    assert result.text == "I now know the final answer\nFinal Answer: Canberra"
    assert result.prompt_tokens == len(scripted.tokenizer(prompt[:-1])["input_ids"])
    # no trailing space → nothing removed
    plain = scripted.generate_text(PROMPT, stop=[STOP])
    assert plain.text.startswith(" I now")


def test_deadline_and_length(chat: LocalChatModel) -> None:
    token = DEADLINE.set(time.monotonic() - 1.0)
    try:
        result = chat.generate_text(PROMPT, max_new_tokens=50)
    finally:
        DEADLINE.reset(token)
    assert result.finish_reason == "timeout" and result.completion_tokens == 0
    result = chat.generate_text(PROMPT, max_new_tokens=5)
    assert result.finish_reason == "length" and result.completion_tokens == 5


def test_sampling_uses_temperature(chat: LocalChatModel) -> None:
    torch.manual_seed(0)
    texts = {chat.generate_text(PROMPT, max_new_tokens=8, temperature=5.0).text for _ in range(4)}
    assert len(texts) > 1  # a random tiny model at T=5 practically never repeats 8 tokens


# --------------------------------------------------------------------------- KV cache


def _three_steps(model: LocalChatModel) -> list[Any]:
    """A ReAct-shaped run: each prompt is the previous one + its output + an observation."""
    results = []
    prompt = PROMPT
    for obs in ("Canberra is the capital.", "Population 26 million.", "done"):
        result = model.generate_text(prompt, max_new_tokens=10, stop=[STOP])
        results.append(result)
        prompt = prompt + result.text + observation_suffix(obs)
    return results


def test_kv_cache_reuse_is_exact_and_prefills_less(tiny_model_dir: Path) -> None:
    cached = LocalChatModel.from_pretrained(str(tiny_model_dir), device="cpu")
    fresh = LocalChatModel.from_pretrained(str(tiny_model_dir), device="cpu", kv_cache_entries=0)
    with_cache, without = _three_steps(cached), _three_steps(fresh)
    assert [r.text for r in with_cache] == [r.text for r in without]
    assert [r.prompt_tokens for r in with_cache] == [r.prompt_tokens for r in without]
    assert all(r.cached_tokens == 0 for r in without)
    assert with_cache[0].cached_tokens == 0
    for prev, r in zip(with_cache, with_cache[1:], strict=False):
        # everything up to the previous prompt was reused: only the new text is prefilled
        assert r.cached_tokens >= prev.prompt_tokens
        assert r.prompt_tokens - r.cached_tokens < r.prompt_tokens / 2
    # the prompts are longer than the tiny model's sliding window (64 tokens): the reused
    # full-attention cache must still honour the window, as transformers' own generate does
    assert with_cache[0].prompt_tokens > 64


def test_shared_header_prefilled_once_across_runs(tiny_model_dir: Path) -> None:
    model = LocalChatModel.from_pretrained(str(tiny_model_dir), device="cpu")
    fresh = LocalChatModel.from_pretrained(str(tiny_model_dir), device="cpu", kv_cache_entries=0)
    first = model.generate_text(render_prompt("What is the capital of Peru?"), max_new_tokens=4)
    other = render_prompt("How many people live in Chile?")
    second = model.generate_text(other, max_new_tokens=4)
    ids_a = model.tokenizer(render_prompt("What is the capital of Peru?"))["input_ids"]
    ids_b = model.tokenizer(other)["input_ids"]
    shared = next(i for i, (x, y) in enumerate(zip(ids_a, ids_b, strict=False)) if x != y)
    assert first.cached_tokens == 0
    assert shared > 200 and second.cached_tokens == shared  # the whole shared header, nothing more
    assert second.text == fresh.generate_text(other, max_new_tokens=4).text


# --------------------------------------------------------------------------- langchain + threads


def test_invoke_returns_usage_and_honours_stop(scripted: ScriptedChat) -> None:
    scripted.set_script(" I should search\nAction: Search\nAction Input: Australia\nObservation: x")
    message = scripted.invoke([HumanMessage(content=PROMPT)], stop=[STOP])
    assert isinstance(message, AIMessage)
    assert message.content == " I should search\nAction: Search\nAction Input: Australia"
    usage = message.usage_metadata
    assert usage is not None and usage["input_tokens"] == len(scripted.tokenizer(PROMPT)["input_ids"])
    assert usage["output_tokens"] > 5
    assert message.response_metadata["finish_reason"] == "stop"


def test_stream_text_matches_and_holds_back_stop(scripted: ScriptedChat) -> None:
    text = " I should search\nAction: Search\nAction Input: Australia"
    scripted.set_script(text + "\nObservation: x")
    done: list[Any] = []
    pieces = list(scripted.stream_text(PROMPT, stop=[STOP], on_finish=done.append))
    assert "".join(pieces) == text
    assert len(pieces) > 3 and all("\n" + "Obs" not in p for p in pieces)
    assert done and done[0].text == text and done[0].finish_reason == "stop"
    scripted.set_script(text + "\nObservation: x")
    chunks = list(scripted.stream([HumanMessage(content=PROMPT)], stop=[STOP]))
    assert "".join(str(c.content) for c in chunks) == text


def test_concurrent_calls_are_serialized(chat: LocalChatModel) -> None:
    expected = chat.generate_text(PROMPT, max_new_tokens=6).text
    out: list[str] = []

    def work() -> None:
        out.append(chat.generate_text(PROMPT, max_new_tokens=6).text)

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert out == [expected] * 3


# --------------------------------------------------------------------------- adapters


def _make_adapter(tiny_model_dir: Path, folder: Path, seed: int) -> Path:
    return make_lora_adapter(tiny_model_dir, folder, seed, std=2.0)  # big: visibly changes the output


@pytest.fixture(scope="module")
def adapters(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("adapters")
    return _make_adapter(tiny_model_dir, root / "a", 1), _make_adapter(tiny_model_dir, root / "b", 2)


def _logits(model: LocalChatModel) -> torch.Tensor:
    ids = model.tokenizer(PROMPT)["input_ids"]
    from transformers import DynamicCache

    return model._forward(ids, DynamicCache(), "cpu")


def test_adapter_load_activate_and_back(chat: LocalChatModel, adapters: tuple[Path, Path]) -> None:
    a, _ = adapters
    base_logits = _logits(chat)
    base_text = chat.generate_text(PROMPT, max_new_tokens=8).text
    chat.load_adapter(a, "a")
    assert chat.active_adapter is None  # loading does not switch
    assert torch.equal(_logits(chat), base_logits)
    chat.activate_adapter("a")
    assert chat.active_adapter == "a"
    assert not torch.allclose(_logits(chat), base_logits)
    assert chat.list_adapters() == [{"name": "a", "path": str(a), "active": True}]
    chat.activate_adapter(None)
    assert torch.equal(_logits(chat), base_logits)
    assert chat.generate_text(PROMPT, max_new_tokens=8).text == base_text
    with pytest.raises(AdapterError, match="unknown adapter"):
        chat.activate_adapter("nope")


def test_kv_cache_is_per_adapter(tiny_model_dir: Path, adapters: tuple[Path, Path]) -> None:
    a, _ = adapters
    model = LocalChatModel.from_pretrained(str(tiny_model_dir), device="cpu")
    model.load_adapter(a, "a")
    model.generate_text(PROMPT, max_new_tokens=4)  # fills the cache for the base model
    model.activate_adapter("a")
    with_a = model.generate_text(PROMPT, max_new_tokens=6)
    assert with_a.cached_tokens == 0  # base keys/values are not reused under the adapter
    reference = LocalChatModel.from_pretrained(str(tiny_model_dir), device="cpu", kv_cache_entries=0)
    reference.load_adapter(a, "a")
    reference.activate_adapter("a")
    assert with_a.text == reference.generate_text(PROMPT, max_new_tokens=6).text


def test_reload_same_name_hot_swaps(chat: LocalChatModel, adapters: tuple[Path, Path]) -> None:
    a, b = adapters
    chat.load_adapter(a, "live")
    chat.activate_adapter("live")
    logits_a = _logits(chat)
    chat.load_adapter(b, "live")
    assert chat.active_adapter == "live"
    logits_b = _logits(chat)
    assert not torch.allclose(logits_a, logits_b)
    fresh = LocalChatModel.from_pretrained(str(chat.model.base_model.model.name_or_path), device="cpu")
    fresh.load_adapter(b, "b")
    fresh.activate_adapter("b")
    assert torch.allclose(_logits(fresh), logits_b, atol=1e-5)
    assert [x["name"] for x in chat.list_adapters()] == ["live"]


def test_truncated_adapter_refused_and_current_keeps_serving(
    chat: LocalChatModel, adapters: tuple[Path, Path], tmp_path: Path
) -> None:
    a, b = adapters
    chat.load_adapter(a, "a")
    chat.activate_adapter("a")
    before = _logits(chat)
    broken = tmp_path / "broken"
    shutil.copytree(b, broken)
    weights = broken / "adapter_model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    with pytest.raises(AdapterError, match="truncated"):
        chat.load_adapter(broken, "a")
    assert chat.active_adapter == "a"
    assert torch.equal(_logits(chat), before)
    assert [x["name"] for x in chat.list_adapters()] == ["a"]


def test_adapter_validation_messages(
    chat: LocalChatModel, adapters: tuple[Path, Path], tmp_path: Path
) -> None:
    from safetensors.torch import load_file, save_file

    a, _ = adapters
    with pytest.raises(AdapterError, match="does not exist"):
        chat.load_adapter(tmp_path / "missing", "x")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(AdapterError, match="adapter_config.json"):
        chat.load_adapter(empty, "x")
    bad_json = tmp_path / "bad_json"
    shutil.copytree(a, bad_json)
    (bad_json / "adapter_config.json").write_text("{not json")
    with pytest.raises(AdapterError, match="not valid JSON"):
        chat.load_adapter(bad_json, "x")
    not_lora = tmp_path / "not_lora"
    shutil.copytree(a, not_lora)
    config = json.loads((a / "adapter_config.json").read_text())
    (not_lora / "adapter_config.json").write_text(json.dumps(config | {"peft_type": "IA3"}))
    with pytest.raises(AdapterError, match="LORA"):
        chat.load_adapter(not_lora, "x")
    tensors = load_file(str(a / "adapter_model.safetensors"))
    other_model = tmp_path / "other_model"
    shutil.copytree(a, other_model)
    renamed = {k.replace("self_attn", "cross_attn"): v for k, v in tensors.items()}
    save_file(renamed, str(other_model / "adapter_model.safetensors"))
    with pytest.raises(AdapterError, match="lacks"):
        chat.load_adapter(other_model, "x")
    wrong_shape = tmp_path / "wrong_shape"
    shutil.copytree(a, wrong_shape)
    widened = {k: torch.zeros(v.shape[0], v.shape[1] * 2) if "lora_A" in k else v for k, v in tensors.items()}
    save_file(widened, str(wrong_shape / "adapter_model.safetensors"))
    with pytest.raises(AdapterError, match="shapes"):
        chat.load_adapter(wrong_shape, "x")
    pickled = tmp_path / "pickled"
    shutil.copytree(a, pickled)
    (pickled / "adapter_model.safetensors").rename(pickled / "adapter_model.bin")
    with pytest.raises(AdapterError, match="safetensors"):
        chat.load_adapter(pickled, "x")
    assert chat.list_adapters() == [] and chat.active_adapter is None


# --------------------------------------------------------------------------- 4-bit


def test_4bit_nf4_on_cpu(tmp_path: Path) -> None:
    from transformers import Gemma3ForCausalLM, Gemma3TextConfig

    from tests.tiny import make_tiny_tokenizer

    # bitsandbytes' CPU kernels quantize in blocks of 64 input features: the shared tiny model
    # (hidden 32) is too narrow, so this test builds one with every in_features a multiple of 64
    tokenizer = make_tiny_tokenizer()
    torch.manual_seed(0)
    config = Gemma3TextConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=32,
        sliding_window=64,
        pad_token_id=0,
        eos_token_id=1,
        bos_token_id=2,
    )
    Gemma3ForCausalLM(config).save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    try:
        model = LocalChatModel.from_pretrained(str(tmp_path), device="cpu", quantize="4bit")
        result = model.generate_text(PROMPT, max_new_tokens=4)
    except Exception as exc:  # pragma: no cover - depends on the bitsandbytes build
        pytest.skip(f"bitsandbytes 4-bit unavailable on this CPU: {exc}")
    from bitsandbytes.nn import Linear4bit

    assert any(isinstance(m, Linear4bit) for m in model.model.modules())
    assert model.decode_path == "hf"  # 4-bit weights: fast decode does not apply
    assert result.completion_tokens == 4
    assert model.generate_text(PROMPT, max_new_tokens=4).text == result.text


# --------------------------------------------------------------------------- screened output layer


def test_screened_head_is_exact_on_its_candidates(tiny_model_dir: Path) -> None:
    from agent.backends.fast_head import ScreenedHead, install_screened_head

    model = LocalChatModel.from_pretrained(str(tiny_model_dir), device="cpu", fast_head=False).model
    assert install_screened_head(model) is None  # a 400-token vocabulary: not worth it by default
    full = model.lm_head
    head = install_screened_head(model, top_k=16, min_vocab=0)
    assert isinstance(head, ScreenedHead) and model.lm_head is head
    assert not head.enabled  # plain outside LocalChatModel's greedy generations
    head.enabled = True
    x = torch.randn(1, 1, full.in_features)
    with torch.inference_mode():
        exact = full(x)[0, 0]
        screened = head(x)[0, 0]
        finite = torch.isfinite(screened)
        assert int(finite.sum()) == 16
        assert torch.equal(screened[finite], exact[finite])
        assert int(screened.argmax()) == int(exact.argmax())
        assert torch.equal(
            head(torch.randn(1, 3, full.in_features)).isfinite(), torch.ones(1, 3, 400, dtype=torch.bool)
        )
    assert head.screened_calls == 1  # several positions (a prefill) use the full layer


def test_fast_head_generation_identical(tiny_model_dir: Path, adapters: tuple[Path, Path]) -> None:
    fast = LocalChatModel.from_pretrained(str(tiny_model_dir), device="cpu", fast_head_min_vocab=0)
    plain = LocalChatModel.from_pretrained(str(tiny_model_dir), device="cpu", fast_head=False)
    assert fast._head is not None and plain._head is None
    assert [r.text for r in _three_steps(fast)] == [r.text for r in _three_steps(plain)]
    calls = fast._head.screened_calls
    assert calls > 20
    fast.generate_text(PROMPT, max_new_tokens=4, temperature=1.0)
    assert fast._head.screened_calls == calls  # sampling reads every logit: the full layer
    assert not fast._head.enabled
    a, _ = adapters  # peft loads adapters into a model whose output layer is screened
    for model in (fast, plain):
        model.load_adapter(a, "a")
        model.activate_adapter("a")
    assert (
        fast.generate_text(PROMPT, max_new_tokens=10).text
        == plain.generate_text(PROMPT, max_new_tokens=10).text
    )
