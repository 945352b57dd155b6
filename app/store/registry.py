"""The adapter registry in the run store's database (``AdapterStore``): every adapter's files as a
sha256-named blob (``app.store.blobs``), its eval scores, and the activation history that every replica
follows."""

from __future__ import annotations

import builtins
import json
import logging
import os
import socket
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Float, String, Text, exists, func, insert, literal, select, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError

from app.store.blobs import ADAPTER_FILES, AdapterBlobError, folder_sha256, pack_adapter, unpack_adapter
from app.store.database import Database, normalize_url
from app.store.schema import adapter_activations, adapter_blobs, adapters
from finetune.promote import rollback_target

logger = logging.getLogger(__name__)

ACTIVATION_LOCK_KEY = 0x71726561  # PostgreSQL advisory lock id ("qrea") serialising activations


def default_replica_id() -> str:
    """host:pid, the name this process gives itself in the activation history."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _safe_dir_name(name: str) -> str:
    return "".join(c if c.isalnum() or c in "_-." else "_" for c in name).lstrip(".") or "adapter"


class AdapterStore:
    """Adapters (files as blobs, eval scores) and the activation history, in the run store's database.

    The same interface as ``finetune.promote.AdapterRegistry`` (the single-host JSON file), plus what
    replicas need: ``latest_activation`` (the cluster's desired adapter) and ``local_folder`` (the
    adapter's files on this host, unpacked from the database when the registering folder is elsewhere).
    """

    def __init__(self, store: Database, replica: str) -> None:
        self.store = store
        self.engine = store.engine
        self.replica = replica

    # --- adapters
    @staticmethod
    def _entry(row: Any) -> dict[str, Any]:
        return {
            **(row["info"] or {}),
            "name": row["name"],
            "path": row["path"],
            "source": row["source"],
            "sha256": row["sha256"],
            "size_bytes": row["size_bytes"],
            "scores": dict(row["scores"] or {}),
            "replica": row["replica"],
            "created_at": row["created_at"],
        }

    def _store_blob(self, folder: Path) -> tuple[str, int] | None:
        """Store the folder's files (once per content); None when it has no adapter files."""
        if not (folder / ADAPTER_FILES[0]).is_file():
            return None
        blob, sha = pack_adapter(folder)
        with self.engine.connect() as conn:
            known = conn.execute(select(adapter_blobs.c.sha256).where(adapter_blobs.c.sha256 == sha)).first()
        if known is None:
            try:
                self.store.write(
                    insert(adapter_blobs).values(sha256=sha, data=blob, size_bytes=len(blob), created_at=time.time())
                )
            except IntegrityError:  # another replica stored the same files meanwhile
                pass
        return sha, len(blob)

    def register(self, name: str, path: str | Path, source: str = "manual", **fields: Any) -> dict[str, Any]:
        """Add or update an adapter; its folder's files go into the database (deduplicated by sha256)."""
        folder = Path(path).expanduser()
        stored = self._store_blob(folder)
        sha, size = stored if stored else (None, None)
        values = {"path": str(path), "source": source, "sha256": sha, "size_bytes": size, "replica": self.replica}
        for attempt in range(2):  # a second try updates the row another replica inserted meanwhile
            try:
                with self.store.lock(), self.engine.begin() as conn:
                    stmt = select(adapters).where(adapters.c.name == name).with_for_update()
                    row = conn.execute(stmt).mappings().first()
                    if row is None:
                        conn.execute(
                            insert(adapters).values(name=name, scores={}, info=fields, created_at=time.time(), **values)
                        )
                    else:
                        info = {**(row["info"] or {}), **fields}
                        conn.execute(update(adapters).where(adapters.c.name == name).values(info=info, **values))
                    row = conn.execute(select(adapters).where(adapters.c.name == name)).mappings().one()
                return self._entry(row)
            except IntegrityError:
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def record_scores(self, name: str, evalset: str, scores: dict[str, Any]) -> None:
        """Scores of ``name`` on ``evalset`` (e.g. ``dev.jsonl@20``): accuracy, n, ..."""
        with self.store.lock(), self.engine.begin() as conn:
            row = conn.execute(select(adapters).where(adapters.c.name == name).with_for_update()).mappings().first()
            if row is None:
                conn.execute(
                    insert(adapters).values(
                        name=name, path=None, source=None, scores={}, info={}, replica=self.replica,
                        created_at=time.time(),
                    )
                )  # fmt: skip
                current: dict[str, Any] = {}
            else:
                current = dict(row["scores"] or {})
            current[evalset] = {**scores, "at": time.time()}
            conn.execute(update(adapters).where(adapters.c.name == name).values(scores=current))

    def get(self, name: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(adapters).where(adapters.c.name == name)).mappings().first()
        return self._entry(row) if row is not None else None

    def all(self) -> builtins.list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(adapters).order_by(adapters.c.created_at, adapters.c.name)).mappings()
            return [self._entry(r) for r in rows]

    def blob(self, sha256: str) -> bytes | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(adapter_blobs.c.data).where(adapter_blobs.c.sha256 == sha256)).first()
        return bytes(row[0]) if row is not None else None

    def local_folder(self, name: str, cache_dir: Path, sha256: str | None = None) -> Path:
        """A folder on this host holding adapter ``name``'s files (``sha256``: those exact files).

        The registering folder when it is here with the same files (one host, or a shared volume);
        else ``cache_dir/adapters/<name>-<sha8>/``, unpacked from the database once and checked.
        Raises ``LookupError`` (unknown name) or ``AdapterBlobError`` (no files, or corrupt ones).
        """
        entry = self.get(name)
        if entry is None:
            raise LookupError(name)
        sha = sha256 or entry["sha256"]
        registered = Path(entry["path"]).expanduser() if entry.get("path") else None
        if sha is None:
            if registered is not None and (registered / ADAPTER_FILES[0]).is_file():
                return registered
            raise AdapterBlobError(f"adapter {name!r} has no stored files and {registered} is not on this host")
        if registered is not None and folder_sha256(registered) == sha:
            return registered
        dest = Path(cache_dir).expanduser() / "adapters" / f"{_safe_dir_name(name)}-{sha[:8]}"
        if folder_sha256(dest) == sha:
            return dest
        blob = self.blob(sha)
        if blob is None:
            raise AdapterBlobError(f"the files of adapter {name!r} (sha256 {sha[:12]}…) are not in the database")
        dest.parent.mkdir(parents=True, exist_ok=True)
        unpack_adapter(blob, sha, dest)
        logger.info("adapter %r unpacked from the database into %s", name, dest)
        return dest

    # --- activations
    @staticmethod
    def _activation(row: Any) -> dict[str, Any]:
        return {
            "id": row["id"],
            "name": row["name"],
            "sha256": row["sha256"],
            "reason": row["reason"] or "",
            "replica": row["replica"],
            "at": row["at"],
        }

    def record_activation(self, name: str | None, reason: str = "") -> int | None:
        """Make ``name`` (None: the base model) the cluster's desired adapter; returns the new row's id,
        or None when it already is (same name, same files)."""
        return self._activate(name, reason, only_first=False)

    def seed_activation(self, name: str | None, reason: str = "") -> int | None:
        """Record ``name`` only if the history is empty (replicas starting together seed it once)."""
        return self._activate(name, reason, only_first=True)

    def _activate(self, name: str | None, reason: str, only_first: bool) -> int | None:
        entry = self.get(name) if name is not None else None
        sha = entry["sha256"] if entry else None
        act = adapter_activations.c
        if only_first:
            skip = exists().where(act.id.isnot(None))
        else:
            same_name = act.name.is_(None) if name is None else act.name == name
            same_sha = act.sha256.is_(None) if sha is None else act.sha256 == sha
            latest = select(func.max(act.id)).scalar_subquery()
            skip = exists().where(act.id == latest, same_name, same_sha)
        row = select(
            literal(name, String).label("name"), literal(sha, String).label("sha256"),
            literal(reason, Text).label("reason"), literal(self.replica, String).label("replica"),
            literal(time.time(), Float).label("at"),
        ).where(~skip)  # fmt: skip
        # One statement checks and inserts: SQLite takes its write lock before reading (atomic across
        # processes); PostgreSQL's READ COMMITTED needs the advisory lock to do the same.
        with self.store.lock(), self.engine.begin() as conn:
            if self.store.dialect == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ACTIVATION_LOCK_KEY})
            stmt = insert(adapter_activations).from_select(list(row.selected_columns.keys()), row).returning(act.id)
            new_id = conn.execute(stmt).scalar_one_or_none()  # RETURNING: SQLite >= 3.35, PostgreSQL
            return int(new_id) if new_id is not None else None

    def latest_activation(self) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            stmt = select(adapter_activations).order_by(adapter_activations.c.id.desc()).limit(1)
            row = conn.execute(stmt).mappings().first()
        return self._activation(row) if row is not None else None

    def history(self) -> builtins.list[dict[str, Any]]:
        """Activations, oldest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(adapter_activations).order_by(adapter_activations.c.id)).mappings()
            return [self._activation(r) for r in rows]

    def previous(self, current: str | None) -> tuple[bool, str | None]:
        """The adapter active before ``current`` (rollback target): (found, name; None = base model)."""
        return rollback_target([h["name"] for h in self.history()], current)

    def is_empty(self) -> bool:
        with self.engine.connect() as conn:
            n = conn.execute(select(func.count()).select_from(adapters)).scalar_one()
            n += conn.execute(select(func.count()).select_from(adapter_activations)).scalar_one()
        return int(n) == 0

    def import_json(self, path: Path) -> int:
        """Import a single-host ``registry.json`` once (only into an empty registry); returns entries read.

        Adapters whose folders still exist get their files stored; the history keeps its order and times.
        """
        path = Path(path)
        if not path.is_file() or not self.is_empty():
            return 0
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            entries, history = list(data.get("adapters", {}).values()), list(data.get("history", []))
        except (OSError, ValueError, AttributeError):
            logger.exception("adapter registry %s is unreadable; not imported", path)
            return 0
        for e in entries:
            if not isinstance(e, dict) or not e.get("name"):
                continue
            extra = {k: v for k, v in e.items() if k not in {"name", "path", "source", "scores", "created_at"}}
            try:
                if e.get("path"):
                    self.register(e["name"], e["path"], source=e.get("source") or "imported", **extra)
            except (OSError, AdapterBlobError):
                logger.warning("adapter %r from %s: its files could not be stored", e["name"], path)
                continue
            for evalset, scores in (e.get("scores") or {}).items():
                self.record_scores(e["name"], evalset, dict(scores))
        for h in history:
            if not isinstance(h, dict):
                continue
            entry = self.get(h["name"]) if h.get("name") else None
            values = {
                "name": h.get("name"), "sha256": entry["sha256"] if entry else None,
                "reason": h.get("reason") or "", "replica": "imported", "at": float(h.get("at") or time.time()),
            }  # fmt: skip
            self.store.write(insert(adapter_activations).values(**values))
        logger.info("imported %d adapters and %d activations from %s", len(entries), len(history), path)
        return len(entries) + len(history)


def open_adapter_registry(url: str, replica: str = "") -> AdapterStore | None:
    """The registry of an existing store (None when a SQLite file is not there yet); close its ``.store``."""
    parsed = make_url(normalize_url(url))
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if not database or database == ":memory:" or not Path(database).expanduser().is_file():
            return None
    return AdapterStore(Database(url), replica or default_replica_id())
