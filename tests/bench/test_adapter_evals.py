"""bench.adapter_evals: the eval commands of every set, and the check that a recorded set can be replayed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.adapter_evals import ENV, SETS, check_rows, command, expected_rows, main


def test_every_set_runs_as_the_ship_decisions_ran_it(tmp_path: Path) -> None:
    docs = command(SETS["documents_extra"], "/a/v2b", tmp_path, python="py")
    assert docs[:8] == ["py", "-m", "app.cli", "eval", "--questions", "finetune/evalsets/documents_extra.jsonl",
                        "--adapter", "/a/v2b"]  # fmt: skip
    assert docs[8:12] == ["--corpus", "finetune/evalsets/corpus", "--max-results", "2"]
    assert docs[-4:] == [
        "--out",
        str(tmp_path / "documents_extra.jsonl"),
        "--report",
        str(tmp_path / "documents_extra.md"),
    ]
    assert "--limit" in command(SETS["heldout40"], "a", tmp_path) and expected_rows(SETS["heldout40"]) == 40
    assert command(SETS["unanswerable"], "a", tmp_path)[8:10] == ["--max-steps", "4"]
    assert expected_rows(SETS["test"]) == 200 and expected_rows(SETS["korean"]) == 36
    assert "--corpus" in command(SETS["documents_probe"], "a", tmp_path)
    assert ENV["QREACT_ENGINE"] == "llamacpp" and ENV["QREACT_GROUNDING_DOCUMENTS"] == "false"
    assert ENV["QREACT_GROUNDING_ATTRIBUTES"] == "false"  # the replay applies both; recorded rows stay comparable


def test_a_set_without_its_question_file_is_skipped(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = SETS["documents"].__class__("nothing", "finetune/evalsets/no-such-file.jsonl")
    assert expected_rows(missing) is None
    assert main(["--adapter", "default", "--out", str(tmp_path), "--sets", "korean", "--dry-run"]) == 0
    printed = capsys.readouterr().out
    assert "QREACT_ENGINE=llamacpp" in printed and "korean.jsonl" in printed and "--adapter" in printed


def test_check_rows_wants_every_row_with_its_trace(tmp_path: Path) -> None:
    path = tmp_path / "korean.jsonl"
    good = {"id": "k1", "question": "q", "final_answer": "a", "status": "answered", "answerable": True,
            "correct": True, "trace": [], "config": "local:x"}  # fmt: skip
    path.write_text(json.dumps(good) + "\n")
    assert check_rows(path, 1) == []
    assert check_rows(path, 2) == ["korean.jsonl: 1 rows, expected 2"]
    path.write_text(json.dumps({k: v for k, v in good.items() if k != "trace"}) + "\n")
    assert check_rows(path, 1) == ["korean.jsonl k1: no trace"]
    assert check_rows(tmp_path / "none.jsonl", 1) == ["none.jsonl: missing"]
    assert main(["--out", str(tmp_path), "--sets", "korean", "--check"]) == 1  # 1 row of 36


def test_head_type_serves_another_head_and_nothing_else_changes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--adapter", "default", "--out", str(tmp_path), "--sets", "korean", "--head-type", "q5_0",
                 "--dry-run"]) == 0  # fmt: skip
    printed = capsys.readouterr().out
    assert "QREACT_ENGINE_HEAD_TYPE=q5_0" in printed and "QREACT_ENGINE_HEAD_TYPE=q8_0" not in printed
    assert main(["--adapter", "default", "--out", str(tmp_path), "--sets", "korean", "--dry-run"]) == 0
    assert "QREACT_ENGINE_HEAD_TYPE=q8_0" in capsys.readouterr().out  # the recorded default is unchanged
    with pytest.raises(SystemExit):  # a head llama-quantize cannot write for Gemma's 640-wide rows
        main(["--adapter", "default", "--out", str(tmp_path), "--head-type", "q4_k", "--dry-run"])


def test_engine_bench_reports_a_head_variant_dev_set_answer_by_answer() -> None:
    from bench.engine import agreement, render_markdown

    recorded = json.loads((Path(__file__).resolve().parents[2] / "bench/results/engine_cpu.json").read_text())
    shipped = [{"id": "d1", "answer": "Canberra.", "correct": True}, {"id": "d2", "answer": "12", "correct": False}]
    variant = [{"id": "d1", "answer": "Canberra.", "correct": True}, {"id": "d2", "answer": "14", "correct": True}]
    dev = agreement(variant, shipped)
    assert (dev["same_answer"], dev["engine_correct"], dev["torch_correct"]) == (1, 2, 1)
    some = next(iter(recorded["ask"].values()))
    recorded["head_variants"] = {"q5_0": {
        "llama_bench": {"decode_tok_s": 80.0}, "engine": {"decode_tok_s": 75.0, "peak_rss_mb": 500.0},
        "ask": some, "answers": agreement(variant, shipped), "dev_answers": dev,
    }}  # fmt: skip
    text = render_markdown(recorded)
    assert "**Dev set, head q5_0 vs head q8_0:** 1 of 2 answers identical; correct: q5_0 2, q8_0 1." in text
    assert "| d2 | 14 | 12 |" in text


def test_set_adds_a_recorded_setting_and_refuses_anything_else(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--adapter", "default", "--out", str(tmp_path), "--sets", "korean", "--set", "QREACT_SECOND_LOOK=on",
                 "--dry-run"]) == 0  # fmt: skip
    assert "QREACT_SECOND_LOOK=on" in capsys.readouterr().out
    for bad in ("SECOND_LOOK=on", "QREACT_SECOND_LOOK"):  # not a QREACT_ setting / no value
        with pytest.raises(SystemExit):
            main(["--adapter", "default", "--out", str(tmp_path), "--set", bad, "--dry-run"])
