"""Per-row outcomes (as shipped, every-word reading on and off) of the recordings, as JSON.

    PYTHONPATH=. .venv/bin/python bench/results/s13-grounding/dump_every_word.py OUT.json CHECKOUT [RECORDINGS_ROOT]

CHECKOUT: the source tree whose grounding code replays (a worktree of 24d8bb3 for G13b, this commit for G13d); the
recordings are read from RECORDINGS_ROOT (default: the current directory).
"""

import json, sys
from pathlib import Path

root = Path(sys.argv[2]).resolve()
sys.path.insert(0, str(root))
sys.path.insert(0, str(root / "docs/v10-candidate/eval"))
from rule_v10 import SETS
from bench.grounding_documents import load
from bench.grounding_replay import replay

M = Path(sys.argv[3] if len(sys.argv) > 3 else ".").resolve()
RUNS = {
    "v8": ("bench/results/s6-eval/v8", SETS),
    "v10s50": ("bench/results/s10-eval/v10s50", SETS),
    "v11": ("bench/results/s11-eval/v11", SETS),
}
for i in (2, 3, 4, 5, 6):
    RUNS[f"probe{i}"] = ("bench/results/s13-eval/v10s50", (f"documents_probe{i}",))


def outcome(r):
    if r.get("answerable", True) is not False:
        return ("right" if r["correct"] else "answered-wrong") if r["status"] == "answered" else "false-abst"
    return "abstained" if r["status"] == "not_found" else "conf-wrong"


out = {}
for name, (folder, sets) in RUNS.items():
    for ew in (False, True):
        rows = []
        for s in sets:
            f = M / folder / f"{s}.jsonl"
            if not f.exists():
                continue
            for r in load(f):
                x = replay(r, documents=True, attributes=True, every_word=ew)
                if x["status"] == "ungrounded":
                    x = {**x, "status": "not_found", "correct": False}
                rows.append([r["id"], outcome(x), r["question"], r["final_answer"]])
        out[f"{name}:{int(ew)}"] = rows
json.dump(out, open(sys.argv[1], "w"))
