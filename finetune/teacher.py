"""Teacher distillation (FireAct-style): run a strong model through the same agent, keep correct runs.

    qreact data teacher --questions finetune/evalsets/dev.jsonl --out data/teacher/dev.jsonl

``distill`` runs any agent (``qreact data teacher`` builds the openai-backed one: it needs
``QREACT_OPENAI_API_KEY`` / ``OPENAI_API_KEY`` or ``QREACT_OPENAI_BASE_URL`` for a local
OpenAI-compatible server). A run is kept only when it
answered, every step parsed, and the answer scores correct against the gold answer; its texts
are rebuilt by ``agent.trajectory.Trajectory`` so they tokenize like the gold trajectories.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.loop import ReActAgent
from agent.trace import RunResult
from agent.trajectory import Trajectory
from finetune.scoring import is_correct

logger = logging.getLogger(__name__)


def load_questions(path: Path) -> list[dict[str, Any]]:
    """Question-file lines ({question, answer, optional rel_tol/kind/id}); a bad line names its number."""
    rows: list[dict[str, Any]] = []
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{n}: not JSON ({exc.msg})") from exc
            if not isinstance(row, dict) or not str(row.get("question", "")).strip() or "answer" not in row:
                raise ValueError(f"{path}:{n}: needs 'question' and 'answer'")
            row.setdefault("id", f"{path.stem}-{n}")
            rows.append(row)
    return rows


def run_to_trajectory(
    run: RunResult, question: dict[str, Any], source: str = "teacher"
) -> dict[str, Any] | None:
    """The trajectory-format record of a clean, correct run, or None when it must not train."""
    if run.status != "answered" or not run.steps or run.steps[-1].kind != "final":
        return None
    tool_steps = run.steps[:-1]
    if not tool_steps or any(s.kind != "tool" or not s.thought or not s.tool for s in tool_steps):
        return None  # format errors, empty thoughts or no tool use: not a trajectory worth learning
    if not is_correct(run.answer, question["answer"], question.get("rel_tol")):
        return None
    return Trajectory.from_run(
        run,
        id=f"{source}-{question['id']}",
        source=source,
        answer=question["answer"],
        kind=question.get("kind", "unknown"),
        meta={"run_id": run.run_id, "backend": run.backend, "model": run.model, "latency_ms": run.latency_ms},
    ).to_row()


@dataclass
class TeacherStats:
    asked: int = 0
    kept: int = 0
    wrong_or_unclean: int = 0


def distill(
    agent: ReActAgent, questions: Sequence[dict[str, Any]], out: Path, limit: int | None = None
) -> TeacherStats:
    """Run every question, append the kept trajectories to ``out`` (JSONL)."""
    stats = TeacherStats()
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("a", encoding="utf-8") as f:
        for q in questions[:limit] if limit else questions:
            stats.asked += 1
            run = agent.run(str(q["question"]))
            row = run_to_trajectory(run, q)
            if row is None:
                stats.wrong_or_unclean += 1
                logger.info("dropped %s: status=%s answer=%r", q["id"], run.status, run.answer)
                continue
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
            f.flush()
            stats.kept += 1
    return stats
