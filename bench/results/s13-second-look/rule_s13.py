"""Rule S13 (coordination notes, session 13, 12:28 UTC, written before the strict mode was coded or any replay or
recording ran): the second look v2 — its forced answer kept only when the check supports it with the document step's
every-word reading — vs no second look, adapter v10s50, head q8_0, both replayed as shipped (rule V10's replay).

    PYTHONPATH=. .venv/bin/python bench/results/s13-second-look/rule_s13.py \\
        bench/results/s10-eval/v10s50 bench/results/s12-eval/v10s50-second-look \\
        bench/results/s13-eval/v10s50 bench/results/s13-eval/v10s50-second-look

(1) the 7 issue-13 sets (524 rows): the s10 recording (off) vs the s12 recording with the second look on, whose kept
second looks are re-judged with ``every_word`` (a refused one leaves the not-found step it replaced, which the
recording keeps in ``second_look``); (2) documents_probe2 (59 rows, hand-written 2026-12-03 12:12, before the rule),
recorded off and on in session 13.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "docs" / "v10-candidate" / "eval"))

from rule_v10 import DOCS, SETS, ans, format_valid, metrics, pct, system_rows  # noqa: E402

from bench.grounding_documents import load  # noqa: E402
from bench.grounding_replay import replay  # noqa: E402
from agent.grounding.not_found import is_not_found  # noqa: E402

PROBE2 = "documents_probe2"


def kept_second_look(row: dict[str, Any]) -> bool:
    last = row["trace"][-1] if row["trace"] else {}
    return bool(last.get("second_look")) and not is_not_found(row.get("final_answer") or "")


def shipped(row: dict[str, Any], strict: bool) -> dict[str, Any]:
    r = replay(row, documents=True, attributes=True, every_word=strict and kept_second_look(row))
    return {**r, "status": "not_found", "correct": False} if r["status"] == "ungrounded" else r


def rows_of(folder: Path, sets: tuple[str, ...], strict: bool) -> dict[str, list[dict[str, Any]]]:
    return {s: [shipped(r, strict) for r in load(folder / f"{s}.jsonl")] for s in sets}


def outcome(r: dict[str, Any]) -> str:
    if ans(r):
        if r["status"] == "answered":
            return "right" if r["correct"] else "answered-wrong"
        return "false-abst"
    return "abstained" if r["status"] == "not_found" else "conf-wrong"


def changed(runs: dict[str, dict[str, list[dict[str, Any]]]], sets: tuple[str, ...]) -> None:
    for s in sets:
        for r0, r1 in zip(runs["off"][s], runs["on"][s], strict=True):
            if (o0 := outcome(r0)) != (o1 := outcome(r1)):
                print(f"- {s} {r1['id']}: {o0} -> {o1} | {r1['question']} | {r1.get('final_answer')}")


def main(argv: list[str]) -> int:
    off_dir, on_dir, off2, on2 = (Path(a).expanduser() for a in argv[:4])
    assert system_rows  # the same replay as rule V10's (kept importable for the reader)
    runs = {"off": rows_of(off_dir, SETS, False), "on": rows_of(on_dir, SETS, True)}
    m = {k: {s: metrics(run[s]) for s in SETS} for k, run in runs.items()}
    docs = {k: metrics([r for s in DOCS for r in run[s]]) for k, run in runs.items()}
    print("# rule S13: the second look v2 (every-word reading) vs none, adapter v10s50, as shipped systems\n")
    print("| set | off right | on right | off abstained | on abstained | off conf.-wrong | on conf.-wrong "
          "| off false abst. | on false abst. |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|")
    p2 = {"off": rows_of(off2, (PROBE2,), False), "on": rows_of(on2, (PROBE2,), True)}
    m2 = {k: metrics(p2[k][PROBE2]) for k in p2}
    table = [*((s, (m["off"][s], m["on"][s])) for s in SETS), ("documents (3 sets)", (docs["off"], docs["on"])),
             (f"{PROBE2} (new, unseen)", (m2["off"], m2["on"]))]  # fmt: skip
    for name, (b, c) in table:
        print(f"| {name} | {b['right']}/{b['n_ans']} | {c['right']}/{c['n_ans']} | {b['abst']}/{b['n_un']} | "
              f"{c['abst']}/{c['n_un']} | {b['cw']}/{b['n_un']} | {c['cw']}/{c['n_un']} | {b['fa']}/{b['n_ans']} | "
              f"{c['fa']}/{c['n_ans']} |")  # fmt: skip
    out = {k: sum(m[k][s]["right"] + m[k][s]["abst"] for s in SETS) for k in m}
    cw = {k: sum(m[k][s]["cw"] for s in SETS) for k in m}
    n = sum(m["on"][s]["n_ans"] + m["on"][s]["n_un"] for s in SETS)
    b, c = m["off"], m["on"]
    u = c["unanswerable"]
    fv, st = format_valid(on_dir)
    gained, added = out["on"] - out["off"], cw["on"] - cw["off"]
    checks = [
        ("(a) right outcomes > 426 (the baseline's)", f"{out['on']} vs {out['off']} of {n}", out["on"] > max(out["off"], 426)),
        ("(b) unanswerable abstained >= 95.0 %", f"{pct(u['abst'], u['n_un']):.1f} %", pct(u["abst"], u["n_un"]) >= 95.0),
        ("(b) unanswerable confident-wrong <= 3/80", f"{u['cw']}/{u['n_un']}", u["cw"] <= 3),
        ("(c) confident-wrong, all 171 unanswerable rows <= 11 + floor(gained / 3)", f"{cw['on']} (baseline {cw['off']}, gained {gained})",
         cw["on"] <= 11 + max(gained, 0) // 3 and gained >= 3 * max(added, 0)),
        *((f"(d) {s} right >= the baseline's", f"{c[s]['right']} vs {b[s]['right']}", c[s]["right"] >= b[s]["right"])
          for s in ("test", "heldout40", "korean")),
        ("(e) format-valid steps >= 99 %", f"{fv}/{st} = {pct(fv, st):.2f} %", pct(fv, st) >= 99.0),
        (f"(f) {PROBE2}: answerable right on >= off", f"{m2['on']['right']} vs {m2['off']['right']}", m2["on"]["right"] >= m2["off"]["right"]),
        (f"(f) {PROBE2}: confident-wrong on <= off", f"{m2['on']['cw']} vs {m2['off']['cw']}", m2["on"]["cw"] <= m2["off"]["cw"]),
    ]  # fmt: skip
    print()
    for label, value, ok in checks:
        print(f"{label}: {value}: {'holds' if ok else 'FAILS'}")
    verdict = "HOLDS — the second look ships on for the local backend" if all(ok for *_, ok in checks) else "FAILS — it stays off"
    print(f"\nrule S13: {verdict}")
    print("\n## rows whose outcome changes (off -> on), the 7 sets\n")
    changed(runs, SETS)
    print(f"\n## rows whose outcome changes (off -> on), {PROBE2}\n")
    changed(p2, (PROBE2,))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
