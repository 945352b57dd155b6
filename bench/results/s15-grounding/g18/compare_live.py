"""Rule G18 (the focused look): two live recordings of the same sets, the shipped settings with QREACT_FOCUSED_LOOK off
and on, outcome by outcome (no replay: the recordings ran the shipped check).

    python3 bench/results/s15-grounding/g18/compare_live.py OFF_DIR ON_DIR SET [SET ...]
"""

import json
import sys
from collections import Counter
from pathlib import Path

K = ("right", "abstained", "conf-wrong", "answered-wrong", "false-abst")


def outcome(r):
    if r.get("answerable", True) is not False:
        return ("right" if r["correct"] else "answered-wrong") if r["status"] == "answered" else "false-abst"
    return "abstained" if r["status"] == "not_found" else "conf-wrong"


off_dir, on_dir, sets = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3:]
print("| set | off: right / abstained / cw / aw / false abst. | on | right outcomes |")
print("|---|---|---|---|")
changes = []
for name in sets:
    rows = [[json.loads(line) for line in (d / f"{name}.jsonl").read_text().splitlines() if line.strip()]
            for d in (off_dir, on_dir)]  # fmt: skip
    a, b = (Counter(outcome(r) for r in rs) for rs in rows)
    print(f"| {name} | {' / '.join(str(a[k]) for k in K)} | {' / '.join(str(b[k]) for k in K)} | "
          f"{a['right'] + a['abstained']} -> {b['right'] + b['abstained']} |")  # fmt: skip
    for x, y in zip(*rows, strict=True):
        if outcome(x) != outcome(y):
            changes.append(f"- {x['id']}: {outcome(x)} -> {outcome(y)} | {x['question']} | {x['final_answer']} -> {y['final_answer']}")
print("\nrows that change:")
print("\n".join(changes))
