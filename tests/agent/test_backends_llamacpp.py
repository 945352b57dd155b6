"""The llama.cpp engine (agent.backends.llamacpp) on the tiny model converted to GGUF: a real llama-server."""

from __future__ import annotations

import json
import os
import re
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from langchain_core.messages import HumanMessage

from agent.backends import AdapterHost, TextGenerator
from agent.backends.adapter_check import AdapterError
from agent.backends.llama_server import LlamaServer
from agent.backends.llamacpp import LlamaCppChatModel, adapter_digest
from agent.backends.text import GenerationResult
from agent.config import LlamaCppConfig
from agent.loop import DEADLINE, FORCED_TEXT
from agent.prompt import STOP, STOP_SEQUENCES, ForcedText, forced_texts, render_prompt
from tests.tiny import make_lora_adapter

PROMPT = render_prompt("What is the capital of Australia?") + "Thought:"


@pytest.fixture(scope="module")
def engine_config(tiny_gguf: Path, tiny_model_dir: Path, llamacpp_dir: Path, tmp_path_factory) -> LlamaCppConfig:
    return LlamaCppConfig(
        model_gguf=tiny_gguf,
        config_dir=tiny_model_dir,
        engine_dir=llamacpp_dir,
        cache_dir=tmp_path_factory.mktemp("engine-cache"),
        model_name="tiny",
        threads=1,
        ctx_size=8192,
        max_new_tokens=24,
    )


@pytest.fixture(scope="module")
def engine(engine_config: LlamaCppConfig) -> Iterator[LlamaCppChatModel]:
    model = LlamaCppChatModel.from_config(engine_config)
    yield model
    model.close()


@pytest.fixture(scope="module")
def adapter_dir(tiny_model_dir: Path, tmp_path_factory) -> Path:
    """A LoRA whose random weights visibly change the tiny model's output."""
    return make_lora_adapter(tiny_model_dir, tmp_path_factory.mktemp("lora") / "a", seed=1, std=0.5)


def test_it_is_an_adapter_host_and_a_text_generator(engine):
    assert isinstance(engine, AdapterHost)
    assert isinstance(engine, TextGenerator)
    assert engine.decode_path == "llama.cpp"


def test_greedy_generation_is_deterministic_and_counts_tokens(engine):
    first = engine.generate_text(PROMPT, max_new_tokens=12)
    second = engine.generate_text(PROMPT, max_new_tokens=12)
    assert first.text == second.text and first.text
    assert first.finish_reason in {"length", "stop"}
    assert first.completion_tokens <= 12
    assert first.prompt_tokens == len(engine.tokenizer(PROMPT)["input_ids"])
    # the second call reuses the first one's keys/values for the whole prompt but its last token
    assert second.cached_tokens >= second.prompt_tokens - 1 > 0


def test_speculative_decoding_writes_the_same_greedy_text(engine, engine_config):
    from dataclasses import replace

    assert "--spec-type" not in engine._server_now().spec.argv(1)  # off by default
    # a prompt that repeats itself: n-gram drafts are proposed and mostly accepted
    prompt = PROMPT + " the capital of Australia is the capital of Australia is the capital of"
    speculative = LlamaCppChatModel.from_config(replace(engine_config, speculative=True))
    try:
        assert "--spec-type" in speculative._server_now().spec.argv(1)
        for text in (PROMPT, prompt):
            expected = engine.generate_text(text, max_new_tokens=24).text
            assert speculative.generate_text(text, max_new_tokens=24).text == expected
        server = speculative._server_now()
        assert server.client is not None
        body = {"prompt": prompt, "n_predict": 24, "samplers": ["top_k"], "top_k": 1}
        timings = server.client.post("/completion", json=body).json()["timings"]
        assert timings.get("draft_n", 0) > 0  # the server did draft (and check) tokens
    finally:
        speculative.close()


