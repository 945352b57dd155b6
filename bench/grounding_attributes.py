"""Replay the attribute step of the grounding check (``QREACT_GROUNDING_ATTRIBUTES``) over recorded eval runs: rule G7.

    .venv/bin/python -m bench.grounding_attributes                       # v8 and v2b, bench/results/s6-eval
    .venv/bin/python -m bench.grounding_attributes --probe --json out.json  # + the held-out documents_probe counts
    .venv/bin/python -m bench.grounding_attributes --run v9=DIR --run v8=bench/results/s6-eval/v8

Offline, no model: every row of the development sets (test, heldout40, korean, documents, documents_extra,
unanswerable) is judged by ``bench.grounding_replay.replay`` with the shipped steps (document step on) before and
with the attribute step added after. Per adapter, side by side: the answerable rows the scorer calls right that the
step newly flags (they would become the not-found answer under ``QREACT_UNGROUNDED=auto``), and the wrong answers and
answered unanswerable rows it newly catches; then rule G7 of NOTES.md (ship on iff, for every adapter, newly flagged
right <= 1 and newly caught >= 5), every changed row, and the system as shipped (``ungrounded`` -> ``not_found``)
before and after. ``--probe`` adds documents_probe as the held-out reading: counts only, no row text (it stays
unread for the next design).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from bench.grounding_documents import as_not_found, find_set, is_answerable, load, parse_runs, system
from bench.grounding_replay import replay

DEV_SETS = ("test", "heldout40", "korean", "documents", "documents_extra", "unanswerable")
PROBE = "documents_probe"
RESULTS = Path(__file__).resolve().parent / "results" / "s6-eval"
DEFAULT_RUNS = (f"v8={RESULTS / 'v8'}", f"v2b={RESULTS / 'v2b'}")
MAX_FLAGGED, MIN_CAUGHT = 1, 5  # rule G7 (NOTES.md, written 10:45 UTC session 7), per adapter


def compare(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Counts of one set, the shipped check before and with the attribute step after, and the changed rows."""
    c: dict[str, Any] = {"right": 0, "flagged": 0, "wrong": 0, "caught": 0, "unflagged": 0, "changed": []}
    before_rows, after_rows = [], []
    for row in rows:
        if not row.get("trace"):
            continue
        before = replay(row, documents=True)
        after = replay(row, documents=True, attributes=True)
        before_rows.append(before)
        after_rows.append(after)
        right = is_answerable(row) and bool(row["correct"])
        if before["status"] == "answered":
            c["right" if right else "wrong"] += 1
            if after["status"] != "answered":
                c["flagged" if right else "caught"] += 1
                label = (
                    "RIGHT answer flagged" if right else "caught" + ("" if is_answerable(row) else " (unanswerable)")
                )
                c["changed"].append((label, row, after))
        elif after["status"] == "answered":
            c["unflagged"] += 1
            c["changed"].append(("no longer flagged", row, after))
    c["system_before"] = system([as_not_found(r) for r in before_rows])
    c["system_after"] = system([as_not_found(r) for r in after_rows])
    return c


def _sum(per_set: dict[str, dict[str, Any]], key: str) -> int:
    return sum(int(c[key]) for c in per_set.values())


def rule_g7(per_set: dict[str, dict[str, Any]]) -> dict[str, Any]:
    flagged, caught = _sum(per_set, "flagged"), _sum(per_set, "caught")
    return {"flagged": flagged, "caught": caught, "holds": flagged <= MAX_FLAGGED and caught >= MIN_CAUGHT}


