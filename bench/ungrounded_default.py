"""What the grounding check's ``ungrounded`` verdicts were, over recorded eval runs (rule U of session 6).

    .venv/bin/python -m bench.ungrounded_default --run v2b=~/.cache/qreact/s6-eval/v2b [--run v8=DIR ...]

Reads each ``DIR/<set>.jsonl`` written by ``bench.adapter_evals`` (recorded with ``QREACT_UNGROUNDED=keep``, so
the verdict is visible as the status) and prints, per set: the runs that ended ``ungrounded``, how many of them
were answerable and scored right (what ``not_found`` in place of ``keep`` would have hidden), how many were
wrong answers and how many unanswerable. Offline, no model. The decision it fed: QREACT_UNGROUNDED=auto
(``not_found`` on the local backend), bench/results/ungrounded_default.md.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from bench.grounding_replay import replay

SETS = ("test", "heldout40", "korean", "documents", "documents_extra", "documents_probe", "unanswerable")


def tally(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Counts of one set: right answers, ungrounded runs and what they were."""
    answerable = [r for r in rows if r.get("answerable", True) is not False]
    right = [r for r in answerable if r.get("correct") and r["status"] in ("answered", "ungrounded")]
    ungrounded = [r for r in rows if r["status"] == "ungrounded"]
    right_ungrounded = [r for r in ungrounded if r.get("answerable", True) is not False and r.get("correct")]
    return {
        "rows": len(rows),
        "right answerable": len(right),
        "ungrounded": len(ungrounded),
        "ungrounded, answerable and right": len(right_ungrounded),
        "ungrounded, answerable and wrong": sum(
            r.get("answerable", True) is not False and not r.get("correct") for r in ungrounded
        ),
        "ungrounded, unanswerable": sum(r.get("answerable", True) is False for r in ungrounded),
        "examples": [(r["id"], r["question"], r.get("final_answer")) for r in right_ungrounded],
    }


def shipped(rows: list[dict[str, Any]]) -> dict[str, int]:
    """The statuses the shipped settings give each trace: the check replayed with its document step on
    (QREACT_GROUNDING_DOCUMENTS=true), then ``ungrounded`` -> ``not_found`` (QREACT_UNGROUNDED=auto, local)."""
    out = {"answerable": 0, "right": 0, "false abstention": 0, "unanswerable": 0, "abstained": 0, "confident-wrong": 0}
    for row in rows:
        r = replay(row, documents=True)
        status = "not_found" if r["status"] == "ungrounded" else r["status"]
        if row.get("answerable", True) is not False:
            out["answerable"] += 1
            out["right"] += status == "answered" and bool(r["correct"])
            out["false abstention"] += status == "not_found"
            out["confident-wrong"] += status == "answered" and not r["correct"]
        else:
            out["unanswerable"] += 1
            out["abstained"] += status == "not_found"
            out["confident-wrong"] += status == "answered"
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", action="append", required=True, help="NAME=DIR of recorded eval runs")
    args = parser.parse_args(argv)
    keys = ("rows", "right answerable", "ungrounded", "ungrounded, answerable and right",
            "ungrounded, answerable and wrong", "ungrounded, unanswerable")  # fmt: skip
    print("| adapter | set | " + " | ".join(keys) + " |")
    print("|---|---|" + "---|" * len(keys))
    for spec in args.run:
        name, _, folder = spec.partition("=")
        total = dict.fromkeys(keys, 0)
        examples = []
        for s in SETS:
            path = Path(folder).expanduser() / f"{s}.jsonl"
            if not path.exists():
                continue
            rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
            t = tally(rows)
            examples += t["examples"]
            for k in keys:
                total[k] += t[k]
            print(f"| {name} | {s} | " + " | ".join(str(t[k]) for k in keys) + " |")
        print(f"| **{name}** | **all** | " + " | ".join(f"**{total[k]}**" for k in keys) + " |")
        for id_, question, answer in examples:
            print(f"\n{name} right but ungrounded: {id_}: {question!r} -> {answer!r}")
    print("\nThe shipped settings (document step on, ungrounded -> not_found), replayed:\n")
    cols = ("answerable", "right", "false abstention", "unanswerable", "abstained", "confident-wrong")
    print("| adapter | set | " + " | ".join(cols) + " |")
    print("|---|---|" + "---|" * len(cols))
    for spec in args.run:
        name, _, folder = spec.partition("=")
        for s in SETS:
            path = Path(folder).expanduser() / f"{s}.jsonl"
            if path.exists():
                rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
                t = shipped(rows)
                print(f"| {name} | {s} | " + " | ".join(str(t[c]) for c in cols) + " |")


if __name__ == "__main__":
    main()
