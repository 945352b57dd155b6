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

from bench.grounding_documents import as_not_found, is_answerable, system
from bench.grounding_replay import replay

SETS = ("test", "heldout40", "korean", "documents", "documents_extra", "documents_probe", "unanswerable")


def tally(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Counts of one set as recorded (``bench.grounding_documents.system``): right answers, ungrounded runs."""
    s = system(rows)
    right_ungrounded = [r for r in rows if r["status"] == "ungrounded" and is_answerable(r) and r.get("correct")]
    return {
        "rows": s["n"],
        "right answerable": s["answerable_right"] + s["ungrounded_answerable_right"],
        "ungrounded": s["ungrounded_answerable"] + s["ungrounded_unanswerable"],
        "ungrounded, answerable and right": s["ungrounded_answerable_right"],
        "ungrounded, answerable and wrong": s["ungrounded_answerable"] - s["ungrounded_answerable_right"],
        "ungrounded, unanswerable": s["ungrounded_unanswerable"],
        "examples": [(r["id"], r["question"], r.get("final_answer")) for r in right_ungrounded],
    }


def shipped(rows: list[dict[str, Any]]) -> dict[str, int]:
    """The statuses the shipped settings give each trace: the check replayed with its document and attribute steps
    on (QREACT_GROUNDING_DOCUMENTS=true, QREACT_GROUNDING_ATTRIBUTES=true), then ``ungrounded`` -> ``not_found``
    (QREACT_UNGROUNDED=auto, local)."""
    s = system([as_not_found(replay(row, documents=True, attributes=True)) for row in rows])
    return {
        "answerable": s["answerable"],
        "right": s["answerable_right"],
        "false abstention": s["false_abstention"],
        "unanswerable": s["unanswerable"],
        "abstained": s["abstained"],
        "confident-wrong": s["confident_wrong"],
    }


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
    print("\nThe shipped settings (document and attribute steps on, ungrounded -> not_found), replayed:\n")
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
