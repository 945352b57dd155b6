"""Trajectory JSONL -> tokenized examples whose labels cover only what the agent writes.

One line is one run: ``{"id", "question", "prompt", "steps": [{"thought", "tool", "tool_input",
"observation", "log"}], "final_answer", "final_log", "source", "answer", "kind", "meta"}``. The text a
model sees is exactly what the ReAct loop builds (agent/prompt.py)::

    prompt + log_1 + "\\nObservation: obs_1\\nThought: " + ... + final_log + <eos>

Supervised (trained on): each step's log plus the ``\\nObservation:`` marker after it (so the model
learns to stop there), the final log and EOS. Masked (-100): the prompt and the observation text.
A token is supervised when any of its characters is. The scratchpad's trailing space after
``Thought:`` belongs to the next log (token healing: the local backend strips it from the prompt and
the model writes it back as part of its first word), so a separate space token is supervised too.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from datasets import Dataset, IterableDataset

from agent.trajectory import Trajectory

logger = logging.getLogger(__name__)

IGNORE_INDEX = -100  # label value that torch's cross-entropy ignores


class DataError(ValueError):
    """Training data that cannot be used (bad lines with on_bad_line=fail, or nothing left to train on)."""


@dataclass
class FileSummary:
    path: str
    sha256: str
    lines: int = 0
    used: int = 0
    bad_lines: list[int] = field(default_factory=list)
    sources: Counter[str] = field(default_factory=Counter)


# ---------------------------------------------------------------- reading


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def build_example(record: dict[str, Any]) -> tuple[str, list[tuple[int, int]]]:
    """The training text of one trajectory line and its supervised character spans [start, end)
    (``agent.trajectory.Trajectory``); ``ValueError`` says why a line is not a usable trajectory."""
    return Trajectory.parse(record).example()


def iter_file(
    path: str | Path, on_bad_line: str = "skip", summary: FileSummary | None = None, report: bool = True
) -> Iterator[dict]:
    """Yield ``{"text", "spans", "source"}`` per usable line; a bad line is skipped (warned) or raises."""
    bad: list[tuple[int, str]] = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            if summary is not None:
                summary.lines += 1
            try:
                record = json.loads(line)
                text, spans = build_example(record)
            except (json.JSONDecodeError, ValueError) as exc:
                reason = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
                if on_bad_line == "fail":
                    raise DataError(f"{path}:{number}: {reason}") from exc
                bad.append((number, reason))
                continue
            source = str(record.get("source") or "unknown")
            if summary is not None:
                summary.used += 1
                summary.sources[source] += 1
            yield {"text": text, "spans": [list(s) for s in spans], "source": source}
    if bad and report:
        shown = "; ".join(f"line {n}: {why}" for n, why in bad[:10])
        more = f" (and {len(bad) - 10} more)" if len(bad) > 10 else ""
        logger.warning("%s: skipped %d bad line(s): %s%s", path, len(bad), shown, more)
    if summary is not None:
        summary.bad_lines = [n for n, _ in bad]


def scan_files(paths: Iterable[str | Path], on_bad_line: str = "skip") -> list[FileSummary]:
    """One pass over every file: hashes, counts per source and bad lines (reported here, once)."""
    summaries = []
    for path in paths:
        summary = FileSummary(path=str(path), sha256=sha256_file(path))
        for _ in iter_file(path, on_bad_line, summary):
            pass
        summaries.append(summary)
    return summaries


def _generate(paths: list[str], hashes: list[str]) -> Iterator[dict]:
    """datasets generator; ``hashes`` is only there so a changed file gets a fresh cache entry."""
    del hashes
    for path in paths:
        yield from iter_file(path, "skip", report=False)  # bad lines were already reported by scan_files


# ---------------------------------------------------------------- tokenizing


def label_tokens(
    offsets: list[tuple[int, int]], spans: list[list[int]] | list[tuple[int, int]], text_length: int
) -> np.ndarray:
    """True for each token with at least one character inside a supervised span."""
    char_mask = np.zeros(text_length + 1, dtype=bool)
    for start, end in spans:
        char_mask[start:end] = True
    # prefix sums make "any supervised char in [s, e)" O(1) per token
    prefix = np.concatenate([[0], np.cumsum(char_mask, dtype=np.int64)])
    starts = np.array([s for s, _ in offsets], dtype=np.int64)
    ends = np.array([e for _, e in offsets], dtype=np.int64)
    return (ends > starts) & (prefix[ends] - prefix[starts] > 0)


def tokenize_batch(batch: dict[str, list], tokenizer: Any, max_length: int) -> dict[str, list]:
    """``datasets.map(batched=True)`` function: input_ids, labels, length, n_supervised."""
    enc = tokenizer(
        batch["text"],
        return_offsets_mapping=True,
        truncation=True,
        max_length=max_length,
        add_special_tokens=True,
    )
    eos = tokenizer.eos_token_id
    out: dict[str, list] = {"input_ids": [], "labels": [], "length": [], "n_supervised": []}
    for ids, offsets, spans, text in zip(
        enc["input_ids"], enc["offset_mapping"], batch["spans"], batch["text"], strict=True
    ):
        supervised = label_tokens(offsets, spans, len(text))
        ids = list(ids)
        labels = [t if s else IGNORE_INDEX for t, s in zip(ids, supervised.tolist(), strict=True)]
        if len(ids) < max_length and eos is not None:  # not truncated: the model learns to end here
            ids.append(eos)
            labels.append(eos)
        out["input_ids"].append(ids)
        out["labels"].append(labels)
        out["length"].append(len(ids))
        out["n_supervised"].append(sum(1 for x in labels[1:] if x != IGNORE_INDEX))
    return out


def build_dataset(
    paths: list[str],
    tokenizer: Any,
    max_length: int,
    streaming: bool = False,
    hashes: list[str] | None = None,
) -> Any:
    """A tokenized ``datasets`` Dataset (or IterableDataset when streaming) of the given files."""
    gen_kwargs = {"paths": list(paths), "hashes": hashes or [sha256_file(p) for p in paths]}
    if streaming:
        raw = IterableDataset.from_generator(_generate, gen_kwargs=gen_kwargs)
    else:
        raw = Dataset.from_generator(_generate, gen_kwargs=gen_kwargs)
    columns = ["text", "spans", "source"]
    tokenized = raw.map(
        tokenize_batch,
        batched=True,
        remove_columns=columns,
        fn_kwargs={"tokenizer": tokenizer, "max_length": max_length},
    )
    return tokenized.filter(lambda n: n > 0, input_columns="n_supervised")


# ---------------------------------------------------------------- batching


class PadCollator:
    """Dynamic padding: each batch is padded to its own longest example, never to max_length."""

    def __init__(self, pad_token_id: int, pad_to_multiple_of: int | None = None) -> None:
        self.pad_token_id = pad_token_id
        self.pad_to_multiple_of = pad_to_multiple_of

    def __call__(self, features: list[dict[str, Any]]) -> dict[str, Any]:
        longest = max(len(f["input_ids"]) for f in features)
        if self.pad_to_multiple_of:
            longest = -(-longest // self.pad_to_multiple_of) * self.pad_to_multiple_of
        batch = len(features)
        input_ids = torch.full((batch, longest), self.pad_token_id, dtype=torch.long)
        labels = torch.full((batch, longest), IGNORE_INDEX, dtype=torch.long)
        attention = torch.zeros((batch, longest), dtype=torch.long)
        for row, f in enumerate(features):
            n = len(f["input_ids"])
            input_ids[row, :n] = torch.as_tensor(f["input_ids"], dtype=torch.long)
            labels[row, :n] = torch.as_tensor(f["labels"], dtype=torch.long)
            attention[row, :n] = 1
        return {"input_ids": input_ids, "attention_mask": attention, "labels": labels}
