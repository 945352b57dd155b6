"""Failing rows of recorded eval folders grouped by cause, after the document step replayed ON (the system as it
would ship). Heuristics over the trace; counts per set and up to 2 examples per cause.

    PYTHONPATH=. .venv/bin/python docs/v8-candidate/eval/causes.py ~/.cache/qreact/s6-eval/v8 [--off]
"""

from __future__ import annotations

import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from bench.grounding_documents import load
from bench.grounding_replay import replay

SETS = ("test", "heldout40", "korean", "documents", "documents_extra", "unanswerable", "documents_probe")


def cause(r: dict[str, Any]) -> str | None:
    tools = [s for s in r["trace"] if s["kind"] == "tool"]
    calcs = [s for s in tools if s["tool"] == "Calculator"]
    answerable = r.get("answerable", True) is not False
    status = r["status"]
    if not answerable:
        if status != "answered":
            return None
        if tools and all(not (s["observation"] or "").strip() or "no result" in (s["observation"] or "").lower()
                         for s in tools if s["tool"] == "Search"):  # fmt: skip
            return "unanswerable: search found nothing, answered anyway"
        return "unanswerable: answered with a neighbouring fact (not caught by the check)"
    if status == "answered" and r["correct"]:
        return None
    if status == "not_found":
        return "false not-found (the fact was findable)"
    if status == "ungrounded":
        return "answer marked unsupported by the check" + (" (a RIGHT answer)" if r["correct"] else " (wrong anyway)")
    if status != "answered":
        return f"no answer ({status})"
    kind = r.get("kind") or ""
    if kind.startswith("doc") and kind not in ("doc_copy", "doc_compare") and not calcs and "compute" in kind:
        return "document computation without the Calculator"
    if calcs:
        return "wrong computation (operands / operator)"
    return "wrong value read or copied"


def main(argv: list[str]) -> None:
    documents = "--off" not in argv
    folders = [Path(a).expanduser() for a in argv if not a.startswith("--")]
    for folder in folders:
        by: dict[str, Counter[str]] = defaultdict(Counter)
        ex: dict[str, list[str]] = defaultdict(list)
        for name in SETS:
            for row in load(folder / f"{name}.jsonl"):
                r = replay(row, documents=documents)
                c = cause(r)
                if c is None:
                    continue
                by[c][name] += 1
                if len(ex[c]) < 2:
                    ex[c].append(f"{r['id']}: {r['question']!r} -> {r['final_answer']!r}")
        total = sum(sum(v.values()) for v in by.values())
        print(f"# {folder.name}: {total} failing rows (document step {'ON' if documents else 'off'})\n")
        for c, per in sorted(by.items(), key=lambda kv: -sum(kv[1].values())):
            sets = ", ".join(f"{s} {n}" for s, n in per.most_common())
            print(f"- **{c}: {sum(per.values())}** ({sets})")
            for e in ex[c]:
                print(f"  - {e}")
        print()


if __name__ == "__main__":
    main(sys.argv[1:])
