"""A local transformers causal LM as a langchain-core chat model, tuned for the ReAct loop.

What it adds over a plain ``model.generate``:

- **KV-cache reuse.** The keys/values of recent sequences are kept in a small LRU keyed by token
  ids; a new prompt reuses the longest cached prefix, so step k+1 of a run only prefills the new
  observation, and the shared prompt header is prefilled once across runs. Greedy output is
  identical with or without the cache (tested).
- **Stop strings inside generation.** Decoding stops as soon as the text contains a stop string
  (``"\\nObservation:"``); the returned text never contains it. EOS stops too.
- **Token healing.** A trailing space is stripped from the prompt and one leading space from the
  generated text, so the model writes ``"▁I"`` as the training tokenization has it.
- **Adapters.** LoRA adapters (peft) are validated, loaded and hot-swapped under the generation
  lock; a broken adapter raises ``AdapterError`` and the current one keeps serving.
- **Deadline.** ``agent.loop.DEADLINE`` bounds the generation in flight.
- **Lean forward.** Gemma 3 text models run through ``fast_decode.GemmaDecoder`` (fused weights with
  the active LoRA adapter merged into copies, preallocated keys/values, far fewer ops per token);
  other models, 4-bit weights and unmergeable adapters take the Hugging Face forward.

Generation is synchronous and serialized by an internal lock (the app calls it in a thread).
"""

from __future__ import annotations

import inspect
import json
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, HumanMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import ConfigDict, PrivateAttr

from agent.backends.gguf import DEFAULT_MODEL_NAME, ensure_default_model
from agent.config import LocalModelConfig
from agent.loop import DEADLINE

# The prompt is fed in chunks of this many tokens so a long one stops at the deadline between
# them (one forward over 15k tokens took ~80 s on 2 CPU cores); the ReAct prompts fit in one.
PREFILL_CHUNK_TOKENS = 1024

logger = logging.getLogger(__name__)

_BASE_TAG = "<base>"  # KV-cache tag of the plain model (no adapter active)


class AdapterError(ValueError):
    """An adapter folder that cannot be served (missing, unreadable, or for another base model)."""


@dataclass
class GenerationResult:
    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str  # "stop" (stop string or EOS), "length" (max_new_tokens) or "timeout" (DEADLINE)
    cached_tokens: int = 0  # prompt tokens whose keys/values came from the cache (not prefilled)


# --------------------------------------------------------------------------- loading


@dataclass(frozen=True)
class LoadOptions:
    """How to place the model: resolved from settings by ``resolve_load_options``."""

    device: str  # "cpu" or "cuda"
    dtype: str  # "float32", "bfloat16" or "float16"
    quantize_4bit: bool


def resolve_load_options(device: str = "auto", dtype: str = "auto", quantize: str = "auto") -> LoadOptions:
    """Settings values ("auto" allowed) → concrete device, dtype and quantization."""
    import torch

    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if dtype == "auto":
        # bf16 on CUDA; fp32 on CPU: on AVX2-only CPUs bf16 decodes faster but prefills ~4.5x slower
        # (docs/backends.md has the numbers).
        dtype = "bfloat16" if device == "cuda" else "float32"
    quantize_4bit = quantize == "4bit" or (quantize == "auto" and device == "cuda")
    return LoadOptions(device=device, dtype=dtype, quantize_4bit=quantize_4bit)


def resolve_model_source(local_model: str, cache_dir: str | Path) -> str:
    """'gemma-3-270m' → the converted default folder (converting once); else a folder or HF id."""
    if local_model == DEFAULT_MODEL_NAME:
        return str(ensure_default_model(cache_dir))
    path = Path(local_model).expanduser()
    return str(path) if path.exists() else local_model


