"""A served GGUF with a trimmed vocabulary (agent.backends.llamacpp_vocab): the rules, the file, and llama.cpp
serving it (the tiny model with a SentencePiece vocabulary, real llama-server)."""

from __future__ import annotations

import string
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from agent.backends.llamacpp_merge import MergeError
from agent.backends.llamacpp_vocab import kept_ids, trim_vocab, trimmed, trimmed_path
from agent.config import LlamaCppConfig
from agent.prompt import render_prompt

NORMAL, CONTROL, BYTE = 1, 3, 6
FOREIGN = ["Ж", "и", "▁Жи", "中", "文", "中文", "▁中文"]  # other scripts: dropped


def test_the_rules_keep_specials_bytes_the_kept_scripts_below_the_rank_and_their_substrings():
    tokens = ["<pad>", "<eos>", "<bos>", "<unused0>", "<start_of_turn>"] + [f"<0x{b:02X}>" for b in range(4)]
    tokens += [f"w{i}" for i in range(256 - len(tokens))]  # ids < 256: always kept
    tokens += ["<unused1>", "<end_of_turn>", "<0xFF>", "▁the", "Ж", "▁café", "caf", "Ωμ", "中", "▁tiny"]
    tokens += ["tin", "ti", "▁rare", "▁안녕", "▁Жи"]
    types = [CONTROL] * 5 + [BYTE] * 4 + [NORMAL] * (256 - 9) + [CONTROL, CONTROL, BYTE] + [NORMAL] * 12
    ids = {t: i for i, t in enumerate(tokens)}
    keep = {tokens[i] for i in kept_ids(tokens, types, max_rank=ids["▁tiny"] + 1)}
    assert {"<pad>", "<unused0>", "w0"} <= keep  # the first 256 ids
    assert {"<end_of_turn>", "<0xFF>"} <= keep and "<unused1>" not in keep  # control (not unused) and byte tokens
    assert {"▁the", "▁café", "Ωμ", "▁tiny"} <= keep  # kept scripts below the rank
    assert "Ж" not in keep and "中" not in keep and "▁Жи" not in keep  # other scripts
    assert {"caf", "tin", "ti"} <= keep  # above the rank, but substrings of kept tokens ("▁café", "▁tiny")
    assert "▁rare" not in keep  # above the rank
    assert "▁안녕" in keep  # Hangul: any rank


