"""A served GGUF with a trimmed vocabulary: the output layer reads fewer rows for every decoded token.

Gemma 3's vocabulary has 262,144 tokens and its output layer is the token embedding (tied): 262,144 × 640
in Q8_0, **178 of the shipped GGUF's 235 MB**, all of it read for every decoded token. Most rows are
tokens of scripts and words an English/Korean agent never reads nor writes (CJK, Cyrillic, Arabic,
Devanagari, …, and the rarest Latin-script pieces). ``trim_vocab`` writes a copy of a GGUF that keeps

- the control tokens (``<pad>``, ``<bos>``, ``<eos>``, ``<start_of_turn>``, …; not ``<unusedN>``), the
  first 256 ids and the 256 byte tokens (``<0x00>``…``<0xFF>``: any text stays representable);
- every token written only in ASCII, Latin-1 / Latin Extended, Greek, general punctuation and symbols
  (U+2000–U+2BFF) or Hangul whose rank (Gemma's SentencePiece score is minus its merge rank) is below
  ``max_rank`` (the service's default: Gemma's vocabulary size, no rank cut), and every token with Hangul in it;
- every vocabulary token that is a substring of a kept one.

The last rule makes the tokenization exact: llama.cpp's SentencePiece tokenizer only ever merges two
adjacent pieces into a longer vocabulary token, so every piece on the way to a token is a substring of
it. A text whose full-vocabulary tokens are all kept is tokenized **identically** (the same pieces,
renumbered); a text with a dropped token is tokenized into shorter kept pieces (down to byte tokens), and
the model can only write kept tokens. With no rank cut (``DEFAULT_MAX_RANK``, the service's default) every
English/Latin/Greek/Korean text is tokenized exactly as by the whole vocabulary: 163,360 of 262,144 tokens
kept, head 111 MB instead of 178 MB, and all 813 recorded eval rows wrote the same steps (rule V16b,
bench/results/s14-vocab/). A rank cut at 100,000 (93,291 tokens, head 63 MB) decodes faster still but
re-tokenizes rare names (Tegucigalpa, Saint Kitts) and changed answers: 619 right outcomes of 813 vs 626
(rule V16). The rows keep their order, the special ids are renumbered, every other tensor and metadata
value is copied as it is. Trimming reads the header in place: 2-3 s, once per file.

Cached by content next to the merges: ``{cache_dir}/engine/merged/{sha256(file, max_rank)[:24]}.gguf``.
"""

from __future__ import annotations

import hashlib
import mmap
import struct
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from agent.backends.llamacpp_merge import (
    _FORMATS,
    _STRING,
    HEAD_TENSORS,
    GGUFHeader,
    MergeError,
    _aligned,
    _build,
    file_digest,
    gguf_string,
)

DEFAULT_MAX_RANK = 262_144  # Gemma 3's vocabulary size: no rank cut, every token of the kept scripts
_NORMAL, _CONTROL, _USER, _BYTE = 1, 3, 4, 6  # GGUF token types
_TOKEN_ID_KEYS = ("bos", "eos", "unknown", "padding", "eot", "eom", "sep", "cls", "mask")


def _allowed(char: str) -> bool:
    """A character of the scripts an English/Korean agent reads and writes."""
    code = ord(char)
    return (
        code < 0x250  # ASCII, Latin-1, Latin Extended-A/B
        or 0x370 <= code < 0x400  # Greek (units: µ, Ω; formulas)
        or 0x2000 <= code <= 0x2BFF  # punctuation, super/subscripts, currency, letterlike, arrows, math
        or 0x1100 <= code <= 0x11FF  # Hangul Jamo
        or 0x3130 <= code <= 0x318F  # Hangul compatibility Jamo
        or 0xAC00 <= code <= 0xD7A3  # Hangul syllables
    )


def _hangul(text: str) -> bool:
    return any(0xAC00 <= ord(c) <= 0xD7A3 or 0x3130 <= ord(c) <= 0x318F or 0x1100 <= ord(c) <= 0x11FF for c in text)


def kept_ids(tokens: Sequence[str], types: Sequence[int], max_rank: int = DEFAULT_MAX_RANK) -> list[int]:
    """The token ids a trimmed vocabulary keeps (sorted; the rules in the module doc). ``tokens[i]`` is token
    i's text (SentencePiece's ``▁`` for a space), ``types[i]`` its GGUF token type; ids are ranks."""
    keep = {
        i for i, (text, kind) in enumerate(zip(tokens, types, strict=True))
        if i < 256 or kind == _BYTE or (kind == _CONTROL and not text.startswith("<unused"))
        or (kind in (_NORMAL, _USER) and all(c == "\u2581" or _allowed(c) for c in text)
            and (i < max_rank or _hangul(text)))
    }  # fmt: skip
    index = {text: i for i, text in enumerate(tokens) if types[i] in (_NORMAL, _USER)}
    for i in list(keep):
        text = tokens[i]
        for start in range(len(text)):
            for end in range(start + 1, len(text) + 1):
                j = index.get(text[start:end])
                if j is not None:
                    keep.add(j)
    return sorted(keep)


