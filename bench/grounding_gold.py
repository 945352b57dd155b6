"""Run the grounding check over gold trajectories: every false verdict on a right answer, by kind.

    .venv/bin/python -m bench.grounding_gold ~/.cache/qreact/v2-run/train.jsonl [more.jsonl ...]

A gold row (``finetune.generators``, ``agent.trajectory.Trajectory.to_row``) holds the steps a correct
run takes and a final answer read from their observations, so every answerable row should be
``supported`` and every ``"answerable": false`` row ``not_found``: anything else is a false verdict
of the checker, printed with its unsupported spans and the step observations.
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

from agent.grounding import Observation, check


def false_verdicts(rows: list[dict[str, Any]]) -> dict[str, list[tuple[dict[str, Any], list[str]]]]:
    """Rows the check gets wrong, by kind, with the spans it called unsupported."""
    wrong: dict[str, list[tuple[dict[str, Any], list[str]]]] = defaultdict(list)
    for row in rows:
        steps = row.get("steps") or []
        obs = [Observation(i, s["tool"], s["tool_input"], s["observation"]) for i, s in enumerate(steps)]
        g = check(row["question"], row["final_answer"], obs)
        answerable = row.get("answerable", True) is not False
        if (answerable and (not g.supported or g.not_found)) or (not answerable and not g.not_found):
            wrong[row.get("kind", "?")].append((row, g.unsupported))
    return wrong


def main(paths: list[Path]) -> int:
    total = 0
    for path in paths:
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        rows = [r for r in rows if "steps" in r and "final_answer" in r]
        wrong = false_verdicts(rows)
        n = sum(len(v) for v in wrong.values())
        answerable = sum(r.get("answerable", True) is not False for r in rows)
        print(f"{path}: {len(rows)} gold rows ({answerable} answerable), {n} false verdicts")
        for kind, items in sorted(wrong.items(), key=lambda kv: -len(kv[1])):
            print(f"  {len(items):4d} {kind}")
            for row, spans in items:
                print(f"       Q: {row['question']}\n       A: {row['final_answer']}  unsupported={spans}")
        total += n
    return 1 if total else 0


if __name__ == "__main__":
    sys.exit(main([Path(p) for p in sys.argv[1:]]))
