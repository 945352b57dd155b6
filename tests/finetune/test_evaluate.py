"""Eval harness on a scripted fake chat model: scores, report numbers, resume, adapters on one model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from langchain_core.language_models import FakeListChatModel
from langchain_core.tools import BaseTool, tool

from agent.loop import ReActAgent
from agent.tools import build_tools
from app.settings import Settings
from app.wiring import agent_maker
from finetune.evaluate import (
    Target,
    build_targets,
    eval_command,
    percentile,
    render_report,
    run_eval,
    summarize,
)
from finetune.teacher import load_questions

QUESTIONS = [
    {"id": "q1", "question": "What is 2 + 2?", "answer": 4, "kind": "arithmetic"},
    {"id": "q2", "question": "What is 3 * 3?", "answer": "9", "kind": "arithmetic", "rel_tol": 0.0},
    {"id": "q3", "question": "What is the capital of Japan?", "answer": "Tokyo", "kind": "capital"},
]
# q1: right in 2 steps; q2: wrong in 2 steps; q3: one malformed step, then right (2 steps, 1 format error)
SCRIPT = [
    " I need to calculate 2 + 2.\nAction: Calculator\nAction Input: 2 + 2",
    "I now know the final answer\nFinal Answer: The answer is 4.",
    " I need to calculate 3 * 3.\nAction: Calculator\nAction Input: 3 * 3",
    "I now know the final answer\nFinal Answer: The answer is 8.",
    " I think it is Tokyo",
    "I now know the final answer\nFinal Answer: The capital of Japan is Tokyo.",
]


@tool("Search")
def fake_search(query: str) -> str:
    """Useful for web search."""
    return "Japan: capital Tokyo."


def _tools() -> list[BaseTool]:
    return [fake_search, build_tools(search="local")[1]]


def _write_questions(path: Path) -> Path:
    path.write_text("".join(json.dumps(q) + "\n" for q in QUESTIONS), encoding="utf-8")
    return path


class ExplodingChatModel(FakeListChatModel):
    def _call(self, *args: Any, **kwargs: Any) -> str:
        raise AssertionError("a resumed eval must not call the model for done questions")


def test_scores_and_report_numbers(tmp_path: Path) -> None:
    agent = ReActAgent(FakeListChatModel(responses=SCRIPT), _tools())
    rows = run_eval(QUESTIONS, [Target("fake", agent)], tmp_path / "r.jsonl", progress=False)
    assert [r["correct"] for r in rows] == [True, False, True]
    assert [r["steps"] for r in rows] == [2, 2, 2]
    assert [r["format_errors"] for r in rows] == [0, 0, 1]
    assert rows[1]["final_answer"] == "The answer is 8."
    s = summarize(rows)
    assert s["accuracy"] == pytest.approx(2 / 3)
    assert s["by_kind"] == {"arithmetic": (0.5, 2), "capital": (1.0, 1)}
    assert s["format_valid_rate"] == pytest.approx(5 / 6)
    assert s["mean_steps"] == pytest.approx(2.0)
    report = render_report(rows, ["fake"])
    assert "| accuracy | 66.7% |" in report
    assert "| format-valid steps | 83.3% |" in report
    assert "| arithmetic | 50.0% (2) |" in report and "| capital | 100.0% (1) |" in report


def test_resume_skips_done_questions(tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"
    first = ReActAgent(FakeListChatModel(responses=SCRIPT[:4]), _tools())
    run_eval(QUESTIONS, [Target("fake", first)], out, limit=2, progress=False)
    assert len(out.read_text().splitlines()) == 2
    # the remaining question only: its script is the last two responses
    rest = ReActAgent(FakeListChatModel(responses=SCRIPT[4:]), _tools())
    rows = run_eval(QUESTIONS, [Target("fake", rest)], out, progress=False)
    assert [r["id"] for r in rows] == ["q1", "q2", "q3"] and rows[2]["correct"]
    # everything done: no model call at all
    again = run_eval(
        QUESTIONS,
        [Target("fake", ReActAgent(ExplodingChatModel(responses=["x"]), _tools()))],
        out,
        progress=False,
    )
    assert len(again) == 3 and len(out.read_text().splitlines()) == 3


def test_eval_command_writes_results_and_report(tmp_path: Path) -> None:
    questions = _write_questions(tmp_path / "q.jsonl")
    text = eval_command(
        questions,
        agent_maker(
            Settings(cache_dir=tmp_path / "cache", ungrounded="keep"),  # one right scripted answer is unsupported
            chat_models={"local": FakeListChatModel(responses=SCRIPT)},
            tools=_tools(),
        ),
        backends=["local"],
        out=tmp_path / "results.jsonl",
        report=tmp_path / "report.md",
        progress=False,
    )
    assert (tmp_path / "report.md").read_text() == text
    assert "| accuracy | 66.7% |" in text
    assert len((tmp_path / "results.jsonl").read_text().splitlines()) == 3


class AdapterModel(FakeListChatModel):
    """A fake with the LocalChatModel adapter API: records what was loaded and activated."""

    loaded: list[str] = []
    active: str | None = None

    def list_adapters(self) -> list[dict[str, Any]]:
        return [{"name": n} for n in self.loaded]

    def load_adapter(self, path: str | Path, name: str) -> None:
        self.loaded = [*self.loaded, name]

    def activate_adapter(self, name: str | None) -> None:
        self.active = name

    @property
    def active_adapter(self) -> str | None:
        return self.active


def test_adapters_share_one_model_side_by_side(tmp_path: Path) -> None:
    model = AdapterModel(responses=SCRIPT)
    make_agent = agent_maker(Settings(cache_dir=tmp_path), chat_models={"local": model}, tools=_tools())
    targets = build_targets(make_agent, ["local"], ["none", str(tmp_path / "my-adapter")])
    assert [t.label for t in targets] == ["local:none", f"local:{tmp_path / 'my-adapter'}"]
    assert model.loaded == ["my-adapter"]
    assert targets[0].agent is targets[1].agent
    targets[1].prepare()
    assert model.active == "my-adapter"
    targets[0].prepare()
    assert model.active is None
    rows = run_eval(QUESTIONS[:1], targets, tmp_path / "r.jsonl", progress=False)
    assert [(r["config"], r["correct"]) for r in rows] == [("local:none", True), (targets[1].label, False)]
    report = render_report(rows, [t.label for t in targets])
    assert "| accuracy | 100.0% | 0.0% |" in report


def test_load_questions_names_the_bad_line(tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    path.write_text('{"question": "a?", "answer": 1}\n{"question": "b?"}\n')
    with pytest.raises(ValueError, match=r"q.jsonl:2"):
        load_questions(path)


def test_percentile() -> None:
    assert percentile([], 95) == 0.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.0
    assert percentile(list(map(float, range(1, 101))), 95) == 95.0


def test_cli_eval_errors_are_messages(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import typer
    from typer.testing import CliRunner

    from app.cli_finetune import register
    from app.settings import get_settings

    questions = _write_questions(tmp_path / "q.jsonl")
    monkeypatch.setenv("QREACT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("QREACT_ADAPTER", str(tmp_path / "no-such-adapter"))
    get_settings.cache_clear()
    app = typer.Typer()
    register(app)
    try:
        bad_adapter = CliRunner().invoke(app, ["eval", "--questions", str(questions)])
        no_file = CliRunner().invoke(app, ["eval", "--questions", str(tmp_path / "missing.jsonl")])
    finally:
        get_settings.cache_clear()
    assert bad_adapter.exit_code == 1 and "no-such-adapter" in bad_adapter.output
    assert no_file.exit_code == 1 and "missing.jsonl" in no_file.output
    assert "Traceback" not in bad_adapter.output + no_file.output


def test_cli_eval_searches_a_corpus_it_indexes_first(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """``qreact eval --corpus DIR``: the folder is indexed (as ``qreact index`` does) and Search reads it."""
    import typer
    from typer.testing import CliRunner

    import app.wiring as wiring
    from app.cli_finetune import register
    from app.settings import get_settings
    from tests.model import ScriptedChatModel, action, final

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "velmora.md").write_text("# Velmora Logistics\n\nVelmora Logistics employs 1,240 people.\n")
    questions = tmp_path / "q.jsonl"
    line = {"id": "d1", "question": "How many employees does Velmora Logistics have?", "answer": 1240}
    questions.write_text(json.dumps(line) + "\n")
    script = [action("Search", "Velmora Logistics employees"), final("Velmora Logistics has 1,240 employees.")]
    monkeypatch.setattr(wiring, "build_chat_model", lambda settings: ScriptedChatModel(script=script))
    monkeypatch.setenv("QREACT_CACHE_DIR", str(tmp_path / "cache"))
    get_settings.cache_clear()
    app = typer.Typer()
    register(app)
    out = tmp_path / "results.jsonl"
    try:
        ok = CliRunner().invoke(app, ["eval", "--questions", str(questions), "--backend", "openai",
                                      "--corpus", str(corpus), "--out", str(out)])  # fmt: skip
        both = CliRunner().invoke(app, ["eval", "--questions", str(questions), "--corpus", str(corpus),
                                        "--index", str(tmp_path / "x.db")])  # fmt: skip
        missing = CliRunner().invoke(app, ["eval", "--questions", str(questions), "--index", str(tmp_path / "x.db")])
    finally:
        get_settings.cache_clear()
    assert ok.exit_code == 0, ok.output
    (row,) = [json.loads(line) for line in out.read_text().splitlines()]
    assert row["correct"] and "employs 1,240 people" in row["trace"][0]["observation"]
    assert both.exit_code == 2 and "not both" in both.output
    assert missing.exit_code == 1 and "does not exist" in missing.output and "Traceback" not in missing.output