def test_stop_strings_cut_the_text_before_them(engine):
    full = engine.generate_text(PROMPT, max_new_tokens=24).text
    assert len(full) >= 4, f"the tiny model wrote too little: {full!r}"
    stop = full[len(full) // 2 : len(full) // 2 + 2]
    cut = engine.generate_text(PROMPT, max_new_tokens=24, stop=[stop])
    assert cut.finish_reason == "stop"
    assert stop not in cut.text
    assert full.startswith(cut.text) and len(cut.text) <= full.index(stop)


def test_token_healing_strips_the_trailing_space_and_one_leading_space(engine):
    raw = engine.generate_text(PROMPT, max_new_tokens=8).text
    healed = engine.generate_text(PROMPT + " ", max_new_tokens=8).text
    assert healed == (raw[1:] if raw.startswith(" ") else raw)


def test_streamed_pieces_add_up_to_the_completion(engine):
    done = []
    pieces = list(engine.stream_text(PROMPT, max_new_tokens=16, stop=["\nObservation:"], on_finish=done.append))
    whole = engine.generate_text(PROMPT, max_new_tokens=16, stop=["\nObservation:"])
    assert "".join(pieces) == whole.text
    assert done and done[0].completion_tokens == whole.completion_tokens


def test_invoke_reports_usage_like_the_torch_path(engine):
    message = engine.invoke([HumanMessage(PROMPT)], stop=["\nObservation:"], max_new_tokens=10)
    usage = message.usage_metadata
    assert usage is not None
    assert usage["input_tokens"] == len(engine.tokenizer(PROMPT)["input_ids"])
    assert 0 < usage["output_tokens"] <= 10
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]
    assert message.response_metadata["finish_reason"] in {"stop", "length"}
    assert message.response_metadata["adapter"] is None


def test_a_spent_deadline_generates_nothing(engine):
    token = DEADLINE.set(time.monotonic() - 1)
    try:
        result = engine.generate_text(PROMPT, max_new_tokens=50)
    finally:
        DEADLINE.reset(token)
    assert result.finish_reason == "timeout"
    assert result.completion_tokens == 0 and result.text == ""
    assert result.prompt_tokens > 0


def test_the_deadline_stops_a_generation_in_flight(engine):
    # the tiny model writes ~1000 tokens/s: a fresh ~1600-token prompt and a 10 ms budget end in flight
    results = []
    for attempt in range(3):
        started = time.monotonic()
        token = DEADLINE.set(started + 0.01)
        try:
            results.append(engine.generate_text(f"{attempt} {time.time_ns()} " + "x " * 800, max_new_tokens=400))
        finally:
            DEADLINE.reset(token)
        assert time.monotonic() - started < 5
        if results[-1].finish_reason == "timeout":
            break
    assert results[-1].finish_reason == "timeout", [r.finish_reason for r in results]
    assert results[-1].completion_tokens < 400
    after = engine.generate_text(PROMPT, max_new_tokens=4)  # the server serves the next request
    assert after.completion_tokens > 0


def test_a_long_prompt_is_computed_in_batches_a_cancel_can_come_between(engine):
    # llama-server cancels a dropped request only between prompt batches: a ~1600-token prompt must
    # come in several (its progress events), so a deadline holds the engine at most one batch past
    # (with llama-server's default 2048 the whole prompt was one batch: 46 s past the cut, loaded CPU)
    from agent.backends.llama_server import PROMPT_BATCH_TOKENS

    server = engine._server_now()
    body = {"prompt": f"{time.time_ns()} " + "x " * 800, "n_predict": 1, "stream": True, "return_progress": True}
    done: list[int] = []
    with server.client.stream("POST", "/completion", json=body, timeout=60) as reply:
        for line in reply.iter_lines():
            if line.startswith("data: ") and "prompt_progress" in line:
                done.append(int(json.loads(line[6:])["prompt_progress"]["processed"]))
    steps = [b - a for a, b in zip(done, done[1:], strict=False) if b > a]
    assert len(steps) >= 3 and max(steps) <= PROMPT_BATCH_TOKENS, done


def test_jump_forward_continues_the_real_server_after_the_forced_text(engine_config):
    from dataclasses import replace

    model = LlamaCppChatModel.from_config(replace(engine_config, jump_forward=True))
    try:
        full = model.generate_text(PROMPT, max_new_tokens=24).text
        word = re.search(r"[A-Za-z]{2,}", full)  # the tiny model writes bytes: an ASCII word as the trigger
        assert word is not None, f"the tiny model wrote no word: {full!r}"
        trigger = full[: word.end()]
        token = FORCED_TEXT.set((ForcedText(word.group(), " Forced:"),))
        try:
            jumped = model.generate_text(PROMPT, max_new_tokens=24)
        finally:
            FORCED_TEXT.reset(token)
        # llama-server stopped at the trigger and said so; the second request went on after the forced text
        assert jumped.text.startswith(trigger + " Forced:") and jumped.text != full
        assert jumped.prompt_tokens == len(model.tokenizer(PROMPT)["input_ids"])
        assert jumped.completion_tokens > len(model.tokenizer(" Forced:")["input_ids"]) - 1
    finally:
        model.close()


