"""Trust metrics of `qreact eval` results per adapter: answerable accuracy, abstention, confident-wrong.

    python bench/v2_report.py --results runs/v2-eval --questions finetune/evalsets

Reads every ``*.jsonl`` results file under ``--results`` (one per question set, as ``qreact eval --out``
writes them, several adapters per file) and the question files of the same stem under ``--questions``
(or the ``--extra`` files) for the ``answerable`` field. A row counts as abstained when its final
answer is the not-found form (``agent.grounding.is_not_found``). Per set and adapter it prints:

- answerable accuracy: right answers among answerable questions (an abstention is not right);
- false abstention: answerable questions answered with the not-found form;
- abstained: unanswerable questions answered with the not-found form (the only right outcome);
- confident-wrong: questions answered (not abstained) wrongly, unanswerable ones included;
- median steps (unanswerable), format-valid steps, median latency.
"""

from __future__ import annotations

import argparse
import json
import statistics
from collections import defaultdict
from pathlib import Path
from typing import Any

from agent.grounding import is_not_found

ALIASES = {
    "test60": "test",
    "heldout60": "heldout",
    "test40": "test",
    "heldout40": "heldout",
    "unanswerable": "unanswerable-40",
}


def _questions(stem: str, dirs: list[Path]) -> dict[str, dict[str, Any]]:
    for d in dirs:
        for name in (stem, ALIASES.get(stem, stem)):
            path = d / f"{name}.jsonl"
            if path.is_file():
                rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
                return {str(q.get("id")): q for q in rows}
    return {}


def _pct(n: int, d: int) -> str:
    return f"{100 * n / d:.0f} % ({n}/{d})" if d else "-"


def summarize(rows: list[dict[str, Any]], questions: dict[str, dict[str, Any]]) -> dict[str, str]:
    ans = [r for r in rows if questions.get(r["id"], {}).get("answerable", True) is not False]
    una = [r for r in rows if questions.get(r["id"], {}).get("answerable", True) is False]
    right = sum(1 for r in ans if r["correct"] and not is_not_found(r["final_answer"]))
    false_abst = sum(1 for r in ans if is_not_found(r["final_answer"]))
    abstained = sum(1 for r in una if is_not_found(r["final_answer"]))
    wrong = sum(1 for r in ans if not r["correct"] and r["final_answer"] and not is_not_found(r["final_answer"]))
    wrong += sum(1 for r in una if r["final_answer"] and not is_not_found(r["final_answer"]))
    steps = sum(r["steps"] for r in rows)
    return {
        "answerable accuracy": _pct(right, len(ans)),
        "false abstention": _pct(false_abst, len(ans)),
        "abstained (unanswerable)": _pct(abstained, len(una)),
        "confident-wrong": _pct(wrong, len(rows)),
        "median steps (unanswerable)": f"{statistics.median([r['steps'] for r in una]):g}" if una else "-",
        "format-valid steps": _pct(steps - sum(r["format_errors"] for r in rows), steps),
        "median latency s": f"{statistics.median([r['latency_ms'] for r in rows]) / 1000:.1f}" if rows else "-",
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--results", type=Path, required=True, help="folder of qreact eval results JSONL files")
    ap.add_argument("--questions", type=Path, nargs="+", default=[Path("finetune/evalsets")], help="question dirs")
    args = ap.parse_args(argv)
    lines = []
    for path in sorted(args.results.glob("*.jsonl")):
        by_config: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                by_config[row["config"]].append(row)
        questions = _questions(path.stem, args.questions)
        summaries = {c: summarize(rows, questions) for c, rows in by_config.items()}
        configs = list(summaries)
        lines.append(f"\n### {path.stem} ({len(next(iter(by_config.values()), []))} questions)\n")
        lines.append("| metric | " + " | ".join(configs) + " |")
        lines.append("|---|" + "---|" * len(configs))
        for metric in next(iter(summaries.values()), {}):
            lines.append(f"| {metric} | " + " | ".join(summaries[c][metric] for c in configs) + " |")
    print("\n".join(lines))  # noqa: T201 - a report script
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
