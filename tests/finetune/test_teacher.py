"""Teacher distillation on a scripted fake chat model: correct, clean runs kept; the rest dropped."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from langchain_core.language_models import FakeListChatModel

from agent.prompt import build_scratchpad, render_prompt
from agent.tools import build_tools
from app.cli_finetune import TeacherUnavailable, check_openai_configured, run_teacher
from app.settings import Settings
from finetune.gold import training_text

QUESTIONS = [
    {"id": "a", "question": "What is 6 * 7?", "answer": 42, "kind": "arithmetic"},
    {"id": "b", "question": "What is 5 + 5?", "answer": 10, "kind": "arithmetic"},
    {"id": "c", "question": "What is 9 - 1?", "answer": 8, "kind": "arithmetic"},
]
SCRIPT = [
    # a: correct and clean (OpenAI models often omit the leading space: the log is normalised)
    "I need to multiply.\nAction: Calculator\nAction Input: 6 * 7",
    "I now know the final answer\nFinal Answer: 42",
    # b: wrong answer
    "I need to add.\nAction: Calculator\nAction Input: 5 + 5",
    "I now know the final answer\nFinal Answer: 11",
    # c: right answer without using a tool (nothing to learn about the protocol)
    "I now know the final answer\nFinal Answer: 8",
]


def test_keeps_only_correct_clean_runs(tmp_path: Path) -> None:
    qfile = tmp_path / "q.jsonl"
    qfile.write_text("".join(json.dumps(q) + "\n" for q in QUESTIONS))
    out = tmp_path / "teacher.jsonl"
    settings = Settings(cache_dir=tmp_path / "cache", openai_api_key=None)
    stats = run_teacher(
        qfile,
        out,
        settings,
        chat_model=FakeListChatModel(responses=SCRIPT),
        tools=build_tools(search="local"),
    )
    assert (stats.asked, stats.kept, stats.wrong_or_unclean) == (3, 1, 2)
    [row] = [json.loads(line) for line in out.read_text().splitlines()]
    assert row["source"] == "teacher" and row["answer"] == 42 and row["kind"] == "arithmetic"
    assert row["steps"][0]["log"] == " I need to multiply.\nAction: Calculator\nAction Input: 6 * 7"
    assert row["steps"][0]["observation"] == "42"
    pad = build_scratchpad((s["log"], s["observation"]) for s in row["steps"])
    assert training_text(row) == render_prompt(row["question"], scratchpad=pad) + row["final_log"]


def test_no_key_or_url_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(TeacherUnavailable, match="QREACT_OPENAI_API_KEY"):
        check_openai_configured(Settings(cache_dir=tmp_path, openai_api_key=None, openai_base_url=None))
    check_openai_configured(Settings(cache_dir=tmp_path, openai_base_url="http://localhost:8000/v1"))


def test_cli_teacher_without_key_exits_cleanly(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import typer
    from typer.testing import CliRunner

    from app.cli_finetune import register
    from app.settings import get_settings

    for var in ("OPENAI_API_KEY", "QREACT_OPENAI_API_KEY", "QREACT_OPENAI_BASE_URL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("QREACT_CACHE_DIR", str(tmp_path))
    get_settings.cache_clear()
    app = typer.Typer()
    register(app)

    @app.callback()
    def main() -> None:  # a callback makes typer keep sub-commands even with one command
        pass

    qfile = tmp_path / "q.jsonl"
    qfile.write_text(json.dumps(QUESTIONS[0]) + "\n")
    try:
        result = CliRunner().invoke(
            app, ["data", "teacher", "--questions", str(qfile), "--out", str(tmp_path / "o")]
        )
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 2
    assert "QREACT_OPENAI_API_KEY" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "o").exists()
