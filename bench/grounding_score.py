"""Score `qreact eval` results for issue 12: how much the grounding check costs and what it catches.

    .venv/bin/python -m bench.grounding_score runs/eval/test.results.jsonl runs/eval/unans.results.jsonl \\
        [--recheck] [--report report.md]

Reads the results files ``qreact eval --out`` writes (any sets, any adapters: rows are grouped by file
and ``config``) and prints, per group:

- answerable rows: accuracy scored on the text (``correct``, whatever the status) against *answered and
  right* (status ``answered`` and right) — the gap is what the check costs — and every answer that is
  right by the scorer but not ``answered``, with its ``grounding.unsupported`` spans. Each span is also
  looked up in *all* the run's observations with no field or topic rule (numbers to their precision,
  names as normalised words): a span no observation holds makes the ``ungrounded`` verdict true by
  definition (the scorer only checks that the gold is present: "Pakistan borders ... and Somalia"); a
  span some observation does hold is a *suspect* false verdict, to read by hand;
- unanswerable rows (``"answerable": false``): statuses, abstention, confident-wrong (status
  ``answered``) with each such run's answer, ``grounding.unsupported`` and evidence steps, and every
  ``ungrounded`` run's unsupported spans (why it is not ``answered``);
- median model steps and latency.

``--recheck`` first gives each row the status and grounding today's checker and nothing-useful stop
give its recorded trace (``bench.grounding_replay.replay``): results recorded by another version of the
check are scored by this one, without rerunning the model.
"""

from __future__ import annotations

import argparse
import statistics
from collections import Counter
from pathlib import Path
from typing import Any

from agent.grounding import normalize, parse_numbers
from agent.grounding.numbers import evidence_values
from bench.grounding_replay import replay
from finetune.evaluate import read_results


def _pct(hits: int, n: int) -> str:
    return f"{100 * hits / n:.1f} % ({hits}/{n})" if n else "-"


def observations(row: dict[str, Any]) -> list[str]:
    return [s.get("observation") or "" for s in row.get("trace", []) if s["kind"] == "tool"]


def held_by_some_observation(span: str, texts: list[str]) -> bool:
    """Does any observation hold this span at all (no field or topic rule)?"""
    numbers = parse_numbers(span)
    if numbers:
        values = [v for t in texts for v in evidence_values(t)]
        return all(any(n.matches(v) for v in values) for n in numbers)
    words = normalize(span)
    return bool(words) and any(f" {words} " in f" {normalize(t)} " for t in texts)


def score(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The metrics above for one group of rows."""
    ans = [r for r in rows if r.get("answerable", True) is not False]
    unans = [r for r in rows if r.get("answerable", True) is False]
    right = [r for r in ans if r["correct"]]
    lost = []
    for r in right:
        if r["status"] == "answered":
            continue
        spans = (r.get("grounding") or {}).get("unsupported", [])
        held = [s for s in spans if held_by_some_observation(s, observations(r))]
        lost.append({**_brief(r), "suspect_spans": held, "verdict": "suspect" if held or not spans else "true"})
    confident = [r for r in unans if r["status"] == "answered"]
    steps = [r["steps"] for r in rows]
    return {
        "n": len(rows),
        "statuses": dict(sorted(Counter(str(r["status"]) for r in rows).items())),
        "answerable": len(ans),
        "text_right": len(right),
        "answered_right": sum(r["status"] == "answered" for r in right),
        "right_not_answered": lost,
        "false_verdict_suspects": sum(x["verdict"] == "suspect" for x in lost),
        "unanswerable": len(unans),
        "abstained": sum(r["status"] == "not_found" for r in unans),
        "ungrounded_unanswerable": [_brief(r) for r in unans if r["status"] == "ungrounded"],
        "confident_wrong": [_brief(r) for r in confident],
        "median_steps": statistics.median(steps) if steps else 0,
        "median_steps_answerable": statistics.median([r["steps"] for r in ans]) if ans else None,
        "median_steps_unanswerable": statistics.median([r["steps"] for r in unans]) if unans else None,
        "median_latency_s": statistics.median([r["latency_ms"] / 1000 for r in rows]) if rows else 0,
    }


def _brief(r: dict[str, Any]) -> dict[str, Any]:
    g = r.get("grounding") or {}
    return {
        "id": r.get("id"),
        "question": r["question"],
        "answer": r["final_answer"],
        "status": r["status"],
        "unsupported": g.get("unsupported", []),
        "evidence": g.get("evidence", []),
        "steps": r["steps"],
    }


def render(name: str, config: str, s: dict[str, Any]) -> str:
    out = [f"## `{name}` — {config}", ""]
    out.append(f"- runs: {s['n']}; statuses: " + ", ".join(f"{k} {v}" for k, v in s["statuses"].items()))
    steps = f"- median model steps: {s['median_steps']:g} (answerable {s['median_steps_answerable']}, "
    out.append(steps + f"unanswerable {s['median_steps_unanswerable']}); median latency {s['median_latency_s']:.1f} s")
    if s["answerable"]:
        n = s["answerable"]
        gap = 100 * (s["text_right"] - s["answered_right"]) / n
        out.append(f"- answerable accuracy scored on the text: {_pct(s['text_right'], n)}")
        out.append(f"- answered and right (status `answered`): {_pct(s['answered_right'], n)} — {gap:.1f} points under")
        out.append(
            f"- right by the scorer but not `answered`: {len(s['right_not_answered'])}, of which suspect "
            f"false verdicts (a span some observation holds): {s['false_verdict_suspects']}"
        )
        for x in s["right_not_answered"]:
            out.append(
                f"  - [{x['verdict']}] {x['status']}: {x['question']} → {x['answer']} "
                f"unsupported={x['unsupported']} held-somewhere={x['suspect_spans']}"
            )
    if s["unanswerable"]:
        n = s["unanswerable"]
        out.append(f"- unanswerable: abstained (`not_found`) {_pct(s['abstained'], n)}; "
                   f"ungrounded {_pct(len(s['ungrounded_unanswerable']), n)}; "
                   f"**confident-wrong (`answered`) {_pct(len(s['confident_wrong']), n)}**")  # fmt: skip
        for x in s["confident_wrong"]:
            out.append(f"  - answered: {x['question']} → {x['answer']} unsupported={x['unsupported']} "
                       f"evidence={x['evidence']}")  # fmt: skip
        for x in s["ungrounded_unanswerable"]:
            out.append(f"  - ungrounded: {x['question']} → {x['answer']} unsupported={x['unsupported']}")
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("results", type=Path, nargs="+", help="results JSONL files of `qreact eval --out`")
    parser.add_argument("--recheck", action="store_true", help="regrade the traces with today's check first")
    parser.add_argument("--report", type=Path, help="markdown file to write")
    args = parser.parse_args(argv)
    parts = ["# Grounding score" + (" (rechecked with today's check)" if args.recheck else ""), ""]
    for path in args.results:
        rows = read_results(path)
        if args.recheck:
            rows = [replay(r) for r in rows]
        for config in dict.fromkeys(r["config"] for r in rows):
            parts.append(render(path.name, config, score([r for r in rows if r["config"] == config])))
    text = "\n".join(parts)
    print(text)
    if args.report is not None:
        args.report.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