def main(runs: dict[str, list[Path]], probe: bool = False, json_out: Path | None = None) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for adapter, dirs in runs.items():
        per_set: dict[str, dict[str, Any]] = {}
        for name in (*DEV_SETS, *((PROBE,) if probe else ())):
            path = find_set(dirs, name)
            if path is not None:
                per_set[name] = compare(load(path))
        result[adapter] = per_set
    names = list(runs)
    head = " | ".join(f"{a}: right answered / newly flagged | {a}: wrong answered / newly caught" for a in names)
    print(f"| set | {head} |")
    print("|---|" + "---|---|" * len(names))
    for name in DEV_SETS:
        cells = []
        for a in names:
            c = result[a].get(name)
            cells += ["-", "-"] if c is None else [f"{c['right']} / {c['flagged']}", f"{c['wrong']} / {c['caught']}"]
        print(f"| {name} | " + " | ".join(cells) + " |")
    dev = {a: {n: c for n, c in result[a].items() if n != PROBE} for a in names}
    cells = []
    for a in names:
        cells += [
            f"**{_sum(dev[a], 'right')} / {_sum(dev[a], 'flagged')}**",
            f"**{_sum(dev[a], 'wrong')} / {_sum(dev[a], 'caught')}**",
        ]
    print("| **development sets** | " + " | ".join(cells) + " |")
    print()
    verdicts = {a: rule_g7(dev[a]) for a in names}
    for a, g in verdicts.items():
        print(
            f"rule G7, {a}: right answers newly flagged {g['flagged']} (<= {MAX_FLAGGED}), wrong/unanswerable answers "
            f"newly caught {g['caught']} (>= {MIN_CAUGHT}): {'holds' if g['holds'] else 'FAILS'}"
        )
    ship = all(g["holds"] for g in verdicts.values())
    print(f"rule G7 over {', '.join(names)}: {'holds -> the step ships ON' if ship else 'FAILS -> the step stays OFF'}")
    print()
    for a in names:
        for name, c in dev[a].items():
            unflagged = f", {c['unflagged']} no longer flagged" if c["unflagged"] else ""
            if c["changed"]:
                print(f"{a} {name}: {len(c['changed'])} changed{unflagged}")
            for label, row, after in c["changed"]:
                print(
                    f"- {a} {name} {row['id']} {label}: Q {row['question']!r} -> A {row['final_answer']!r}; "
                    f"unsupported {after['grounding']['unsupported']}"
                )
    print()
    print("The system as shipped (document step on, QREACT_UNGROUNDED=auto: ungrounded -> not_found), before -> after:")
    print()
    print("| adapter | set | answerable right | false abstention | unanswerable abstained | right outcomes "
          "| confident-wrong |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    for a in names:
        for name, c in dev[a].items():
            print(_system_row(a, name, c["system_before"], c["system_after"]))
        totals = [_add([c[key] for c in dev[a].values()]) for key in ("system_before", "system_after")]
        print(_system_row(a, "**development sets**", *totals))
        if probe and PROBE in result[a]:
            print(
                _system_row(
                    a, f"{PROBE} (held out)", result[a][PROBE]["system_before"], result[a][PROBE]["system_after"]
                )
            )
    if probe:
        print()
        for a in names:
            c = result[a].get(PROBE)
            if c is not None:
                print(
                    f"held-out {PROBE}, {a}: right answers newly flagged {c['flagged']} of {c['right']}, wrong/"
                    f"unanswerable answers newly caught {c['caught']} of {c['wrong']}"
                    + (f", {c['unflagged']} no longer flagged" if c["unflagged"] else "")
                )
    out = {
        a: {
            "sets": {n: {k: v for k, v in c.items() if k != "changed"} for n, c in per_set.items()},
            "rule_g7": verdicts[a],
        }
        for a, per_set in result.items()
    }
    if json_out is not None:
        json_out.write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
    return out


def _add(metrics: list[dict[str, int]]) -> dict[str, int]:
    return {k: sum(m[k] for m in metrics) for k in metrics[0]} if metrics else {}


def _system_row(adapter: str, name: str, b: dict[str, int], a: dict[str, int]) -> str:
    def pair(key: str, of: str) -> str:
        return f"{b[key]} -> {a[key]} / {a[of]}"

    return (
        f"| {adapter} | {name} | {pair('answerable_right', 'answerable')} | {pair('false_abstention', 'answerable')} | "
        f"{pair('abstained', 'unanswerable')} | {pair('right_outcomes', 'n')} | {pair('confident_wrong', 'n')} |"
    )


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--run", action="append", help="NAME=DIR[,DIR...]: an adapter's run folders (default: v8, v2b)")
    p.add_argument("--probe", action="store_true", help="also the held-out documents_probe set, counts only")
    p.add_argument("--json", type=Path, help="write the counts and rule G7 here")
    a = p.parse_args()
    main(parse_runs(a.run or list(DEFAULT_RUNS), Path.home()), a.probe, a.json)
