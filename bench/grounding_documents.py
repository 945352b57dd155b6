"""Replay the document step of the grounding check (``QREACT_GROUNDING_DOCUMENTS``) over recorded eval runs.

    .venv/bin/python -m bench.grounding_documents --run v2b=~/.cache/qreact/s6-eval/v2b
    .venv/bin/python -m bench.grounding_documents --run v2b=DIR1 --run v8=DIR2 --json counts.json
    .venv/bin/python -m bench.grounding_documents            # session 5's runs under ~/.cache/qreact (RUNS)

A run folder holds ``<set>.jsonl`` files as ``bench.adapter_evals`` writes them (rows with their whole trace,
recorded with the step off); ``--run NAME=DIR[,DIR...]`` names an adapter's folders (the first holding a set
wins). Offline, no model: each trace is judged by ``bench.grounding_replay.replay`` (today's loop rules)
with the document step off and on. Per set and adapter it prints the answerable rows the scorer calls right
that the step newly flags (they leave ``answered``), the unanswerable rows answered confidently
(``answered``) that it turns into non-answers (the check says ``ungrounded``: kept and marked with the shipped
``ungrounded=keep``, the not-found answer with ``ungrounded=not_found``), then every changed row, then the
lead's rule G (NOTES.md, session 6) evaluated on the numbers, and the system metrics (``finetune.evaluate``'s
truth metrics: abstained = ``not_found`` only) with the step off and on, each with the shipped
``ungrounded=keep`` and with ``ungrounded=not_found`` (an ``ungrounded`` row ends ``not_found``): what rule V
compares. ``--json`` writes the counts and metrics (``sets.<set>.system_on``, ``system_totals``).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.grounding_replay import replay

SETS = (
    "test",
    "test40",
    "test41-200",
    "heldout40",
    "korean",
    "documents",
    "documents_extra",
    "unanswerable",
    "documents_probe",
)
RUNS = {  # session 5's recorded runs (relative to ~/.cache/qreact): the default without --run
    "v2b": ("v4-eval/v2b", "v6b-eval/v2b"),
    "v4": ("v4-eval/v4",),
    "v6": ("v6-eval/v6", "v6b-eval/v6"),
}
DOC_SETS = ("documents", "documents_extra", "documents_probe")
PROBE = "documents_probe"
COUNTS = ("right", "flagged", "wrong", "turned", "mismatch")


def load(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def is_answerable(row: dict[str, Any]) -> bool:
    return row.get("answerable", True) is not False


def compare(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Counts and changed rows of one set: the step off vs on, each row replayed."""
    c: dict[str, Any] = dict.fromkeys(COUNTS, 0)
    examples: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
    off_rows, on_rows = [], []
    for row in rows:
        if not row.get("trace"):
            continue
        before, after = replay(row, documents=False), replay(row, documents=True)
        off_rows.append(before)
        on_rows.append(after)
        c["mismatch"] += before["status"] != row["status"]  # the replay disagrees with the recorded status
        answerable = is_answerable(row)
        if answerable and before["status"] == "answered" and bool(row["correct"]):
            c["right"] += 1
            if after["status"] != "answered":
                c["flagged"] += 1
                examples.append(("BAD (right answer flagged)", row, after))
        elif not answerable and before["status"] == "answered":
            c["wrong"] += 1
            if after["status"] != "answered":
                c["turned"] += 1
                examples.append(("good (confident-wrong unanswerable turned)", row, after))
        elif answerable and before["status"] == "answered" and after["status"] != "answered":
            examples.append(("wrong answerable answer flagged", row, after))
    c["examples"] = examples
    c["system_off"], c["system_on"] = system(off_rows), system(on_rows)
    # the same with QREACT_UNGROUNDED=not_found (rule U of session 6 may flip that default)
    c["system_off_not_found"] = system([as_not_found(r) for r in off_rows])
    c["system_on_not_found"] = system([as_not_found(r) for r in on_rows])
    return c