def load_model_and_tokenizer(source: str, options: LoadOptions) -> tuple[Any, Any]:
    """Load a causal LM + tokenizer for inference, as ``options`` says."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, BitsAndBytesConfig

    torch_dtype = getattr(torch, options.dtype)
    kwargs: dict[str, Any] = {"dtype": torch_dtype}
    if options.quantize_4bit:
        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_use_double_quant=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_compute_dtype=torch_dtype,
        )
        kwargs["device_map"] = "auto" if options.device == "cuda" else {"": "cpu"}
    elif options.device == "cuda":
        kwargs["device_map"] = "auto"
    started = time.perf_counter()
    tokenizer = AutoTokenizer.from_pretrained(source)
    model = AutoModelForCausalLM.from_pretrained(source, **kwargs)
    model.eval()
    logger.info(
        "loaded %s (%s, %s%s) in %.1f s",
        source,
        options.device,
        options.dtype,
        ", 4-bit NF4" if options.quantize_4bit else "",
        time.perf_counter() - started,
    )
    return model, tokenizer


# --------------------------------------------------------------------------- prompt helpers


def messages_to_prompt(messages: Sequence[BaseMessage], tokenizer: Any = None) -> str:
    """One human message → its text as is (the ReAct prompt); several → the chat template if the
    tokenizer has one, else the contents joined by blank lines (base models have no template)."""
    if len(messages) == 1 and isinstance(messages[0], HumanMessage):
        return str(messages[0].content)
    template = getattr(tokenizer, "chat_template", None) if tokenizer is not None else None
    if template:
        roles = {"human": "user", "ai": "assistant", "system": "system"}
        chat = [{"role": roles.get(m.type, m.type), "content": str(m.content)} for m in messages]
        return str(tokenizer.apply_chat_template(chat, tokenize=False, add_generation_prompt=True))
    return "\n\n".join(str(m.content) for m in messages)


def heal_prompt(prompt: str) -> tuple[str, bool]:
    """Strip one trailing space (token healing); returns the prompt and whether it was stripped."""
    if prompt.endswith(" "):
        return prompt[:-1], True
    return prompt, False


def find_stop(text: str, stops: Sequence[str]) -> int:
    """Index of the earliest stop string in ``text``, or -1."""
    hits = [i for i in (text.find(s) for s in stops if s) if i != -1]
    return min(hits) if hits else -1


def _stop_holdback(text: str, stops: Sequence[str]) -> int:
    """How many trailing characters might be the start of a stop string (not safe to stream yet)."""
    keep = 0
    for stop in stops:
        for n in range(min(len(stop) - 1, len(text)), 0, -1):
            if text.endswith(stop[:n]):
                keep = max(keep, n)
                break
    return keep


# --------------------------------------------------------------------------- KV cache


class PrefixCache:
    """A small LRU of past key/values keyed by (adapter tag, token ids).

    ``lookup`` returns a private copy of the longest cached prefix (at most ``len(ids) - 1`` tokens,
    since the last prompt token must be fed to get the next-token logits); ``store`` keeps a
    sequence's cache after generation. Entries that are a prefix of a stored one are dropped.
    """

    def __init__(self, max_entries: int = 4) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[tuple[str, tuple[int, ...]], Any] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        self._entries.clear()

    def lookup(self, tag: str, ids: Sequence[int]) -> tuple[int, Any]:
        best_len, best_key = 0, None
        limit = len(ids) - 1
        for key in self._entries:
            if key[0] != tag:
                continue
            n = _common_prefix(key[1], ids, limit)
            if n > best_len:
                best_len, best_key = n, key
        if best_key is None or best_len == 0:
            return 0, None
        self._entries.move_to_end(best_key)
        return best_len, _copy_cache(self._entries[best_key], best_len)

    def store(self, tag: str, ids: Sequence[int], cache: Any) -> None:
        if self.max_entries <= 0 or not ids:
            return
        key = (tag, tuple(ids))
        for old in list(self._entries):
            if old[0] == tag and len(old[1]) <= len(key[1]) and key[1][: len(old[1])] == old[1]:
                del self._entries[old]
        self._entries[key] = cache
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)


def _common_prefix(a: Sequence[int], b: Sequence[int], limit: int) -> int:
    n = min(len(a), len(b), limit)
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


def _copy_cache(cache: Any, length: int) -> Any:
    """A private copy of the first ``length`` positions of ``cache`` (KVBuffers or a full-attention DynamicCache)."""
    from transformers import DynamicCache

    from agent.backends.fast_decode import KVBuffers

    if isinstance(cache, KVBuffers):
        return cache.prefix_copy(length)

    data = [(layer.keys[:, :, :length].clone(), layer.values[:, :, :length].clone()) for layer in cache.layers]
    return DynamicCache(data)


# --------------------------------------------------------------------------- the chat model


class LocalChatModel(BaseChatModel):
    """A local Hugging Face causal LM behind langchain-core's chat-model interface.

    Build with ``LocalChatModel.from_config(LocalModelConfig(...))`` or ``LocalChatModel.from_pretrained(source)``.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    model_name: str = "local"
    max_new_tokens: int = 160  # per call unless the caller says otherwise
    temperature: float = 0.0  # 0 = greedy
    kv_cache_entries: int = 4  # sequences whose keys/values are kept (~36 KB/token for Gemma-270M fp32)
    fast_head: bool = True  # CPU fp32 greedy: int8-screened output layer, exact top-k rescoring (fast_head.py)
    fast_head_min_vocab: int = 32768  # below this the full output layer is cheap anyway
    fast_decode: bool = True  # Gemma 3: the lean forward of fast_decode.py (fused, adapter merged)

    _model: Any = PrivateAttr(default=None)  # the served module (PeftModel once an adapter is loaded)
    _base: Any = PrivateAttr(default=None)
    _tokenizer: Any = PrivateAttr(default=None)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)
    _kv: PrefixCache = PrivateAttr(default_factory=PrefixCache)
    _adapters: dict[str, tuple[str, str]] = PrivateAttr(default_factory=dict)  # name → (peft id, path)
    _active: str | None = PrivateAttr(default=None)
    _adapter_seq: int = PrivateAttr(default=0)
    _eos_ids: set[int] = PrivateAttr(default_factory=set)
    _cache_kw: str = PrivateAttr(default="past_key_values")  # transformers 5.24 renamed it "cache"
    _head: Any = PrivateAttr(default=None)  # a ScreenedHead when installed
    _decoder: Any = PrivateAttr(default=None)  # a fast_decode.GemmaDecoder when the model supports it
    _lean: bool = PrivateAttr(default=False)  # the decoder serves the active adapter (else the HF forward)

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
            self._lean = self._decoder is not None
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
        """``"lean"`` (fast_decode.GemmaDecoder) or ``"hf"`` (the Hugging Face forward) for the active adapter."""
        return "lean" if self._lean else "hf"

    # ----------------------------------------------------------------- langchain-core

    @property
    def _llm_type(self) -> str:
        return "qreact-local"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_name": self.model_name, "adapter": self._active}

    def _call_options(self, stop: list[str] | None, kwargs: dict[str, Any]) -> dict[str, Any]:
        return {
            "max_new_tokens": int(kwargs.get("max_new_tokens") or kwargs.get("max_tokens") or self.max_new_tokens),
            "stop": list(stop or []),
            "temperature": float(kwargs.get("temperature", self.temperature)),
        }

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        prompt = messages_to_prompt(messages, self._tokenizer)
        result = self.generate_text(prompt, **self._call_options(stop, kwargs))
        message = AIMessage(
            content=result.text,
            usage_metadata={
                "input_tokens": result.prompt_tokens,
                "output_tokens": result.completion_tokens,
                "total_tokens": result.prompt_tokens + result.completion_tokens,
                "input_token_details": {"cache_read": result.cached_tokens},
            },
            response_metadata=self._response_metadata(result),
        )
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        prompt = messages_to_prompt(messages, self._tokenizer)
        done: list[GenerationResult] = []
        for piece in self.stream_text(prompt, on_finish=done.append, **self._call_options(stop, kwargs)):
            chunk = ChatGenerationChunk(message=AIMessageChunk(content=piece))
            if run_manager is not None:
                run_manager.on_llm_new_token(piece, chunk=chunk)
            yield chunk
        if done:
            result = done[0]
            yield ChatGenerationChunk(
                message=AIMessageChunk(
                    content="",
                    usage_metadata={
                        "input_tokens": result.prompt_tokens,
                        "output_tokens": result.completion_tokens,
                        "total_tokens": result.prompt_tokens + result.completion_tokens,
                    },
                    response_metadata=self._response_metadata(result),
                )
            )

    def _response_metadata(self, result: GenerationResult) -> dict[str, Any]:
        return {
            "finish_reason": result.finish_reason,
            "model_name": self.model_name,
            "adapter": self._active,
            "cached_tokens": result.cached_tokens,
        }

    # ----------------------------------------------------------------- text generation

    def generate_text(
        self,
        prompt: str,
        max_new_tokens: int | None = None,
        stop: Sequence[str] | None = None,
        temperature: float = 0.0,
    ) -> GenerationResult:
        """Complete ``prompt``; the text stops before any stop string (never contains one)."""
        result: GenerationResult | None = None
        for item in self._run(prompt, max_new_tokens, stop, temperature):
            if isinstance(item, GenerationResult):
                result = item
        assert result is not None
        return result

    def stream_text(
        self,
        prompt: str,
        max_new_tokens: int | None = None,
        stop: Sequence[str] | None = None,
        temperature: float = 0.0,
        on_finish: Callable[[GenerationResult], None] | None = None,
    ) -> Iterator[str]:
        """Like ``generate_text`` but yields text pieces as they are decided (stop strings held back)."""
        for item in self._run(prompt, max_new_tokens, stop, temperature):
            if isinstance(item, GenerationResult):
                if on_finish is not None:
                    on_finish(item)
            elif item:
                yield item

    def _run(
        self,
        prompt: str,
        max_new_tokens: int | None,
        stop: Sequence[str] | None,
        temperature: float,
    ) -> Iterator[str | GenerationResult]:
        """The decoding loop: yields safe text pieces, then one GenerationResult."""
        import torch

        stops = [s for s in (stop or []) if s]
        limit = int(max_new_tokens or self.max_new_tokens)
        deadline = DEADLINE.get()
        text_prompt, healed = heal_prompt(prompt)
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
                if self._lean:  # room for the whole generation in one allocation
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
                    safe = len(text) - _stop_holdback(text, stops)
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
        return f"lean:{tag}" if self._lean else tag  # the two paths keep different cache types

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
        """Rebuild the lean forward's merged weights for the active adapter (from the untouched base weights)."""
        decoder = self._decoder
        if decoder is None:
            return
        peft_id = self._adapters[self._active][0] if self._active is not None else None
        if peft_id is not None:
            reason = decoder.adapter_unsupported(self._model, peft_id)
            if reason is not None:
                logger.info("adapter %r served by the Hugging Face forward: %s", self._active, reason)
                self._lean = False
                return
        if decoder.adapter != peft_id or not self._lean:
            started = time.perf_counter()
            decoder.rebuild(peft_id)
            logger.info(
                "lean forward rebuilt for %s in %.2f s", self._active or "the base model", time.perf_counter() - started
            )
        self._lean = True

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