def test_adapters_load_activate_and_swap_back(engine, adapter_dir):
    base = engine.generate_text(PROMPT, max_new_tokens=12).text
    pid = engine.server_pid
    engine.load_adapter(adapter_dir, "a")
    assert engine.server_pid == pid  # loading alone does not restart the server
    engine.activate_adapter("a")
    assert engine.active_adapter == "a" and engine.server_pid != pid
    adapted = engine.generate_text(PROMPT, max_new_tokens=12).text
    assert adapted != base
    assert engine.list_adapters() == [{"name": "a", "path": str(adapter_dir), "active": True}]
    engine.activate_adapter(None)
    assert engine.generate_text(PROMPT, max_new_tokens=12).text == base


def test_broken_adapters_are_refused_and_the_old_one_keeps_serving(engine, adapter_dir, tmp_path):
    before = engine.generate_text(PROMPT, max_new_tokens=8).text
    pid, active = engine.server_pid, engine.active_adapter
    truncated = tmp_path / "truncated"
    truncated.mkdir()
    (truncated / "adapter_config.json").write_text((adapter_dir / "adapter_config.json").read_text())
    weights = (adapter_dir / "adapter_model.safetensors").read_bytes()
    (truncated / "adapter_model.safetensors").write_bytes(weights[:100])
    with pytest.raises(AdapterError, match="unreadable or truncated"):
        engine.load_adapter(truncated, "bad")
    replicating = tmp_path / "replicating"
    replicating.mkdir()
    config = json.loads((adapter_dir / "adapter_config.json").read_text())
    (replicating / "adapter_config.json").write_text(json.dumps(config | {"layer_replication": [[0, 2]]}))
    (replicating / "adapter_model.safetensors").write_bytes(weights)
    with pytest.raises(AdapterError, match="layer_replication"):
        engine.load_adapter(replicating, "bad")
    with pytest.raises(AdapterError, match="does not exist"):
        engine.load_adapter(tmp_path / "missing", "bad")
    assert engine.server_pid == pid and engine.active_adapter == active
    assert "bad" not in {a["name"] for a in engine.list_adapters()}
    assert engine.generate_text(PROMPT, max_new_tokens=8).text == before


def test_a_server_that_cannot_start_keeps_the_old_one_serving(engine, engine_config, adapter_dir, tmp_path):
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    for name in ("adapter_config.json", "adapter_model.safetensors"):
        (corrupt / name).write_bytes((adapter_dir / name).read_bytes())
    (corrupt / "adapter_config.json").write_text((adapter_dir / "adapter_config.json").read_text() + "\n")
    # a converted file that llama-server cannot read (as a disk error would leave it)
    digest = adapter_digest(corrupt, engine_config.model_gguf)
    cached = Path(engine_config.cache_dir) / "engine" / "adapters" / f"{digest[:24]}.gguf"
    cached.parent.mkdir(parents=True, exist_ok=True)
    cached.write_bytes(b"GGUF not really")
    engine.activate_adapter(None)
    before = engine.generate_text(PROMPT, max_new_tokens=8).text
    pid = engine.server_pid
    engine.load_adapter(corrupt, "corrupt")
    with pytest.raises(AdapterError, match="still serving the base model"):
        engine.activate_adapter("corrupt")
    assert engine.server_pid == pid and engine.active_adapter is None
    assert engine.generate_text(PROMPT, max_new_tokens=8).text == before
    engine.unload_adapter("corrupt")


def test_a_swap_waits_for_the_generation_in_flight(engine, adapter_dir):
    engine.activate_adapter(None)
    engine.load_adapter(adapter_dir, "a")
    base = engine.generate_text(PROMPT, max_new_tokens=20).text
    pieces: list[str] = []
    started = threading.Event()

    def generate() -> None:
        for piece in engine.stream_text(PROMPT, max_new_tokens=20):
            pieces.append(piece)
            started.set()
            time.sleep(0.02)  # a slow reader: the swap's new server is up before this finishes

    reader = threading.Thread(target=generate)
    reader.start()
    assert started.wait(30)
    engine.activate_adapter("a")
    reader.join(30)
    assert "".join(pieces) == base  # finished on the old server, unmixed
    assert engine.generate_text(PROMPT, max_new_tokens=20).text != base
    engine.activate_adapter(None)


