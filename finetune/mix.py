"""Re-weight a trajectory file towards multi-step runs (the second pass of the shipped adapter).

    python -m finetune.mix --input data/gold/train.jsonl --out data/gold/train-focus.jsonl

Keeps every trajectory with more than one tool step, plus a sample of single-search and
Calculator-only ones so the second pass does not forget them. After one epoch on the full gold
data the 270M model answered every two-hop question after its first search; this mix fixed that.
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path


def mix(rows: list[dict], single: int, arithmetic: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    multi = [r for r in rows if len(r["steps"]) > 1]
    one_search = [r for r in rows if len(r["steps"]) == 1 and r.get("kind") != "arithmetic"]
    arith = [r for r in rows if r.get("kind") == "arithmetic"]
    chosen = multi + rng.sample(one_search, min(single, len(one_search)))
    chosen += rng.sample(arith, min(arithmetic, len(arith)))
    rng.shuffle(chosen)
    return chosen


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--input", default="data/gold/train.jsonl", help="trajectory JSONL to draw from")
    ap.add_argument("--out", default="data/gold/train-focus.jsonl", help="where the mix goes")
    ap.add_argument("--single", type=int, default=120, help="single-search trajectories to keep")
    ap.add_argument("--arithmetic", type=int, default=60, help="Calculator-only trajectories to keep")
    ap.add_argument("--seed", type=int, default=0, help="sampling and order seed")
    args = ap.parse_args(argv)
    rows = [json.loads(line) for line in Path(args.input).read_text(encoding="utf-8").splitlines() if line.strip()]
    chosen = mix(rows, args.single, args.arithmetic, args.seed)
    Path(args.out).write_text("".join(json.dumps(r) + "\n" for r in chosen), encoding="utf-8")
    multi = sum(len(r["steps"]) > 1 for r in chosen)
    print(f"{args.out}: {len(chosen)} trajectories ({multi} multi-step)")  # noqa: T201 - CLI output
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
