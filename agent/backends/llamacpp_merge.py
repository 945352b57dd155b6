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

**The head type.** Gemma's token embedding is also its output layer: Q8_0 in the shipped GGUF, 178 of
its 235 MB, read for every decoded token. ``head_type`` (``HEAD_TYPES``) writes it in another type, in
the merge's ``llama-quantize`` pass or (``quantize_head``, no adapter) alone into a copy of the base;
the file's name then includes the type. A float head is kept. Measured: faster decode, different answers
(docs/backends.md), so the service's default is the shipped ``q8_0``.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import mmap
import os
import shutil
import struct
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from agent.backends.gguf import file_lock

logger = logging.getLogger(__name__)

EXPORT_BINARY = "llama-export-lora"
QUANTIZE_BINARY = "llama-quantize"
MERGE_TIMEOUT_S = 900.0  # both steps together; ~20 s for Gemma-3-270M on 2 idle cores
MERGED_TYPE = "Q8_0"  # adapted tensors of a quantized base: fine enough to keep the LoRA's change
HEAD_TENSORS = ("token_embd.weight", "output.weight")  # the embedding and the output layer (Gemma: one, tied)
HEAD_TYPES = ("q8_0", "q5_0", "q4_1", "q4_0")  # blocks of 32: K-quants need rows of 256 (Gemma-3-270M: 640)
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


def served_path(model_gguf: Path, lora_gguf: Path | None, cache_dir: str | Path, head_type: str | None = None) -> Path:
    """Where the served copy of ``model_gguf`` (``lora_gguf`` merged in, the head in ``head_type``) is cached,
    named by the files' contents and the head type."""
    parts = [file_digest(model_gguf)] + ([file_digest(lora_gguf)] if lora_gguf is not None else [])
    parts += [f"head={head_type.upper()}"] if head_type else []  # no head type: the name merges always had
    digest = hashlib.sha256(":".join(parts).encode()).hexdigest()
    return Path(cache_dir).expanduser() / "engine" / "merged" / f"{digest[:24]}.gguf"


_SCALAR_SIZES = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}  # GGUF value types
_STRING, _ARRAY = 8, 9


_FORMATS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}


def gguf_string(text: bytes) -> bytes:
    """A GGUF string: its length (uint64), then its bytes."""
    return struct.pack("<Q", len(text)) + text


