"""The run log: every agent run (its full trace) and the feedback on it, in the store's database.

``RunStore(url)`` opens the database (``app.store.database``); ``confirmed_runs`` is what training reads
(``finetune.export.RunSource``). The same database holds the adapter registry: ``adapter_registry()``.
"""

from __future__ import annotations

import builtins
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import exists, func, insert, select
from sqlalchemy.exc import IntegrityError

from agent.trace import RunResult
from app.store.database import Database
from app.store.registry import AdapterStore, default_replica_id
from app.store.schema import feedback, runs


class RunNotFoundError(KeyError):
    """No run with that id."""


def _utc(value: datetime | None) -> datetime | None:
    """As UTC: naive values (SQLite hands them back) are UTC already; aware ones are converted."""
    if value is None:
        return None
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


def _iso(value: datetime | None) -> str | None:
    v = _utc(value)
    return v.isoformat() if v else None


class RunStore(Database):
    """Durable log of runs and feedback behind one SQLAlchemy URL."""

    def save(self, run: RunResult, **extra: Any) -> None:
        """Write one run; durable when this returns. ``extra`` (JSON-able) lands in ``meta``."""
        trace = {
            "prompt": run.prompt,
            "steps": [s.model_dump(mode="json") for s in run.steps],
            "usage": run.usage.model_dump(mode="json"),
            "meta": {k: v for k, v in extra.items() if k != "created_at"},
        }
        created = extra.get("created_at")
        created_at = _utc(created) if isinstance(created, datetime) else datetime.now(UTC)
        self.write(
            insert(runs).values(
                id=run.run_id,
                created_at=created_at,
                question=run.question,
                answer=run.answer,
                status=run.status,
                backend=run.backend,
                model=run.model,
                adapter=run.adapter,
                latency_ms=float(run.latency_ms),
                prompt_tokens=run.usage.prompt_tokens,
                completion_tokens=run.usage.completion_tokens,
                trace=trace,
                error=run.error,
                grounding=run.grounding.model_dump(mode="json") if run.grounding is not None else None,
            )
        )

    def add_feedback(
        self,
        run_id: str,
        correct: bool,
        answer: str | None = None,
        note: str | None = None,
        *,
        replayable: bool = False,
    ) -> dict[str, Any]:
        """Record feedback on a run (the latest feedback wins). Raises ``RunNotFoundError``."""
        now = datetime.now(UTC)
        try:
            self.write(
                insert(feedback).values(
                    run_id=run_id,
                    correct=correct,
                    answer=answer,
                    note=note,
                    replayable=replayable,
                    created_at=now,
                )
            )
        except IntegrityError as exc:  # foreign key: the run does not exist
            raise RunNotFoundError(run_id) from exc
        return {
            "run_id": run_id,
            "correct": correct,
            "answer": answer,
            "note": note,
            "replayable": replayable,
            "created_at": now.isoformat(),
        }

    # --- reads
    def _latest_feedback(self, conn: Any, run_ids: list[str]) -> dict[str, dict[str, Any]]:
        if not run_ids:
            return {}
        rows = conn.execute(select(feedback).where(feedback.c.run_id.in_(run_ids)).order_by(feedback.c.id)).mappings()
        latest: dict[str, dict[str, Any]] = {}
        for row in rows:  # ascending id: the last one seen per run is the latest
            latest[row["run_id"]] = {
                "correct": bool(row["correct"]),
                "answer": row["answer"],
                "note": row["note"],
                "replayable": bool(row["replayable"]),
                "created_at": _iso(row["created_at"]),
            }
        return latest

    @staticmethod
    def _row_dict(row: Any, fb: dict[str, Any] | None, with_trace: bool) -> dict[str, Any]:
        trace = row["trace"] or {}
        out: dict[str, Any] = {
            "run_id": row["id"],
            "created_at": _iso(row["created_at"]),
            "question": row["question"],
            "answer": row["answer"],
            "status": row["status"],
            "backend": row["backend"],
            "model": row["model"],
            "adapter": row["adapter"],
            "latency_ms": row["latency_ms"],
            "prompt_tokens": row["prompt_tokens"],
            "completion_tokens": row["completion_tokens"],
            "error": row["error"],
            "grounding": row["grounding"],
            "n_steps": len(trace.get("steps", [])),
            "feedback": fb,
        }
        if with_trace:
            out["prompt"] = trace.get("prompt", "")
            out["steps"] = trace.get("steps", [])
            out["meta"] = trace.get("meta", {})
        return out

    def get(self, run_id: str) -> dict[str, Any] | None:
        """One run with its full trace and latest feedback, or None."""
        with self.engine.connect() as conn:
            row = conn.execute(select(runs).where(runs.c.id == run_id)).mappings().first()
            if row is None:
                return None
            fb = self._latest_feedback(conn, [run_id]).get(run_id)
        return self._row_dict(row, fb, with_trace=True)

    def get_result(self, run_id: str) -> RunResult | None:
        """The stored run rebuilt as a ``RunResult``."""
        d = self.get(run_id)
        return None if d is None else to_run_result(d)

    def list(
        self,
        limit: int = 20,
        offset: int = 0,
        status: str | None = None,
        adapter: str | None = None,
        has_feedback: bool | None = None,
        *,
        with_trace: bool = False,
    ) -> list[dict[str, Any]]:
        """Newest first. ``adapter="none"`` matches runs without an adapter."""
        stmt = select(runs)
        if status is not None:
            stmt = stmt.where(runs.c.status == status)
        if adapter is not None:
            stmt = stmt.where(runs.c.adapter.is_(None) if adapter == "none" else runs.c.adapter == adapter)
        if has_feedback is not None:
            has = exists().where(feedback.c.run_id == runs.c.id)
            stmt = stmt.where(has if has_feedback else ~has)
        stmt = stmt.order_by(runs.c.created_at.desc(), runs.c.id.desc()).limit(limit).offset(offset)
        with self.engine.connect() as conn:
            rows = list(conn.execute(stmt).mappings())
            fbs = self._latest_feedback(conn, [r["id"] for r in rows])
        return [self._row_dict(r, fbs.get(r["id"]), with_trace) for r in rows]

    def count(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(runs)).scalar_one())

    def confirmed_runs(self, since: datetime | None = None) -> builtins.list[dict[str, Any]]:
        """Runs usable as training data, oldest first, with their latest feedback.

        Confirmed = the latest feedback says correct, or gives a corrected answer the trace can be
        replayed to (``replayable``). Corrected-but-not-replayable runs: see ``qa_pairs``.
        """
        return [
            r
            for r in self._with_feedback(since)
            if r["feedback"]["correct"] or (r["feedback"]["replayable"] and r["feedback"]["answer"])
        ]

    def qa_pairs(self, since: datetime | None = None) -> builtins.list[dict[str, Any]]:
        """Corrected answers whose trace does not support them: question/answer pairs only."""
        return [
            {"run_id": r["run_id"], "question": r["question"], "answer": r["feedback"]["answer"]}
            for r in self._with_feedback(since)
            if not r["feedback"]["correct"] and r["feedback"]["answer"] and not r["feedback"]["replayable"]
        ]

    def _with_feedback(self, since: datetime | None) -> builtins.list[dict[str, Any]]:
        stmt = select(runs).where(exists().where(feedback.c.run_id == runs.c.id))
        if since is not None:
            stmt = stmt.where(runs.c.created_at >= _utc(since))
        stmt = stmt.order_by(runs.c.created_at, runs.c.id)
        with self.engine.connect() as conn:
            rows = list(conn.execute(stmt).mappings())
            fbs = self._latest_feedback(conn, [r["id"] for r in rows])
        return [self._row_dict(r, fbs.get(r["id"]), with_trace=True) for r in rows if r["id"] in fbs]

    def adapter_registry(self, replica: str = "") -> AdapterStore:
        """The adapter registry in this database (shares the engine and the SQLite write lock)."""
        return AdapterStore(self, replica or default_replica_id())


def to_run_result(d: dict[str, Any]) -> RunResult:
    """Rebuild a ``RunResult`` from a ``RunStore.get`` dict."""
    return RunResult.model_validate(
        {
            "run_id": d["run_id"],
            "question": d["question"],
            "answer": d["answer"],
            "status": d["status"],
            "steps": d.get("steps", []),
            "backend": d["backend"],
            "model": d["model"],
            "adapter": d["adapter"],
            "latency_ms": d["latency_ms"],
            "usage": {
                "prompt_tokens": d["prompt_tokens"],
                "completion_tokens": d["completion_tokens"],
                "total_tokens": d["prompt_tokens"] + d["completion_tokens"],
            },
            "error": d["error"],
            "prompt": d.get("prompt", ""),
            "grounding": d.get("grounding"),
        }
    )