def test_a_server_that_died_is_replaced_at_the_next_request(engine):
    before = engine.generate_text(PROMPT, max_new_tokens=6).text
    pid = engine.server_pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while engine._server is not None and engine._server.alive and time.monotonic() < deadline:
        time.sleep(0.05)
    assert engine.generate_text(PROMPT, max_new_tokens=6).text == before
    assert engine.server_pid not in (None, pid)


def test_a_server_started_from_a_thread_that_ends_keeps_serving(engine_config):
    # the loading thread and anyio's worker threads end; PR_SET_PDEATHSIG fired at that (SIGTERM,
    # 'llama-server exited (code 0)' at the next request, which waited for a new server)
    models: list[LlamaCppChatModel] = []
    starter = threading.Thread(target=lambda: models.append(LlamaCppChatModel.from_config(engine_config)))
    starter.start()
    starter.join()
    model = models[0]
    try:
        pid = model.server_pid
        time.sleep(1.0)
        assert model._server is not None and model._server.alive, "the server died with its starting thread"
        assert model.generate_text(PROMPT, max_new_tokens=4).completion_tokens > 0
        assert model.server_pid == pid
    finally:
        model.close()


def test_converted_adapters_are_cached_by_content(engine, engine_config, adapter_dir):
    engine.load_adapter(adapter_dir, "a")
    converted = sorted((Path(engine_config.cache_dir) / "engine" / "adapters").glob("*.gguf"))
    started = time.perf_counter()
    engine.load_adapter(adapter_dir, "a-again")
    assert time.perf_counter() - started < 1.0  # no second conversion
    assert sorted((Path(engine_config.cache_dir) / "engine" / "adapters").glob("*.gguf")) == converted


def test_an_f16_lora_is_a_smaller_file_applied_at_run_time(engine_config, adapter_dir):
    from dataclasses import replace

    from agent.backends.llamacpp import convert_adapter

    f32 = convert_adapter(adapter_dir, engine_config)
    config = replace(engine_config, lora_type="f16", merge_lora=False)
    f16 = convert_adapter(adapter_dir, config)
    assert f16 != f32 and f16.stat().st_size < f32.stat().st_size  # cached apart, fewer bytes
    model = LlamaCppChatModel.from_config(config)
    try:
        model.load_adapter(adapter_dir, "a")
        model.activate_adapter("a")
        spec = model._server_now().spec
        assert (spec.model, spec.lora) == (engine_config.model_gguf, f16)
        assert model.generate_text(PROMPT, max_new_tokens=8).completion_tokens > 0
    finally:
        model.close()


def test_a_first_start_writes_the_base_config_from_the_gguf(engine_config, adapter_dir, tmp_path):
    # a fresh machine has the GGUF but no config.json: the converter writes it from the GGUF's metadata
    from dataclasses import replace

    from agent.backends.llamacpp import convert_adapter

    config = replace(engine_config, config_dir=tmp_path / "config", cache_dir=tmp_path / "cache")
    config.config_dir.mkdir()
    out = convert_adapter(adapter_dir, config)
    assert out.is_file() and out.stat().st_size > 0
    written = json.loads((config.config_dir / "config.json").read_text())
    assert written["architectures"] == ["Gemma3ForCausalLM"] and written["hidden_size"] == 32


def test_a_missing_engine_is_a_clear_error(engine_config, tmp_path):
    from dataclasses import replace

    from agent.backends.llama_server import EngineError

    with pytest.raises(EngineError, match="make engine"):
        LlamaCppChatModel.from_config(replace(engine_config, engine_dir=tmp_path))


