"""Replay the document step of the grounding check (``QREACT_GROUNDING_DOCUMENTS``) over recorded eval runs.

    .venv/bin/python -m bench.grounding_documents [CACHE]   # CACHE: ~/.cache/qreact by default

Offline, no model: each recorded trace is judged by ``bench.grounding_replay.replay`` (today's loop
rules) with the document step off and on. Per set and adapter it prints the answerable rows the scorer
calls right that the step newly flags (they leave ``answered``) and the unanswerable rows answered
confidently (``answered``) that it turns into non-answers (``ungrounded``), then the flagged rows.
Decision rule (the lead's, NOTES.md 22:12): on by default only if, over the v2b sets, it flags at most
1 % of the right answerable answers and at most 3 rows, and turns at least 25 % of the confident-wrong
answers on the 46 unanswerable document rows into non-answers.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from bench.grounding_replay import replay

SETS = ("documents", "documents_extra", "unanswerable", "test40", "test41-200", "heldout40", "korean")
RUNS = {  # adapter -> the directories holding its recorded runs (the first holding a set wins)
    "v2b": ("v4-eval/v2b", "v6b-eval/v2b"),
    "v4": ("v4-eval/v4",),
    "v6": ("v6-eval/v6", "v6b-eval/v6"),
}
DOC_SETS = ("documents", "documents_extra")


def load(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def compare(rows: list[dict[str, Any]]) -> dict[str, Any]:
    right = flagged = wrong = turned = 0
    examples: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
    for row in rows:
        if not row.get("trace"):
            continue
        before, after = replay(row, documents=False), replay(row, documents=True)
        answerable = row.get("answerable", True) is not False
        if answerable and before["status"] == "answered" and bool(row["correct"]):
            right += 1
            if after["status"] != "answered":
                flagged += 1
                examples.append(("BAD (right answer flagged)", row, after))
        if not answerable and before["status"] == "answered":
            wrong += 1
            if after["status"] != "answered":
                turned += 1
                examples.append(("good (wrong answer turned)", row, after))
        elif answerable and before["status"] == "answered" and not row["correct"] and after["status"] != "answered":
            examples.append(("wrong answerable answer flagged", row, after))
    return {"right": right, "flagged": flagged, "wrong": wrong, "turned": turned, "examples": examples}


def main(cache: Path) -> None:
    print("| adapter | set | right answerable answers | newly flagged | confident-wrong unanswerable | turned |")
    print("|---|---|---|---|---|---|")
    shown: list[str] = []
    for adapter, dirs in RUNS.items():
        tot = {"right": 0, "flagged": 0, "wrong": 0, "turned": 0}
        docs = {"wrong": 0, "turned": 0}
        for name in SETS:
            path = next((cache / d / f"{name}.jsonl" for d in dirs if (cache / d / f"{name}.jsonl").exists()), None)
            if path is None:
                continue
            c = compare(load(path))
            for k in tot:
                tot[k] += c[k]
            if name in DOC_SETS:
                docs["wrong"] += c["wrong"]
                docs["turned"] += c["turned"]
            print(f"| {adapter} | {name} | {c['right']} | {c['flagged']} | {c['wrong']} | {c['turned']} |")
            for label, row, after in c["examples"]:
                shown.append(
                    f"- {adapter} {name} {row['id']} {label}: Q {row['question']!r} -> A {row['final_answer']!r}; "
                    f"unsupported {after['grounding']['unsupported']}"
                )
        print(
            f"| {adapter} | **all** | {tot['right']} | {tot['flagged']} | {tot['wrong']} | {tot['turned']} |"
            f" (document sets: {docs['turned']}/{docs['wrong']} confident-wrong turned)"
        )
    print()
    print("\n".join(shown))


if __name__ == "__main__":
    main(Path(sys.argv[1]).expanduser() if len(sys.argv) > 1 else Path.home() / ".cache" / "qreact")