# --------------------------------------------------------------------------- adapter validation


# adapter_config.json keys that only describe LoRA layers added beside the base model's; any other
# key (layer_replication copies base layers, modules_to_save replaces modules, trainable tokens
# change the embeddings...) is refused unless it holds its "off" value below.
LORA_CONFIG_KEYS = frozenset({
    "peft_type", "task_type", "auto_mapping", "peft_version", "base_model_name_or_path", "revision",
    "inference_mode", "r", "target_modules", "exclude_modules", "lora_alpha", "lora_dropout",
    "fan_in_fan_out", "use_rslora", "init_lora_weights", "layers_to_transform", "layers_pattern",
    "rank_pattern", "alpha_pattern", "megatron_core", "qalora_group_size", "use_qalora",
    "ensure_weight_tying", "use_dora",  # DoRA: a magnitude vector beside each adapted layer
})  # fmt: skip
# keys accepted only with these values: what peft writes when the feature is off
LORA_CONFIG_OFF: dict[str, tuple[Any, ...]] = {
    "bias": ("none",),
    "lora_bias": (False,),
    **{key: (None,) for key in (
        "layer_replication", "modules_to_save", "trainable_token_indices", "target_parameters",
        "megatron_config", "alora_invocation_tokens", "eva_config", "corda_config", "lora_ga_config",
        "velora_config", "monteclora_config", "arrow_config", "kasa_config", "use_bdlora", "runtime_config",
    )},  # fmt: skip
    "loftq_config": ({}, None),
}


