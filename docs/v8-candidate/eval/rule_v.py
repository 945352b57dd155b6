"""Rule V (NOTES.md, session 6) for attempt 8: v8 vs v2b as systems (adapter + the grounding default of rule G).

    PYTHONPATH=. .venv/bin/python docs/v8-candidate/eval/rule_v.py bench/results/s6-eval/v2b bench/results/s6-eval/v8 [--off]

Each recorded row (bench.adapter_evals: the document step OFF when recorded) is replayed by
bench.grounding_replay.replay with the document step ON (G decided ON; ``--off`` replays it off). The reading
that decides is the lead's (NOTES.md 01:30, before any v8 trace): truth_metrics on the replayed statuses with the
shipped ungrounded=keep — right = answered and correct on an answerable row, abstained = not_found on an
unanswerable row, false abstention = not_found on an answerable row; V1 = right + abstained. If rule U flips
QREACT_UNGROUNDED to not_found, the same counts on statuses with ungrounded -> not_found for both (reading B).
Reading C (abstained = not answered, V8's 01:36 line, written without having seen the lead's) is information.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from bench.grounding_documents import load
from bench.grounding_replay import replay

SETS = ("test", "heldout40", "korean", "documents", "documents_extra", "unanswerable", "documents_probe")
DOCS = ("documents", "documents_extra", "documents_probe")


def rows_of(folder: Path, documents: bool) -> dict[str, list[dict[str, Any]]]:
    out = {}
    for name in SETS:
        rows = load(folder / f"{name}.jsonl")
        out[name] = [replay(r, documents=documents) for r in rows]
    return out


def flip(run: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    """QREACT_UNGROUNDED=not_found (rule U): an ungrounded row ends not_found (and is not right)."""
    return {
        name: [{**r, "status": "not_found", "correct": False} if r["status"] == "ungrounded" else r for r in rows]
        for name, rows in run.items()
    }


def ungrounded_report(label: str, run: dict[str, list[dict[str, Any]]]) -> list[str]:
    """Rule U's counts on one adapter's replayed rows: answerable ungrounded (of them right), unanswerable ungrounded."""
    ans_ung = [(n, r) for n in SETS for r in run[n] if ans(r) and r["status"] == "ungrounded"]
    right = [(n, r) for n, r in ans_ung if r["correct"]]
    un_ung = sum(1 for n in SETS for r in run[n] if not ans(r) and r["status"] == "ungrounded")
    all_right = sum(1 for n in SETS for r in run[n] if ans(r) and r["correct"] and r["status"] in ("answered", "ungrounded"))
    out = [
        f"{label}: answerable ungrounded {len(ans_ung)} (scorer-right {len(right)} of {all_right} right answerable "
        f"answers, answered-right + ungrounded-right); unanswerable ungrounded {un_ung}"
    ]
    out += [f"  - ungrounded-right {n} {r['id']}: {r['question']!r} -> {r['final_answer']!r}" for n, r in right]
    return out


def ans(r: dict[str, Any]) -> bool:
    return r.get("answerable", True) is not False


def metrics(rows: list[dict[str, Any]], strict: bool) -> dict[str, Any]:
    a = [r for r in rows if ans(r)]
    u = [r for r in rows if not ans(r)]
    right = sum(r["status"] == "answered" and bool(r["correct"]) for r in a)
    abst = sum((r["status"] == "not_found") if strict else (r["status"] != "answered") for r in u)
    fa = sum(r["status"] == "not_found" for r in a)
    return {"n_ans": len(a), "right": right, "n_un": len(u), "abst": abst, "fa": fa, "outcomes": right + abst}


def pct(k: int, n: int) -> float:
    return 100.0 * k / n if n else float("nan")


def evaluate(base: dict[str, list], cand: dict[str, list], strict: bool) -> tuple[bool, list[str]]:
    lines: list[str] = []
    m = {name: (metrics(base[name], strict), metrics(cand[name], strict)) for name in SETS}
    docs = tuple(metrics([r for s in DOCS for r in run[s]], strict) for run in (base, cand))
    lines.append("| set | v2b right | v8 right | v2b abstained | v8 abstained | v2b false abst. | v8 false abst. |")
    lines.append("|---|---|---|---|---|---|---|")
    for name in SETS:
        b, c = m[name]
        lines.append(
            f"| {name} | {b['right']}/{b['n_ans']} | {c['right']}/{c['n_ans']} | {b['abst']}/{b['n_un']} | "
            f"{c['abst']}/{c['n_un']} | {b['fa']}/{b['n_ans']} | {c['fa']}/{c['n_ans']} |"
        )
    b, c = docs
    lines.append(
        f"| documents (3 sets) | {b['right']}/{b['n_ans']} | {c['right']}/{c['n_ans']} | {b['abst']}/{b['n_un']} | "
        f"{c['abst']}/{c['n_un']} | {b['fa']}/{b['n_ans']} | {c['fa']}/{c['n_ans']} |"
    )
    tb = sum(m[s][0]["outcomes"] for s in SETS)
    tc = sum(m[s][1]["outcomes"] for s in SETS)
    n = sum(m[s][0]["n_ans"] + m[s][0]["n_un"] for s in SETS)
    v1 = tc > tb
    lines.append(f"\nV1 right outcomes over all sets: v8 {tc} vs v2b {tb} of {n}: {'holds' if v1 else 'FAILS'}")
    heads = [
        ("test accuracy", pct(m["test"][1]["right"], m["test"][1]["n_ans"]), pct(m["test"][0]["right"], m["test"][0]["n_ans"])),
        ("heldout accuracy", pct(m["heldout40"][1]["right"], m["heldout40"][1]["n_ans"]), pct(m["heldout40"][0]["right"], m["heldout40"][0]["n_ans"])),
        ("korean accuracy", pct(m["korean"][1]["right"], m["korean"][1]["n_ans"]), pct(m["korean"][0]["right"], m["korean"][0]["n_ans"])),
        ("unanswerable abstained", pct(m["unanswerable"][1]["abst"], m["unanswerable"][1]["n_un"]), pct(m["unanswerable"][0]["abst"], m["unanswerable"][0]["n_un"])),
        ("documents answerable accuracy", pct(c["right"], c["n_ans"]), pct(b["right"], b["n_ans"])),
        ("documents abstained", pct(c["abst"], c["n_un"]), pct(b["abst"], b["n_un"])),
    ]  # fmt: skip
    v2 = True
    for label, cv, bv in heads:
        ok = cv >= bv - 5.0
        v2 &= ok
        lines.append(f"V2 {label}: v8 {cv:.1f} % vs v2b {bv:.1f} % ({cv - bv:+.1f} points): {'ok' if ok else 'FAILS'}")
    v3 = True
    for label, (bm, cm) in (("test", m["test"]), ("documents (3 sets)", docs)):
        bv, cv = pct(bm["fa"], bm["n_ans"]), pct(cm["fa"], cm["n_ans"])
        ok = cv <= bv + 3.0
        v3 &= ok
        lines.append(
            f"V3 false abstention {label}: v8 {cv:.1f} % vs v2b {bv:.1f} % ({cv - bv:+.1f}): {'ok' if ok else 'FAILS'}"
        )
    return v1 and v2 and v3, lines


def format_valid(folder: Path) -> tuple[int, int]:
    rows = [r for name in SETS for r in load(folder / f"{name}.jsonl")]
    steps = sum(r["steps"] for r in rows)
    return steps - sum(r["format_errors"] for r in rows), steps


def main(argv: list[str]) -> int:
    documents = "--off" not in argv
    base_dir, cand_dir = (Path(a).expanduser() for a in argv if not a.startswith("--"))
    base, cand = rows_of(base_dir, documents), rows_of(cand_dir, documents)
    print(f"# rule V, document step {'ON' if documents else 'off'} (replayed on both)\n")
    print("Readings: (A) LEAD 01:30 = the decision: ungrounded=keep, abstained = status not_found only;")
    print("(B) if rule U flips QREACT_UNGROUNDED to not_found: ungrounded -> not_found on both, then (A)'s counts;")
    print("(C) V8 01:36 (superseded by the lead's 01:30 line, information only): abstained = not `answered`.\n")
    verdicts = {}
    for key, title, b, c, strict in (
        ("A", "(A) LEAD: ungrounded=keep, abstained = not_found", base, cand, True),
        ("B", "(B) ungrounded=not_found (rule U flipped), abstained = not_found", flip(base), flip(cand), True),
        ("C", "(C) superseded V8 01:36 reading: abstained = not answered", base, cand, False),
    ):
        print(f"\n## {title}\n")
        ok, lines = evaluate(b, c, strict)
        print("\n".join(lines))
        verdicts[key] = ok
    fv, st = format_valid(cand_dir)
    v4 = fv / st >= 0.99
    bfv, bst = format_valid(base_dir)
    print(f"\nV4 format-valid steps v8: {fv}/{st} = {100 * fv / st:.2f} % (v2b {100 * bfv / bst:.2f} %): "
          f"{'holds' if v4 else 'FAILS'}")  # fmt: skip
    print("\n## rule U counts (information for the lead; hand reading of the scorer-right rows needed)\n")
    for label, run in (("v2b", base), ("v8", cand)):
        print("\n".join(ungrounded_report(label, run)))
    print()
    for key in "ABC":
        print(f"rule V reading ({key}): {'HOLDS' if verdicts[key] and v4 else 'FAILS'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
