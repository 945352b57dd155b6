"""A local transformers causal LM as a langchain-core chat model, tuned for the ReAct loop.

What it adds over a plain ``model.generate``:

- **KV-cache reuse.** The keys/values of recent sequences are kept in a small LRU keyed by token
  ids; a new prompt reuses the longest cached prefix, so step k+1 of a run only prefills the new
  observation, and the shared prompt header is prefilled once across runs. Greedy output is
  identical with or without the cache (tested; ``prefix_cache.py``).
- **Stop strings inside generation.** Decoding stops as soon as the text contains a stop string
  (``"\\nObservation:"``); the returned text never contains it. EOS stops too (``text.py``).
- **Token healing.** A trailing space is stripped from the prompt and one leading space from the
  generated text, so the model writes ``"▁I"`` as the training tokenization has it.
- **Adapters.** LoRA adapters (peft) are validated, loaded and hot-swapped under the generation
  lock; a broken adapter raises ``AdapterError`` (``adapter_check.py``) and the current one keeps serving.
- **Deadline.** ``agent.loop.DEADLINE`` bounds the generation in flight.
- **Fast decode.** Gemma 3 text models run through ``fast_decode.FastDecoder``, a hand-written forward
  (fused weights with the active LoRA adapter merged into copies, preallocated keys/values, far fewer
  ops per token);
  other models, 4-bit weights and unmergeable adapters take the Hugging Face forward.

Loading (device, dtype, 4-bit) is ``loading.py``. Generation is synchronous and serialized by an
internal lock (the app calls it in a thread).
"""

from __future__ import annotations

import inspect
import logging
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from langchain_core.messages import BaseMessage
from pydantic import ConfigDict, PrivateAttr

from agent.backends.adapter_check import AdapterError, validate_adapter
from agent.backends.chat import TextChatModel
from agent.backends.loading import load_model_and_tokenizer, resolve_load_options, resolve_model_source
from agent.backends.prefix_cache import PrefixCache
from agent.backends.text import GenerationResult, find_stop, messages_to_prompt, stop_holdback
from agent.config import LocalModelConfig

# torch, transformers and peft (the serve extra) are imported inside the functions that use them:
# app.wiring imports this module at start-up, and the openai backend or a CLI command that builds
# no model must not pay torch's import (seconds).

# The prompt is fed in chunks of this many tokens so a long one stops at the deadline between
# them (one forward over 15k tokens took ~80 s on 2 CPU cores); the ReAct prompts fit in one.
PREFILL_CHUNK_TOKENS = 1024

logger = logging.getLogger(__name__)

_BASE_TAG = "<base>"  # KV-cache tag of the plain model (no adapter active)


