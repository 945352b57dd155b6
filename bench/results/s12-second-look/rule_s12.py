"""Rule S12 (coordination notes, session 12, written before any code or run): the second look vs none, adapter
v10s50, head q8_0, both recordings replayed by rule V10's replay with this checkout's grounding code.

    PYTHONPATH=. .venv/bin/python bench/results/s12-second-look/rule_s12.py bench/results/s10-eval/v10s50 bench/results/s12-eval/v10s50-second-look
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "docs" / "v10-candidate" / "eval"))

from rule_v10 import DOCS, SETS, ans, format_valid, metrics, pct, system_rows  # noqa: E402


def main(argv: list[str]) -> int:
    base_dir, cand_dir = (Path(a).expanduser() for a in argv[:2])
    runs = {"off": system_rows(base_dir), "on": system_rows(cand_dir)}
    m = {k: {s: metrics(run[s]) for s in SETS} for k, run in runs.items()}
    docs = {k: metrics([r for s in DOCS for r in run[s]]) for k, run in runs.items()}
    print("# rule S12: the second look off (s10 recording) vs on, adapter v10s50, as shipped systems\n")
    print("| set | off right | on right | off abstained | on abstained | off conf.-wrong | on conf.-wrong "
          "| off false abst. | on false abst. |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|")
    for name, (b, c) in [*((s, (m["off"][s], m["on"][s])) for s in SETS), ("documents (3 sets)", tuple(docs.values()))]:
        print(f"| {name} | {b['right']}/{b['n_ans']} | {c['right']}/{c['n_ans']} | {b['abst']}/{b['n_un']} | "
              f"{c['abst']}/{c['n_un']} | {b['cw']}/{b['n_un']} | {c['cw']}/{c['n_un']} | {b['fa']}/{b['n_ans']} | "
              f"{c['fa']}/{c['n_ans']} |")  # fmt: skip
    out = {k: sum(m[k][s]["right"] + m[k][s]["abst"] for s in SETS) for k in m}
    cw = {k: sum(m[k][s]["cw"] for s in SETS) for k in m}
    n = sum(m["on"][s]["n_ans"] + m["on"][s]["n_un"] for s in SETS)
    b, c = m["off"], m["on"]
    u = c["unanswerable"]
    fv, st = format_valid(cand_dir)
    gained, added = out["on"] - out["off"], cw["on"] - cw["off"]
    checks = [
        ("(a) right outcomes > the baseline's", f"{out['on']} vs {out['off']} of {n}", out["on"] > out["off"]),
        ("(b) unanswerable abstained >= 95.0 %", f"{pct(u['abst'], u['n_un']):.1f} %", pct(u["abst"], u["n_un"]) >= 95.0),
        ("(b) unanswerable confident-wrong <= 3/80", f"{u['cw']}/{u['n_un']}", u["cw"] <= 3),
        ("(c) confident-wrong, all unanswerable rows <= 14", f"{cw['on']} (baseline {cw['off']})", cw["on"] <= 14),
        ("(c) right outcomes gained >= 3 x confident-wrong added", f"{gained} vs 3 x {added}", gained >= 3 * max(added, 0)),
        *((f"(d) {s} right >= the baseline's", f"{c[s]['right']} vs {b[s]['right']}", c[s]["right"] >= b[s]["right"])
          for s in ("test", "heldout40", "korean")),
        ("(e) format-valid steps >= 99 %", f"{fv}/{st} = {pct(fv, st):.2f} %", pct(fv, st) >= 99.0),
    ]  # fmt: skip
    print()
    for label, value, ok in checks:
        print(f"{label}: {value}: {'holds' if ok else 'FAILS'}")
    print(f"\nrule S12: {'HOLDS — the second look ships on for the local backend' if all(ok for *_, ok in checks) else 'FAILS — it stays off'}")
    print("\n## rows whose outcome changes (off -> on)\n")
    for s in SETS:
        for r0, r1 in zip(runs["off"][s], runs["on"][s], strict=True):
            def outcome(r):
                if ans(r):
                    return "right" if r["status"] == "answered" and r["correct"] else (
                        "false-abst" if r["status"] == "not_found" else "answered-wrong")
                return "abstained" if r["status"] == "not_found" else "conf-wrong"
            o0, o1 = outcome(r0), outcome(r1)
            if o0 != o1:
                print(f"- {s} {r1['id']}: {o0} -> {o1} | {r1['question']} | {r1.get('final_answer')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