class GGUFHeader:
    """A GGUF file's header read in place (GGUF v2/v3): each key's value type and byte span, the tensor
    table, where the data starts. The vocabulary arrays are read only when asked (``strings``, ``array``)."""

    def __init__(self, data: mmap.mmap, name: str) -> None:
        self.data, self.name = data, name
        if data[:4] != b"GGUF":
            raise MergeError(f"{name} is not a GGUF file")
        self.version, n_tensors, n_kv = struct.unpack_from("<IQQ", data, 4)
        if self.version < 2:
            raise MergeError(f"{name}: GGUF version {self.version} is not supported")
        self.kv: dict[str, tuple[int, int, int]] = {}  # key -> (value type, value start, value end)
        self.tensors: list[tuple[str, list[int], int, int]] = []  # (name, dims, ggml type, offset)
        at = 24
        try:
            for _ in range(n_kv):
                length = struct.unpack_from("<Q", data, at)[0]
                key = data[at + 8 : at + 8 + length].decode()
                kind = struct.unpack_from("<I", data, at + 8 + length)[0]
                start = at + 8 + length + 4
                at = self._skip(kind, start)
                self.kv[key] = (kind, start, at)
            for _ in range(n_tensors):
                length = struct.unpack_from("<Q", data, at)[0]
                tensor = data[at + 8 : at + 8 + length].decode()
                n_dims = struct.unpack_from("<I", data, at + 8 + length)[0]
                at += 8 + length + 4
                dims = list(struct.unpack_from(f"<{n_dims}Q", data, at))
                at += 8 * n_dims
                kind, offset = struct.unpack_from("<IQ", data, at)
                at += 12
                self.tensors.append((tensor, dims, kind, offset))
        except (struct.error, UnicodeDecodeError) as exc:
            raise MergeError(f"{name}: unreadable GGUF header ({exc})") from None
        self.alignment = int(self.scalar("general.alignment", 32))
        self.data_start = _aligned(at, self.alignment)

    def _skip(self, kind: int, at: int) -> int:
        if kind == _STRING:
            return at + 8 + struct.unpack_from("<Q", self.data, at)[0]
        if kind == _ARRAY:
            item, count = struct.unpack_from("<IQ", self.data, at)
            at += 12
            if item in _SCALAR_SIZES:
                return at + count * _SCALAR_SIZES[item]
            for _ in range(count):
                at = self._skip(item, at)
            return at
        if kind not in _SCALAR_SIZES:
            raise struct.error(f"unknown value type {kind}")
        return at + _SCALAR_SIZES[kind]

    def scalar(self, key: str, default: Any = None) -> Any:
        if key not in self.kv:
            return default
        kind, start, _ = self.kv[key]
        if kind == _STRING:
            length = struct.unpack_from("<Q", self.data, start)[0]
            return self.data[start + 8 : start + 8 + length].decode()
        if kind not in _FORMATS:
            raise MergeError(f"{self.name}: {key} is no scalar")
        return struct.unpack_from(_FORMATS[kind], self.data, start)[0]

    def entry(self, key: str, value: bytes | None = None) -> bytes:
        """The key's whole entry as written in the file (``value``: other value bytes of the same type)."""
        kind, start, end = self.kv[key]
        return gguf_string(key.encode()) + struct.pack("<I", kind) + (self.data[start:end] if value is None else value)

    def count(self, key: str) -> int:
        """The number of items in an array value."""
        return int(struct.unpack_from("<IQ", self.data, self.kv[key][1])[1])

    def strings(self, key: str) -> list[bytes]:
        """An array of strings, as raw UTF-8 bytes."""
        kind, start, _ = self.kv[key]
        item, count = struct.unpack_from("<IQ", self.data, start)
        if kind != _ARRAY or item != _STRING:
            raise MergeError(f"{self.name}: {key} is no array of strings")
        out, at, data, unpack = [], start + 12, self.data, struct.Struct("<Q").unpack_from
        for _ in range(count):
            length = unpack(data, at)[0]
            out.append(data[at + 8 : at + 8 + length])
            at += 8 + length
        return out

    def array(self, key: str) -> tuple[int, np.ndarray]:
        """An array of numbers: (its GGUF item type, the values)."""
        kind, start, _ = self.kv[key]
        item, count = struct.unpack_from("<IQ", self.data, start)
        if kind != _ARRAY or item not in _FORMATS:
            raise MergeError(f"{self.name}: {key} is no array of numbers")
        dtype = np.dtype(_FORMATS[item])
        return item, np.frombuffer(self.data, dtype=dtype, count=count, offset=start + 12)


def _aligned(at: int, alignment: int) -> int:
    return at + (-at) % alignment


