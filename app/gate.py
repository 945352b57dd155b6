"""The eval gate's scoring process: the serving adapter and a candidate on the same questions.

    python -m app.gate evaluate --candidate ~/.cache/qreact/adapters/job-1a2b \
        --baseline adapters/default --questions finetune/evalsets/dev.jsonl --limit 20 --out scores.json

A training job runs it in its own process, on its own copy of the base model, so the live service
keeps answering on its adapter meanwhile. ``finetune.promote.decide`` then reads the scores.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

from app.settings import Settings
from app.wiring import agent_maker
from finetune.evaluate import build_targets, run_eval, summarize
from finetune.promote import DEFAULT_EVAL_LIMIT, DEV_SET
from finetune.teacher import load_questions

logger = logging.getLogger(__name__)


def _summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    s = summarize(rows)
    return {k: s[k] for k in ("n", "accuracy", "format_valid_rate", "answered", "mean_steps", "p50_s")}


def evaluate_pair(args: argparse.Namespace) -> dict[str, Any]:
    """Score the baseline and the candidate adapters on the same questions; returns the scores."""
    overrides: dict[str, Any] = {"backend": "local", "search": args.search, "adapter": None}
    for key in ("local_model", "cache_dir", "device", "dtype", "quantize", "threads"):
        value = getattr(args, key)
        if value is not None:
            overrides[key] = value
    settings = Settings(**overrides)
    questions = load_questions(Path(args.questions))
    adapters = [args.baseline, args.candidate]
    targets = build_targets(agent_maker(settings), ["local"], adapters)
    out = Path(args.out).with_suffix(".results.jsonl")
    rows = run_eval(questions, targets, out, limit=args.limit, max_steps=args.max_steps, progress=False)
    baseline, candidate = (t.label for t in targets)
    scores = {
        "questions": str(args.questions),
        "limit": args.limit,
        "baseline": {"adapter": args.baseline, **_summary([r for r in rows if r["config"] == baseline])},
        "candidate": {"adapter": args.candidate, **_summary([r for r in rows if r["config"] == candidate])},
    }
    Path(args.out).write_text(json.dumps(scores, indent=2), encoding="utf-8")
    return scores


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m app.gate", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    ev = sub.add_parser("evaluate", help="score a candidate adapter against a baseline on an eval set")
    ev.add_argument("--candidate", required=True, help="adapter folder to judge")
    ev.add_argument("--baseline", default="none", help="serving adapter: a folder, 'default' or 'none'")
    ev.add_argument("--questions", default=str(DEV_SET), help="eval set JSONL (default: the dev set)")
    ev.add_argument("--limit", type=int, default=DEFAULT_EVAL_LIMIT, help="first N questions (speed)")
    ev.add_argument("--max-steps", type=int, default=None, help="agent steps per question")
    ev.add_argument("--out", required=True, help="scores JSON to write")
    ev.add_argument("--search", default="local", choices=["local", "duckduckgo", "auto"])  # local: offline
    ev.add_argument("--local-model", default=None)
    ev.add_argument("--cache-dir", default=None)
    ev.add_argument("--device", default=None)
    ev.add_argument("--dtype", default=None)
    ev.add_argument("--quantize", default=None)
    ev.add_argument("--threads", type=int, default=None)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "evaluate":
        scores = evaluate_pair(args)
        base, cand = scores["baseline"]["accuracy"], scores["candidate"]["accuracy"]
        logger.info("accuracy: baseline %.3f, candidate %.3f", base, cand)
    return 0


if __name__ == "__main__":
    from app.logging import basic_logging

    basic_logging(logging.INFO, "%(asctime)s %(levelname)s %(name)s: %(message)s")
    sys.exit(main())
