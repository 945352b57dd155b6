"""The eval gate: score a new adapter against the serving one, promote only if it is not worse.

The scoring runs in its own process (``python -m app.gate evaluate``, the training job's), on its
own copy of the base model, so the live service keeps answering on its adapter meanwhile; both
adapters see the same questions. ``decide`` is the rule (candidate accuracy >= current +
``promote_min_delta``) and a registry records every adapter's scores and the activation history
(rollback): ``app.store.registry.AdapterStore`` in the run store's database (what the service uses; shared
by replicas), or ``AdapterRegistry``, a JSON file for a single host (older caches; imported into
the database on the first start).
"""

from __future__ import annotations

import json
import logging
import os
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


def rollback_target(names: list[str | None], current: str | None) -> tuple[bool, str | None]:
    """In an activation history (oldest first), the adapter active before the last ``current``:
    (found, name; None = the base model). Repeats of ``current`` are walked past."""
    for i in range(len(names) - 1, -1, -1):
        if names[i] == current:
            for j in range(i - 1, -1, -1):
                if names[j] != current:
                    return True, names[j]
            return False, None
    return False, None


class Registry(Protocol):
    """What the service needs of an adapter registry (``AdapterRegistry`` or ``app.store.registry.AdapterStore``)."""

    def register(self, name: str, path: str | Path, source: str = "manual", **fields: Any) -> dict[str, Any]: ...

    def record_scores(self, name: str, evalset: str, scores: dict[str, Any]) -> None: ...

    def record_activation(self, name: str | None, reason: str = "") -> int | None: ...

    def seed_activation(self, name: str | None, reason: str = "") -> int | None: ...

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

    def seed_activation(self, name: str | None, reason: str = "") -> int | None:
        """Record ``name`` only if the history is empty (the first activation this host serves)."""
        with self._lock:
            history = self._data["history"]
            if history:
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
        with self._lock:
            names = [h["name"] for h in self._data["history"]]
        return rollback_target(names, current)