class LocalChatModel(TextChatModel):
    """A local Hugging Face causal LM behind langchain-core's chat-model interface.

    Build with ``LocalChatModel.from_config(LocalModelConfig(...))`` or ``LocalChatModel.from_pretrained(source)``.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    kv_cache_entries: int = 4  # sequences whose keys/values are kept (~36 KB/token for Gemma-270M fp32)
    fast_head: bool = True  # CPU fp32 greedy: int8-screened output layer, exact top-k rescoring (fast_head.py)
    fast_head_min_vocab: int = 32768  # below this the full output layer is cheap anyway
    fast_decode: bool = True  # Gemma 3: fast_decode.py's hand-written forward (fused, adapter merged)

    _model: Any = PrivateAttr(default=None)  # the served module (PeftModel once an adapter is loaded)
    _base: Any = PrivateAttr(default=None)
    _tokenizer: Any = PrivateAttr(default=None)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)
    _kv: PrefixCache = PrivateAttr(default_factory=PrefixCache)
    _adapters: dict[str, tuple[str, str]] = PrivateAttr(default_factory=dict)  # name → (peft id, path)
    _adapter_seq: int = PrivateAttr(default=0)
    _eos_ids: set[int] = PrivateAttr(default_factory=set)
    _cache_kw: str = PrivateAttr(default="past_key_values")  # transformers 5.24 renamed it "cache"
    _head: Any = PrivateAttr(default=None)  # a ScreenedHead when installed
    _decoder: Any = PrivateAttr(default=None)  # a fast_decode.FastDecoder when the model supports it
    _fast_decode: bool = PrivateAttr(default=False)  # fast decode serves the active adapter (else the HF forward)

    # ----------------------------------------------------------------- construction

    @classmethod
    def from_model(cls, model: Any, tokenizer: Any, **fields: Any) -> LocalChatModel:
        """Wrap an already loaded model + tokenizer."""
        self = cls(**fields)
        self._model = self._base = model
        self._tokenizer = tokenizer
        self._kv = PrefixCache(self.kv_cache_entries)
        eos: set[int] = set()
        for value in (tokenizer.eos_token_id, getattr(model.generation_config, "eos_token_id", None)):
            if isinstance(value, int):
                eos.add(value)
            elif isinstance(value, list | tuple):
                eos.update(int(v) for v in value)
        self._eos_ids = eos
        if "cache" in inspect.signature(model.forward).parameters:
            self._cache_kw = "cache"
        if self.fast_head:
            from agent.backends.fast_head import install_screened_head

            self._head = install_screened_head(model, min_vocab=self.fast_head_min_vocab)
            if self._head is not None:
                logger.info("greedy decoding uses the int8-screened output layer (top %d rescored)", self._head.top_k)
        if self.fast_decode:
            from agent.backends.fast_decode import decoder_for

            self._decoder = decoder_for(model)
            self._fast_decode = self._decoder is not None
        return self

    @classmethod
    def from_pretrained(
        cls,
        source: str,
        *,
        device: str = "auto",
        dtype: str = "auto",
        quantize: str = "auto",
        threads: int | None = None,
        **fields: Any,
    ) -> LocalChatModel:
        """Load a folder or HF id (``source``) with the device/precision rules of the settings."""
        import torch

        if threads:
            torch.set_num_threads(threads)
        options = resolve_load_options(device, dtype, quantize)
        model, tokenizer = load_model_and_tokenizer(source, options)
        fields.setdefault("model_name", Path(source).name if Path(source).exists() else source)
        return cls.from_model(model, tokenizer, **fields)

    @classmethod
    def from_config(cls, config: LocalModelConfig) -> LocalChatModel:
        source = resolve_model_source(config.local_model, config.cache_dir)
        return cls.from_pretrained(
            source,
            device=config.device,
            dtype=config.dtype,
            quantize=config.quantize,
            threads=config.threads,
            model_name=config.local_model,
            max_new_tokens=config.max_new_tokens,
            fast_head=config.fast_head,
            fast_decode=config.fast_decode,
        )

    @property
    def tokenizer(self) -> Any:
        return self._tokenizer

    @property
    def model(self) -> Any:
        return self._model

    @property
    def kv_cache(self) -> PrefixCache:
        return self._kv

    @property
    def decode_path(self) -> str:
        """``"fast_decode"`` (fast_decode.FastDecoder) or ``"hf"`` (the Hugging Face forward) for the active adapter."""
        return "fast_decode" if self._fast_decode else "hf"

    # ----------------------------------------------------------------- langchain-core

    @property
    def _llm_type(self) -> str:
        return "qreact-local"

    def _prompt(self, messages: list[BaseMessage]) -> str:
        return messages_to_prompt(messages, self._tokenizer)

    # ----------------------------------------------------------------- text generation

    def _run(
        self,
        prompt: str,
        max_new_tokens: int | None,
        stop: Sequence[str] | None,
        temperature: float,
    ) -> Iterator[str | GenerationResult]:
        """The decoding loop: yields safe text pieces, then one GenerationResult."""
        import torch

        text_prompt, healed, stops, limit, deadline = self._decode_args(prompt, max_new_tokens, stop)
        tokenizer = self._tokenizer
        ids: list[int] = tokenizer(text_prompt)["input_ids"]
        if not ids:  # nothing to condition on: start from BOS
            ids = [tokenizer.bos_token_id if tokenizer.bos_token_id is not None else 0]
        # inference_mode is entered per model call, never across a yield (it is thread state)
        with self._lock:
            if deadline is not None and time.monotonic() >= deadline:  # spent while waiting: no prefill
                yield GenerationResult("", len(ids), 0, "timeout")
                return
            tag = self._cache_tag()
            if self._head is not None:  # sampling needs every logit; greedy only the argmax
                self._head.enabled = temperature <= 0
            try:
                with torch.inference_mode():
                    cached, cache = self._kv.lookup(tag, ids)
                if self._fast_decode:  # room for the whole generation in one allocation
                    if cache is None:
                        cache = self._decoder.new_cache(len(ids) + limit)
                    else:
                        cache.reserve(len(ids) + limit)
                elif cache is None:
                    from transformers import DynamicCache

                    cache = DynamicCache()  # full attention layers: a sliding-window cache can't be reused
                device = self._input_device()
                generated: list[int] = []
                emitted = 0
                finish = "length"
                text = ""
                fed = list(ids[:cached])  # tokens whose keys/values the cache holds
                logits = None
                for start in range(cached, len(ids), PREFILL_CHUNK_TOKENS):
                    if logits is not None and deadline is not None and time.monotonic() >= deadline:
                        break  # a long prompt's prefill stops at the deadline too
                    chunk = ids[start : start + PREFILL_CHUNK_TOKENS]
                    logits = self._forward(chunk, cache, device)
                    fed += chunk
                if len(fed) < len(ids):
                    finish, limit = "timeout", 0
                while len(generated) < limit:
                    if deadline is not None and time.monotonic() >= deadline:
                        finish = "timeout"
                        break
                    token = self._pick(logits, temperature)
                    if token in self._eos_ids:
                        finish = "stop"
                        break
                    generated.append(token)
                    text = tokenizer.decode(generated, skip_special_tokens=True)
                    if healed and text.startswith(" "):
                        text = text[1:]
                    cut = find_stop(text, stops)
                    if cut != -1:
                        text, finish = text[:cut], "stop"
                        break
                    safe = len(text) - stop_holdback(text, stops)
                    if text[safe - 1 : safe] == "\ufffd":  # an incomplete UTF-8 character: wait for the rest
                        safe -= 1
                    if safe > emitted:
                        yield text[emitted:safe]
                        emitted = safe
                    if len(generated) >= limit:
                        break
                    logits = self._forward([token], cache, device)
                    fed.append(token)
                self._kv.store(tag, fed, cache)
            finally:  # outside generate_text the layer is the plain one (e.g. for model.generate)
                if self._head is not None:
                    self._head.enabled = False
        if len(text) > emitted:
            yield text[emitted:]
        yield GenerationResult(
            text=text,
            prompt_tokens=len(ids),
            completion_tokens=len(generated),
            finish_reason=finish,
            cached_tokens=cached,
        )

    def _forward(self, new_ids: Sequence[int], cache: Any, device: Any) -> Any:
        import torch

        from agent.backends.fast_decode import KVBuffers

        with torch.inference_mode():
            if isinstance(cache, KVBuffers):
                return self._decoder.logits_last(new_ids, cache)
            input_ids = torch.tensor([list(new_ids)], dtype=torch.long, device=device)
            kwargs = {self._cache_kw: cache, "use_cache": True, "logits_to_keep": 1}
            out = self._model(input_ids=input_ids, **kwargs)
            return out.logits[0, -1].float()

    @staticmethod
    def _pick(logits: Any, temperature: float) -> int:
        import torch

        if temperature <= 0:
            return int(torch.argmax(logits))
        probs = torch.softmax(logits / temperature, dim=-1)
        return int(torch.multinomial(probs, 1))

    def _input_device(self) -> Any:
        return self._base.get_input_embeddings().weight.device

    def _cache_tag(self) -> str:
        tag = self._adapters[self._active][0] if self._active is not None else _BASE_TAG
        return f"fast_decode:{tag}" if self._fast_decode else tag  # the two paths keep different cache types

    # ----------------------------------------------------------------- adapters

    @property
    def active_adapter(self) -> str | None:
        return self._active

    def list_adapters(self) -> list[dict[str, Any]]:
        return [
            {"name": name, "path": path, "active": name == self._active}
            for name, (_, path) in sorted(self._adapters.items())
        ]

    def load_adapter(self, path: str | Path, name: str) -> None:
        """Validate and load a peft LoRA adapter under ``name`` (replacing one of that name).

        Raises ``AdapterError`` with a clear message on any problem; the serving state is unchanged then.
        Reloading the active name switches to the new weights once in-flight generations finish.
        """
        path = Path(path).expanduser()
        validate_adapter(path, self._base)
        with self._lock:
            self._adapter_seq += 1
            peft_id = f"{_safe_name(name)}-{self._adapter_seq}"
            try:
                self._attach(path, peft_id)
            except Exception as exc:
                self._detach(peft_id)
                raise AdapterError(f"adapter {path} could not be loaded: {exc}") from exc
            old = self._adapters.get(name)
            self._adapters[name] = (peft_id, str(path))
            self._apply_active()  # peft makes a freshly loaded adapter active: restore ours
            if old is not None:
                self._detach(old[0])
        logger.info("adapter %r loaded from %s", name, path)

    def activate_adapter(self, name: str | None) -> None:
        """Serve with adapter ``name`` (None: the plain base model); waits for in-flight generations."""
        if name is not None and name not in self._adapters:
            raise AdapterError(f"unknown adapter {name!r}; loaded: {sorted(self._adapters) or 'none'}")
        with self._lock:
            previous, self._active = self._active, name
            try:
                self._apply_active()
            except Exception as exc:  # atomic: the previous adapter keeps serving
                self._active = previous
                self._apply_active()
                raise AdapterError(
                    f"adapter {name!r} could not be activated ({type(exc).__name__}: {exc}); "
                    f"still serving {previous or 'the base model'}"
                ) from exc
        logger.info("active adapter: %s", name or "none")

    def unload_adapter(self, name: str) -> None:
        """Forget adapter ``name`` (it must not be the active one)."""
        with self._lock:
            if name == self._active:
                raise AdapterError(f"adapter {name!r} is active; activate another one first")
            entry = self._adapters.pop(name, None)
            if entry is not None:
                self._detach(entry[0])

    def _apply_active(self) -> None:
        """Make the peft model serve ``self._active`` (None: LoRA layers bypassed). Under the lock."""
        from peft import PeftModel

        model: Any = self._model
        if isinstance(model, PeftModel):
            lora: Any = model.base_model  # peft's LoraModel
            if self._active is None:
                lora.disable_adapter_layers()
            else:
                model.set_adapter(self._adapters[self._active][0])
                lora.enable_adapter_layers()
        self._sync_decoder()

    def _sync_decoder(self) -> None:
        """Rebuild fast decode's merged weights for the active adapter (from the untouched base weights)."""
        decoder = self._decoder
        if decoder is None:
            return
        peft_id = self._adapters[self._active][0] if self._active is not None else None
        if peft_id is not None:
            reason = decoder.adapter_unsupported(self._model, peft_id)
            if reason is not None:
                logger.info("adapter %r served by the Hugging Face forward: %s", self._active, reason)
                self._fast_decode = False
                return
        if decoder.adapter != peft_id or not self._fast_decode:
            started = time.perf_counter()
            decoder.rebuild(peft_id)
            logger.info(
                "fast decode rebuilt for %s in %.2f s", self._active or "the base model", time.perf_counter() - started
            )
        self._fast_decode = True

    def _attach(self, path: Path, peft_id: str) -> None:
        from peft import PeftModel

        if isinstance(self._model, PeftModel):
            self._model.load_adapter(str(path), adapter_name=peft_id, is_trainable=False)
        else:
            self._model = PeftModel.from_pretrained(self._base, str(path), adapter_name=peft_id, is_trainable=False)
            self._model.eval()

    def _detach(self, peft_id: str) -> None:
        from peft import PeftModel

        if isinstance(self._model, PeftModel) and peft_id in self._model.peft_config:
            try:
                self._model.delete_adapter(peft_id)
            except Exception:  # a half-loaded adapter: nothing more to clean
                logger.exception("could not delete adapter %s", peft_id)

    def __getstate__(self) -> dict[str, Any]:  # pragma: no cover - models are not pickled
        raise TypeError("LocalChatModel holds a live model and cannot be pickled")


def _safe_name(name: str) -> str:
    return "".join(c if c.isalnum() or c in "_-" else "_" for c in name) or "adapter"

