"""A LoRA merged into the base GGUF (agent.backends.llamacpp_merge), on the tiny model: real export-lora/quantize."""

from __future__ import annotations

import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from agent.backends.adapter_check import AdapterError
from agent.backends.llamacpp import LlamaCppChatModel, convert_adapter
from agent.backends.llamacpp_merge import (
    MERGED_TYPE,
    MergeError,
    merge_lora,
    merged_types,
    quantize_head,
    served_path,
    tensor_types,
)
from agent.config import LlamaCppConfig
from agent.prompt import render_prompt
from tests.tiny import make_lora_adapter

PROMPT = render_prompt("What is the capital of Australia?") + "Thought:"
# seconds per test: each starts llama-servers and the first converts an adapter (a child importing torch: ~1 min
# on a loaded 2-core box) and merges it
pytestmark = pytest.mark.timeout(900)


@pytest.fixture(scope="module")
def config(tiny_gguf: Path, tiny_model_dir: Path, llamacpp_dir: Path, tmp_path_factory) -> LlamaCppConfig:
    return LlamaCppConfig(
        model_gguf=tiny_gguf, config_dir=tiny_model_dir, engine_dir=llamacpp_dir,
        cache_dir=tmp_path_factory.mktemp("merge-cache"), model_name="tiny", threads=1, ctx_size=4096,
        max_new_tokens=16,
    )  # fmt: skip


@pytest.fixture(scope="module")
def adapter(tiny_model_dir: Path, tmp_path_factory) -> Path:
    return make_lora_adapter(tiny_model_dir, tmp_path_factory.mktemp("lora") / "a", seed=1, std=0.5)


@pytest.fixture(scope="module")
def lora(adapter: Path, config: LlamaCppConfig) -> Path:
    return convert_adapter(adapter, config)


@pytest.fixture(scope="module")
def q4_base(tiny_gguf: Path, llamacpp_dir: Path, tmp_path_factory) -> Path:
    """The tiny GGUF quantized as a shipped model is (every matrix Q4_0: blocks of 32 fit its 32-wide rows)."""
    out = tmp_path_factory.mktemp("q4") / "tiny-q4_0.gguf"
    done = subprocess.run(
        [str(llamacpp_dir / "bin" / "llama-quantize"), "--pure", str(tiny_gguf), str(out), "Q4_0", "1"],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-1500:] + done.stderr[-1500:]
    return out


def generate(config: LlamaCppConfig, model: Path, adapter: Path | None = None, merge: bool = True) -> str:
    engine = LlamaCppChatModel.from_config(replace(config, model_gguf=model, merge_lora=merge))
    try:
        if adapter is not None:
            engine.load_adapter(adapter, "a")
            engine.activate_adapter("a")
        return engine.generate_text(PROMPT, max_new_tokens=16).text
    finally:
        engine.close()


def test_the_type_rule_raises_adapted_quantized_tensors_to_q8_0_and_keeps_the_rest():
    base = {"tok": "Q8_0", "q": "Q4_K", "v": "Q8_0", "norm": "F32", "f": "F16", "b": "BF16"}
    exported = {"tok": "Q8_0", "q": "F16", "v": "F16", "norm": "F32", "f": "F16", "b": "F16"}
    assert merged_types(base, exported) == {
        "tok": "Q8_0", "q": MERGED_TYPE, "v": MERGED_TYPE, "norm": "F32", "f": "F16", "b": "BF16",
    }  # fmt: skip


def test_a_float_base_merges_without_requantizing_and_serves_the_adapted_text(config, adapter, lora):
    merged = merge_lora(config.model_gguf, lora, config.engine_dir, config.cache_dir, threads=1)
    assert merged == served_path(config.model_gguf, lora, config.cache_dir) and merged.is_file()
    assert tensor_types(merged) == tensor_types(config.model_gguf)  # f32 in, f32 out
    base_text = generate(config, config.model_gguf)
    run_time = generate(config, config.model_gguf, adapter, merge=False)  # --lora
    assert run_time != base_text
    assert generate(config, merged) == run_time  # the merged file alone, no --lora: the same greedy text


