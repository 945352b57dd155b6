"""Rule V11 (NOTES.md, session 11, 06:00 UTC, written before any v11 data or training) for attempt 11: a candidate
(v11 = v10s50 continued on the v11 mix, or its soup v11s = 0.5 v10s50 + 0.5 v11) vs the shipped v10s50, as shipped
systems.

    R=docs/v11-candidate/eval/rule_v11.py; B=bench/results/s10-eval/v10s50
    PYTHONPATH=. .venv/bin/python $R $B bench/results/s11-eval/v11 v11
    PYTHONPATH=. .venv/bin/python $R $B bench/results/s11-eval/v11s v11s

Rule V10's replay (docs/v10-candidate/eval/rule_v10.py: each recorded row replayed with the grounding check's document
and attribute steps ON, an ungrounded row ends not_found), with v10s50 as the baseline. A candidate ships iff all
hold: (a) right outcomes > v10s50's (416 of 524); (b) unanswerable abstained >= 95.0 % and confident-wrong <=
v10s50's; (c) the three document sets: answerable right >= 35.2 % (v10s50's) and abstained >= 75.0 %; (d) test >=
91.0 %, heldout40 >= 67.6 %, korean >= 74.2 %; (e) format-valid steps >= 99 %. If both pass, the one with more right
outcomes ships (a tie: the soup).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "v10-candidate" / "eval"))

from rule_v10 import DOCS, SETS, format_valid, metrics, pct, system_rows  # noqa: E402


def main(argv: list[str]) -> int:
    base_dir, cand_dir = (Path(a).expanduser() for a in argv[:2])
    name = argv[2] if len(argv) > 2 else "v11"
    runs = {"v10s50": system_rows(base_dir), name: system_rows(cand_dir)}
    m = {k: {s: metrics(run[s]) for s in SETS} for k, run in runs.items()}
    docs = {k: metrics([r for s in DOCS for r in run[s]]) for k, run in runs.items()}
    b0, c0 = "v10s50", name
    print(f"# rule V11: v10s50 vs {name} as shipped systems (document and attribute steps ON, ungrounded -> not_found)")
    print()
    print(f"| set | {b0} right | {c0} right | {b0} abstained | {c0} abstained | {b0} conf.-wrong | {c0} conf.-wrong "
          f"| {b0} false abst. | {c0} false abst. |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|")
    for set_name, (b, c) in [*((s, (m[b0][s], m[c0][s])) for s in SETS), ("documents (3 sets)", (docs[b0], docs[c0]))]:
        print(f"| {set_name} | {b['right']}/{b['n_ans']} | {c['right']}/{c['n_ans']} | {b['abst']}/{b['n_un']} | "
              f"{c['abst']}/{c['n_un']} | {b['cw']}/{b['n_un']} | {c['cw']}/{c['n_un']} | {b['fa']}/{b['n_ans']} | "
              f"{c['fa']}/{c['n_ans']} |")  # fmt: skip
    out = {k: sum(m[k][s]["right"] + m[k][s]["abst"] for s in SETS) for k in m}
    n = sum(m[c0][s]["n_ans"] + m[c0][s]["n_un"] for s in SETS)
    u, d, t = m[c0]["unanswerable"], docs[c0], m[c0]
    fv, st = format_valid(cand_dir)
    checks = [
        ("(a) right outcomes > v10s50's", f"{c0} {out[c0]} vs v10s50 {out[b0]} of {n}", out[c0] > out[b0]),
        ("(b) unanswerable abstained >= 95.0 %", f"{pct(u['abst'], u['n_un']):.1f} %",
         pct(u["abst"], u["n_un"]) >= 95.0),
        ("(b) unanswerable confident-wrong <= v10s50's",
         f"{pct(u['cw'], u['n_un']):.1f} % vs {pct(m[b0]['unanswerable']['cw'], u['n_un']):.1f} %",
         u["cw"] <= m[b0]["unanswerable"]["cw"]),
        ("(c) documents answerable >= 35.2 %", f"{pct(d['right'], d['n_ans']):.1f} %",
         pct(d["right"], d["n_ans"]) >= 35.2),
        ("(c) documents abstained >= 75.0 %", f"{pct(d['abst'], d['n_un']):.1f} %", pct(d["abst"], d["n_un"]) >= 75.0),
        ("(d) test >= 91.0 %", f"{pct(t['test']['right'], t['test']['n_ans']):.1f} %",
         pct(t["test"]["right"], t["test"]["n_ans"]) >= 91.0),
        ("(d) heldout40 >= 67.6 %", f"{pct(t['heldout40']['right'], t['heldout40']['n_ans']):.1f} %",
         pct(t["heldout40"]["right"], t["heldout40"]["n_ans"]) >= 67.6),
        ("(d) korean >= 74.2 %", f"{pct(t['korean']['right'], t['korean']['n_ans']):.1f} %",
         pct(t["korean"]["right"], t["korean"]["n_ans"]) >= 74.2),
        ("(e) format-valid steps >= 99 %", f"{fv}/{st} = {pct(fv, st):.2f} %", pct(fv, st) >= 99.0),
    ]  # fmt: skip
    print()
    for label, value, ok in checks:
        print(f"{label}: {value}: {'holds' if ok else 'FAILS'}")
    verdict = all(ok for _, _, ok in checks)
    print(f"\nrule V11: {f'HOLDS — {name} may ship' if verdict else f'FAILS — {name} is not shipped'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
