"""The stop-on-nothing-useful rule, measured: one loaded model, each question with the rule on and off.

    QREACT_TIMEOUT_S=3600 .venv/bin/python -m bench.nothing_useful \\
        --questions finetune/evalsets/unanswerable.jsonl --adapter default --adapter none --every 4 --every-base 10 \\
        --out bench/results/nothing_useful_cpu.json --report bench/results/nothing_useful_cpu.md

"On" is the default (``AgentConfig.nothing_useful_limit`` 2, rule "total": the run ends ``not_found``
once two searches returned nothing useful — "No good search result found.", an error, or a repeat of
an earlier call); "off" is limit 0 (never). Each question runs with the rule off first. The local
model decodes greedily, so the rule-on run is that same trace up to the step where the rule fires:
where the rule-off trace never meets the rule's condition, the rule-on run would be identical and is
not run again (``--verify N`` still runs the first N such questions with the rule on, to check that
the traces do match). Where it does fire, the rule-on run is run for real and timed.

The report gives, per adapter, how often the rule fires and the median/mean latency and model steps
with the rule on and off over the same questions.

``--replay FILE.results.jsonl ...`` does the same from runs already recorded by ``qreact eval`` with
the rule off (or where it never fired): the rule-on steps and status are the trace cut where the
loop would cut it (``bench.grounding_replay``); no latency, since a recorded row has no step timings.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from agent.grounding import is_useless_observation
from agent.loop import ReActAgent
from agent.trace import RunResult
from app.settings import get_settings
from app.wiring import agent_maker
from bench.grounding_replay import replay
from finetune.evaluate import Target, build_targets


def fires_at(result: RunResult, limit: int) -> int | None:
    """The index of the step at which the rule (limit, "total") would end this run, or None."""
    seen: set[str] = set()
    useless = 0
    for i, step in enumerate(result.steps):
        if step.kind != "tool" or step.tool == "Calculator":
            continue
        call = f"{step.tool}\n{' '.join((step.tool_input or '').lower().split())}"
        useless += is_useless_observation(step.observation) or call in seen
        seen.add(call)
        if useless >= limit:
            return i
    return None


def _summary(result: RunResult) -> dict[str, Any]:
    return {
        "status": result.status,
        "steps": len(result.steps),
        "latency_s": round(result.latency_ms / 1000, 2),
        "answer": result.answer,
    }


def run_question(target: Target, off: ReActAgent, on: ReActAgent, question: str, verify: bool) -> dict[str, Any]:
    target.prepare()
    r_off = off.run(question)
    at = fires_at(r_off, on.config.nothing_useful_limit)
    row: dict[str, Any] = {"label": target.label, "question": question, "fires_at_step": at, "off": _summary(r_off)}
    if at is None and not verify:
        row["on"] = {**row["off"], "rerun": False}
        return row
    target.prepare()
    r_on = on.run(question)
    row["on"] = {**_summary(r_on), "rerun": True}
    if at is None:
        same = [(s.tool, s.tool_input) for s in r_on.steps] == [(s.tool, s.tool_input) for s in r_off.steps]
        row["verified_same_trace"] = same and r_on.answer == r_off.answer
    return row


def _stats(rows: list[dict[str, Any]], side: str, key: str) -> tuple[float, float]:
    values = [r[side][key] for r in rows]
    return statistics.median(values), statistics.fmean(values)


def render(rows: list[dict[str, Any]], title: str) -> str:
    lines = [f"# {title}", ""]
    lines += [
        "| adapter | questions | rule fires | median latency off → on (s) | mean latency off → on (s) "
        "| median steps off → on | mean steps off → on | statuses off | statuses on |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for label in dict.fromkeys(r["label"] for r in rows):
        rs = [r for r in rows if r["label"] == label]
        fired = sum(r["fires_at_step"] is not None for r in rs)
        ml_off, al_off = _stats(rs, "off", "latency_s")
        ml_on, al_on = _stats(rs, "on", "latency_s")
        ms_off, as_off = _stats(rs, "off", "steps")
        ms_on, as_on = _stats(rs, "on", "steps")

        def statuses(side: str, rs: list[dict[str, Any]] = rs) -> str:
            counts: dict[str, int] = {}
            for r in rs:
                counts[r[side]["status"]] = counts.get(r[side]["status"], 0) + 1
            return ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))

        lines.append(
            f"| {label} | {len(rs)} | {fired} | {ml_off:.1f} → {ml_on:.1f} | {al_off:.1f} → {al_on:.1f} "
            f"| {ms_off:g} → {ms_on:g} | {as_off:.2f} → {as_on:.2f} | {statuses('off')} | {statuses('on')} |"
        )
    verified = [r for r in rows if "verified_same_trace" in r]
    if verified:
        same = sum(r["verified_same_trace"] for r in verified)
        lines += ["", f"Determinism check: {same} of {len(verified)} rule-on reruns of non-firing questions "
                  "gave the rule-off trace and answer."]  # fmt: skip
    fired_rows = [r for r in rows if r["fires_at_step"] is not None]
    if fired_rows:
        head = "| adapter | question | off: status, steps, s | on: status, steps, s |"
        lines += ["", "## Where the rule fires", "", head, "|---|---|---|---|"]
        for r in fired_rows:
            o, n = r["off"], r["on"]
            lines.append(
                f"| {r['label']} | {r['question']} | {o['status']}, {o['steps']}, {o['latency_s']} "
                f"| {n['status']}, {n['steps']}, {n['latency_s']} |"
            )
    return "\n".join(lines) + "\n"


def replay_table(paths: list[Path]) -> str:
    """Rule on vs off over recorded runs: how often it fires, model steps and statuses."""
    lines = [
        "| runs | config | questions | rule fires | median steps off → on | mean steps off → on "
        "| statuses off | statuses on |",
        "|---|---|---|---|---|---|---|---|",
    ]
    fired_lines: list[str] = []
    for path in paths:
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        for config in dict.fromkeys(r["config"] for r in rows):
            rs = [r for r in rows if r["config"] == config]
            off = [replay(r, limit=0) for r in rs]
            on = [replay(r) for r in rs]
            steps_off = [r["steps"] for r in rs]
            steps_on = [o.get("cut_steps", r["steps"]) for r, o in zip(rs, on, strict=True)]
            fired = sum("cut_steps" in o for o in on)

            def counts(results: list[dict[str, Any]]) -> str:
                c: dict[str, int] = {}
                for r in results:
                    c[r["status"]] = c.get(r["status"], 0) + 1
                return ", ".join(f"{k} {v}" for k, v in sorted(c.items()))

            lines.append(
                f"| `{path.name}` | {config} | {len(rs)} | {fired} "
                f"| {statistics.median(steps_off):g} → {statistics.median(steps_on):g} "
                f"| {statistics.fmean(steps_off):.2f} → {statistics.fmean(steps_on):.2f} "
                f"| {counts(off)} | {counts(on)} |"
            )
            for r, o, a, b in zip(rs, on, steps_off, steps_on, strict=True):
                if "cut_steps" in o:
                    fired_lines.append(
                        f"| `{path.name}` | {config} | {r['question']} | {r['status']}, {a} | not_found, {b} |"
                    )
    out = "\n".join(lines) + "\n"
    if fired_lines:
        out += "\n| runs | config | question where it fires | recorded: status, steps | rule on: status, steps |\n"
        out += "|---|---|---|---|---|\n" + "\n".join(fired_lines) + "\n"
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--questions", type=Path)
    parser.add_argument("--replay", type=Path, nargs="+", help="recorded eval results instead of live runs")
    parser.add_argument("--adapter", action="append", default=None, help="'default', 'none' or a folder; repeat")
    parser.add_argument("--every", type=int, default=1, help="run every Nth question")
    parser.add_argument("--every-base", type=int, default=1, help="the base model ('none') runs every Nth question")
    parser.add_argument("--verify", type=int, default=3, help="rule-on reruns of the first N non-firing questions")
    parser.add_argument("--out", type=Path, default=Path("bench/results/nothing_useful_cpu.json"))
    parser.add_argument("--report", type=Path)
    args = parser.parse_args(argv)
    if args.replay:
        text = f"# Stop on nothing useful, on vs off, over recorded runs\n\n{replay_table(args.replay)}"
        if args.report is not None:
            args.report.write_text(text, encoding="utf-8")
        sys.stdout.write(text)
        return
    if args.questions is None:
        parser.error("--questions (live runs) or --replay (recorded runs) is required")
    questions = [json.loads(line) for line in args.questions.read_text(encoding="utf-8").splitlines() if line.strip()]
    settings = get_settings().model_copy(update={"search": "local"})
    targets = build_targets(agent_maker(settings), ["local"], args.adapter or ["default"])
    rows: list[dict[str, Any]] = []
    started = time.perf_counter()
    for target in targets:
        on = target.agent
        off = copy.copy(on)  # the same model and tools, the rule off
        off.config = dataclasses.replace(on.config, nothing_useful_limit=0)
        every = args.every_base if target.label.endswith(":none") else args.every
        verified = 0
        for i, q in enumerate(questions):
            if i % every:
                continue
            verify = verified < args.verify
            row = run_question(target, off, on, q["question"], verify)
            row["id"], row["kind"] = q.get("id"), q.get("kind")
            verified += "verified_same_trace" in row
            rows.append(row)
            print(json.dumps(row, ensure_ascii=False), flush=True)
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(rows, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    text = render(rows, f"Stop on nothing useful, on vs off: {args.questions.name}")
    text += f"\nWall time {time.perf_counter() - started:.0f} s on this machine's shared CPUs.\n"
    if args.report is not None:
        args.report.write_text(text, encoding="utf-8")
    sys.stdout.write(text)


if __name__ == "__main__":
    main()
