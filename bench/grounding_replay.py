"""Replay the loop's end-of-run rules (grounding check, nothing-useful stop) over recorded eval traces.

    .venv/bin/python -m bench.grounding_replay runs/eval/baseline-test.results.jsonl [report.md]

The greedy local model writes the same steps whatever the checker says, so the status a run gets
today follows from a trace recorded before the check existed: the stop after searches that found
nothing (``AgentConfig.nothing_useful_limit`` 2, rule "total") cuts the trace where the loop would
cut it, and ``agent.grounding.check`` judges the final answer. Prints every answer the scorer calls
right that does not end ``answered`` (each would be a false verdict unless the answer holds a name or
number no observation has), and the truth metrics of ``finetune.evaluate``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from agent.grounding import Observation, check, is_useless_observation, read_documents
from agent.parser import ParsedAction, ReActParser
from agent.prompt import CALCULATOR_NAME
from finetune.evaluate import render_report, truth_metrics
from finetune.scoring import is_correct

LIMIT = 2  # AgentConfig.nothing_useful_limit's default


def replay(
    row: dict[str, Any],
    limit: int = LIMIT,
    documents: bool = False,
    operations: bool = True,
    attributes: bool = False,
    every_word: bool = False,
    read_counts: bool = False,
    read_roles: bool = False,
) -> dict[str, Any]:
    """The row with the status and grounding today's loop gives its trace (``limit`` 0: the stop off).

    When the stop cuts the trace, ``cut_steps`` is the number of model steps the loop runs; ``documents``:
    the document step of the check on; ``operations``: its computation step (on, as it ships); ``attributes``:
    its attribute step; ``every_word``: the document step's every-word reading (what the second look asks);
    ``read_counts``, ``read_roles``: the count reading (rule G16) and the role reading (G17) of a run that ends
    not-found or unsupported."""
    parser = ReActParser()
    observations: list[Observation] = []
    seen: set[str] = set()
    useless = 0
    for i, step in enumerate(row["trace"]):
        if step["kind"] != "tool":
            continue
        parsed = parser.parse(step["log"])
        assert isinstance(parsed, ParsedAction)
        observations.append(Observation(i, parsed.tool, parsed.tool_input, step["observation"] or ""))
        if parsed.tool == CALCULATOR_NAME:
            continue
        call = f"{parsed.tool}\n{' '.join(parsed.tool_input.lower().split())}"
        useless += is_useless_observation(step["observation"]) or call in seen
        seen.add(call)
        if limit and useless >= limit:
            grounding = {"supported": True, "unsupported": [], "evidence": [], "not_found": True}
            return {**row, "status": "not_found", "correct": False, "grounding": grounding, "cut_steps": i + 1}
    if row["final_answer"] is None:
        return {**row, "grounding": {"supported": False, "unsupported": [], "evidence": [], "not_found": False}}
    g = check(
        row["question"], row["final_answer"], observations, documents=documents, operations=operations,
        attributes=attributes, every_word=every_word,
    )  # fmt: skip
    status = "not_found" if g.not_found else "answered" if g.supported else "ungrounded"
    reading = read_documents(row["question"], observations, read_counts, read_roles) if status != "answered" else None
    if reading is not None:
        read = check(row["question"], reading.answer, observations, documents=documents, operations=operations,
                     attributes=attributes, every_word=True)  # fmt: skip
        if read.supported and not read.not_found:
            answerable = row.get("answerable", True) is not False
            right = answerable and is_correct(reading.answer, row["gold"], row.get("rel_tol"))
            grounding = read.model_dump() | {"read_from_documents": True}
            return {**row, "status": "answered", "final_answer": reading.answer, "correct": right,
                    "grounding": grounding}  # fmt: skip
    return {**row, "status": status, "correct": bool(row["correct"]) and status != "not_found",
            "grounding": g.model_dump()}  # fmt: skip


def main(path: Path, report: Path | None = None) -> None:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    replayed = [replay(r) for r in rows]
    for before, after in zip(rows, replayed, strict=True):
        if before["correct"] and after["status"] != "answered":
            why = after["grounding"]["unsupported"]
            print(f"right but {after['status']}: {after['question']} -> {after['final_answer']}  unsupported={why}")
    print(json.dumps(truth_metrics(replayed), indent=1))
    if report is not None:
        labels = list(dict.fromkeys(r["config"] for r in replayed))
        report.write_text(render_report(replayed, labels, title=f"Replayed with grounding: {path.name}"))


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]) if len(sys.argv) > 2 else None)
