"""The run-store tests' shared pieces: a RunResult to save, the URL of each backend (PostgreSQL when
QREACT_TEST_PG_URL is set), a fresh store, a fake adapter folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from agent.trace import RunResult, Step, Usage
from app.store.runs import RunStore
from app.store.schema import metadata

PG_URL = os.environ.get("QREACT_TEST_PG_URL")


REPO = Path(__file__).resolve().parents[3]


def make_run(run_id: str, question: str = "What is 2+2?", **kw: object) -> RunResult:
    steps = [
        Step(
            index=0,
            kind="tool",
            thought="I should compute it",
            tool="Calculator",
            tool_input="2+2",
            observation="4",
            log=" I should compute it\nAction: Calculator\nAction Input: 2+2",
        ),
        Step(
            index=1,
            kind="final",
            thought="I now know the final answer",
            final_answer="4",
            log=" I now know the final answer\nFinal Answer: 4",
        ),
    ]
    fields: dict[str, object] = {
        "run_id": run_id,
        "question": question,
        "answer": "4",
        "status": "answered",
        "steps": steps,
        "backend": "local",
        "model": "gemma-3-270m",
        "adapter": "default",
        "latency_ms": 12.5,
        "usage": Usage(prompt_tokens=100, completion_tokens=20, total_tokens=120),
        "prompt": "PROMPT",
    }
    fields.update(kw)
    return RunResult.model_validate(fields)


def store_url_for(kind: str, tmp_path: Path) -> str:
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / 'sub' / 'runs.db'}"
    if not PG_URL:
        pytest.skip("QREACT_TEST_PG_URL not set")
    return PG_URL


def fresh_store(url: str) -> RunStore:
    store = RunStore(url)
    metadata.drop_all(store.engine)  # PostgreSQL is shared between tests: start empty
    metadata.create_all(store.engine)
    return store


BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def fake_adapter(folder: Path, weights: bytes = b"w" * 1000) -> Path:
    """The two files the registry stores (their content is not checked here; the model does that)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "adapter_config.json").write_text('{"peft_type": "LORA"}')
    (folder / "adapter_model.safetensors").write_bytes(weights)
    (folder / "README.md").write_text("not stored")
    return folder
