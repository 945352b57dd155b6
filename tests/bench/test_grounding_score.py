"""bench.grounding_score: the issue-12 metrics of `qreact eval` results files."""

from __future__ import annotations

import json
from pathlib import Path

from bench.grounding_score import held_by_some_observation, main, score

JAPAN = "Japan: capital Tokyo; population 127,080,000; area 377,930 km2; borders none."


def row(question: str, answer: str, status: str, correct: bool, unsupported: list[str], *, answerable: bool = True,
        steps: int = 2) -> dict:  # fmt: skip
    trace = [{"kind": "tool", "log": "Action: Search\nAction Input: Japan", "observation": JAPAN},
             {"kind": "final", "log": f"Final Answer: {answer}", "observation": None}]  # fmt: skip
    return {"config": "local:default", "id": question, "question": question, "final_answer": answer,
            "status": status, "correct": correct, "answerable": answerable, "steps": steps, "latency_ms": 1500.0,
            "grounding": {"supported": not unsupported, "unsupported": unsupported, "evidence": [0]},
            "trace": trace}  # fmt: skip


def test_the_gap_and_each_right_answer_the_check_did_not_pass() -> None:
    rows = [
        row("What is the capital of Japan?", "Tokyo.", "answered", True, []),
        # right by the scorer, and no observation holds "Seoul": a true verdict
        row("What is the capital of Japan?", "Tokyo, not Seoul.", "ungrounded", True, ["Seoul"]),
        # right by the scorer, and the record does hold the span: a suspect false verdict
        row("How many people live in Tokyo?", "127,080,000 people.", "ungrounded", True, ["127,080,000"]),
        row("What is the area of Japan?", "1,000 km2.", "ungrounded", False, ["1,000"], steps=4),
    ]
    s = score(rows)
    assert (s["answerable"], s["text_right"], s["answered_right"]) == (4, 3, 1)
    assert [(x["answer"], x["verdict"]) for x in s["right_not_answered"]] == [
        ("Tokyo, not Seoul.", "true"),
        ("127,080,000 people.", "suspect"),
    ]
    assert s["false_verdict_suspects"] == 1
    assert s["median_steps"] == 2


def test_unanswerable_rows_confident_wrong_and_why_the_others_are_not() -> None:
    rows = [
        row("Who is the emperor of Japan?", "I could not find it.", "not_found", True, [], answerable=False),
        row("Who is the emperor of Japan?", "Tokyo.", "answered", False, [], answerable=False),
        row("Who is the emperor of Japan?", "Naruhito.", "ungrounded", False, ["Naruhito"], answerable=False),
    ]
    s = score(rows)
    assert (s["unanswerable"], s["abstained"]) == (3, 1)
    assert [x["answer"] for x in s["confident_wrong"]] == ["Tokyo."]
    assert [x["unsupported"] for x in s["ungrounded_unanswerable"]] == [["Naruhito"]]


def test_spans_are_looked_up_in_every_observation_without_field_rules() -> None:
    assert held_by_some_observation("127 million", [JAPAN])
    assert held_by_some_observation("Tokyo", [JAPAN])
    assert not held_by_some_observation("Kyoto", [JAPAN])
    assert not held_by_some_observation("128,000,000", [JAPAN])


def test_main_writes_a_report_per_file_and_config(tmp_path: Path, capsys) -> None:
    results = tmp_path / "test.results.jsonl"
    lines = [row("What is the capital of Japan?", "Tokyo.", "answered", True, [])]
    results.write_text("\n".join(json.dumps(r) for r in lines) + "\n{torn", encoding="utf-8")
    report = tmp_path / "score.md"
    assert main([str(results), "--recheck", "--report", str(report)]) == 0
    text = report.read_text(encoding="utf-8")
    assert "## `test.results.jsonl` — local:default" in text
    assert "answered and right (status `answered`): 100.0 % (1/1)" in text
    assert text in capsys.readouterr().out
