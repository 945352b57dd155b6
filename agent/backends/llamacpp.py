"""The local model on llama.cpp: a managed ``llama-server`` behind the ``LocalChatModel`` contract.

``LlamaCppChatModel`` is a langchain-core chat model (``invoke`` with stop strings and usage
counts), a ``TextGenerator`` (``generate_text``/``stream_text`` for ``/v1``) and an ``AdapterHost``
(``load_adapter``/``activate_adapter``/``list_adapters``/``active_adapter``), like
``agent.backends.local.LocalChatModel``. The model runs in a ``llama-server`` child process bound to
127.0.0.1 on a free port, with a random API key passed through the environment (never argv):

- **Raw completions.** ``POST /completion`` with the prompt as text, greedy (``top_k`` 1, no repeat
  penalty) unless a temperature is given, ``n_predict``, the stop strings, ``cache_prompt`` and
  ``--swa-full``: the keys/values of the previous prompt are reused for its longest common prefix
  (step k+1 of a ReAct run prefills only the new observation; Gemma 3's sliding-window layers keep
  the whole context so that prefix stays usable).
- **Token healing** as the torch path does it (``heal_prompt``): the trailing space of
  ``"Thought: "`` is stripped from the prompt and one leading space from the text.
- **Deadline.** The reply is streamed; ``agent.loop.DEADLINE`` is checked at every piece and bounds
  every read. A spent budget closes the connection (llama-server stops the slot) and returns
  ``finish_reason="timeout"``.
- **Adapters.** A peft LoRA folder is checked and converted to a LoRA GGUF in a child process
  (``agent.backends.llamacpp_convert``: the same ``validate_adapter`` as the torch path, then
  llama.cpp's ``convert_lora_to_gguf.py``), cached by content, then merged into a copy of the base
  GGUF in the base's own tensor types (``agent.backends.llamacpp_merge``, cached by content;
  ``LlamaCppConfig.merge_lora``): the server decodes at the bare model's speed. A merge that fails
  leaves the adapter applied at run time (``--lora``). Activating one starts a new server; once it
  answers ``/health`` it takes over (in-flight generations finish on the old one) and the old one
  stops; conversion and merge run before, while the old server serves. A server that fails to start
  on the merged file is retried with ``--lora``; one that fails then raises ``AdapterError`` and the
  old one keeps serving.

The server process itself (command line, start, health, stop) is ``agent.backends.llama_server``.

This process never imports torch: its memory is the Python service, the child holds the weights.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import secrets
import subprocess
import sys
import threading
import time
import weakref
from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from pydantic import ConfigDict, PrivateAttr

from agent.backends.adapter_check import AdapterError
from agent.backends.chat import TextChatModel
from agent.backends.llama_server import (
    SERVER_BINARY,
    EngineError,
    LlamaServer,
    ServerSpec,
    auto_threads,
    busy_cores,
    engine_installed,
    sse_events,
    stop_all,
)
from agent.backends.llamacpp_merge import MergeError, merge_lora, quantize_head
from agent.backends.llamacpp_vocab import trimmed
from agent.backends.text import GenerationResult, find_stop, stop_holdback
from agent.config import LlamaCppConfig
from agent.loop import FORCED_TEXT

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServedAdapter:
    """One loaded adapter: its LoRA GGUF, the base with it merged in (None: not merged), its folder."""

    lora: Path
    merged: Path | None
    folder: str


@dataclass
class _Completion:
    """One completion over its requests: the text after the prompt so far, forced text included."""

    healed: bool  # the prompt's trailing space was stripped: the text's leading space is dropped
    stops: list[str]  # the caller's stop strings
    raw: str = ""  # as the server continues it: decoded text, forced text
    text: str = ""  # raw, healed, cut at the first stop string
    emitted: int = 0  # characters of text already yielded
    cut: bool = False  # a stop string was found in the text: it is final
    prompt_tokens: int = 0  # the caller's prompt (the first request)
    cached: int = 0  # of which reused from the server's cache
    generated: int = 0  # tokens decoded, all requests
    finish: str = "length"

    def add(self, piece: str) -> str:
        """Append server or forced text; returns what became safe to stream (never part of a stop string)."""
        if self.cut or not piece:
            return ""
        self.raw += piece
        text = self.raw[1:] if self.healed and self.raw.startswith(" ") else self.raw
        at = find_stop(text, self.stops)
        if at != -1:
            self.text, self.cut = text[:at], True
            return ""
        self.text = text
        safe = len(text) - stop_holdback(text, self.stops)
        if text[safe - 1 : safe] == "\ufffd":  # an incomplete UTF-8 character: wait for it
            safe -= 1
        if safe <= self.emitted:
            return ""
        piece, self.emitted = text[self.emitted : safe], safe
        return piece


@dataclass
class _Reply:
    """How one streamed request ended."""

    prompt_tokens: int = 0
    cached: int = 0
    generated: int = 0
    stop_type: str = ""  # llama-server's: "eos", "word", "limit" ("" when cut short)
    stopping_word: str = ""
    timed_out: bool = False


class ServerTokenizer:
    """``tokenizer(text)["input_ids"]`` through the serving llama-server (what ``/v1`` counts with)."""

    chat_template = None  # the base Gemma GGUF has none: several messages are joined (messages_to_prompt)

    def __init__(self, model: LlamaCppChatModel) -> None:
        self._model = model

    def __call__(self, text: str) -> dict[str, list[int]]:
        return {"input_ids": self._model._server_now().tokenize(text)}


# --------------------------------------------------------------------------- the chat model


class LlamaCppChatModel(TextChatModel):
    """The local model served by llama.cpp; build with ``LlamaCppChatModel.from_config(LlamaCppConfig(...))``."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    _config: LlamaCppConfig | None = PrivateAttr(default=None)
    _server: LlamaServer | None = PrivateAttr(default=None)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)  # one generation at a time; swaps wait
    _swap_lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)  # one swap at a time
    _adapters: dict[str, ServedAdapter] = PrivateAttr(default_factory=dict)
    _base: Path | None = PrivateAttr(default=None)  # the served base: the GGUF, or its copy with the head requantized
    _finalizer: Any = PrivateAttr(default=None)
    _closed: bool = PrivateAttr(default=False)
    _token_counts: dict[str, int] = PrivateAttr(default_factory=dict)  # forced texts' token counts

    # ----------------------------------------------------------------- construction

    @classmethod
    def from_config(cls, config: LlamaCppConfig, start: bool = True) -> LlamaCppChatModel:
        """The engine on ``config.model_gguf`` (no adapter yet); ``start=False`` starts llama-server only
        when first needed (at the first activation or generation: a startup with an adapter runs one server)."""
        if not engine_installed(config.engine_dir):
            raise EngineError(f"llama.cpp is not installed in {config.engine_dir} (run `make engine`)")
        if not config.model_gguf.is_file():
            raise EngineError(f"no GGUF model at {config.model_gguf}")
        self = cls(model_name=config.model_name, max_new_tokens=config.max_new_tokens)
        self._config = config
        if start:
            self.start()
        return self

    def start(self) -> None:
        """Start llama-server with the active adapter, unless one is serving."""
        with self._swap_lock:
            if self._server is None:
                self._serve(self._start_for(self._adapters[self._active] if self._active else None))

    @property
    def config(self) -> LlamaCppConfig:
        assert self._config is not None
        return self._config

    @property
    def tokenizer(self) -> ServerTokenizer:
        return ServerTokenizer(self)

    @property
    def decode_path(self) -> str:
        return "llama.cpp"

    @property
    def server_pid(self) -> int | None:
        """The serving llama-server's process id (peak-memory measurements add its RSS)."""
        server = self._server
        return server.process.pid if server is not None and server.process is not None else None

    def served_base(self) -> Path:
        """The GGUF the base model is served from: ``model_gguf`` with its head in ``config.head_type``
        (prepared once, cached by content), or ``model_gguf`` itself when that cannot be made."""
        if self._base is None:
            config = self.config
            try:
                self._base = quantize_head(config.model_gguf, config.head_type, config.engine_dir, config.cache_dir,
                                           config.threads or os.cpu_count() or 2)  # fmt: skip
            except MergeError as exc:
                logger.warning("serving %s with its own head: %s", config.model_gguf.name, exc)
                self._base = config.model_gguf
            self._base = self._trimmed(self._base)
        return self._base

    def _trimmed(self, served: Path) -> Path:
        """``served`` with its vocabulary trimmed to ``config.vocab_rank`` (``agent.backends.llamacpp_vocab``,
        cached by content); ``served`` itself when trimming is off or fails (logged)."""
        if not self.config.vocab_rank:
            return served
        try:
            return trimmed(served, self.config.cache_dir, self.config.vocab_rank)
        except MergeError as exc:
            logger.warning("serving %s with its whole vocabulary: %s", served.name, exc)
            return served

    def _start_for(self, adapter: ServedAdapter | None) -> LlamaServer:
        """A server for ``adapter`` (None: the base): its merged GGUF, else the base with ``--lora``."""
        if adapter is None:
            base = self.served_base()
            if base == self.config.model_gguf:
                return self._start(base, None)
            try:
                return self._start(base, None)
            except EngineError as exc:
                logger.warning("%s did not serve (%s); serving %s", base.name, exc, self.config.model_gguf.name)
                return self._start(self.config.model_gguf, None)
        if adapter.merged is not None:
            try:
                return self._start(adapter.merged, None)
            except EngineError as exc:
                logger.warning("the merged GGUF %s did not serve (%s); applying %s at run time instead",
                               adapter.merged.name, exc, adapter.lora.name)  # fmt: skip
        return self._start(self.config.model_gguf, adapter.lora)

    def _threads(self) -> int:
        """``config.threads``, or (0) one per core that other processes at normal priority leave free now."""
        if self.config.threads:
            return self.config.threads
        serving = self._server  # a swap's old server (and this process) may be busy answering: not others
        own = (os.getpid(),) + ((serving.process.pid,) if serving is not None and serving.process is not None else ())
        cores, busy = os.cpu_count() or 1, busy_cores(exclude=own)
        threads = auto_threads(cores, busy)
        logger.info("llama.cpp threads: %d (%d cores, %.1f kept busy by others at normal priority)", threads,
                    cores, busy)  # fmt: skip
        return threads

    def _start(self, model: Path, lora: Path | None) -> LlamaServer:
        config = self.config
        spec = ServerSpec(
            binary=config.engine_dir / "bin" / SERVER_BINARY,
            model=model,
            lora=lora,
            threads=self._threads(),
            ctx_size=config.ctx_size,
            log_file=Path(config.cache_dir).expanduser() / "engine" / "logs" / "llama-server.log",
            speculative=config.speculative,
        )
        return LlamaServer(spec).start(config.startup_timeout_s)

    def _server_now(self) -> LlamaServer:
        if self._closed:
            raise EngineError("the llama.cpp engine is closed")
        dead = self._server
        if dead is not None and not dead.alive:  # killed or crashed: the next request gets a new one
            assert dead.process is not None
            logger.error("llama-server exited (code %s): starting a new one; see %s", dead.process.returncode,
                         dead.spec.log_file)  # fmt: skip
            with self._swap_lock:
                if self._server is dead:
                    self._server = None
        if self._server is None:
            self.start()
        assert self._server is not None
        return self._server

    def _serve(self, new: LlamaServer) -> LlamaServer | None:
        """``new`` becomes the serving server (after in-flight generations); returns the old one."""
        with self._lock:
            old, self._server = self._server, new
        if self._finalizer is not None:
            self._finalizer.detach()
        self._finalizer = weakref.finalize(self, stop_all, [new])
        return old

    def close(self) -> None:
        """Stop the server (the model cannot generate afterwards)."""
        with self._lock:
            server, self._server, self._closed = self._server, None, True
        if server is not None:
            server.stop()

    # ----------------------------------------------------------------- langchain-core

    @property
    def _llm_type(self) -> str:
        return "qreact-llamacpp"

    # ----------------------------------------------------------------- text generation

    def _request(self, prompt: str, limit: int, stops: list[str], temperature: float) -> dict[str, Any]:
        body: dict[str, Any] = {
            "prompt": prompt,
            "n_predict": limit,
            "stop": stops,
            "stream": True,
            "cache_prompt": True,
            "return_progress": True,  # the prompt's size and cached part, even when the deadline cuts it
            "repeat_penalty": 1.0,
            "dry_multiplier": 0.0,
        }
        if temperature <= 0:  # greedy: the argmax, as the torch path decodes
            body |= {"samplers": ["top_k"], "top_k": 1}
        else:  # plain softmax sampling at this temperature, as the torch path samples
            body |= {"samplers": ["temperature"], "temperature": temperature, "seed": secrets.randbelow(2**31)}
        return body

    def _run(
        self,
        prompt: str,
        max_new_tokens: int | None,
        stop: Sequence[str] | None,
        temperature: float,
    ) -> Iterator[str | GenerationResult]:
        """One completion, streamed: yields safe text pieces, then one GenerationResult.

        With ``config.jump_forward`` and a ReAct step's forced texts (``agent.loop.FORCED_TEXT``) it may take
        two requests: the first stops where a forced text begins (its ``after`` is one more stop string),
        the second continues the prompt + the text so far + the forced text (the cache holds all but those
        few tokens) and stops at the forced text's ``then_stop`` too.
        """
        text_prompt, healed, stops, limit, deadline = self._decode_args(prompt, max_new_tokens, stop)
        pending = FORCED_TEXT.get() if self.config.jump_forward else ()
        server = self._server_now()
        with self._lock:
            server = self._server_now()  # a swap may have replaced it while this waited
            if deadline is not None and time.monotonic() >= deadline:  # spent while waiting: no prefill
                yield GenerationResult("", len(server.tokenize(text_prompt)), 0, "timeout")
                return
            done = _Completion(healed=healed, stops=stops)
            then_stop: tuple[str, ...] = ()
            forced_tokens = 0  # tokens of the forced text: part of the completion, not decoded
            first = True
            while True:
                before = done.raw
                request_stops = [*stops, *(f.after for f in pending), *then_stop]
                left = limit - done.generated - forced_tokens
                reply = yield from self._stream_request(
                    server, text_prompt + done.raw, left, request_stops, temperature, deadline, done
                )
                if first:  # the caller's prompt: its size and cached part
                    done.prompt_tokens, done.cached, first = reply.prompt_tokens, reply.cached, False
                done.generated += reply.generated
                word = reply.stopping_word if reply.stop_type == "word" else ""
                forced = next((f for f in pending if word == f.after), None)
                if done.cut or reply.timed_out or word in stops:
                    done.finish = "stop" if done.cut or word else "timeout"
                    break
                if forced is not None:  # jump forward: the format's next text is appended, not decoded
                    piece = done.add(forced.after + forced.text)
                    if piece:
                        yield piece
                    forced_tokens += self._token_count(server, forced.text)
                    pending, then_stop = (), forced.then_stop
                    if not done.cut and limit - done.generated - forced_tokens > 0:
                        continue
                    done.finish = "stop" if done.cut else "length"
                    break
                if word and word in then_stop and done.raw == before:  # stopped at once (an empty line):
                    piece = done.add(word)  # decode on as without the stop
                    if piece:
                        yield piece
                    then_stop = ()
                    if not done.cut and limit - done.generated - forced_tokens > 0:
                        continue
                done.finish = "stop" if reply.stop_type in ("eos", "word") or done.cut else "length"
                break
        if len(done.text) > done.emitted:
            yield done.text[done.emitted :]
        yield GenerationResult(
            text=done.text,
            prompt_tokens=done.prompt_tokens,
            completion_tokens=done.generated + forced_tokens,
            finish_reason=done.finish,
            cached_tokens=done.cached,
        )

    def _stream_request(
        self,
        server: LlamaServer,
        prompt: str,
        limit: int,
        stops: list[str],
        temperature: float,
        deadline: float | None,
        done: _Completion,
    ) -> Generator[str, None, _Reply]:
        """One streamed ``/completion``: its text goes into ``done`` (safe pieces are yielded); returns how it ended."""
        reply = _Reply()
        assert server.client is not None
        read_s = None if deadline is None else max(deadline - time.monotonic(), 0.001)
        timeout = httpx.Timeout(30.0, read=read_s)
        body = self._request(prompt, limit, stops, temperature)
        try:
            with server.client.stream("POST", "/completion", json=body, timeout=timeout) as answer:
                if answer.status_code != 200:
                    raise EngineError(f"llama-server answered {answer.status_code}: {answer.read()[:300]!r}")
                for event in sse_events(answer.iter_lines()):
                    if "error" in event:
                        raise EngineError(f"llama-server: {event['error']}")
                    progress = event.get("prompt_progress")
                    if progress:
                        reply.prompt_tokens, reply.cached = int(progress["total"]), int(progress["cache"])
                    reply.generated = int(event.get("tokens_predicted") or reply.generated)
                    last = bool(event.get("stop"))
                    if last:  # the last event: counts and why it stopped
                        reply.stop_type = str(event.get("stop_type") or "")
                        reply.stopping_word = str(event.get("stopping_word") or "")
                        reply.prompt_tokens = int(event.get("tokens_evaluated") or reply.prompt_tokens)
                        reply.cached = int((event.get("timings") or {}).get("cache_n", reply.cached))
                    piece = done.add(str(event.get("content") or ""))  # after a cut: read on to the server's stop
                    if last:
                        break
                    if piece:
                        yield piece
                    if deadline is not None and time.monotonic() >= deadline:
                        reply.timed_out = True  # closing the stream stops the server's slot
                        break
        except httpx.TimeoutException:
            if deadline is None or time.monotonic() < deadline - 0.05:
                raise EngineError("llama-server stopped answering") from None
            reply.timed_out = True
        except httpx.HTTPError as exc:
            raise EngineError(f"llama-server request failed: {exc}") from exc
        return reply

    def _token_count(self, server: LlamaServer, text: str) -> int:
        """Tokens of ``text`` alone (forced texts are a few fixed strings: counted once)."""
        if text not in self._token_counts:
            self._token_counts[text] = len(server.tokenize(text, add_special=False))
        return self._token_counts[text]

    # ----------------------------------------------------------------- adapters

    @property
    def active_adapter(self) -> str | None:
        return self._active

    def list_adapters(self) -> list[dict[str, Any]]:
        return [
            {"name": name, "path": adapter.folder, "active": name == self._active}
            for name, adapter in sorted(self._adapters.items())
        ]

    def load_adapter(self, path: str | Path, name: str) -> None:
        """Check and convert a peft LoRA folder under ``name`` (replacing one of that name).

        Raises ``AdapterError`` on any problem; the serving state is unchanged then. Reloading the
        active name switches to the new weights (a new server) once in-flight generations finish.
        """
        path = Path(path).expanduser()
        config = self.config
        lora = convert_adapter(path, config)
        merged = None
        if config.merge_lora:
            try:
                merged = merge_lora(config.model_gguf, lora, config.engine_dir, config.cache_dir,
                                    config.threads or os.cpu_count() or 2, head_type=config.head_type)  # fmt: skip
            except MergeError as exc:
                logger.warning("adapter %r: %s; it is applied at run time (--lora) instead", name, exc)
        if merged is not None:
            merged = self._trimmed(merged)
        adapter = ServedAdapter(lora=lora, merged=merged, folder=str(path))
        with self._swap_lock:
            old = self._adapters.get(name)
            self._adapters[name] = adapter
            if name == self._active and (old is None or (old.lora, old.merged) != (lora, merged)):
                try:
                    self._switch(adapter)
                except AdapterError:
                    if old is not None:
                        self._adapters[name] = old
                    raise
        logger.info("adapter %r loaded from %s (%s)", name, path, (merged or lora).name)

    def activate_adapter(self, name: str | None) -> None:
        """Serve with adapter ``name`` (None: the plain base model); waits for in-flight generations."""
        if name is not None and name not in self._adapters:
            raise AdapterError(f"unknown adapter {name!r}; loaded: {sorted(self._adapters) or 'none'}")
        with self._swap_lock:
            if name == self._active:
                return
            self._switch(self._adapters[name] if name is not None else None)
            self._active = name
        logger.info("active adapter: %s", name or "none")

    def unload_adapter(self, name: str) -> None:
        """Forget adapter ``name`` (it must not be the active one)."""
        with self._swap_lock:
            if name == self._active:
                raise AdapterError(f"adapter {name!r} is active; activate another one first")
            self._adapters.pop(name, None)

    def _switch(self, adapter: ServedAdapter | None) -> None:
        """Start a server for ``adapter``; when it is healthy it replaces the serving one. Under _swap_lock."""
        started = time.perf_counter()
        try:
            new = self._start_for(adapter)
        except EngineError as exc:
            raise AdapterError(
                f"adapter {adapter.lora.name if adapter else 'none'} could not be served ({exc}); "
                f"still serving {self._active or 'the base model'}"
            ) from exc
        old = self._serve(new)  # in-flight generations finish on the old server first
        if old is not None:
            old.stop()
        logger.info("llama-server swapped in %.1f s", time.perf_counter() - started)

    def __getstate__(self) -> dict[str, Any]:  # pragma: no cover - models are not pickled
        raise TypeError("LlamaCppChatModel holds a live server and cannot be pickled")


