"""Rule H12 (1) (bench/results/s12-head/rule_h12.md, written before any q5_0-head run of the shipped adapter): the
issue-13 sets recorded with the q5_0 head vs the q8_0 recording of the same adapter, both replayed with the shipped
settings by rule V10's replay (the grounding code of this checkout).

    PYTHONPATH=. .venv/bin/python bench/results/s12-head/rule_h12.py bench/results/s10-eval/v10s50 bench/results/s12-eval/v10s50-q5_0
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "docs" / "v10-candidate" / "eval"))

from rule_v10 import DOCS, SETS, format_valid, metrics, pct, system_rows  # noqa: E402


def main(argv: list[str]) -> int:
    base_dir, cand_dir = (Path(a).expanduser() for a in argv[:2])
    runs = {"q8_0": system_rows(base_dir), "q5_0": system_rows(cand_dir)}
    m = {k: {s: metrics(run[s]) for s in SETS} for k, run in runs.items()}
    docs = {k: metrics([r for s in DOCS for r in run[s]]) for k, run in runs.items()}
    print("# rule H12 (1): head q8_0 vs head q5_0, adapter v10s50, as shipped systems\n")
    print("| set | q8_0 right | q5_0 right | q8_0 abstained | q5_0 abstained | q8_0 conf.-wrong | q5_0 conf.-wrong |")
    print("|---|---|---|---|---|---|---|")
    for name, (b, c) in [*((s, (m["q8_0"][s], m["q5_0"][s])) for s in SETS), ("documents (3 sets)", tuple(docs.values()))]:
        print(f"| {name} | {b['right']}/{b['n_ans']} | {c['right']}/{c['n_ans']} | {b['abst']}/{b['n_un']} | "
              f"{c['abst']}/{c['n_un']} | {b['cw']}/{b['n_un']} | {c['cw']}/{c['n_un']} |")  # fmt: skip
    out = {k: sum(m[k][s]["right"] + m[k][s]["abst"] for s in SETS) for k in m}
    n = sum(m["q5_0"][s]["n_ans"] + m["q5_0"][s]["n_un"] for s in SETS)
    b, c = m["q8_0"], m["q5_0"]
    fv, st = format_valid(cand_dir)
    checks = [
        ("(a) right outcomes >= q8_0's", f"{out['q5_0']} vs {out['q8_0']} of {n}", out["q5_0"] >= out["q8_0"]),
        ("(b) unanswerable abstained >= 95.0 %", f"{pct(c['unanswerable']['abst'], 80):.1f} %",
         pct(c["unanswerable"]["abst"], c["unanswerable"]["n_un"]) >= 95.0),
        ("(b) unanswerable confident-wrong <= q8_0's", f"{c['unanswerable']['cw']} vs {b['unanswerable']['cw']}",
         c["unanswerable"]["cw"] <= b["unanswerable"]["cw"]),
        ("(c) documents answerable right >= q8_0's - 1", f"{docs['q5_0']['right']} vs {docs['q8_0']['right']}",
         docs["q5_0"]["right"] >= docs["q8_0"]["right"] - 1),
        ("(c) documents abstained >= q8_0's - 1", f"{docs['q5_0']['abst']} vs {docs['q8_0']['abst']}",
         docs["q5_0"]["abst"] >= docs["q8_0"]["abst"] - 1),
        *((f"(d) {s} right >= q8_0's - 2", f"{c[s]['right']} vs {b[s]['right']}", c[s]["right"] >= b[s]["right"] - 2)
          for s in ("test", "heldout40", "korean")),
        ("(e) format-valid steps >= 99 %", f"{fv}/{st} = {pct(fv, st):.2f} %", pct(fv, st) >= 99.0),
    ]  # fmt: skip
    print()
    for label, value, ok in checks:
        print(f"{label}: {value}: {'holds' if ok else 'FAILS'}")
    verdict = all(ok for _, _, ok in checks)
    print(f"\nrule H12 (1): {'HOLDS' if verdict else 'FAILS'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
