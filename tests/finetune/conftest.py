"""Fixtures of the training tests: a tiny trajectory file and one padded batch of it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from transformers import AutoTokenizer

from agent.prompt import final_log, render_prompt, step_log
from finetune.data import PadCollator, build_dataset

COUNTRIES = [("Australia", "Canberra"), ("France", "Paris"), ("Japan", "Tokyo"), ("Peru", "Lima"),
             ("Kenya", "Nairobi"), ("Chile", "Santiago")]  # fmt: skip


@pytest.fixture(scope="module")
def train_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("data") / "train.jsonl"
    lines = []
    for i, (country, capital) in enumerate(COUNTRIES):
        q = f"What is the capital of {country}?"
        log = step_log("I need to find the capital.", "Search", f"capital of {country}", first=True)
        record = {
            "id": str(i), "question": q, "prompt": render_prompt(q),
            "steps": [{"thought": "I need to find the capital.", "tool": "Search",
                       "tool_input": f"capital of {country}", "observation": f"{country}: capital {capital}.",
                       "log": log}],
            "final_answer": capital,
            "final_log": final_log("I now know the final answer", capital, first=False),
            "source": "gold" if i % 2 else "logged", "answer": capital, "kind": "capital", "meta": {},
        }  # fmt: skip
        lines.append(json.dumps(record))
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def tiny_batch(tiny_model_dir: Path, train_file: Path) -> dict[str, torch.Tensor]:
    """Three padded rows of ``train_file`` (their lengths differ: padding is exercised)."""
    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    rows = list(build_dataset([str(train_file)], tok, max_length=512))[:3]
    return PadCollator(tok.pad_token_id)(rows)
