"""Rule G13b (coordination notes, session 13, 12:47 UTC): the document step's every-word reading for every answer,
judged on documents_probe3 (hand-written 12:45, recorded 12:46-12:48, its rows not looked at before this rule), and
reported on the rows it was designed on (v8 s6, v10s50 s10, v11 s11, v10s50 documents_probe2 s13).

    PYTHONPATH=. .venv/bin/python bench/results/s13-grounding/rule_g13b.py

Each recorded row is replayed as shipped (rule V10's replay: document and attribute steps on, an unsupported
answer -> not-found), with ``every_word`` off and on.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "docs" / "v10-candidate" / "eval"))

from rule_v10 import SETS  # noqa: E402

from bench.grounding_documents import load  # noqa: E402
from bench.grounding_replay import replay  # noqa: E402

KINDS = ("right", "abstained", "conf-wrong", "answered-wrong", "false-abst")
RUNS = [  # (label, folder, sets, judged)
    ("v8 (s6)", "bench/results/s6-eval/v8", SETS, False),
    ("v10s50 (s10)", "bench/results/s10-eval/v10s50", SETS, False),
    ("v11 (s11)", "bench/results/s11-eval/v11", SETS, False),
    ("v10s50 documents_probe2 (s13)", "bench/results/s13-eval/v10s50", ("documents_probe2",), False),
    ("v10s50 **documents_probe3** (s13, unseen)", "bench/results/s13-eval/v10s50", ("documents_probe3",), True),
    # written (13:00) after G13b shipped, for rule G14; reported, not judged
    (
        "v10s50 documents_probe4 (s13, written after G13b)",
        "bench/results/s13-eval/v10s50",
        ("documents_probe4",),
        False,
    ),
]


def outcome(r: dict[str, Any]) -> str:
    if r.get("answerable", True) is not False:
        if r["status"] == "answered":
            return "right" if r["correct"] else "answered-wrong"
        return "false-abst"
    return "abstained" if r["status"] == "not_found" else "conf-wrong"


def shipped(row: dict[str, Any], every_word: bool) -> dict[str, Any]:
    r = replay(row, documents=True, attributes=True, every_word=every_word)
    return {**r, "status": "not_found", "correct": False} if r["status"] == "ungrounded" else r


def main() -> int:
    verdict = True
    print("# rule G13b: the every-word reading for every answer, replayed as shipped\n")
    print("| recording | off: right / abstained / conf.-wrong / answered-wrong / false abst. | every-word: the same "
          "| right outcomes | right answers lost |")  # fmt: skip
    print("|---|---|---|---|---|")
    changes: list[str] = []
    for label, folder, sets, judged in RUNS:
        rows = [r for s in sets for r in load(ROOT / folder / f"{s}.jsonl")]
        off = [outcome(shipped(r, False)) for r in rows]
        on = [outcome(shipped(r, True)) for r in rows]
        t0, t1 = ({k: o.count(k) for k in KINDS} for o in (off, on))
        lost = sum(a == "right" and b != "right" for a, b in zip(off, on, strict=True))
        print(f"| {label} | {' / '.join(str(t0[k]) for k in KINDS)} | {' / '.join(str(t1[k]) for k in KINDS)} | "
              f"{t0['right'] + t0['abstained']} -> {t1['right'] + t1['abstained']} | {lost} |")  # fmt: skip
        for r, a, b in zip(rows, off, on, strict=True):
            if a != b:
                changes.append(f"- {label}: {r['id']} {a} -> {b} | {r['question']} | {r['final_answer']}")
        if judged:
            checks = [
                ("(1) confident-wrong not higher", t1["conf-wrong"] <= t0["conf-wrong"]),
                ("(2) right outcomes not lower", t1["right"] + t1["abstained"] >= t0["right"] + t0["abstained"]),
                ("(3) at most 1 right answer becomes not-found", lost <= 1),
            ]
            verdict = all(ok for _, ok in checks)
            judged_checks = checks
    print()
    for name, ok in judged_checks:
        print(f"{name} (documents_probe3): {'holds' if ok else 'FAILS'}")
    print(f"\nrule G13b (1)-(3): {'HOLD' if verdict else 'FAIL'} ((4), the full suite, is run on the commit)")
    print("\n## rows whose outcome changes (off -> every-word)\n")
    print("\n".join(changes))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
