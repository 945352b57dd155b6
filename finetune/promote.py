"""The eval gate: score a new adapter against the serving one, promote only if it is not worse.

    python -m finetune.promote evaluate --candidate ~/.cache/qreact/adapters/job-1a2b \
        --baseline adapters/default --questions finetune/evalsets/dev.jsonl --limit 20 --out scores.json

``evaluate`` runs in its own process (the training job's), on its own copy of the base model, so
the live service keeps answering on its adapter meanwhile; both adapters see the same questions.
``decide`` is the rule (candidate accuracy >= current + ``promote_min_delta``) and a registry
records every adapter's scores and the activation history (rollback): ``app.store.AdapterStore`` in
the run store's database (what the service uses; shared by replicas), or ``AdapterRegistry``, a JSON
file for a single host (older caches; imported into the database on the first start).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

logger = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[1]
DEV_SET = REPO_ROOT / "finetune" / "evalsets" / "dev.jsonl"
DEFAULT_EVAL_LIMIT = 20  # dev questions per adapter: ~15 s each on 2 CPU cores → ~10 min for both


@dataclass
class Decision:
    promote: bool
    candidate_accuracy: float
    current_accuracy: float | None
    min_delta: float
    n: int
    reason: str


def decide(candidate: dict[str, Any], current: dict[str, Any] | None, min_delta: float) -> Decision:
    """Promote iff candidate accuracy >= current accuracy + min_delta (on the same questions)."""
    cand = float(candidate["accuracy"])
    n = int(candidate.get("n", 0))
    if n == 0:
        return Decision(False, cand, None, min_delta, 0, "the candidate was scored on no questions")
    if current is None:
        return Decision(True, cand, None, min_delta, n, "no current score to beat")
    cur = float(current["accuracy"])
    need = cur + min_delta
    if cand + 1e-9 >= need:  # 1e-9: accuracies are ratios of small integers, compare without float noise
        return Decision(True, cand, cur, min_delta, n, f"accuracy {cand:.1%} >= {cur:.1%} + {min_delta:+.1%}")
    return Decision(False, cand, cur, min_delta, n, f"accuracy {cand:.1%} < {cur:.1%} + {min_delta:+.1%}")


class Registry(Protocol):
    """What the service needs of an adapter registry (``AdapterRegistry`` or ``app.store.AdapterStore``)."""

    def register(self, name: str, path: str | Path, source: str = "manual", **fields: Any) -> dict[str, Any]: ...

    def record_scores(self, name: str, evalset: str, scores: dict[str, Any]) -> None: ...

    def record_activation(self, name: str | None, reason: str = "") -> int | None: ...

    def latest_activation(self) -> dict[str, Any] | None: ...

    def get(self, name: str) -> dict[str, Any] | None: ...

    def all(self) -> list[dict[str, Any]]: ...

    def history(self) -> list[dict[str, Any]]: ...

    def previous(self, current: str | None) -> tuple[bool, str | None]: ...

    def local_folder(self, name: str, cache_dir: Path, sha256: str | None = None) -> Path: ...


class AdapterRegistry:
    """Adapters known to the service (path, source, eval scores) and the activation history.

    A JSON file (``cache_dir/adapters/registry.json``) rewritten atomically on every change, so the
    history and scores survive restarts. Thread-safe.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._data: dict[str, Any] = {"adapters": {}, "history": []}
        if self.path.is_file():
            try:
                loaded = json.loads(self.path.read_text(encoding="utf-8"))
                self._data = {"adapters": loaded.get("adapters", {}), "history": loaded.get("history", [])}
            except (OSError, ValueError):
                logger.exception("adapter registry %s is unreadable; starting a new one", self.path)

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(self._data, indent=2), encoding="utf-8")
        os.replace(tmp, self.path)

    def register(self, name: str, path: str | Path, source: str = "manual", **fields: Any) -> dict[str, Any]:
        with self._lock:
            entry = self._data["adapters"].get(name, {})
            entry.update({"name": name, "path": str(path), "source": source, **fields})
            entry.setdefault("created_at", time.time())
            entry.setdefault("scores", {})
            self._data["adapters"][name] = entry
            self._save()
            return dict(entry)

    def record_scores(self, name: str, evalset: str, scores: dict[str, Any]) -> None:
        """Scores of ``name`` on ``evalset`` (e.g. ``dev.jsonl@20``): accuracy, n, ..."""
        with self._lock:
            entry = self._data["adapters"].setdefault(name, {"name": name, "path": None, "scores": {}})
            entry.setdefault("scores", {})[evalset] = {**scores, "at": time.time()}
            self._save()

    def record_activation(self, name: str | None, reason: str = "") -> int | None:
        """Append to the history; returns its 1-based position, or None when ``name`` is already last."""
        with self._lock:
            history = self._data["history"]
            if history and history[-1]["name"] == name:
                return None
            history.append({"name": name, "at": time.time(), "reason": reason})
            self._save()
            return len(history)

    def latest_activation(self) -> dict[str, Any] | None:
        with self._lock:
            history = self._data["history"]
            return {**history[-1], "id": len(history), "sha256": None} if history else None

    def local_folder(self, name: str, cache_dir: Path, sha256: str | None = None) -> Path:
        """The registered folder (one host: the files are where they were registered)."""
        entry = self.get(name)
        if entry is None:
            raise LookupError(name)
        if not entry.get("path"):
            raise ValueError(f"adapter {name!r} has no folder")
        return Path(entry["path"])

    def get(self, name: str) -> dict[str, Any] | None:
        with self._lock:
            entry = self._data["adapters"].get(name)
            return dict(entry) if entry else None

    def all(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(e) for e in self._data["adapters"].values()]

    def history(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(h) for h in self._data["history"]]

    def previous(self, current: str | None) -> tuple[bool, str | None]:
        """The adapter active before ``current`` (rollback target): (found, name; None = base model)."""
        from app.store import rollback_target

        with self._lock:
            names = [h["name"] for h in self._data["history"]]
        return rollback_target(names, current)


