"""Typed configs the agent's backends take; the service fills them from its settings (``app.wiring``).

Nothing here reads the environment: ``agent/`` knows nothing of the service or of training.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pydantic import SecretStr


def default_cache_dir() -> Path:
    """``~/.cache/qreact``: converted models, knowledge indexes, the run store (``QREACT_CACHE_DIR`` in the app)."""
    return Path.home() / ".cache" / "qreact"


@dataclass(frozen=True)
class LocalModelConfig:
    """How to load and run the local transformers model."""

    local_model: str = "gemma-3-270m"  # the embedded default, a Hugging Face id, or a folder
    cache_dir: Path = field(default_factory=default_cache_dir)  # where the embedded default is converted once
    device: str = "auto"  # "auto", "cpu" or "cuda"
    dtype: str = "auto"  # "auto", "float32", "bfloat16" or "float16"
    quantize: str = "auto"  # "auto" (4-bit on CUDA), "none" or "4bit"
    threads: int | None = None  # torch CPU threads; None = torch's choice
    max_new_tokens: int = 160  # tokens per ReAct step
    fast_head: bool = True  # CPU fp32 greedy: the int8-screened output layer
    fast_decode: bool = True  # Gemma 3: fast decode, the hand-written forward (agent/backends/fast_decode.py)


@dataclass(frozen=True)
class OpenAIConfig:
    """An OpenAI-compatible Chat Completions endpoint (OpenAI, vLLM, Ollama, qreact's own /v1)."""

    model: str = "gpt-4o-mini"
    base_url: str | None = None  # None = api.openai.com
    api_key: SecretStr | None = None  # None: $OPENAI_API_KEY, else a dummy key when base_url is set
    timeout_s: float = 60.0  # one request, seconds
    max_retries: int = 2  # on 5xx/timeouts
    max_new_tokens: int = 160  # tokens per ReAct step


@dataclass(frozen=True)
class LlamaCppConfig:
    """How to run the local model on llama.cpp's ``llama-server`` (``agent.backends.llamacpp``)."""

    model_gguf: Path  # the base model as a GGUF file (the embedded default: its Q4_K_M GGUF)
    config_dir: Path  # a folder with the base model's Hugging Face config.json (adapter checks and conversion)
    engine_dir: Path  # the built engine: bin/llama-server and py/convert_lora_to_gguf.py (``make engine``)
    cache_dir: Path = field(default_factory=default_cache_dir)  # converted adapters and server logs go here
    model_name: str = "gemma-3-270m"  # as runs and /v1/models name it
    threads: int = 2  # llama.cpp threads for decode and prefill; 0: chosen at each server start (auto_threads)
    ctx_size: int = 4096  # tokens of keys/values kept (18 KB/token for Gemma-3-270M with --swa-full)
    max_new_tokens: int = 160  # tokens per ReAct step
    startup_timeout_s: float = 120.0  # a server (or a swap's new server) must answer /health within this
    merge_lora: bool = True  # serve adapters merged into a copy of the GGUF (faster decode), not with --lora
    lora_type: str = "f32"  # the converted LoRA GGUF's tensors: "f32" or "f16" (half the bytes read with --lora)
    speculative: bool = False  # n-gram speculative decoding (the same greedy text; slower on an idle 2-core CPU)
    # ReAct steps: append the text the format forces (agent.loop.FORCED_TEXT) instead of decoding it, and end
    # a tool step at the end of its Action Input line (a second request per step, a few tokens prefilled)
    jump_forward: bool = False
    head_type: str | None = None  # the served file's embedding/output head: q8_0, q5_0, q4_1, q4_0; None: the base's
    # the served file's vocabulary trimmed to tokens of these ranks in the kept scripts (agent.backends.llamacpp_vocab;
    # the output layer reads fewer rows per decoded token); 0: the whole vocabulary (app.settings: 262144)
    vocab_rank: int = 0
