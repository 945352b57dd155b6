"""bench.grounding_attributes: the attribute step replayed over recorded run folders, and rule G7 on the counts."""

from __future__ import annotations

import json
from pathlib import Path

from bench.grounding_attributes import main, rule_g7
from bench.grounding_documents import parse_runs

BAKERY = (
    "Harbor Street Bakery: # Harbor Street Bakery A sourdough loaf costs 6 dollars and a croissant costs 3 dollars."
)


def row(rid: str, question: str, answer: str, answerable: bool, correct: bool) -> dict:
    trace = [
        {"kind": "tool", "log": " Look.\nAction: Search\nAction Input: Harbor Street Bakery", "observation": BAKERY},
        {"kind": "final", "log": f"I now know the final answer\nFinal Answer: {answer}", "observation": None},
    ]
    return {"id": rid, "question": question, "final_answer": answer, "answerable": answerable, "correct": correct,
            "status": "answered", "trace": trace}  # fmt: skip


def write(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_counts_side_by_side_and_the_probe_counts_only(tmp_path: Path, capsys) -> None:
    right = row("d1", "How much does a croissant cost at Harbor Street Bakery?", "It costs 3 dollars.", True, True)
    near = row("d2", "How much does a cappuccino cost at Harbor Street Bakery?", "A cappuccino costs 6 dollars.",
               False, False)  # fmt: skip
    for name in ("v8", "v2b"):
        (tmp_path / name).mkdir()
        write(tmp_path / name / "documents.jsonl", [right, near])
        write(tmp_path / name / "documents_probe.jsonl", [near])
    runs = parse_runs([f"v8={tmp_path / 'v8'}", f"v2b={tmp_path / 'v2b'}"], tmp_path)
    out = main(runs, probe=True, json_out=tmp_path / "g7.json")
    docs = out["v8"]["sets"]["documents"]
    assert (docs["right"], docs["flagged"], docs["wrong"], docs["caught"], docs["unflagged"]) == (1, 0, 1, 1, 0)
    assert docs["system_before"]["abstained"] == 0 and docs["system_after"]["abstained"] == 1
    assert out["v8"]["rule_g7"] == {"flagged": 0, "caught": 1, "holds": False}  # 1 caught < 5 (the probe not counted)
    assert out["v8"]["sets"]["documents_probe"]["caught"] == 1
    printed = capsys.readouterr().out
    assert "| documents | 1 / 0 | 1 / 1 | 1 / 0 | 1 / 1 |" in printed
    assert "held-out documents_probe, v2b: right answers newly flagged 0 of 0, wrong/unanswerable answers newly " \
        "caught 1 of 1" in printed  # fmt: skip
    assert printed.count("cappuccino costs") == 2  # the development rows listed, the probe row not
    assert json.loads((tmp_path / "g7.json").read_text())["v2b"]["rule_g7"]["caught"] == 1


def test_rule_g7() -> None:
    def c(flagged: int, caught: int) -> dict:
        return {"flagged": flagged, "caught": caught}

    assert rule_g7({"documents": c(1, 3), "documents_extra": c(0, 2)})["holds"]
    assert not rule_g7({"documents": c(2, 9)})["holds"]
    assert not rule_g7({"documents": c(0, 4)})["holds"]