# --------------------------------------------------------------------------- adapter conversion


def adapter_digest(folder: Path, model_gguf: Path) -> str:
    """What the converted GGUF depends on: the adapter's config and weights, and the base model file."""
    digest = hashlib.sha256(f"{model_gguf.resolve()}:{model_gguf.stat().st_size}".encode())
    for file in (folder / "adapter_config.json", folder / "adapter_model.safetensors"):
        digest.update(file.name.encode())
        with contextlib.suppress(OSError):
            digest.update(file.read_bytes())  # adapters are megabytes
    return digest.hexdigest()


def convert_adapter(folder: Path, config: LlamaCppConfig) -> Path:
    """peft LoRA folder → a LoRA GGUF in the cache (checked and converted in a child process, once per content)."""
    if not folder.is_dir():
        raise AdapterError(f"adapter folder {folder} does not exist")
    out_dir = Path(config.cache_dir).expanduser() / "engine" / "adapters"
    kind = "" if config.lora_type == "f32" else f"-{config.lora_type}"
    out = out_dir / f"{adapter_digest(folder, config.model_gguf)[:24]}{kind}.gguf"
    if out.is_file():
        return out
    out_dir.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable, "-m", "agent.backends.llamacpp_convert", "adapter", str(folder),
        "--config-dir", str(config.config_dir), "--gguf", str(config.model_gguf),
        "--engine-dir", str(config.engine_dir), "--out", str(out), "--outtype", config.lora_type,
    ]  # fmt: skip
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)  # noqa: S603
    if done.returncode != 0 or not out.is_file():
        lines = [line for line in (done.stderr or "").strip().splitlines() if line.strip()]
        reason = lines[-1] if lines else f"exit code {done.returncode}"
        raise AdapterError(reason.removeprefix("AdapterError: "))
    logger.info("adapter %s converted to %s in %.1f s", folder, out.name, time.perf_counter() - started)
    return out
