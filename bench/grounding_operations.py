"""Replay the computation step of the grounding check (``agent.grounding.operations``) over recorded eval runs.

    .venv/bin/python -m bench.grounding_operations --run v8=bench/results/s6-eval/v8 [--run ...] [--glob '*.jsonl']

Offline, no model: each recorded trace (``bench.adapter_evals`` rows) is judged by ``bench.grounding_replay``
with the document step on (the shipped setting) and the computation step off, then on. Per set it prints the
right answers the step newly flags and the wrong answers it newly flags, then every flagged row. Rule C
(NOTES.md, session 6) and its outcome: bench/results/grounding_operations.md.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from bench.grounding_replay import replay


def judged(row: dict[str, Any], operations: bool) -> dict[str, Any]:
    """The replayed row with the computation step on or off (document step on)."""
    return replay(row, documents=True, operations=operations)


def compare(rows: list[dict[str, Any]]) -> dict[str, Any]:
    right = right_flagged = wrong_flagged = 0
    flagged: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
    for row in rows:
        if not row.get("trace"):
            continue
        before, after = judged(row, False), judged(row, True)
        if before["status"] != "answered":
            continue
        good = row.get("answerable", True) is not False and bool(before["correct"])
        right += good
        if after["status"] != "answered":
            right_flagged += good
            wrong_flagged += not good
            flagged.append(("RIGHT answer flagged" if good else "wrong answer flagged", row, after))
    return {"right": right, "right_flagged": right_flagged, "wrong_flagged": wrong_flagged, "flagged": flagged}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", action="append", required=True, help="NAME=DIR of recorded eval runs")
    parser.add_argument("--glob", default="*.jsonl", help="which files of DIR (default: all .jsonl)")
    args = parser.parse_args(argv)
    print("| adapter | set | right answers (step off) | right flagged | wrong answers flagged |")
    print("|---|---|---|---|---|")
    examples = []
    for spec in args.run:
        name, _, folder = spec.partition("=")
        total = {"right": 0, "right_flagged": 0, "wrong_flagged": 0}
        for path in sorted(Path(folder).expanduser().glob(args.glob)):
            rows = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]
            if not rows or "trace" not in rows[0]:
                continue
            c = compare(rows)
            for k in total:
                total[k] += c[k]
            examples += [(name, path.stem, *f) for f in c["flagged"]]
            print(f"| {name} | {path.stem} | {c['right']} | {c['right_flagged']} | {c['wrong_flagged']} |")
        print(f"| **{name}** | **all** | {total['right']} | {total['right_flagged']} | {total['wrong_flagged']} |")
    for name, set_name, label, row, after in examples:
        calls = [s.get("tool_input") for s in row["trace"] if s.get("tool") == "Calculator"]
        print(f"\n- {label}: {name}/{set_name} {row['id']}: {row['question']!r} -> {row['final_answer']!r} "
              f"(Calculator {calls}; gold {row.get('gold')!r}) — {after['grounding']['unsupported']}")  # fmt: skip


if __name__ == "__main__":
    main()