def test_a_quantized_base_gets_q8_0_adapted_tensors_and_keeps_its_other_types(config, adapter, q4_base):
    config = replace(config, model_gguf=q4_base)
    lora = convert_adapter(adapter, config)
    merged = merge_lora(q4_base, lora, config.engine_dir, config.cache_dir, threads=1)
    base_types, types = tensor_types(q4_base), tensor_types(merged)
    adapted = {n for n in base_types if n.endswith(("attn_q.weight", "attn_v.weight"))}  # the LoRA's q_proj, v_proj
    assert adapted and all(types[n] == "Q8_0" for n in adapted)
    for name in ("token_embd.weight", "blk.0.attn_k.weight", "blk.1.ffn_down.weight"):  # not adapted: copied
        assert types[name] == base_types[name] == "Q4_0", name
    assert all(types[n] == kind for n, kind in base_types.items() if kind == "F32")
    base_text = generate(config, q4_base)
    assert generate(config, q4_base, adapter) != base_text  # the LoRA survives the merge (served merged)


def test_merges_are_cached_by_content_and_failures_leave_nothing(config, lora, tmp_path):
    first = merge_lora(config.model_gguf, lora, config.engine_dir, config.cache_dir, threads=1)
    stamp = first.stat().st_mtime_ns
    assert merge_lora(config.model_gguf, lora, config.engine_dir, config.cache_dir, threads=1) == first
    assert first.stat().st_mtime_ns == stamp  # not merged again
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"GGUF not really")
    with pytest.raises(MergeError, match="llama-export-lora failed"):
        merge_lora(config.model_gguf, broken, config.engine_dir, tmp_path / "cache", threads=1)
    leftovers = [p.name for p in (tmp_path / "cache" / "engine" / "merged").iterdir() if not p.name.endswith(".lock")]
    assert leftovers == []
    with pytest.raises(MergeError, match="make engine"):
        merge_lora(config.model_gguf, lora, tmp_path, tmp_path / "cache", threads=1)


def test_an_adapter_that_cannot_be_merged_is_served_with_lora(config, adapter, tmp_path):
    # an engine folder whose llama-export-lora is missing: the adapter still serves, at run time
    engine = tmp_path / "engine"
    (engine / "bin").mkdir(parents=True)
    for name in ("llama-server", "llama-quantize"):
        (engine / "bin" / name).symlink_to(config.engine_dir / "bin" / name)
    (engine / "py").symlink_to(config.engine_dir / "py")
    partial = replace(config, engine_dir=engine, cache_dir=tmp_path / "cache")
    model = LlamaCppChatModel.from_config(partial)
    try:
        model.load_adapter(adapter, "a")
        model.activate_adapter("a")
        assert model._server is not None and model._server.spec.lora is not None
        assert model._server.spec.model == config.model_gguf
        assert model.generate_text(PROMPT, max_new_tokens=16).text == generate(config, config.model_gguf, adapter)
    finally:
        model.close()


def test_the_served_spec_runs_the_merged_file_without_lora(config, adapter):
    model = LlamaCppChatModel.from_config(config)
    try:
        model.load_adapter(adapter, "a")
        model.activate_adapter("a")
        spec = model._server.spec if model._server else None
        assert spec is not None and spec.lora is None and spec.model.parent.name == "merged"
        assert "--lora" not in spec.argv(1234)
    finally:
        model.close()


# ------------------------------------------------------------------ the head (embedding/output layer) type


def tensor_bytes(gguf_file: Path) -> dict[str, bytes]:
    from gguf import GGUFReader

    return {t.name: bytes(t.data.tobytes()) for t in GGUFReader(gguf_file).tensors}


def test_tensor_types_reads_the_header_as_gguf_does(config, lora, q4_base, tmp_path):
    from gguf import GGUFReader

    for gguf_file in (config.model_gguf, q4_base, lora):
        assert tensor_types(gguf_file) == {t.name: t.tensor_type.name for t in GGUFReader(gguf_file).tensors}
    torn = tmp_path / "torn.gguf"
    torn.write_bytes(q4_base.read_bytes()[:2000])  # the header cut inside its metadata
    with pytest.raises(MergeError, match="unreadable GGUF header"):
        tensor_types(torn)
    with pytest.raises(MergeError, match="not a GGUF"):
        tensor_types(config.config_dir / "config.json")