def write_gguf(path: Path, tokens: list[str], types: list[int], rows: np.ndarray, quantized: bool) -> Path:
    import gguf

    writer = gguf.GGUFWriter(path, "gemma3")
    writer.add_tokenizer_model("llama")
    writer.add_token_list(tokens)
    writer.add_token_scores([-float(i) for i in range(len(tokens))])
    writer.add_token_types(types)
    writer.add_bos_token_id(tokens.index("<bos>"))
    writer.add_eos_token_id(tokens.index("<eos>"))
    writer.add_pad_token_id(tokens.index("<pad>"))
    writer.add_uint32("gemma3.block_count", 1)
    if quantized:
        data = gguf.quants.quantize(rows, gguf.GGMLQuantizationType.Q8_0)
        writer.add_tensor("token_embd.weight", data, raw_dtype=gguf.GGMLQuantizationType.Q8_0)
    else:
        writer.add_tensor("token_embd.weight", rows)
    writer.add_tensor("output_norm.weight", np.arange(rows.shape[1], dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


@pytest.mark.parametrize("quantized", [False, True])
def test_the_trimmed_file_keeps_the_rows_in_order_renumbers_the_specials_and_copies_the_rest(tmp_path, quantized):
    from gguf import GGUFReader

    tokens = [f"<unused{i}>" for i in range(300)] + ["<eos>", "Ж", "▁the", "<bos>", "中", "<pad>", "th", "▁t"]
    types = [CONTROL] * 300 + [CONTROL, NORMAL, NORMAL, CONTROL, NORMAL, CONTROL, NORMAL, NORMAL]
    rows = np.random.default_rng(0).normal(size=(len(tokens), 64)).astype(np.float32)
    source = write_gguf(tmp_path / "in.gguf", tokens, types, rows, quantized)
    kept = trim_vocab(source, tmp_path / "out.gguf", max_rank=10**6)
    keep = kept_ids(tokens, types, 10**6)
    assert kept == len(keep) == 256 + 6  # ids < 256, <eos> <bos> <pad>, "▁the" and its substrings "th", "▁t"
    before, after = GGUFReader(source), GGUFReader(tmp_path / "out.gguf")
    assert after.fields["tokenizer.ggml.tokens"].contents() == [tokens[i] for i in keep]
    assert after.fields["tokenizer.ggml.scores"].contents() == [-float(i) for i in keep]
    new = after.fields["tokenizer.ggml.tokens"].contents()
    for key, text in (("bos", "<bos>"), ("eos", "<eos>"), ("padding", "<pad>")):
        assert new[after.fields[f"tokenizer.ggml.{key}_token_id"].contents()] == text
    tensors_before = {t.name: t for t in before.tensors}
    tensors_after = {t.name: t for t in after.tensors}
    embd = tensors_after["token_embd.weight"]
    assert embd.tensor_type == tensors_before["token_embd.weight"].tensor_type
    assert list(embd.shape) == [64, len(keep)]
    assert np.array_equal(np.asarray(embd.data), np.asarray(tensors_before["token_embd.weight"].data)[keep])
    assert np.array_equal(tensors_after["output_norm.weight"].data, tensors_before["output_norm.weight"].data)
    assert after.fields["gemma3.block_count"].contents() == 1


def reference_trim(source: Path, out: Path, keep: list[int]) -> None:
    """The same trim written with gguf's own reader and writer (slow: it parses every value)."""
    import gguf

    reader = gguf.GGUFReader(source)
    tokens = reader.fields["tokenizer.ggml.tokens"].contents()
    new_id = {old: new for new, old in enumerate(keep)}
    writer = gguf.GGUFWriter(out, "gemma3")
    for field in reader.fields.values():
        if field.name == "general.architecture" or field.name.startswith("GGUF."):
            continue
        kind = field.types[0]
        sub = field.types[-1] if kind == gguf.GGUFValueType.ARRAY else None
        value = field.contents()
        if field.name in ("tokenizer.ggml.tokens", "tokenizer.ggml.scores", "tokenizer.ggml.token_type"):
            value = [value[i] for i in keep]
        elif field.name.endswith("_token_id"):
            value = new_id[value]
        writer.add_key_value(field.name, value, kind, sub_type=sub)
    data = []
    for tensor in reader.tensors:
        array = tensor.data
        if tensor.name == "token_embd.weight":
            assert array.shape[0] == len(tokens)
            array = np.ascontiguousarray(array[np.asarray(keep)])
        writer.add_tensor_info(tensor.name, array.shape, array.dtype, array.nbytes, tensor.tensor_type)
        data.append(array)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    for array in data:
        writer.write_tensor_data(array)
    writer.close()


@pytest.mark.parametrize("quantized", [False, True])
def test_the_trimmed_file_is_byte_for_byte_what_ggufs_own_writer_makes(tmp_path, quantized):
    tokens = [f"<unused{i}>" for i in range(300)] + ["<eos>", "Ж", "▁the", "<bos>", "中", "<pad>", "th", "▁t"]
    types = [CONTROL] * 300 + [CONTROL, NORMAL, NORMAL, CONTROL, NORMAL, CONTROL, NORMAL, NORMAL]
    rows = np.random.default_rng(1).normal(size=(len(tokens), 96)).astype(np.float32)
    source = write_gguf(tmp_path / "in.gguf", tokens, types, rows, quantized)
    trim_vocab(source, tmp_path / "fast.gguf", max_rank=10**6)
    reference_trim(source, tmp_path / "reference.gguf", kept_ids(tokens, types, 10**6))
    assert (tmp_path / "fast.gguf").read_bytes() == (tmp_path / "reference.gguf").read_bytes()


def test_a_special_token_the_trim_would_drop_is_refused_with_a_reason(tmp_path):
    tokens = [f"<unused{i}>" for i in range(300)] + ["<eos>", "▁the", "<bos>", "<pad>", "中"]
    types = [CONTROL] * 300 + [CONTROL, NORMAL, CONTROL, CONTROL, NORMAL]
    source = write_gguf(tmp_path / "in.gguf", tokens, types, np.zeros((len(tokens), 32), np.float32), False)
    import gguf

    writer = gguf.GGUFWriter(tmp_path / "odd.gguf", "gemma3")  # its padding token is a foreign word
    for field in gguf.GGUFReader(source).fields.values():
        if field.name == "general.architecture" or field.name.startswith("GGUF."):
            continue
        value = len(tokens) - 1 if field.name == "tokenizer.ggml.padding_token_id" else field.contents()
        sub = field.types[-1] if field.types[0] == gguf.GGUFValueType.ARRAY else None
        writer.add_key_value(field.name, value, field.types[0], sub_type=sub)
    writer.add_tensor("token_embd.weight", np.zeros((len(tokens), 32), np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    with pytest.raises(MergeError, match="padding_token_id 304 is not kept"):
        trim_vocab(tmp_path / "odd.gguf", tmp_path / "out.gguf")
    (tmp_path / "junk.gguf").write_bytes(b"junk" * 10)
    with pytest.raises(MergeError, match="not a GGUF file"):
        trim_vocab(tmp_path / "junk.gguf", tmp_path / "out.gguf")


def test_a_file_with_nothing_to_trim_or_no_sentencepiece_vocabulary_is_refused(tmp_path, tiny_gguf):
    tokens = ["<pad>", "<eos>", "<bos>", "▁a"]
    rows = np.zeros((4, 32), dtype=np.float32)
    source = write_gguf(tmp_path / "small.gguf", tokens, [CONTROL, CONTROL, CONTROL, NORMAL], rows, False)
    with pytest.raises(MergeError, match="nothing to trim"):
        trim_vocab(source, tmp_path / "out.gguf")
    with pytest.raises(MergeError, match="SentencePiece"):  # the tiny model's byte-level BPE
        trim_vocab(tiny_gguf, tmp_path / "out.gguf")


# ------------------------------------------------------------------ served by llama.cpp


def spm_vocabulary(size: int) -> tuple[list[str], list[int]]:
    """A SentencePiece vocabulary of ``size`` tokens: specials, the 256 byte tokens, ASCII characters and a few
    words, and tokens of other scripts (which the trim drops)."""
    tokens = ["<pad>", "<eos>", "<bos>", "<unk>"] + [f"<0x{b:02X}>" for b in range(256)]
    types = [CONTROL] * 4 + [BYTE] * 256
    pieces = ["▁"] + list(string.ascii_letters + string.digits + ".,:?!'()-") + FOREIGN
    pieces += ["th", "▁t", "▁th", "he", "▁the", "▁a", "in", "▁in", "an", "er", "▁of", "▁is", "on", "at"]
    pieces += [a + b for a in string.ascii_lowercase for b in string.ascii_lowercase if a + b not in pieces]
    tokens += pieces[: size - len(tokens)]
    types += [NORMAL] * (size - len(types))
    assert len(tokens) == size and len(set(tokens)) == size
    return tokens, types


@pytest.fixture(scope="module")
def spm_gguf(tiny_gguf: Path, tmp_path_factory) -> Path:
    """The tiny model's GGUF with a SentencePiece vocabulary of its size (its weights unchanged)."""
    import gguf

    reader = gguf.GGUFReader(tiny_gguf)
    size = len(reader.fields["tokenizer.ggml.tokens"].contents())
    tokens, types = spm_vocabulary(size)
    out = tmp_path_factory.mktemp("spm") / "tiny-spm.gguf"
    writer = gguf.GGUFWriter(out, "gemma3")
    for field in reader.fields.values():
        if field.name.startswith(("GGUF.", "tokenizer.")) or field.name == "general.architecture":
            continue
        kind = field.types[0]
        sub = field.types[-1] if kind == gguf.GGUFValueType.ARRAY else None
        writer.add_key_value(field.name, field.contents(), kind, sub_type=sub)
    writer.add_tokenizer_model("llama")
    writer.add_token_list(tokens)
    writer.add_token_scores([-float(i) for i in range(size)])
    writer.add_token_types(types)
    writer.add_bos_token_id(2)
    writer.add_eos_token_id(1)
    writer.add_unk_token_id(3)
    writer.add_pad_token_id(0)
    writer.add_add_bos_token(True)
    writer.add_add_space_prefix(False)  # as Gemma's GGUF
    for tensor in reader.tensors:
        writer.add_tensor_info(tensor.name, tensor.data.shape, tensor.data.dtype, tensor.data.nbytes,
                               tensor.tensor_type)  # fmt: skip
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    for tensor in reader.tensors:
        writer.write_tensor_data(tensor.data)
    writer.close()
    return out


@pytest.fixture(scope="module")
def config(spm_gguf: Path, tiny_model_dir: Path, llamacpp_dir: Path, tmp_path_factory) -> LlamaCppConfig:
    return LlamaCppConfig(
        model_gguf=spm_gguf, config_dir=tiny_model_dir, engine_dir=llamacpp_dir,
        cache_dir=tmp_path_factory.mktemp("vocab-cache"), model_name="tiny", threads=1, ctx_size=2048,
        max_new_tokens=24,
    )  # fmt: skip


def pieces(engine, text: str) -> list[str]:
    reply = engine._server_now().client.post("/tokenize", json={"content": text, "with_pieces": True})
    reply.raise_for_status()
    return [str(t["piece"]) for t in reply.json()["tokens"]]


@pytest.mark.timeout(300)
def test_llama_server_serves_the_trimmed_file_with_the_same_tokens_and_greedy_text(config):
    from agent.backends.llamacpp import LlamaCppChatModel

    prompt = render_prompt("What is the capital of Australia?") + "Thought:"
    full = LlamaCppChatModel.from_config(config)
    trim = LlamaCppChatModel.from_config(replace(config, vocab_rank=10**6))
    try:
        served = trim._server.spec.model if trim._server else None
        assert served == trimmed_path(config.model_gguf, config.cache_dir, 10**6) and served.is_file()
        assert trimmed(config.model_gguf, config.cache_dir, 10**6) == served  # cached: the same file
        english = "the cat is in the hat of a thin man: 42."
        assert pieces(trim, english) == pieces(full, english)  # kept scripts: tokenized exactly as before
        assert pieces(trim, prompt) == pieces(full, prompt)
        assert "中文" in pieces(full, "中文")
        ids = trim._server_now().tokenize("Жи中文", add_special=False)  # other scripts: byte tokens (ids 4-259)
        assert len(ids) == len("Жи中文".encode()) and all(4 <= i < 260 for i in ids)
        want = full.generate_text(prompt, max_new_tokens=24).text
        got = trim.generate_text(prompt, max_new_tokens=24).text
        assert not any(f.strip("▁") in got for f in FOREIGN)  # the trimmed model cannot write them
        if not any(f.strip("▁") in want for f in FOREIGN):  # the same rows give the same greedy choice
            assert got == want
        else:
            assert got != want
    finally:
        full.close()
        trim.close()


@pytest.mark.timeout(300)
def test_a_file_that_cannot_be_trimmed_is_served_whole(config, tiny_gguf):
    from agent.backends.llamacpp import LlamaCppChatModel

    bpe = LlamaCppChatModel.from_config(replace(config, model_gguf=tiny_gguf, vocab_rank=10**6), start=False)
    assert bpe.served_base() == tiny_gguf  # byte-level BPE: logged, served with its whole vocabulary


@pytest.mark.timeout(600)
def test_an_activated_adapter_is_served_merged_and_trimmed_and_a_broken_one_is_refused(config, tiny_model_dir,
                                                                                       tmp_path):  # fmt: skip
    from agent.backends.adapter_check import AdapterError
    from agent.backends.llamacpp import LlamaCppChatModel
    from tests.tiny import make_lora_adapter

    adapter = make_lora_adapter(tiny_model_dir, tmp_path / "a", seed=1, std=0.5)
    engine = LlamaCppChatModel.from_config(replace(config, vocab_rank=10**6))
    try:
        engine.load_adapter(adapter, "a")
        engine.activate_adapter("a")
        served = engine._server.spec.model if engine._server else None
        merged = engine._adapters["a"].merged
        assert served is not None and served == merged and engine._server.spec.lora is None
        assert merged.parent.name == "merged" and len(trim_kept(merged)) < len(trim_kept(config.model_gguf))
        assert engine.generate_text("the cat", max_new_tokens=4).finish_reason in ("length", "stop")
        broken = tmp_path / "broken"
        broken.mkdir()
        (broken / "adapter_config.json").write_text("{}")
        with pytest.raises(AdapterError):
            engine.load_adapter(broken, "b")
        assert engine.active_adapter == "a" and engine._server.spec.model == served  # still serving
    finally:
        engine.close()


def trim_kept(gguf_file: Path) -> list[str]:
    from gguf import GGUFReader

    return GGUFReader(gguf_file).fields["tokenizer.ggml.tokens"].contents()
