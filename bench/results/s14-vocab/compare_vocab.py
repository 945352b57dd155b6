"""Rule V16 (1): every recording made with the trimmed vocabulary (QREACT_ENGINE_VOCAB_RANK=100000, second look
on) against the untrimmed second-look recordings of the same sets, both replayed as shipped; and how many rows
wrote the very same steps.

    PYTHONPATH=. .venv/bin/python bench/results/s14-vocab/compare_vocab.py [TRIMMED_FOLDER [BASE_FOLDER]]

BASE_FOLDER (one folder holding every set): the untrimmed control recorded in the same session (rule V16b);
without it the shipped second-look recordings of sessions 12/13 (rule V16).
"""

import collections
import json
import sys
from pathlib import Path

from bench.grounding_documents import load
from bench.grounding_replay import replay

SETS = ("test", "heldout40", "korean", "documents", "documents_extra", "unanswerable", "documents_probe")
PROBES = tuple(f"documents_probe{i}" for i in range(2, 9))
BASE = {**{s: "bench/results/s12-eval/v10s50-second-look" for s in SETS},
        **{p: "bench/results/s13-eval/v10s50-second-look" for p in PROBES}}
TRIMMED = sys.argv[1] if len(sys.argv) > 1 else "bench/results/s14-eval/v10s50-vocab100k-second-look"
if len(sys.argv) > 2:
    BASE = {s: sys.argv[2] for s in SETS + PROBES}


def outcome(r):
    x = replay(r, documents=True, attributes=True, every_word=True)
    if x["status"] == "ungrounded":
        x = {**x, "status": "not_found", "correct": False}
    if x.get("answerable", True) is not False:
        return ("right" if x["correct"] else "answered-wrong") if x["status"] == "answered" else "false-abst"
    return "abstained" if x["status"] == "not_found" else "conf-wrong"


def steps(r):
    return json.dumps([r.get("steps"), r.get("final_answer")], sort_keys=True, default=str)


total = collections.Counter()
changed = []
print(f"{'set':18} {'rows':>4} {'same steps':>10} {'right/abst base':>15} {'trimmed':>8} {'cw base':>7} {'trimmed':>7}")
for s in SETS + PROBES:
    base = {r["id"]: r for r in load(Path(BASE[s]) / f"{s}.jsonl")}
    trim = {r["id"]: r for r in load(Path(TRIMMED) / f"{s}.jsonl")}
    assert base.keys() == trim.keys(), s
    c = collections.Counter()
    for i in base:
        a, b = outcome(base[i]), outcome(trim[i])
        c["rows"] += 1
        c["same"] += steps(base[i]) == steps(trim[i])
        c["good base"] += a in ("right", "abstained")
        c["good trim"] += b in ("right", "abstained")
        c["cw base"] += a == "conf-wrong"
        c["cw trim"] += b == "conf-wrong"
        if a != b:
            changed.append((s, i, a, b, base[i]["question"], base[i]["final_answer"], trim[i]["final_answer"]))
    total += c
    print(f"{s:18} {c['rows']:4} {c['same']:10} {c['good base']:15} {c['good trim']:8} {c['cw base']:7} {c['cw trim']:7}")
print(f"{'all':18} {total['rows']:4} {total['same']:10} {total['good base']:15} {total['good trim']:8} "
      f"{total['cw base']:7} {total['cw trim']:7}")
print("\noutcome changed (set, id, untrimmed -> trimmed, question, answers):")
for row in changed:
    print(" ", row[0], row[1], f"{row[2]} -> {row[3]}", "|", row[4], "|", repr(row[5])[:70], "->", repr(row[6])[:70])