def tensor_types(gguf_file: Path) -> dict[str, str]:
    """Each tensor's type name in a GGUF (``Q4_K``, ``F16``, …), read from its header only.

    gguf's ``GGUFReader`` parses every metadata value into numpy arrays (Gemma's 262k-token vocabulary:
    ~12 s); ``GGUFHeader`` skips the values and reads the tensor table (~0.1 s)."""
    from gguf.constants import GGMLQuantizationType

    with gguf_file.open("rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
        header = GGUFHeader(data, gguf_file.name)
        try:
            return {name: GGMLQuantizationType(kind).name for name, _, kind, _ in header.tensors}
        except ValueError as exc:
            raise MergeError(f"{gguf_file.name}: unreadable GGUF header ({exc})") from None


def merged_types(base: dict[str, str], exported: dict[str, str] | None = None, head_type: str | None = None
                 ) -> dict[str, str]:  # fmt: skip
    """The types the served file gets: ``MERGED_TYPE`` for an adapted tensor (export-lora changed its type)
    that the base holds quantized; ``head_type`` for the head (``HEAD_TENSORS``) when the base holds it
    quantized; the base's type for every other tensor (and for every float tensor)."""
    exported = exported if exported is not None else base
    wanted = {
        name: MERGED_TYPE if exported[name] != kind and kind not in FLOAT_TYPES else kind for name, kind in base.items()
    }
    if head_type:
        wanted |= {n: head_type.upper() for n in HEAD_TENSORS if n in base and base[n] not in FLOAT_TYPES}
    return wanted


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


def _quantize(bin_dir: Path, source: Path, wanted: dict[str, str], work: Path, threads: int, log: Path,
              timeout_s: float) -> Path:  # fmt: skip
    """``source`` rewritten with exactly the tensor types ``wanted`` (a tensor already in its type is copied)."""
    types_file = work / "tensor-types.txt"  # one anchored pattern per tensor: exactly these types
    types_file.write_text("".join(f"^{name.replace('.', '[.]')}$={kind}\n" for name, kind in wanted.items()))
    result = work / "served.gguf"
    _run([str(bin_dir / QUANTIZE_BINARY), "--allow-requantize", "--tensor-type-file", str(types_file), str(source),
          str(result), MERGED_TYPE, str(threads)], log, timeout_s)  # fmt: skip
    written = tensor_types(result)
    if written != wanted:
        wrong = sorted(n for n in wanted if written.get(n) != wanted[n])
        raise MergeError(f"llama-quantize wrote other tensor types than asked for {wrong[:3]}")
    return result


def _build(out: Path, what: str, make: Callable[[Path, Path], Path]) -> Path:
    """``out`` (cached), else ``make(work, log)``'s file renamed to it: once across processes, nothing left
    behind on failure (``MergeError``)."""
    if out.is_file():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    with file_lock(out.parent / f".{out.stem}.lock"):  # two processes preparing the same file do it once
        if out.is_file():
            return out
        started = time.perf_counter()
        work = Path(tempfile.mkdtemp(prefix=".merge-", dir=out.parent))  # same file system: the rename is atomic
        try:
            os.replace(make(work, work / "merge.log"), out)
        except OSError as exc:
            raise MergeError(f"{what} failed: {exc}") from exc
        finally:
            shutil.rmtree(work, ignore_errors=True)
    logger.info("%s in %.1f s (%s)", what, time.perf_counter() - started, out.name)
    return out


def merge_lora(
    model_gguf: Path, lora_gguf: Path, engine_dir: Path, cache_dir: str | Path, threads: int = 2,
    timeout_s: float = MERGE_TIMEOUT_S, head_type: str | None = None,
) -> Path:  # fmt: skip
    """The base GGUF with ``lora_gguf`` merged in (types: ``merged_types``); cached by content."""
    if not merge_installed(engine_dir):
        raise MergeError(f"{EXPORT_BINARY} / {QUANTIZE_BINARY} are not built in {engine_dir} (make engine)")
    deadline = time.monotonic() + timeout_s
    bin_dir = engine_dir / "bin"
    if head_type and merged_types(tensor_types(model_gguf), None, head_type) == tensor_types(model_gguf):
        head_type = None  # the head stays as it is: the file (and its name) of a merge without a head type

    def make(work: Path, log: Path) -> Path:
        mixed = work / "mixed.gguf"
        _run([str(bin_dir / EXPORT_BINARY), "-m", str(model_gguf), "--lora", str(lora_gguf),
              "-o", str(mixed), "-t", str(threads)], log, deadline - time.monotonic())  # fmt: skip
        base, exported = tensor_types(model_gguf), tensor_types(mixed)
        if exported.keys() != base.keys():
            raise MergeError("llama-export-lora wrote other tensors than the base GGUF holds")
        wanted = merged_types(base, exported, head_type)
        if wanted == exported:  # nothing quantized was adapted (a float base): export-lora's file is final
            return mixed
        return _quantize(bin_dir, mixed, wanted, work, threads, log, deadline - time.monotonic())

    out = served_path(model_gguf, lora_gguf, cache_dir, head_type)
    return _build(out, f"LoRA {lora_gguf.name} merged into {model_gguf.name}", make)


def quantize_head(
    model_gguf: Path, head_type: str | None, engine_dir: Path, cache_dir: str | Path, threads: int = 2,
    timeout_s: float = MERGE_TIMEOUT_S,
) -> Path:  # fmt: skip
    """The base GGUF with its head in ``head_type`` (``merged_types``), cached by content; ``model_gguf``
    itself when that changes nothing (no head type, a float head, the head already in that type)."""
    base = tensor_types(model_gguf)
    wanted = merged_types(base, None, head_type)
    if wanted == base:
        return model_gguf
    binary = Path(engine_dir) / "bin" / QUANTIZE_BINARY
    if not (binary.is_file() and os.access(binary, os.X_OK)):
        raise MergeError(f"{QUANTIZE_BINARY} is not built in {engine_dir} (make engine)")
    deadline = time.monotonic() + timeout_s

    def make(work: Path, log: Path) -> Path:
        return _quantize(binary.parent, model_gguf, wanted, work, threads, log, deadline - time.monotonic())

    out = served_path(model_gguf, None, cache_dir, head_type)
    return _build(out, f"{model_gguf.name}'s head requantized to {str(head_type).upper()}", make)
