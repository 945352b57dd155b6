"""Adapter conversion for the llama.cpp engine, run as a child process (torch loads here, not in the server).

    python -m agent.backends.llamacpp_convert adapter adapters/default \\
        --config-dir ~/.cache/qreact/models/gemma-3-270m-gguf \\
        --gguf ~/.cache/qreact/models/gemma-3-270m-gguf/gemma-3-270m-q4_k_m.gguf \\
        --engine-dir ~/.cache/qreact/engine/llama.cpp --out /tmp/default.gguf

1. the base model's Hugging Face ``config.json`` in ``--config-dir`` (written once from the GGUF's
   metadata when it is missing: ~1 s, read from a copy of the metadata without the vocabulary arrays);
2. the adapter folder checked by ``agent.backends.adapter_check.validate_adapter`` against the base model's
   modules (built on the meta device: shapes, no weights) — the same whitelist and checks as the torch path;
3. llama.cpp's ``convert_lora_to_gguf.py`` (from the engine's ``py/``) writes the LoRA GGUF (f32, exact;
   ``--outtype f16``: half the bytes), renamed into place when complete.

A refused adapter exits with status 2 and ``AdapterError: <reason>`` as the last line on stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import runpy
import sys
import tempfile
from pathlib import Path
from typing import Any

from agent.backends.adapter_check import AdapterError, validate_adapter
from agent.backends.gguf import file_lock

VOCABULARY_ARRAYS = (
    "tokenizer.ggml.tokens",
    "tokenizer.ggml.scores",
    "tokenizer.ggml.token_type",
    "tokenizer.ggml.merges",
)


def metadata_copy(model_gguf: Path, out: Path) -> Path:
    """A GGUF holding ``model_gguf``'s metadata only: no tensors, no vocabulary arrays (their size is kept as
    ``{arch}.vocab_size``). transformers reads a model config from it in a second; from the whole file it
    parses the 262k-token vocabulary first (~10 s)."""
    import mmap
    import struct

    from agent.backends.llamacpp_merge import GGUFHeader, MergeError, gguf_string

    with model_gguf.open("rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
        try:
            header = GGUFHeader(data, model_gguf.name)
        except MergeError as exc:
            raise AdapterError(str(exc)) from None
        arch = header.scalar("general.architecture")
        keys = [key for key in header.kv if key not in VOCABULARY_ARRAYS]
        entries = [header.entry(key) for key in keys]
        if f"{arch}.vocab_size" not in header.kv and "tokenizer.ggml.tokens" in header.kv:
            count = header.count("tokenizer.ggml.tokens")
            entries.append(gguf_string(f"{arch}.vocab_size".encode()) + struct.pack("<II", 4, count))  # uint32
        out.write_bytes(struct.pack("<4sIQQ", b"GGUF", header.version, 0, len(entries)) + b"".join(entries))
    return out


def ensure_config(config_dir: Path, model_gguf: Path) -> Path:
    """``config_dir/config.json`` for the base model, written from the GGUF's metadata once."""
    target = config_dir / "config.json"
    if target.is_file():
        return target
    with file_lock(config_dir / ".config.lock"):
        if target.is_file():
            return target
        from transformers import AutoConfig
        from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

        with tempfile.TemporaryDirectory(dir=config_dir) as work:
            metadata = metadata_copy(model_gguf, Path(work) / "metadata.gguf")
            config = AutoConfig.from_pretrained(work, gguf_file=metadata.name)
        data: dict[str, Any] = config.to_dict() | {"_name_or_path": str(model_gguf.parent)}  # not the copy's folder
        if not data.get("architectures"):  # convert_lora_to_gguf picks the converter by architecture
            data["architectures"] = [MODEL_FOR_CAUSAL_LM_MAPPING_NAMES[config.model_type]]
        with tempfile.NamedTemporaryFile("w", dir=config_dir, suffix=".json", delete=False) as handle:
            json.dump(data, handle, indent=2)
        os.replace(handle.name, target)
    return target


def base_skeleton(config_dir: Path) -> Any:
    """The base model's modules on the meta device (names and shapes, no memory)."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    config = AutoConfig.from_pretrained(str(config_dir))
    with torch.device("meta"):
        return AutoModelForCausalLM.from_config(config)


def convert(
    adapter: Path, config_dir: Path, model_gguf: Path, engine_dir: Path, out: Path, outtype: str = "f32"
) -> Path:
    # the engine's own gguf-py and conversion/ package first, before anything imports gguf (transformers'
    # GGUF reader does): they must match the converter's version (an older gguf lacks its newer names)
    sys.path[:0] = [str(engine_dir / "py" / "gguf-py"), str(engine_dir / "py")]
    ensure_config(config_dir, model_gguf)
    validate_adapter(adapter, base_skeleton(config_dir))
    script = engine_dir / "py" / "convert_lora_to_gguf.py"
    partial = out.with_name(f".{out.stem}.{os.getpid()}.partial")
    sys.argv = [str(script), "--base", str(config_dir), "--outfile", str(partial), "--outtype", outtype, str(adapter)]
    try:
        runpy.run_path(str(script), run_name="__main__")
    except SystemExit as exc:
        if exc.code not in (0, None):
            raise AdapterError(f"llama.cpp's converter refused {adapter} (exit {exc.code})") from exc
    if not partial.is_file():
        raise AdapterError(f"llama.cpp's converter wrote nothing for {adapter}")
    os.replace(partial, out)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    one = sub.add_parser("adapter", help="check a peft LoRA folder and convert it to a LoRA GGUF")
    one.add_argument("adapter", type=Path)
    one.add_argument("--config-dir", type=Path, required=True, help="folder with (or for) the base config.json")
    one.add_argument("--gguf", type=Path, required=True, help="the base model's GGUF")
    one.add_argument("--engine-dir", type=Path, required=True, help="the engine (py/convert_lora_to_gguf.py)")
    one.add_argument("--out", type=Path, required=True, help="the LoRA GGUF to write")
    one.add_argument("--outtype", choices=["f32", "f16"], default="f32", help="its tensors' type")
    args = parser.parse_args(argv)
    try:
        convert(args.adapter, args.config_dir, args.gguf, args.engine_dir, args.out, args.outtype)
    except AdapterError as exc:
        print(f"AdapterError: {exc}", file=sys.stderr)  # noqa: T201 - the parent reads this line
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
