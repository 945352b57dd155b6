"""Per-row outcomes of every recording replayed as shipped (document, attribute steps and the every-word reading on;
an unsupported answer -> not-found), as JSON, for comparing two checkouts' grounding code (rule G16; session 14's
script plus probes 10 and 11; a fourth argument, comma-separated: ``read`` the count reading on, ``roles`` the role
reading on).

    PYTHONPATH=. .venv/bin/python bench/results/s15-grounding/dump_shipped.py OUT.json CHECKOUT [RECORDINGS_ROOT] [read[,roles]]
"""

import json
import sys
from pathlib import Path

root = Path(sys.argv[2]).resolve()
data = Path(sys.argv[3] if len(sys.argv) > 3 else ".").resolve()
sys.path.insert(0, str(root))
sys.path.insert(0, str(root / "docs/v10-candidate/eval"))
from rule_v10 import SETS  # noqa: E402

from bench.grounding_documents import load  # noqa: E402
from bench.grounding_replay import replay  # noqa: E402

PROBES = tuple(f"documents_probe{i}" for i in range(2, 9))
NEW = ("documents_probe9",)
NEW15 = ("documents_probe10",)
LATER = tuple(f"documents_probe{i}" for i in range(11, 16))
FLAGS = set(sys.argv[4].split(",")) if len(sys.argv) > 4 else set()
RUNS = {
    "v8 off": ("bench/results/s6-eval/v8", SETS),
    "v10s50 off": ("bench/results/s10-eval/v10s50", SETS),
    "v11 off": ("bench/results/s11-eval/v11", SETS),
    "v10s50 second look": ("bench/results/s12-eval/v10s50-second-look", SETS),
    **{f"{p} off": ("bench/results/s13-eval/v10s50", (p,)) for p in PROBES},
    **{f"{p} second look": ("bench/results/s13-eval/v10s50-second-look", (p,)) for p in PROBES},
    **{f"{p} off": ("bench/results/s14-eval/v10s50", (p,)) for p in NEW},
    **{f"{p} second look": ("bench/results/s14-eval/v10s50-second-look", (p,)) for p in NEW},
    **{f"{p} second look": ("bench/results/s15-eval/v10s50-second-look", (p,)) for p in NEW15},
    **{f"{p} second look": ("bench/results/s15-eval/v10s50-second-look", (p,)) for p in LATER},
}


def outcome(r):
    if r.get("answerable", True) is not False:
        return ("right" if r["correct"] else "answered-wrong") if r["status"] == "answered" else "false-abst"
    return "abstained" if r["status"] == "not_found" else "conf-wrong"


out = {}
for name, (folder, sets) in RUNS.items():
    rows = []
    for s in sets:
        path = data / folder / f"{s}.jsonl"
        if not path.is_file():
            continue
        for r in load(path):
            x = replay(r, documents=True, attributes=True, every_word=True, **({"read_counts": True} if "read" in FLAGS else {}),
                       **({"read_roles": True} if "roles" in FLAGS else {}))
            if x["status"] == "ungrounded":
                x = {**x, "status": "not_found", "correct": False}
            rows.append([r["id"], outcome(x), r["question"], r["final_answer"]])
    out[name] = rows
json.dump(out, open(sys.argv[1], "w"))
