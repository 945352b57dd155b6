"""Per-row outcomes of live recordings replayed with a checkout's check as shipped (document, attribute steps, the
every-word and count readings on; an unsupported answer -> not-found), as JSON for
``bench/results/s13-grounding/compare_shipped.py``. Valid for a rule that only makes the check stricter (G20): a
recording's final answer is what the shipped check let through.

    PYTHONPATH=CHECKOUT .venv/bin/python bench/results/s16-passages/g20/dump_live.py OUT.json CHECKOUT DIR SET...
"""

import json
import sys
from pathlib import Path

root = Path(sys.argv[2]).resolve()
sys.path.insert(0, str(root))
from bench.grounding_documents import load  # noqa: E402
from bench.grounding_replay import replay  # noqa: E402


def outcome(r):
    if r.get("answerable", True) is not False:
        return ("right" if r["correct"] else "answered-wrong") if r["status"] == "answered" else "false-abst"
    return "abstained" if r["status"] == "not_found" else "conf-wrong"


out = {}
for name in sys.argv[4:]:
    rows = []
    for r in load(Path(sys.argv[3]) / f"{name}.jsonl"):
        x = replay(r, documents=True, attributes=True, every_word=True, read_counts=True)
        if x["status"] == "ungrounded":
            x = {**x, "status": "not_found", "correct": False}
        rows.append([r["id"], outcome(x), r["question"], x["final_answer"]])
    out[name] = rows
json.dump(out, open(sys.argv[1], "w"))
