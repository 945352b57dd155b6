"""Gold trajectories: replay through the real tools, country-disjoint splits, seeds, held-out parts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from agent.parser import ParsedAction, ParsedFinish, ReActParser
from agent.prompt import build_scratchpad, render_prompt
from finetune.gold import (
    ACCEPTANCE_QUESTION,
    HELDOUT_KINDS,
    GoldConfig,
    ToolRunner,
    default_tools,
    generate_gold,
    training_text,
)
from finetune.scoring import is_correct

SMALL = GoldConfig(seed=0, train_scale=0.08, eval_scale=0.3)  # ~80 train, ~30 dev, ~60 test rows


def _read(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="module")
def gold(tmp_path_factory: pytest.TempPathFactory, cache_dir: Path) -> Path:
    out = tmp_path_factory.mktemp("gold")
    generate_gold(out, SMALL, evalsets=out / "evalsets", cache_dir=cache_dir)
    return out


def test_files_and_kinds(gold: Path) -> None:
    for split in ("train", "dev", "test"):
        rows = _read(gold / f"{split}.jsonl")
        assert rows, split
        assert {r["source"] for r in rows} == {"gold"}
        assert len({r["id"] for r in rows}) == len(rows)
    kinds = {r["kind"] for r in _read(gold / "test.jsonl")}
    assert {"capital", "population", "arithmetic", "density", "population_sum", "area_sum"} <= kinds
    questions = _read(gold / "evalsets" / "dev.jsonl")
    assert set(questions[0]) >= {"id", "question", "answer", "kind"}


def test_trajectories_replay_through_the_real_tools(gold: Path, cache_dir: Path) -> None:
    run = ToolRunner(default_tools(cache_dir))
    parser = ReActParser()
    for split in ("train", "dev", "test"):
        for row in _read(gold / f"{split}.jsonl"):
            assert row["prompt"] == render_prompt(row["question"])
            for step in row["steps"]:
                assert run(step["tool"], step["tool_input"]) == step["observation"], row["question"]
                parsed = parser.parse(step["log"])
                assert isinstance(parsed, ParsedAction)
                assert (parsed.tool, parsed.tool_input) == (step["tool"], step["tool_input"])
            final = parser.parse(row["final_log"])
            assert isinstance(final, ParsedFinish) and final.answer == row["final_answer"]
            assert is_correct(row["final_answer"], row["answer"], row.get("rel_tol")), row
            # the training text is exactly what the live loop's prompts would hold
            pad = build_scratchpad((s["log"], s["observation"]) for s in row["steps"])
            assert training_text(row) == render_prompt(row["question"], scratchpad=pad) + row["final_log"]


def test_splits_are_country_disjoint_and_hold_out_phrasings_and_kinds(gold: Path) -> None:
    splits = json.loads((gold / "splits.json").read_text())
    train, dev, test = (set(splits[s]) for s in ("train", "dev", "test"))
    assert not (train & dev or train & test or dev & test)
    assert "Japan" in train
    for split, allowed in (("train", train), ("dev", dev), ("test", test)):
        for row in _read(gold / f"{split}.jsonl"):
            assert set(row["meta"]["countries"]) <= allowed
    train_rows = _read(gold / "train.jsonl")
    assert not any(r["meta"]["heldout_phrasing"] or r["kind"] in HELDOUT_KINDS for r in train_rows)
    assert any(r["question"] == ACCEPTANCE_QUESTION for r in train_rows)
    test_rows = _read(gold / "test.jsonl")
    assert any(r["meta"]["heldout_phrasing"] for r in test_rows)
    assert any(r["kind"] in HELDOUT_KINDS for r in test_rows)


def test_seed_reproducible(gold: Path, cache_dir: Path, tmp_path: Path) -> None:
    generate_gold(tmp_path / "same", SMALL, cache_dir=cache_dir)
    generate_gold(
        tmp_path / "other", GoldConfig(seed=1, train_scale=0.08, eval_scale=0.3), cache_dir=cache_dir
    )
    for split in ("train", "dev", "test"):
        assert (tmp_path / "same" / f"{split}.jsonl").read_bytes() == (gold / f"{split}.jsonl").read_bytes()
    assert (tmp_path / "other" / "train.jsonl").read_bytes() != (gold / "train.jsonl").read_bytes()


def test_acceptance_question_is_a_density_phrasing() -> None:
    from finetune.gold import PHRASINGS

    assert PHRASINGS["density"][0].format(a="Japan") == ACCEPTANCE_QUESTION


def test_cli_data_gold(tmp_path: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import typer
    from typer.testing import CliRunner

    from app.cli_finetune import register
    from app.settings import get_settings

    monkeypatch.setenv("QREACT_CACHE_DIR", str(cache_dir))
    get_settings.cache_clear()
    app = typer.Typer()
    register(app)
    args = [
        "data",
        "gold",
        "--out",
        str(tmp_path / "g"),
        "--seed",
        "3",
        "--train-scale",
        "0.02",
        "--eval-scale",
        "0.1",
    ]
    try:
        result = CliRunner().invoke(app, args)
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert "train.jsonl" in result.output
    assert _read(tmp_path / "g" / "train.jsonl")


def test_shipped_evalsets_match_the_generator(tmp_path: Path, cache_dir: Path) -> None:
    """finetune/evalsets/*.jsonl are exactly what `--seed 0` produces (so they stay disjoint from train)."""
    shipped = Path(__file__).resolve().parents[2] / "finetune" / "evalsets"
    generate_gold(tmp_path / "g", GoldConfig(seed=0), evalsets=tmp_path / "e", cache_dir=cache_dir)
    for split, n in (("dev", 100), ("test", 200)):
        assert (tmp_path / "e" / f"{split}.jsonl").read_bytes() == (shipped / f"{split}.jsonl").read_bytes()
        assert len(_read(shipped / f"{split}.jsonl")) == n
    train_countries = set(json.loads((tmp_path / "g" / "splits.json").read_text())["train"])
    train_questions = {r["question"] for r in _read(tmp_path / "g" / "train.jsonl")}
    for split in ("dev", "test"):
        for row in _read(tmp_path / "g" / f"{split}.jsonl"):
            assert row["question"] not in train_questions
            assert not set(row["meta"]["countries"]) & train_countries
