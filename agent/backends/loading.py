"""Loading a local causal LM: settings values → device/dtype/quantization, the model's source folder,
and the transformers model + tokenizer placed as those options say."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.backends.gguf import DEFAULT_MODEL_NAME, ensure_default_model

# torch and transformers (the serve extra) load inside the functions that use them: this module is
# imported at start-up (app.wiring -> agent.backends.local), before anything needs torch.

logger = logging.getLogger(__name__)


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


def nf4_config(compute_dtype: Any) -> Any:
    """The 4-bit quantization serving and QLoRA training share: NF4 with double quantization."""
    from transformers import BitsAndBytesConfig

    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_use_double_quant=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_compute_dtype=compute_dtype,
    )


def load_model_and_tokenizer(source: str, options: LoadOptions) -> tuple[Any, Any]:
    """Load a causal LM + tokenizer for inference, as ``options`` says."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch_dtype = getattr(torch, options.dtype)
    kwargs: dict[str, Any] = {"dtype": torch_dtype}
    if options.quantize_4bit:
        kwargs["quantization_config"] = nf4_config(torch_dtype)
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