def trimmed_path(gguf_file: Path, cache_dir: str | Path, max_rank: int) -> Path:
    """Where the trimmed copy of ``gguf_file`` is cached (named by its content and ``max_rank``)."""
    digest = hashlib.sha256(f"{file_digest(gguf_file)}:vocab<{max_rank}".encode()).hexdigest()
    return Path(cache_dir).expanduser() / "engine" / "merged" / f"{digest[:24]}.gguf"


def _tensor_bytes(dims: list[int], kind: int) -> int:
    from gguf.constants import GGML_QUANT_SIZES, GGMLQuantizationType

    block, size = GGML_QUANT_SIZES[GGMLQuantizationType(kind)]
    return int(np.prod(dims, dtype=np.int64)) // block * size


def trim_vocab(source: Path, out: Path, max_rank: int = DEFAULT_MAX_RANK) -> int:
    """Write ``source`` with its vocabulary trimmed (``kept_ids``) to ``out``; returns the kept count.

    The file is rewritten byte for byte from its header (no gguf reader: Gemma's 262k-token vocabulary is
    parsed in 2-3 s, not ~15 s): every key and tensor in its order, the three vocabulary arrays and the
    head's rows cut to the kept ids, the special token ids and the vocabulary size renumbered, the tensor
    offsets recomputed. Raises ``MergeError`` for a file it cannot trim (no SentencePiece vocabulary, heads
    of another size)."""
    with source.open("rb") as handle:  # the map is not closed by hand: numpy views of it may outlive an error
        data = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
    header = GGUFHeader(data, source.name)
    if "tokenizer.ggml.tokens" not in header.kv or "tokenizer.ggml.token_type" not in header.kv:
        raise MergeError(f"{source.name} holds no vocabulary to trim")
    if header.scalar("tokenizer.ggml.model") != "llama":  # SentencePiece: the substring rule holds
        raise MergeError(f"{source.name}: only SentencePiece vocabularies are trimmed")
    raw_tokens = header.strings("tokenizer.ggml.tokens")
    try:
        tokens = [t.decode() for t in raw_tokens]
    except UnicodeDecodeError as exc:
        raise MergeError(f"{source.name}: a token is not UTF-8 ({exc})") from None
    types = header.array("tokenizer.ggml.token_type")[1].tolist()
    keep = kept_ids(tokens, types, max_rank)
    if len(keep) == len(tokens):
        raise MergeError(f"{source.name}: nothing to trim")
    new_id = {old: new for new, old in enumerate(keep)}
    rows = np.asarray(keep)
    arch = header.scalar("general.architecture")
    ids = {f"tokenizer.ggml.{name}_token_id" for name in _TOKEN_ID_KEYS}
    parts = [struct.pack("<4sIQQ", b"GGUF", header.version, len(header.tensors), len(header.kv))]
    for key, (kind, start, end) in header.kv.items():
        value = data[start:end]
        if key == "tokenizer.ggml.tokens":
            value = struct.pack("<IQ", _STRING, len(keep)) + b"".join(gguf_string(raw_tokens[i]) for i in keep)
        elif key in ("tokenizer.ggml.scores", "tokenizer.ggml.token_type"):
            item, values = header.array(key)
            value = struct.pack("<IQ", item, len(keep)) + np.ascontiguousarray(values[rows]).tobytes()
        elif key in ids or key == f"{arch}.vocab_size":
            old = header.scalar(key)
            if key in ids and old not in new_id:
                raise MergeError(f"{source.name}: {key} {old} is not kept")
            value = struct.pack(_FORMATS[kind], new_id[old] if key in ids else len(keep))
        parts.append(header.entry(key, value))
    tensors, offset = [], 0
    for name, dims, kind, at in header.tensors:
        size = _tensor_bytes(dims, kind)
        array = np.frombuffer(data, dtype=np.uint8, count=size, offset=header.data_start + at)
        if name in HEAD_TENSORS:
            if dims[-1] != len(tokens):
                raise MergeError(f"{source.name}: {name} has {dims[-1]} rows, not {len(tokens)}")
            array = np.ascontiguousarray(array.reshape(len(tokens), -1)[rows]).reshape(-1)
            dims = dims[:-1] + [len(keep)]
        parts.append(gguf_string(name.encode()) + struct.pack(f"<I{len(dims)}QIQ", len(dims), *dims, kind, offset))
        tensors.append(array)
        offset = _aligned(offset + array.nbytes, header.alignment)
    with out.open("wb") as sink:
        written = sum(sink.write(part) for part in parts)
        sink.write(bytes(_aligned(written, header.alignment) - written))
        for array in tensors:
            sink.write(array.data)
            sink.write(bytes((-array.nbytes) % header.alignment))
    return len(keep)


def trimmed(gguf_file: Path, cache_dir: str | Path, max_rank: int = DEFAULT_MAX_RANK) -> Path:
    """The trimmed copy of ``gguf_file`` (made once, cached by content); raises ``MergeError``."""

    def make(work: Path, log: Path) -> Path:
        result = work / "trimmed.gguf"
        trim_vocab(gguf_file, result, max_rank)
        return result

    out = trimmed_path(gguf_file, cache_dir, max_rank)
    return _build(out, f"{gguf_file.name}'s vocabulary trimmed to ranks < {max_rank}", make)