def adapter_config_problems(config: dict[str, Any]) -> list[str]:
    """Every adapter_config.json key that could change the base model's structure (a whitelist)."""
    problems = []
    for key, value in sorted(config.items()):
        if key in LORA_CONFIG_KEYS:
            continue
        if key not in LORA_CONFIG_OFF:
            problems.append(f"{key}: not an accepted LoRA option")
        elif value not in LORA_CONFIG_OFF[key] and not (value == [] and None in LORA_CONFIG_OFF[key]):
            problems.append(f"{key}={value!r} changes the base model (accepted: {LORA_CONFIG_OFF[key][0]!r})")
    return problems


def validate_adapter(path: Path, base_model: Any) -> dict[str, Any]:
    """Check an adapter folder before anything is loaded; returns its adapter_config.

    Checks: the folder and adapter_config.json exist and parse; it is a LoRA adapter; the weights
    are in a complete safetensors file; every adapted module exists in ``base_model`` with matching
    shapes. Raises ``AdapterError`` naming the problem.
    """
    if not path.is_dir():
        raise AdapterError(f"adapter folder {path} does not exist")
    config_file = path / "adapter_config.json"
    if not config_file.is_file():
        raise AdapterError(f"{path} has no adapter_config.json (not a peft adapter folder)")
    try:
        config = json.loads(config_file.read_text())
    except (OSError, ValueError) as exc:
        raise AdapterError(f"{config_file} is not valid JSON: {exc}") from exc
    if not isinstance(config, dict) or config.get("peft_type") != "LORA":
        raise AdapterError(f"{config_file}: peft_type must be 'LORA', got {config.get('peft_type')!r}")
    problems = adapter_config_problems(config)
    if problems:
        raise AdapterError(f"{config_file} is refused: " + "; ".join(problems))
    weights = path / "adapter_model.safetensors"
    if not weights.is_file():
        extra = " (pickled .bin adapters are refused: use safetensors)" if (path / "adapter_model.bin").exists() else ""
        raise AdapterError(f"{path} has no adapter_model.safetensors{extra}")
    try:
        from safetensors import safe_open

        shapes: dict[str, tuple[int, ...]] = {}
        with safe_open(str(weights), framework="pt") as handle:
            for key in handle.keys():  # noqa: SIM118 - safe_open is not a Mapping
                tensor = handle.get_tensor(key)
                shapes[key] = tuple(tensor.shape)
    except Exception as exc:
        raise AdapterError(f"{weights} is unreadable or truncated: {exc}") from exc
    if not shapes:
        raise AdapterError(f"{weights} holds no tensors")
    _check_against_base(shapes, base_model, path)
    return config


def _check_against_base(shapes: dict[str, tuple[int, ...]], base_model: Any, path: Path) -> None:
    modules = dict(base_model.named_modules())
    missing: list[str] = []
    mismatched: list[str] = []
    for key, shape in shapes.items():
        if ".lora_A." not in key and ".lora_B." not in key:
            continue
        name = key.split(".lora_")[0]
        if name.startswith("base_model.model."):
            name = name[len("base_model.model.") :]
        module = modules.get(name)
        if module is None:
            missing.append(name)
            continue
        module = getattr(module, "base_layer", module)
        in_f, out_f = getattr(module, "in_features", None), getattr(module, "out_features", None)
        if in_f is None or out_f is None or len(shape) != 2:
            continue
        if (".lora_A." in key and shape[1] != in_f) or (".lora_B." in key and shape[0] != out_f):
            mismatched.append(f"{name} {shape} vs base ({out_f}, {in_f})")
    if missing:
        raise AdapterError(
            f"adapter {path} targets modules the base model lacks (trained on another model?): "
            + ", ".join(sorted(set(missing))[:5])
        )
    if mismatched:
        raise AdapterError(
            f"adapter {path} does not fit the base model's shapes (trained on another model?): "
            + "; ".join(mismatched[:5])
        )
