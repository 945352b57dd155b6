"""Per-row outcomes of the recordings that judge rule P1b, replayed as shipped (document, attribute steps, the
every-word reading and the count reading on; an unsupported answer -> not-found), as JSON, for comparing two
checkouts' grounding code: the 524-row sets (session 12's second-look recording), probes 3-9 (sessions 13-14) and,
for the sets whose observations rule P1 changes, session 16's live P1 recordings (probes 2 and 10-17).

    PYTHONPATH=. .venv/bin/python bench/results/s16-passages/dump_p1b.py OUT.json CHECKOUT [P1_DIR]
"""

import json
import sys
from pathlib import Path

root = Path(sys.argv[2]).resolve()
p1 = Path(sys.argv[3] if len(sys.argv) > 3 else "bench/results/s16-eval/p1").resolve()
sys.path.insert(0, str(root))
sys.path.insert(0, str(root / "docs/v10-candidate/eval"))
from rule_v10 import SETS  # noqa: E402

from bench.grounding_documents import load  # noqa: E402
from bench.grounding_replay import replay  # noqa: E402

data = Path(".").resolve()
RUNS = {
    "524 rows": (data / "bench/results/s12-eval/v10s50-second-look", SETS),
    **{f"documents_probe{i}": (data / "bench/results/s13-eval/v10s50-second-look", (f"documents_probe{i}",))
       for i in range(3, 9)},
    "documents_probe9": (data / "bench/results/s14-eval/v10s50-second-look", ("documents_probe9",)),
    **{f"documents_probe{i}": (p1, (f"documents_probe{i}",)) for i in (2, *range(10, 18))},
}  # fmt: skip


def outcome(r):
    if r.get("answerable", True) is not False:
        return ("right" if r["correct"] else "answered-wrong") if r["status"] == "answered" else "false-abst"
    return "abstained" if r["status"] == "not_found" else "conf-wrong"


out = {}
for name, (folder, sets) in RUNS.items():
    rows = []
    for s in sets:
        for r in load(folder / f"{s}.jsonl"):
            x = replay(r, documents=True, attributes=True, every_word=True, read_counts=True)
            if x["status"] == "ungrounded":
                x = {**x, "status": "not_found", "correct": False}
            rows.append([r["id"], outcome(x), r["question"], x["final_answer"]])
    out[name] = rows
json.dump(out, open(sys.argv[1], "w"))
