"""Logged runs → fine-tuning trajectories: the run store's confirmed runs as trajectory JSONL.

    qreact data export --since 7d --only-confirmed --out runs.jsonl

A run becomes a training example when its latest feedback confirms it, or corrects its answer
to one that the trace's own tool calls support (``agent.replay.replay_check``: the calculator calls are
re-run and must give the recorded observations, and the last observation must contain the
corrected answer). Other corrections are question/answer pairs only (``--qa-out``), material
for the gold or teacher generators. Logs are rebuilt canonically from the parsed steps and
malformed steps are dropped, so the data teaches the exact format and nothing else.
"""

from __future__ import annotations

import builtins
import json
import logging
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from agent.numbers import normalize
from agent.prompt import FINAL_THOUGHT
from agent.replay import replay_check, tool_steps
from agent.trajectory import Trajectory

logger = logging.getLogger(__name__)

def _thought(step: Mapping[str, Any]) -> str:
    """The step's thought; a model that skipped it gets a plain one, so the data keeps the format."""
    return str(step.get("thought") or "").strip() or f"I should use {step['tool']}."


def run_to_trajectory(run: Mapping[str, Any]) -> dict[str, Any] | None:
    """A stored run (``RunStore.get`` dict with feedback) as one trajectory line, or None if unusable."""
    fb = run.get("feedback") or {}
    if fb.get("correct"):
        answer, how = run.get("answer"), "confirmed"
    elif fb.get("replayable") and fb.get("answer"):
        answer, how = fb["answer"], "corrected"
    else:
        return None
    if answer is None or not str(answer).strip():
        return None
    steps = list(run.get("steps") or [])
    calls = tool_steps(steps)
    cut = 0
    if how == "corrected":  # the example ends at the first observation that holds the answer
        check = replay_check(steps, str(answer))
        if not check.ok:
            return None
        cut, calls = len(calls) - check.keep, calls[: check.keep]
    final = next((s for s in reversed(steps) if s.get("kind") == "final"), None)
    thought = (final or {}).get("thought") if how == "confirmed" else None
    return Trajectory.build(
        question=str(run["question"]),
        calls=[(_thought(s), s["tool"], s.get("tool_input") or "", s["observation"]) for s in calls],
        final_answer=str(answer),
        final_thought=thought or FINAL_THOUGHT,
        id=f"run-{run['run_id']}",
        source="logged",
        answer=str(answer),
        kind="logged",
        meta={
            "run_id": run["run_id"],
            "created_at": run.get("created_at"),
            "feedback": how,
            "note": fb.get("note"),
            "backend": run.get("backend"),
            "model": run.get("model"),
            "adapter": run.get("adapter"),
            "dropped_steps": len([s for s in steps if s.get("kind") != "final"]) - len(calls) - cut,
            "cut_steps": cut,
        },
    ).to_row()


def dedup_key(traj: Mapping[str, Any]) -> tuple[Any, ...]:
    """Same question (normalised) and same tool calls/observations = the same example."""
    steps = tuple((s["tool"], s["tool_input"].strip(), s["observation"]) for s in traj["steps"])
    return (normalize(traj["question"]), steps)


def parse_since(value: str | None) -> datetime | None:
    """``2026-01-31``, an ISO date-time, or a relative ``30m`` / ``12h`` / ``7d`` (UTC)."""
    if value is None or not value.strip():
        return None
    m = re.fullmatch(r"\s*(\d+)\s*([mhdw])\s*", value)
    if m:
        unit = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}[m.group(2)]
        return datetime.now(UTC) - timedelta(**{unit: int(m.group(1))})
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError as exc:
        raise ValueError(f"--since: {value!r} is neither an ISO date/time nor like 7d / 12h / 30m") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class RunSource(Protocol):
    """Where logged runs come from: the service's run store (``app.store.runs.RunStore``) implements it."""

    def confirmed_runs(self, since: datetime | None = None) -> builtins.list[dict[str, Any]]: ...

    def qa_pairs(self, since: datetime | None = None) -> builtins.list[dict[str, Any]]: ...

    def list(self, limit: int = 20, offset: int = 0, *, with_trace: bool = False) -> builtins.list[dict[str, Any]]: ...


def _candidates(store: RunSource, since: datetime | None, only_confirmed: bool) -> list[dict[str, Any]]:
    if only_confirmed:
        return store.confirmed_runs(since=since)
    # every answered run not marked wrong (plus confirmed/corrected ones), oldest first
    out: list[dict[str, Any]] = []
    offset, page = 0, 500
    while True:
        rows = store.list(limit=page, offset=offset, with_trace=True)
        if not rows:
            break
        out.extend(rows)
        offset += page
    out.reverse()
    keep = []
    for run in out:
        created = datetime.fromisoformat(run["created_at"]) if run.get("created_at") else None
        if since is not None and created is not None and created < since:
            continue
        fb = run.get("feedback")
        if fb is None and run["status"] == "answered":
            run = {**run, "feedback": {"correct": True, "note": "unreviewed"}}
        keep.append(run)
    return keep


def export_runs(
    store: RunSource,
    out_path: str | Path,
    since: datetime | str | None = None,
    only_confirmed: bool = True,
    qa_out: str | Path | None = None,
) -> dict[str, int]:
    """Write the store's usable runs as trajectory JSONL; returns counts (per source, duplicates, skipped)."""
    since_dt = parse_since(since) if isinstance(since, str) or since is None else since
    runs = _candidates(store, since_dt, only_confirmed)
    pairs = store.qa_pairs(since=since_dt)
    seen: set[tuple[Any, ...]] = set()
    written = duplicates = skipped = 0
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8") as fh:
        for run in runs:
            traj = run_to_trajectory(run)
            if traj is None:
                skipped += 1
                continue
            key = dedup_key(traj)
            if key in seen:
                duplicates += 1
                continue
            seen.add(key)
            fh.write(json.dumps(traj, ensure_ascii=False) + "\n")
            written += 1
    if qa_out is not None:
        qa_path = Path(qa_out)
        qa_path.parent.mkdir(parents=True, exist_ok=True)
        with qa_path.open("w", encoding="utf-8") as fh:
            for pair in pairs:
                line = {
                    "id": f"feedback-{pair['run_id']}",
                    **pair,
                    "source": "feedback",
                }  # a question-file line
                fh.write(json.dumps(line, ensure_ascii=False) + "\n")
    counts = {
        "logged": written,  # per source: everything exported here is "logged"
        "written": written,
        "duplicates": duplicates,
        "skipped": skipped,
        "qa_pairs": len(pairs),
    }
    logger.info("exported runs: %s", counts)
    return counts