def test_threads_zero_starts_the_server_with_one_thread_per_free_core(engine_config, monkeypatch):
    from dataclasses import replace

    import agent.backends.llamacpp as llamacpp

    cores = os.cpu_count() or 1
    monkeypatch.setattr(llamacpp, "busy_cores", lambda exclude: float(cores))  # every core busy: one thread
    busy = LlamaCppChatModel.from_config(replace(engine_config, threads=0))
    try:
        argv = busy._server_now().spec.argv(1)
        assert argv[argv.index("--threads") + 1] == "1"
        assert busy.generate_text(PROMPT, max_new_tokens=4).completion_tokens > 0
    finally:
        busy.close()
    monkeypatch.setattr(llamacpp, "busy_cores", lambda exclude: 0.0)  # an idle machine: every core
    idle = LlamaCppChatModel.from_config(replace(engine_config, threads=0))
    try:
        assert idle._server_now().spec.threads == cores
    finally:
        idle.close()


# --------------------------------------------------------------------------- jump-forward on a stand-in server


class ScriptedServer:
    """A stand-in for llama-server's ``/completion`` (streamed) and ``/tokenize``: any prompt that starts
    with ``BASE`` is continued along ``script`` (tokens: words, spaces and newlines), greedy and
    deterministic, with llama-server's stop rules (the text ends before the earliest stop string; the
    last event says which; ``tokens_predicted`` counts the token that completed it). Records requests."""

    def __init__(self, script: str) -> None:
        self.script = script
        self.requests: list[dict] = []
        self.requests_decoded: list[int] = []  # tokens decoded per request

    @property
    def decoded(self) -> int:
        return sum(self.requests_decoded)

    @staticmethod
    def tokens(text: str) -> list[str]:
        return re.findall(r"\n| ?[^ \n]+| ", text)

    def handle(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        if request.url.path == "/tokenize":
            return httpx.Response(200, json={"tokens": list(range(len(self.tokens(body["content"]))))})
        self.requests.append(body)
        prompt, stops, limit = body["prompt"], body["stop"], body["n_predict"]
        assert prompt.startswith(BASE[:-1]), prompt
        written = prompt[len(BASE) - 1 :]
        rest = self.script[len(written) :] if self.script.startswith(written) else " DIVERGED"
        text, stop_type, word, decoded = "", "eos", "", 0
        for token in self.tokens(rest):
            if decoded == limit:
                stop_type = "limit"
                break
            text, decoded = text + token, decoded + 1
            hits = sorted((text.find(s), s) for s in stops if s in text)
            if hits:
                text, stop_type, word = text[: hits[0][0]], "word", hits[0][1]
                break
        self.requests_decoded.append(decoded)
        events = [{"prompt_progress": {"total": len(self.tokens(prompt)), "cache": 0}}]
        events += [{"content": t, "tokens_predicted": i + 1} for i, t in enumerate(self.tokens(text))]
        events.append({"content": "", "stop": True, "stop_type": stop_type, "stopping_word": word,
                       "tokens_predicted": decoded, "tokens_evaluated": len(self.tokens(prompt))})  # fmt: skip
        return httpx.Response(200, text="".join(f"data: {json.dumps(e)}\n\n" for e in events))


class StandInServer(LlamaServer):
    @property
    def alive(self) -> bool:
        return True


BASE = render_prompt("Where is Canberra?") + " "  # "Thought: ", as later steps end: healed to "Thought:"
TOOL_STEP = " I need to find Canberra.\nAction: Search\nAction Input: Canberra\nObservation: the model goes on"
FINAL_STEP = " I now know the final answer\nFinal Answer: In Australia.\nQuestion: and more"
EMPTY_INPUT_STEP = " I search.\nAction: Search\nAction Input:\nCanberra\nObservation: more"


def scripted_engine(script: str, jump_forward: bool = True) -> tuple[LlamaCppChatModel, ScriptedServer]:
    from agent.backends.llama_server import ServerSpec

    fake = ScriptedServer(script)
    unused = Path("unused")
    model = LlamaCppChatModel(model_name="scripted", max_new_tokens=60)
    model._config = LlamaCppConfig(model_gguf=unused, config_dir=unused, engine_dir=unused, jump_forward=jump_forward)
    server = StandInServer(ServerSpec(binary=unused, model=unused, lora=None, threads=1, ctx_size=512, log_file=unused))
    server.client = httpx.Client(base_url="http://stand-in", transport=httpx.MockTransport(fake.handle))
    model._server = server
    return model, fake


def react_call(model: LlamaCppChatModel, forced: tuple[ForcedText, ...]) -> tuple[GenerationResult, list[str]]:
    pieces: list[str] = []
    done: list[GenerationResult] = []
    token = FORCED_TEXT.set(forced)
    try:
        pieces = list(model.stream_text(BASE, stop=STOP_SEQUENCES, on_finish=done.append))
    finally:
        FORCED_TEXT.reset(token)
    return done[0], pieces


@pytest.mark.parametrize(
    ("script", "expected", "forced", "then_stop", "decoded", "jumped"),
    [
        # 14 tokens to "\nObservation:" decoded; with the jump 8 + 2 (" Canberra", "\n"): "\n", "Action", " Input:"
        # are appended, "Observation:" is never written
        (TOOL_STEP, "I need to find Canberra.\nAction: Search\nAction Input: Canberra", "\nAction Input:", ["\n"], 14,
         10),
        # 15 tokens to the end; with the jump 6 (to " answer") + 6 ("\n", "Final", " Answer:" appended)
        (FINAL_STEP, "I now know the final answer\nFinal Answer: In Australia.\nQuestion: and more", "\nFinal Answer:",
         [], 15, 12),
    ],
)  # fmt: skip
def test_jump_forward_appends_the_forced_text_instead_of_decoding_it(
    script, expected, forced, then_stop, decoded, jumped
):
    rules = forced_texts(["Search", "Calculator"])
    plain, plain_server = scripted_engine(script, jump_forward=False)
    jumping, server = scripted_engine(script)
    without, _ = react_call(plain, rules)
    result, pieces = react_call(jumping, rules)
    assert without.text == expected and len(plain_server.requests) == 1 and plain_server.decoded == decoded
    assert result.text == expected and "".join(pieces) == expected  # the same text, streamed whole
    assert server.decoded == jumped
    first, second = server.requests
    assert set(first["stop"]) == {STOP, *(f.after for f in rules)}
    assert second["prompt"] == BASE.rstrip(" ") + " " + expected[: expected.index(forced)] + forced
    assert second["stop"] == [STOP, *then_stop]  # a tool step ends with its Action Input line
    assert second["n_predict"] == 60 - server.requests_decoded[0] - len(ScriptedServer.tokens(forced))
    # the usage counts the completion's tokens, the forced ones too
    assert result.completion_tokens == jumped + len(ScriptedServer.tokens(forced))
    assert (result.prompt_tokens, result.finish_reason) == (without.prompt_tokens, without.finish_reason)


def test_an_empty_action_input_line_is_decoded_on_as_without_the_jump():
    rules = forced_texts(["Search"])
    plain, _ = scripted_engine(EMPTY_INPUT_STEP, jump_forward=False)
    jumping, server = scripted_engine(EMPTY_INPUT_STEP)
    expected = "I search.\nAction: Search\nAction Input:\nCanberra"
    assert react_call(jumping, rules)[0].text == react_call(plain, rules)[0].text == expected
    assert [r["stop"] for r in server.requests] == [[STOP, *(f.after for f in rules)], [STOP, "\n"], [STOP]]


def test_without_forced_texts_a_completion_is_one_request():
    jumping, server = scripted_engine(TOOL_STEP)
    result = jumping.generate_text(BASE, stop=STOP_SEQUENCES)  # /v1 and benches: no ReAct step, no jump
    assert len(server.requests) == 1 and result.text == TOOL_STEP[1 : TOOL_STEP.index(STOP)]


def test_the_base_config_comes_from_a_metadata_copy_as_it_would_from_the_whole_gguf(tiny_gguf, tmp_path):
    from transformers import AutoConfig

    from agent.backends.llamacpp_convert import ensure_config, metadata_copy

    copy = metadata_copy(tiny_gguf, tmp_path / "metadata.gguf")
    assert copy.stat().st_size < tiny_gguf.stat().st_size / 20  # no tensors, no vocabulary arrays
    folder = tmp_path / "config"
    folder.mkdir()
    written = json.loads(ensure_config(folder, tiny_gguf).read_text())
    whole = json.loads(
        json.dumps(AutoConfig.from_pretrained(str(tiny_gguf.parent), gguf_file=tiny_gguf.name).to_dict())
    )
    assert written["vocab_size"] == whole["vocab_size"] > 0  # kept as {arch}.vocab_size in the copy
    assert written == whole | {"_name_or_path": str(tiny_gguf.parent), "architectures": written["architectures"]}
    assert not [p for p in folder.iterdir() if p.is_dir()]  # the copy's folder is gone
