"""Rule V10 (NOTES.md, session 9, 17:55 UTC, written before any v10 data) for attempt 10: v10 vs v8 as shipped systems.

    PYTHONPATH=. .venv/bin/python docs/v10-candidate/eval/rule_v10.py bench/results/s6-eval/v8 bench/results/s9-eval/v10

Rule V10s (NOTES.md, session 10, 23:07 UTC, before any soup was built) judges the soups of v9s and v10 by the same
checks; the optional third argument names the candidate in the output:

    PYTHONPATH=. .venv/bin/python docs/v10-candidate/eval/rule_v10.py \
        bench/results/s6-eval/v8 bench/results/s10-eval/v10s50 v10s50

Rule V9's checks and thresholds (docs/v9-candidate/eval/rule_v9.py), with the grounding check's attribute step on
as it ships since session 8: each recorded row (bench.adapter_evals: the document and attribute steps OFF when
recorded, ungrounded=keep) is replayed by bench.grounding_replay.replay with the document and attribute steps ON,
and an ungrounded row ends not_found (the shipped QREACT_UNGROUNDED=auto on the local model), the same code for
both adapters. Right = answered and correct on an answerable row; abstained = not_found on an unanswerable row;
confident-wrong = answered on an unanswerable row; false abstention = not_found on an answerable row. Ship v10
iff (a)-(e) all hold.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from bench.grounding_documents import load
from bench.grounding_replay import replay

SETS = ("test", "heldout40", "korean", "documents", "documents_extra", "unanswerable", "documents_probe")
DOCS = ("documents", "documents_extra", "documents_probe")


def system_rows(folder: Path) -> dict[str, list[dict[str, Any]]]:
    out = {}
    for name in SETS:
        rows = [replay(r, documents=True, attributes=True) for r in load(folder / f"{name}.jsonl")]
        out[name] = [{**r, "status": "not_found", "correct": False} if r["status"] == "ungrounded" else r for r in rows]
    return out


def ans(r: dict[str, Any]) -> bool:
    return r.get("answerable", True) is not False


def metrics(rows: list[dict[str, Any]]) -> dict[str, int]:
    a = [r for r in rows if ans(r)]
    u = [r for r in rows if not ans(r)]
    return {
        "n_ans": len(a),
        "right": sum(r["status"] == "answered" and bool(r["correct"]) for r in a),
        "fa": sum(r["status"] == "not_found" for r in a),
        "n_un": len(u),
        "abst": sum(r["status"] == "not_found" for r in u),
        "cw": sum(r["status"] == "answered" for r in u),
    }


def pct(k: int, n: int) -> float:
    return 100.0 * k / n if n else float("nan")


def format_valid(folder: Path) -> tuple[int, int]:
    rows = [r for name in SETS for r in load(folder / f"{name}.jsonl")]
    steps = sum(r["steps"] for r in rows)
    return steps - sum(r["format_errors"] for r in rows), steps


def main(argv: list[str]) -> int:
    base_dir, cand_dir = (Path(a).expanduser() for a in argv[:2])
    name = argv[2] if len(argv) > 2 else "v10"
    runs = {"v8": system_rows(base_dir), "v10": system_rows(cand_dir)}
    m = {k: {s: metrics(run[s]) for s in SETS} for k, run in runs.items()}
    docs = {k: metrics([r for s in DOCS for r in run[s]]) for k, run in runs.items()}
    print(f"# rule V10: v8 vs {name} as shipped systems (document step ON, ungrounded -> not_found)\n")
    print(f"| set | v8 right | {name} right | v8 abstained | {name} abstained | v8 conf.-wrong | {name} conf.-wrong "
          f"| v8 false abst. | {name} false abst. |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|")
    for set_name, (b, c) in [
        *((s, (m["v8"][s], m["v10"][s])) for s in SETS),
        ("documents (3 sets)", (docs["v8"], docs["v10"])),
    ]:
        print(f"| {set_name} | {b['right']}/{b['n_ans']} | {c['right']}/{c['n_ans']} | {b['abst']}/{b['n_un']} | "
              f"{c['abst']}/{c['n_un']} | {b['cw']}/{b['n_un']} | {c['cw']}/{c['n_un']} | {b['fa']}/{b['n_ans']} | "
              f"{c['fa']}/{c['n_ans']} |")  # fmt: skip
    out = {k: sum(m[k][s]["right"] + m[k][s]["abst"] for s in SETS) for k in m}
    n = sum(m["v10"][s]["n_ans"] + m["v10"][s]["n_un"] for s in SETS)
    u, d, t = m["v10"]["unanswerable"], docs["v10"], m["v10"]
    fv, st = format_valid(cand_dir)
    checks = [
        ("(a) right outcomes > v8's", f"{name} {out['v10']} vs v8 {out['v8']} of {n}", out["v10"] > out["v8"]),
        ("(b) unanswerable abstained >= 95.0 %", f"{pct(u['abst'], u['n_un']):.1f} %",
         pct(u["abst"], u["n_un"]) >= 95.0),
        ("(b) unanswerable confident-wrong <= v8's",
         f"{pct(u['cw'], u['n_un']):.1f} % vs {pct(m['v8']['unanswerable']['cw'], u['n_un']):.1f} %",
         u["cw"] <= m["v8"]["unanswerable"]["cw"]),
        ("(c) documents answerable >= 32.1 %", f"{pct(d['right'], d['n_ans']):.1f} %",
         pct(d["right"], d["n_ans"]) >= 32.1),
        ("(c) documents abstained >= 60.0 %", f"{pct(d['abst'], d['n_un']):.1f} %", pct(d["abst"], d["n_un"]) >= 60.0),
        ("(d) test >= 85.5 %", f"{pct(t['test']['right'], t['test']['n_ans']):.1f} %",
         pct(t["test"]["right"], t["test"]["n_ans"]) >= 85.5),
        ("(d) heldout40 >= 67.6 %", f"{pct(t['heldout40']['right'], t['heldout40']['n_ans']):.1f} %",
         pct(t["heldout40"]["right"], t["heldout40"]["n_ans"]) >= 67.6),
        ("(d) korean >= 71 %", f"{pct(t['korean']['right'], t['korean']['n_ans']):.1f} %",
         pct(t["korean"]["right"], t["korean"]["n_ans"]) >= 71.0),
        ("(e) format-valid steps >= 99 %", f"{fv}/{st} = {pct(fv, st):.2f} %", pct(fv, st) >= 99.0),
    ]  # fmt: skip
    print()
    for label, value, ok in checks:
        print(f"{label}: {value}: {'holds' if ok else 'FAILS'}")
    verdict = all(ok for _, _, ok in checks)
    print(f"\nrule V10: {f'HOLDS — ship {name}' if verdict else f'FAILS — {name} is not shipped'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
