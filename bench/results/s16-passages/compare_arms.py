"""Two live arms of the same sets, outcome totals side by side (rule P1b's (b) and (c), rule G20's (a)).

    python3 bench/results/s16-passages/compare_arms.py OFF_DIR[,OFF_DIR2] ON_DIR[,ON_DIR2] SET [SET ...]

An arm's set is read from the first of its folders that holds it. Outcomes as every judge since session 12:
right (answerable, answered, correct), abstained (unanswerable, not-found), cw (unanswerable, answered),
aw (answerable, answered wrong), fa (answerable, not-found: a false abstention).
"""

import json
import sys
from collections import Counter
from pathlib import Path

K = ("right", "abstained", "cw", "aw", "fa")


def outcome(r):
    if r.get("answerable", True) is not False:
        return ("right" if r["correct"] else "aw") if r["status"] == "answered" else "fa"
    return "abstained" if r["status"] == "not_found" else "cw"


def rows(dirs, name):
    for d in dirs.split(","):
        p = Path(d) / f"{name}.jsonl"
        if p.is_file():
            return [json.loads(x) for x in p.read_text().splitlines() if x.strip()]
    raise SystemExit(f"no {name}.jsonl in {dirs}")


off, on, sets = sys.argv[1], sys.argv[2], sys.argv[3:]
tot = [Counter(), Counter()]
print(f"| set | off: {' / '.join(K)} | on | right outcomes |\n|---|---|---|---|")
for name in sets:
    a, b = (Counter(outcome(r) for r in rows(d, name)) for d in (off, on))
    tot[0].update(a)
    tot[1].update(b)
    print(f"| {name} | {' / '.join(str(a[k]) for k in K)} | {' / '.join(str(b[k]) for k in K)} | "
          f"{a['right'] + a['abstained']} -> {b['right'] + b['abstained']} |")  # fmt: skip
a, b = tot
print(f"| **all** | {' / '.join(str(a[k]) for k in K)} | {' / '.join(str(b[k]) for k in K)} | "
      f"**{a['right'] + a['abstained']} -> {b['right'] + b['abstained']}** |")  # fmt: skip
