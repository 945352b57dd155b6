"""The run store's database: one SQLAlchemy URL (SQLite by default, or PostgreSQL) → an engine with
durable writes, its tables created (and older databases upgraded) on open.

SQLite runs in WAL mode with ``synchronous=FULL`` so a row is on disk when a write returns (a SIGKILL
right after loses nothing); PostgreSQL commits are durable by default. One ``Database`` is shared by
the app's worker threads: the engine's pool is thread-safe and SQLite writes are serialised by a lock
(SQLite allows one writer at a time anyway).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import threading
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import StaticPool

from app.store.schema import SCHEMA_LOCK_KEY, add_missing_columns, metadata

logger = logging.getLogger(__name__)


def normalize_url(url: str) -> str:
    """Accept plain ``postgresql://`` / ``postgres://`` and route them to the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


class StoreUnusable(RuntimeError):
    """An existing database file that must not be replaced by an empty store (fail closed)."""


def check_existing_sqlite(path: Path) -> None:
    """Refuse an existing SQLite file that is empty or unreadable (SQLite would silently start an
    empty store in a 0-byte file: every run, feedback and the adapter registry gone).

    The message names the file, not its folder: it reaches ``/readyz``.
    """
    if not path.exists():
        return
    fix = "restore it from a backup, or move it away to start a new, empty store"
    if not path.is_file():
        raise StoreUnusable(f"the run store {path.name} is not a regular file; {fix}")
    try:
        with path.open("r+b") as f:
            head = f.read(16)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise StoreUnusable(f"the run store {path.name} cannot be read and written ({reason}); {fix}") from None
    if not head:
        raise StoreUnusable(f"the run store {path.name} is empty (0 bytes), not a database; {fix}")
    if head != b"SQLite format 3\x00":
        raise StoreUnusable(f"the run store {path.name} is not a SQLite database; {fix}")


class Database:
    """The engine behind one SQLAlchemy URL, its tables created; ``write`` is one durable statement."""

    def __init__(self, url: str) -> None:
        self.url = normalize_url(url)
        parsed = make_url(self.url)
        self.dialect = parsed.get_backend_name()
        self._write_lock = threading.Lock() if self.dialect == "sqlite" else None
        self.engine = self._make_engine(parsed)
        self._create_tables()

    def _create_tables(self) -> None:
        """Create missing tables; replicas starting together on a new database must not trip on each other."""
        if self.dialect == "postgresql":
            with self.engine.begin() as conn:  # the transaction's advisory lock: one replica at a time
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEMA_LOCK_KEY})
                metadata.create_all(conn)
                add_missing_columns(conn)
            return
        database = self.engine.url.database
        if not database or database == ":memory:":
            metadata.create_all(self.engine)
            return
        # SQLite checks, then creates: processes opening one new file at once take turns (a lock file)
        with open(f"{Path(database).expanduser()}.schema-lock", "ab") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            check_existing_sqlite(Path(database).expanduser())  # before SQLite touches it
            metadata.create_all(self.engine)
            with self.engine.begin() as conn:
                add_missing_columns(conn)

    def _make_engine(self, parsed: Any) -> Engine:
        if self.dialect != "sqlite":
            return create_engine(self.url, pool_pre_ping=True, future=True)
        database = parsed.database
        memory = not database or database == ":memory:"
        kwargs: dict[str, Any] = {"connect_args": {"check_same_thread": False, "timeout": 30}}  # busy wait, s
        if memory:
            kwargs["poolclass"] = StaticPool  # one shared connection, or each thread sees an empty db
        else:
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(self.url, **kwargs)

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            if not memory:
                cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")  # fsync at every commit: durable when save returns
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")  # ms: other processes (export, a 2nd worker)
            cur.close()

        return engine

    def lock(self) -> Any:
        """The SQLite write lock (one writer at a time), or a no-op on PostgreSQL (row locks do it)."""
        return self._write_lock if self._write_lock is not None else contextlib.nullcontext()

    def write(self, stmt: Any) -> Any:
        if self._write_lock is None:
            with self.engine.begin() as conn:
                return conn.execute(stmt)
        with self._write_lock, self.engine.begin() as conn:
            return conn.execute(stmt)

    def ping(self) -> bool:
        """True when the database answers (readiness probes)."""
        try:
            with self.engine.connect() as conn:
                conn.execute(select(1))
            return True
        except Exception:  # a probe reports, it does not raise
            logger.exception("run store ping failed")
            return False

    def close(self) -> None:
        self.engine.dispose()