def adapter_entries(settings: Any) -> list[dict[str, Any]]:
    """Every registered adapter (name, path, source, sha256, scores) for listings such as
    ``qreact models``: the run store's registry, else a single-host ``registry.json``."""
    try:
        from app.store import open_adapter_registry

        registry = open_adapter_registry(settings.resolved_store_url)
    except Exception:  # no serving extras, or the database is away: the file is what there is
        logger.warning("the run store's adapter registry could not be read", exc_info=True)
        registry = None
    if registry is not None:
        try:
            entries = registry.all()
        finally:
            registry.store.close()
        if entries:
            return entries
    return AdapterRegistry(Path(settings.cache_dir).expanduser() / "adapters" / "registry.json").all()


# ------------------------------------------------------------------ evaluation in a separate process


def _summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    from finetune.evaluate import summarize

    s = summarize(rows)
    return {k: s[k] for k in ("n", "accuracy", "format_valid_rate", "answered", "mean_steps", "p50_s")}


def evaluate_pair(args: argparse.Namespace) -> dict[str, Any]:
    """Score the baseline and the candidate adapters on the same questions; returns the scores."""
    from app.settings import Settings
    from finetune.evaluate import build_targets, run_eval
    from finetune.teacher import load_questions

    overrides: dict[str, Any] = {"backend": "local", "search": args.search, "adapter": None}
    for key in ("local_model", "cache_dir", "device", "dtype", "quantize", "threads"):
        value = getattr(args, key)
        if value is not None:
            overrides[key] = value
    settings = Settings(**overrides)
    questions = load_questions(Path(args.questions))
    adapters = [args.baseline, args.candidate]
    targets = build_targets(settings, ["local"], adapters)
    out = Path(args.out).with_suffix(".results.jsonl")
    rows = run_eval(questions, targets, out, limit=args.limit, max_steps=args.max_steps, progress=False)
    baseline, candidate = (t.label for t in targets)
    scores = {
        "questions": str(args.questions),
        "limit": args.limit,
        "baseline": {"adapter": args.baseline, **_summary([r for r in rows if r["config"] == baseline])},
        "candidate": {"adapter": args.candidate, **_summary([r for r in rows if r["config"] == candidate])},
    }
    Path(args.out).write_text(json.dumps(scores, indent=2), encoding="utf-8")
    return scores


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m finetune.promote", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    ev = sub.add_parser("evaluate", help="score a candidate adapter against a baseline on an eval set")
    ev.add_argument("--candidate", required=True, help="adapter folder to judge")
    ev.add_argument("--baseline", default="none", help="serving adapter: a folder, 'default' or 'none'")
    ev.add_argument("--questions", default=str(DEV_SET), help="eval set JSONL (default: the dev set)")
    ev.add_argument("--limit", type=int, default=DEFAULT_EVAL_LIMIT, help="first N questions (speed)")
    ev.add_argument("--max-steps", type=int, default=None, help="agent steps per question")
    ev.add_argument("--out", required=True, help="scores JSON to write")
    ev.add_argument("--search", default="local", choices=["local", "duckduckgo", "auto"])  # local: offline
    ev.add_argument("--local-model", default=None)
    ev.add_argument("--cache-dir", default=None)
    ev.add_argument("--device", default=None)
    ev.add_argument("--dtype", default=None)
    ev.add_argument("--quantize", default=None)
    ev.add_argument("--threads", type=int, default=None)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "evaluate":
        scores = evaluate_pair(args)
        base, cand = scores["baseline"]["accuracy"], scores["candidate"]["accuracy"]
        logger.info("accuracy: baseline %.3f, candidate %.3f", base, cand)
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    sys.exit(main())
