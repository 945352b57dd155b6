"""bench.grounding_documents: the document step replayed over recorded run folders, and rule G on the counts."""

from __future__ import annotations

import json
from pathlib import Path

from bench.grounding_documents import main, parse_runs, rule_g

ZOO = "Brookfield Zoo: # Brookfield Zoo Brookfield Zoo opened in 1934. It is home to 1,900 animals."


def row(rid: str, question: str, answer: str, answerable: bool, correct: bool) -> dict:
    trace = [
        {"kind": "tool", "log": " Look.\nAction: Search\nAction Input: Brookfield Zoo", "observation": ZOO},
        {"kind": "final", "log": f"I now know the final answer\nFinal Answer: {answer}", "observation": None},
    ]
    return {"id": rid, "question": question, "final_answer": answer, "answerable": answerable, "correct": correct,
            "status": "answered", "trace": trace}  # fmt: skip


def write(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_counts_per_set_and_rule_g(tmp_path: Path) -> None:
    run = tmp_path / "v2b"
    run.mkdir()
    right = row("d1", "How many animals live at Brookfield Zoo?", "1,900 animals.", True, True)
    near_miss = row("d2", "How many visitors does Brookfield Zoo get each year?", "1,900 visitors.", False, False)
    write(run / "documents.jsonl", [right, near_miss])
    write(run / "documents_probe.jsonl", [right])
    out = main(parse_runs([f"v2b={run}"], tmp_path), tmp_path / "counts.json")["v2b"]
    docs = out["sets"]["documents"]
    assert (docs["right"], docs["flagged"], docs["wrong"], docs["turned"], docs["mismatch"]) == (1, 0, 1, 1, 0)
    assert docs["system_off"]["confident_wrong"] == 1 and docs["system_on"]["confident_wrong"] == 0
    assert docs["system_on"]["abstained_or_ungrounded"] == 1 and docs["system_on"]["abstained"] == 0
    assert docs["system_on"]["ungrounded_unanswerable"] == 1 and docs["system_on"]["right_outcomes"] == 1
    nf = docs["system_on_not_found"]  # QREACT_UNGROUNDED=not_found: the turned row abstains
    assert (nf["abstained"], nf["right_outcomes"], nf["ungrounded_unanswerable"]) == (1, 2, 0)
    assert out["system_totals"]["system_on"]["answerable_right"] == 2  # documents + probe
    assert out["rule_g"]["holds"] and out["rule_g"]["G3"] == {"turned": 1, "confident_wrong": 1, "holds": True}
    assert json.loads((tmp_path / "counts.json").read_text())["v2b"]["rule_g"]["holds"]


def test_rule_g_fails_on_each_of_its_parts() -> None:
    def c(right: int = 0, flagged: int = 0, wrong: int = 0, turned: int = 0) -> dict:
        return {"right": right, "flagged": flagged, "wrong": wrong, "turned": turned}

    ok = {"test": c(right=400), "documents": c(wrong=8, turned=2), "documents_probe": c(right=10, flagged=1)}
    assert rule_g(ok)["holds"]
    assert not rule_g({**ok, "test": c(right=400, flagged=4)})["G1"]["holds"]  # 5 rows > 3
    assert not rule_g({**ok, "test": c(right=100, flagged=1)})["G1"]["holds"]  # 2 of 110 > 1 %
    assert not rule_g({**ok, "documents_probe": c(right=10, flagged=2)})["G2"]["holds"]
    assert not rule_g({**ok, "documents": c(wrong=9, turned=2)})["G3"]["holds"]  # 2 of 9 < 25 %
    no_probe = rule_g({k: v for k, v in ok.items() if k != "documents_probe"})
    assert no_probe["G2"]["holds"] is None and not no_probe["holds"]