def test_the_type_rule_sets_a_quantized_head_and_keeps_a_float_one():
    base = {"token_embd.weight": "Q8_0", "output.weight": "Q6_K", "q": "Q4_K", "norm": "F32"}
    exported = base | {"q": "F16"}
    assert merged_types(base, exported, "q4_0") == {
        "token_embd.weight": "Q4_0", "output.weight": "Q4_0", "q": MERGED_TYPE, "norm": "F32",
    }  # fmt: skip
    assert merged_types(base, None, "q5_0") == base | {"token_embd.weight": "Q5_0", "output.weight": "Q5_0"}
    assert merged_types({"token_embd.weight": "F16", "q": "F32"}, None, "q4_0") == {"token_embd.weight": "F16",
                                                                                   "q": "F32"}  # fmt: skip


def test_the_head_is_requantized_alone_and_cached_by_content(config, q4_base):
    served = quantize_head(q4_base, "q8_0", config.engine_dir, config.cache_dir, threads=1)
    assert served == served_path(q4_base, None, config.cache_dir, "q8_0") != q4_base
    before, after = tensor_types(q4_base), tensor_types(served)
    assert before["token_embd.weight"] == "Q4_0" and after["token_embd.weight"] == "Q8_0"
    assert {n: k for n, k in after.items() if n != "token_embd.weight"} == {
        n: k for n, k in before.items() if n != "token_embd.weight"
    }
    old, new = tensor_bytes(q4_base), tensor_bytes(served)
    assert [n for n in old if n != "token_embd.weight" and old[n] != new[n]] == []  # every other tensor copied
    stamp = served.stat().st_mtime_ns
    assert quantize_head(q4_base, "q8_0", config.engine_dir, config.cache_dir, threads=1) == served
    assert served.stat().st_mtime_ns == stamp  # not made again
    # nothing to change: the file itself (a head already in that type, no type, a float head)
    assert quantize_head(q4_base, "q4_0", config.engine_dir, config.cache_dir, threads=1) == q4_base
    assert quantize_head(q4_base, None, config.engine_dir, config.cache_dir, threads=1) == q4_base
    assert quantize_head(config.model_gguf, "q4_0", config.engine_dir, config.cache_dir, threads=1) == config.model_gguf


def test_a_merge_with_a_head_type_writes_both_rules_into_one_file(config, adapter, q4_base):
    config = replace(config, model_gguf=q4_base)
    lora = convert_adapter(adapter, config)
    plain = merge_lora(q4_base, lora, config.engine_dir, config.cache_dir, threads=1)
    headed = merge_lora(q4_base, lora, config.engine_dir, config.cache_dir, threads=1, head_type="q8_0")
    assert headed == served_path(q4_base, lora, config.cache_dir, "q8_0") != plain
    assert tensor_types(headed) == tensor_types(plain) | {"token_embd.weight": "Q8_0"}
    # a head type that changes nothing names (and is) the plain merge
    assert merge_lora(q4_base, lora, config.engine_dir, config.cache_dir, threads=1, head_type="q4_0") == plain


def test_the_engine_serves_the_head_type_and_hot_swap_still_refuses_a_broken_adapter(config, adapter, q4_base,
                                                                                     tmp_path):  # fmt: skip
    headed = replace(config, model_gguf=q4_base, head_type="q8_0")
    model = LlamaCppChatModel.from_config(headed)
    try:
        base_file = model.served_base()
        assert model._server is not None and model._server.spec.model == base_file != q4_base
        assert tensor_types(base_file)["token_embd.weight"] == "Q8_0"
        before, pid = model.generate_text(PROMPT, max_new_tokens=16).text, model.server_pid
        broken = tmp_path / "broken"
        broken.mkdir()
        (broken / "adapter_config.json").write_text((adapter / "adapter_config.json").read_text())
        (broken / "adapter_model.safetensors").write_bytes((adapter / "adapter_model.safetensors").read_bytes()[:100])
        with pytest.raises(AdapterError, match="unreadable or truncated"):
            model.load_adapter(broken, "bad")
        assert model.server_pid == pid and model.generate_text(PROMPT, max_new_tokens=16).text == before
        model.load_adapter(adapter, "a")
        model.activate_adapter("a")
        spec = model._server.spec
        assert spec.lora is None and tensor_types(spec.model)["token_embd.weight"] == "Q8_0"
        assert spec.model == served_path(q4_base, convert_adapter(adapter, headed), config.cache_dir, "q8_0")
        assert model.server_pid != pid and model.generate_text(PROMPT, max_new_tokens=16).text != before
    finally:
        model.close()