def as_not_found(row: dict[str, Any]) -> dict[str, Any]:
    """The row as ``QREACT_UNGROUNDED=not_found`` ends it: an ``ungrounded`` answer becomes the not-found answer."""
    if row["status"] != "ungrounded":
        return row
    return {**row, "status": "not_found", "correct": not is_answerable(row)}


def system(rows: Sequence[dict[str, Any]]) -> dict[str, int]:
    """What the user gets (replayed rows), as ``finetune.evaluate.truth_metrics`` counts it: answerable right =
    ``answered`` and right, abstained = ``not_found`` only; ``right_outcomes`` = both; ungrounded counts beside."""
    ans = [r for r in rows if is_answerable(r)]
    unans = [r for r in rows if not is_answerable(r)]
    right = sum(r["status"] == "answered" and bool(r["correct"]) for r in ans)
    abstained = sum(r["status"] == "not_found" for r in unans)
    return {
        "n": len(rows),
        "answerable": len(ans),
        "answerable_right": right,
        "false_abstention": sum(r["status"] == "not_found" for r in ans),
        "unanswerable": len(unans),
        "abstained": abstained,
        "abstained_or_ungrounded": sum(r["status"] != "answered" for r in unans),
        "confident_wrong": sum(r["status"] == "answered" and not (is_answerable(r) and r["correct"]) for r in rows),
        "right_outcomes": right + abstained,
        "ungrounded_answerable": sum(r["status"] == "ungrounded" for r in ans),
        "ungrounded_answerable_right": sum(r["status"] == "ungrounded" and bool(r["correct"]) for r in ans),
        "ungrounded_unanswerable": sum(r["status"] == "ungrounded" for r in unans),
    }


def find_set(dirs: Sequence[Path], name: str) -> Path | None:
    return next((d / f"{name}.jsonl" for d in dirs if (d / f"{name}.jsonl").exists()), None)


