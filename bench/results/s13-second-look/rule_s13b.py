"""Rule S13b (coordination notes, session 13, 13:13 UTC, written before any second-look recording of probes 3-6):
the second look with G13d everywhere vs none, adapter v10s50, as shipped (document, attribute steps and the
every-word reading on; an unsupported answer -> not-found).

    PYTHONPATH=. .venv/bin/python bench/results/s13-second-look/rule_s13b.py
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "docs" / "v10-candidate" / "eval"))

from rule_v10 import SETS, format_valid, metrics, pct  # noqa: E402

from bench.grounding_documents import load  # noqa: E402
from bench.grounding_replay import replay  # noqa: E402

PROBES = tuple(f"documents_probe{i}" for i in range(2, 7))
OFF, ON = ROOT / "bench/results/s10-eval/v10s50", ROOT / "bench/results/s12-eval/v10s50-second-look"
POFF, PON = ROOT / "bench/results/s13-eval/v10s50", ROOT / "bench/results/s13-eval/v10s50-second-look"


def shipped(row: dict[str, Any]) -> dict[str, Any]:
    r = replay(row, documents=True, attributes=True, every_word=True)
    return {**r, "status": "not_found", "correct": False} if r["status"] == "ungrounded" else r


def rows(folder: Path, sets: tuple[str, ...]) -> dict[str, list[dict[str, Any]]]:
    return {s: [shipped(r) for r in load(folder / f"{s}.jsonl")] for s in sets}


def outcome(r: dict[str, Any]) -> str:
    if r.get("answerable", True) is not False:
        return ("right" if r["correct"] else "answered-wrong") if r["status"] == "answered" else "false-abst"
    return "abstained" if r["status"] == "not_found" else "conf-wrong"


def main() -> int:
    off, on = rows(OFF, SETS), rows(ON, SETS)
    poff, pon = rows(POFF, PROBES), rows(PON, PROBES)
    print("# rule S13b: the second look (every-word reading, G13d everywhere) vs none, v10s50, as shipped\n")
    print("| set | off right | on right | off abstained | on abstained | off cw | on cw |\n|---|---|---|---|---|---|---|")
    for s, (a, b) in [*((s, (off[s], on[s])) for s in SETS), *((s, (poff[s], pon[s])) for s in PROBES)]:
        x, y = metrics(a), metrics(b)
        print(f"| {s} | {x['right']}/{x['n_ans']} | {y['right']}/{y['n_ans']} | {x['abst']}/{x['n_un']} | "
              f"{y['abst']}/{y['n_un']} | {x['cw']} | {y['cw']} |")  # fmt: skip
    m0 = {s: metrics(off[s]) for s in SETS}
    m1 = {s: metrics(on[s]) for s in SETS}
    ro = {k: sum(m[s]["right"] + m[s]["abst"] for s in SETS) for k, m in (("off", m0), ("on", m1))}
    cw = {k: sum(m[s]["cw"] for s in SETS) for k, m in (("off", m0), ("on", m1))}
    p0 = [metrics(poff[s]) for s in PROBES]
    p1 = [metrics(pon[s]) for s in PROBES]
    pro = (sum(m["right"] + m["abst"] for m in p0), sum(m["right"] + m["abst"] for m in p1))
    pcw = (sum(m["cw"] for m in p0), sum(m["cw"] for m in p1))
    u = m1["unanswerable"]
    fv, st = format_valid(ON)
    gained, added = pro[1] - pro[0], pcw[1] - pcw[0]
    checks = [
        ("(a) right outcomes, 524 rows > 432", f"{ro['on']} vs {ro['off']}", ro["on"] > max(ro["off"], 432)),
        ("(a) unanswerable abstained >= 95 %", f"{pct(u['abst'], u['n_un']):.1f} %", pct(u["abst"], u["n_un"]) >= 95),
        ("(a) unanswerable cw <= 3/80", f"{u['cw']}/80", u["cw"] <= 3),
        ("(a) cw over the 171 unanswerable rows not higher", f"{cw['on']} vs {cw['off']}", cw["on"] <= cw["off"]),
        *((f"(a) {s} right not lower", f"{m1[s]['right']} vs {m0[s]['right']}", m1[s]["right"] >= m0[s]["right"])
          for s in ("test", "heldout40", "korean")),
        ("(a) format-valid >= 99 %", f"{fv}/{st}", pct(fv, st) >= 99),
        ("(b) probes 2-6: right outcomes gained >= 3 x cw added, gained > 0",
         f"{pro[1]} vs {pro[0]} (gained {gained}), cw {pcw[1]} vs {pcw[0]}", gained > 0 and gained >= 3 * max(added, 0)),
    ]  # fmt: skip
    print()
    for label, value, ok in checks:
        print(f"{label}: {value}: {'holds' if ok else 'FAILS'}")
    ok = all(c[-1] for c in checks)
    print(f"\nrule S13b: {'HOLDS — the second look ships (auto: on for the local backend)' if ok else 'FAILS — stays off'}")
    print("\n## rows whose outcome changes (off -> on)\n")
    for group in ((off, on, SETS), (poff, pon, PROBES)):
        a, b, sets = group
        for s in sets:
            for r0, r1 in zip(a[s], b[s], strict=True):
                if outcome(r0) != outcome(r1):
                    print(f"- {s} {r1['id']}: {outcome(r0)} -> {outcome(r1)} | {r1['question']} | {r1['final_answer']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
