"""Per-row outcomes of live recordings replayed with a checkout's check as shipped (document, attribute steps, the
every-word and count readings on; an unsupported answer -> not-found), as JSON for
``bench/results/s13-grounding/compare_shipped.py``. Valid for a rule that only makes the check stricter (G20): a
recording's final answer is what the shipped check let through. DIRS: folders, comma-separated; each set is
read from the first that holds it (rule P1b's design replays read session 16's P1 recordings, then the older ones:
``bench/results/s16-eval/p1,bench/results/s12-eval/v10s50-second-look,bench/results/s13-eval/v10s50-second-look,...``).

    PYTHONPATH=CHECKOUT .venv/bin/python bench/results/s16-passages/g20/dump_live.py OUT.json CHECKOUT DIRS SET...
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
    path = next(p for d in sys.argv[3].split(",") if (p := Path(d) / f"{name}.jsonl").is_file())
    for r in load(path):
        x = replay(r, documents=True, attributes=True, every_word=True, read_counts=True)
        if x["status"] == "ungrounded":
            x = {**x, "status": "not_found", "correct": False}
        rows.append([r["id"], outcome(x), r["question"], x["final_answer"]])
    out[name] = rows
json.dump(out, open(sys.argv[1], "w"))
