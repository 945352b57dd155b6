"""A LoRA GGUF merged into the base GGUF, so the llama.cpp engine decodes at the bare model's speed.

Applied at run time (``llama-server --lora``) a LoRA adds two small matmuls to every adapted layer:
measured 15 % of decode speed for the shipped r16 all-linear adapter on Gemma-3-270M. Merged, the
server runs one plain GGUF of the base model's size and layout:

1. ``llama-export-lora`` writes base + scale·B·A: every adapted tensor is dequantized to f32, the
   product added, and the sum written as F16 (a float base tensor stays f32); the other tensors are
   copied as they are.
2. ``llama-quantize`` quantizes each adapted tensor to ``Q8_0`` when the base holds it quantized
   (the other tensors are copied byte for byte in their base type). Not back to the base's own
   Q4_K/Q5_0/Q6_K: the LoRA's change to a weight is mostly smaller than those grids' steps, so it
   rounds away — measured on the shipped adapter, a merge requantized to the base's types answered
   like the bare base model, Q8_0 (as F16) like ``--lora``. Skipped when nothing is quantized (a
   float base: export-lora's output is final).

The result is cached by content: ``{cache_dir}/engine/merged/{sha256(base GGUF, LoRA GGUF)[:24]}.gguf``.
Any failure raises ``MergeError`` and leaves nothing behind (the caller serves the LoRA at run time).
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from agent.backends.gguf import file_lock

logger = logging.getLogger(__name__)

EXPORT_BINARY = "llama-export-lora"
QUANTIZE_BINARY = "llama-quantize"
MERGE_TIMEOUT_S = 900.0  # both steps together; ~20 s for Gemma-3-270M on 2 idle cores
MERGED_TYPE = "Q8_0"  # adapted tensors of a quantized base: fine enough to keep the LoRA's change
FLOAT_TYPES = frozenset({"F32", "F16", "BF16", "F64"})


class MergeError(RuntimeError):
    """The LoRA could not be merged into the base GGUF (the reason is the message)."""


def merge_installed(engine_dir: str | Path) -> bool:
    """The engine folder holds llama-export-lora and llama-quantize (``make engine`` builds both)."""
    binaries = [Path(engine_dir) / "bin" / name for name in (EXPORT_BINARY, QUANTIZE_BINARY)]
    return all(b.is_file() and os.access(b, os.X_OK) for b in binaries)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


@functools.lru_cache(maxsize=16)
def _sha256_cached(path: Path, size: int, mtime_ns: int) -> str:  # the base GGUF is hashed once per process
    return _sha256(path)


def file_digest(path: Path) -> str:
    """sha256 of a file's bytes (remembered while its size and modification time stay the same)."""
    stat = path.stat()
    return _sha256_cached(path.resolve(), stat.st_size, stat.st_mtime_ns)


def merged_path(model_gguf: Path, lora_gguf: Path, cache_dir: str | Path) -> Path:
    """Where the merge of ``lora_gguf`` into ``model_gguf`` is cached (named by both files' contents)."""
    digest = hashlib.sha256(f"{file_digest(model_gguf)}:{file_digest(lora_gguf)}".encode()).hexdigest()
    return Path(cache_dir).expanduser() / "engine" / "merged" / f"{digest[:24]}.gguf"


def tensor_types(gguf_file: Path) -> dict[str, str]:
    """Each tensor's type name in a GGUF (``Q4_K``, ``F16``, …)."""
    from gguf import GGUFReader

    return {t.name: t.tensor_type.name for t in GGUFReader(gguf_file).tensors}


def merged_types(base: dict[str, str], exported: dict[str, str]) -> dict[str, str]:
    """The types the merged file gets: ``MERGED_TYPE`` for an adapted tensor (export-lora changed its type)
    that the base holds quantized, the base's type for every other tensor."""
    return {
        name: MERGED_TYPE if exported[name] != kind and kind not in FLOAT_TYPES else kind for name, kind in base.items()
    }


def _run(command: list[str], log: Path, timeout_s: float) -> None:
    with log.open("ab") as handle:
        handle.write(f"\n$ {' '.join(command)}\n".encode())
        handle.flush()
        try:
            done = subprocess.run(  # noqa: S603 - the engine's own binaries, fixed argv, no shell
                command, stdin=subprocess.DEVNULL, stdout=handle, stderr=subprocess.STDOUT,
                timeout=max(timeout_s, 1.0), check=False,
            )  # fmt: skip
        except subprocess.TimeoutExpired:
            raise MergeError(f"{Path(command[0]).name} took longer than {timeout_s:.0f} s") from None
    if done.returncode != 0:
        tail = " | ".join(log.read_text(errors="replace").strip().splitlines()[-4:])
        raise MergeError(f"{Path(command[0]).name} failed (exit {done.returncode}): {tail}")


def merge_lora(
    model_gguf: Path, lora_gguf: Path, engine_dir: Path, cache_dir: str | Path, threads: int = 2,
    timeout_s: float = MERGE_TIMEOUT_S,
) -> Path:  # fmt: skip
    """The base GGUF with ``lora_gguf`` merged in, each tensor in the base's type; cached by content."""
    if not merge_installed(engine_dir):
        raise MergeError(f"{EXPORT_BINARY} / {QUANTIZE_BINARY} are not built in {engine_dir} (make engine)")
    out = merged_path(model_gguf, lora_gguf, cache_dir)
    if out.is_file():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    with file_lock(out.parent / f".{out.stem}.lock"):  # two processes merging the same pair merge once
        if out.is_file():
            return out
        started = time.perf_counter()
        deadline = time.monotonic() + timeout_s
        work = Path(tempfile.mkdtemp(prefix=".merge-", dir=out.parent))  # same file system: the rename is atomic
        log = work / "merge.log"
        try:
            mixed = work / "mixed.gguf"
            bin_dir = engine_dir / "bin"
            _run([str(bin_dir / EXPORT_BINARY), "-m", str(model_gguf), "--lora", str(lora_gguf),
                  "-o", str(mixed), "-t", str(threads)], log, deadline - time.monotonic())  # fmt: skip
            base, exported = tensor_types(model_gguf), tensor_types(mixed)
            if exported.keys() != base.keys():
                raise MergeError("llama-export-lora wrote other tensors than the base GGUF holds")
            wanted = merged_types(base, exported)
            if wanted == exported:  # nothing quantized was adapted (a float base): export-lora's file is final
                result = mixed
            else:
                types_file = work / "tensor-types.txt"  # one anchored pattern per tensor: exactly these types
                types_file.write_text("".join(f"^{name.replace('.', '[.]')}$={kind}\n"
                                              for name, kind in wanted.items()))  # fmt: skip
                result = work / "merged.gguf"
                _run([str(bin_dir / QUANTIZE_BINARY), "--tensor-type-file", str(types_file), str(mixed),
                      str(result), MERGED_TYPE, str(threads)], log, deadline - time.monotonic())  # fmt: skip
                written = tensor_types(result)
                if written != wanted:
                    wrong = sorted(n for n in wanted if written.get(n) != wanted[n])
                    raise MergeError(f"llama-quantize wrote other tensor types than asked for {wrong[:3]}")
            os.replace(result, out)
        except OSError as exc:
            raise MergeError(f"merging {lora_gguf.name} failed: {exc}") from exc
        finally:
            shutil.rmtree(work, ignore_errors=True)
    logger.info("LoRA %s merged into %s in %.1f s (%s)", lora_gguf.name, model_gguf.name,
                time.perf_counter() - started, out.name)  # fmt: skip
    return out