def rule_g(per_set: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Rule G of NOTES.md (session 6, fixed 00:47) on one adapter's counts."""
    right = sum(c["right"] for c in per_set.values())
    flagged = sum(c["flagged"] for c in per_set.values())
    probe = per_set.get(PROBE)
    wrong = sum(c["wrong"] for n, c in per_set.items() if n in DOC_SETS)
    turned = sum(c["turned"] for n, c in per_set.items() if n in DOC_SETS)
    g1 = flagged <= 0.01 * right and flagged <= 3
    g2 = None if probe is None else probe["flagged"] <= 1
    g3 = wrong > 0 and turned >= 0.25 * wrong
    return {
        "G1": {"flagged": flagged, "right": right, "holds": g1},
        "G2": {"probe_flagged": None if probe is None else probe["flagged"], "holds": g2},
        "G3": {"turned": turned, "confident_wrong": wrong, "holds": g3},
        "holds": bool(g1 and g2 and g3),
    }


def _pct(a: int, b: int) -> str:
    return f"{100 * a / b:.1f} %" if b else "-"


def main(runs: dict[str, list[Path]], json_out: Path | None = None) -> dict[str, Any]:
    print("| adapter | set | right answerable answers | newly flagged | confident-wrong unanswerable | turned |")
    print("|---|---|---|---|---|---|")
    shown: list[str] = []
    result: dict[str, Any] = {}
    for adapter, dirs in runs.items():
        per_set: dict[str, dict[str, Any]] = {}
        for name in SETS:
            path = find_set(dirs, name)
            if path is None or (name.startswith("test") and name != "test" and "test" in per_set):
                continue  # test40/test41-200 are the older split of test
            c = per_set[name] = compare(load(path))
            print(f"| {adapter} | {name} | {c['right']} | {c['flagged']} | {c['wrong']} | {c['turned']} |")
            for label, row, after in c["examples"]:
                shown.append(
                    f"- {adapter} {name} {row['id']} {label}: Q {row['question']!r} -> A {row['final_answer']!r}; "
                    f"unsupported {after['grounding']['unsupported']}"
                )
        tot = {k: sum(c[k] for c in per_set.values()) for k in COUNTS}
        g = rule_g(per_set)
        print(
            f"| {adapter} | **all** | {tot['right']} | {tot['flagged']} | {tot['wrong']} | {tot['turned']} |"
            f" (document sets: {g['G3']['turned']}/{g['G3']['confident_wrong']} confident-wrong turned)"
        )
        result[adapter] = {
            "dirs": [str(d) for d in dirs],
            "sets": {n: {k: v for k, v in c.items() if k != "examples"} for n, c in per_set.items()},
            "rule_g": g,
        }
    print()
    print("\n".join(shown))
    print()
    for adapter, r in result.items():
        g = r["rule_g"]
        g1, g2, g3 = g["G1"], g["G2"], g["G3"]
        print(
            f"rule G, {adapter}: G1 {g1['flagged']}/{g1['right']} right answers flagged "
            f"({_pct(g1['flagged'], g1['right'])}; <= 1 % and <= 3 rows): {'holds' if g1['holds'] else 'FAILS'}; "
            f"G2 probe flagged {g2['probe_flagged']} (<= 1): "
            f"{'no probe set' if g2['holds'] is None else 'holds' if g2['holds'] else 'FAILS'}; "
            f"G3 {g3['turned']}/{g3['confident_wrong']} confident-wrong document rows turned "
            f"({_pct(g3['turned'], g3['confident_wrong'])}; >= 25 %): {'holds' if g3['holds'] else 'FAILS'} "
            f"-> {'ON' if g['holds'] else 'OFF'}"
        )
    print()
    print("| adapter | set | step, ungrounded= | answerable right | false abstention | unanswerable abstained | "
          "right outcomes | ungrounded (answerable, of them right / unanswerable) | confident-wrong |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|")
    for adapter, r in result.items():
        totals: dict[str, dict[str, int]] = {}
        for name, c in r["sets"].items():
            for key, label in SYSTEMS:
                s = c[key]
                for k, v in s.items():
                    totals.setdefault(key, {}).setdefault(k, 0)
                    totals[key][k] += v
                print(_system_row(adapter, name, label, s))
        for key, label in SYSTEMS:
            print(_system_row(adapter, "**all**", label, totals.get(key, {})))
        r["system_totals"] = totals
        mism = sum(c["mismatch"] for c in r["sets"].values())
        if mism:
            print(f"\nnote: {adapter}: {mism} rows whose replayed status (step off) differs from the recorded one")
    if json_out is not None:
        json_out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    return result


SYSTEMS = (
    ("system_off", "off, keep"),
    ("system_on", "on, keep"),
    ("system_off_not_found", "off, not_found"),
    ("system_on_not_found", "on, not_found"),
)


def _system_row(adapter: str, name: str, label: str, s: dict[str, int]) -> str:
    if not s:
        return f"| {adapter} | {name} | {label} | - | - | - | - | - | - |"
    return (
        f"| {adapter} | {name} | {label} | {s['answerable_right']}/{s['answerable']} | "
        f"{s['false_abstention']}/{s['answerable']} | {s['abstained']}/{s['unanswerable']} | "
        f"{s['right_outcomes']}/{s['n']} | {s['ungrounded_answerable']} ({s['ungrounded_answerable_right']}) / "
        f"{s['ungrounded_unanswerable']} | {s['confident_wrong']}/{s['n']} |"
    )


def parse_runs(values: Sequence[str] | None, cache: Path) -> dict[str, list[Path]]:
    if not values:
        return {name: [cache / d for d in dirs] for name, dirs in RUNS.items()}
    runs: dict[str, list[Path]] = {}
    for value in values:
        name, sep, dirs = value.partition("=")
        if not sep or not name or not dirs:
            raise SystemExit(f"--run wants NAME=DIR[,DIR...], got {value!r}")
        runs[name] = [Path(d).expanduser() for d in dirs.split(",")]
    return runs


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("cache", nargs="?", type=Path, default=Path.home() / ".cache" / "qreact", help="for RUNS")
    p.add_argument("--run", action="append", help="NAME=DIR[,DIR...]: an adapter's run folders (repeatable)")
    p.add_argument("--json", type=Path, help="write the counts, rule G and the system metrics here")
    a = p.parse_args()
    main(parse_runs(a.run, a.cache.expanduser()), a.json)
