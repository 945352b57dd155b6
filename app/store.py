"""The run store: every agent run and its feedback, in SQLite (default) or PostgreSQL.

SQLAlchemy 2 Core. SQLite runs in WAL mode with ``synchronous=FULL`` so a run is on disk when
``save`` returns (a SIGKILL right after loses nothing); PostgreSQL commits are durable by default.
One ``RunStore`` is shared by the app's worker threads: the engine's pool is thread-safe and
SQLite writes are serialised by a lock (SQLite allows one writer at a time anyway).

The same database holds the adapter registry (``AdapterStore``): every adapter's files as a
sha256-named blob, its eval scores, and the activation history that every replica follows.
"""

from __future__ import annotations

import builtins
import contextlib
import fcntl
import hashlib
import io
import json
import logging
import os
import shutil
import tarfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Engine,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
    exists,
    func,
    insert,
    inspect,
    literal,
    select,
    text,
    update,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.pool import StaticPool

from agent.trace import RunResult
from finetune.promote import rollback_target

logger = logging.getLogger(__name__)

metadata = MetaData()

runs = Table(
    "runs",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("question", Text, nullable=False),
    Column("answer", Text),
    Column("status", String(16), nullable=False),
    Column("backend", String(64), nullable=False),
    Column("model", String(256), nullable=False),
    Column("adapter", String(256)),
    Column("latency_ms", Float, nullable=False, default=0.0),
    Column("prompt_tokens", Integer, nullable=False, default=0),
    Column("completion_tokens", Integer, nullable=False, default=0),
    Column("trace", JSON, nullable=False),  # {"prompt", "steps", "meta"}: the full run, replayable
    Column("error", Text),
    # {"supported", "unsupported", "evidence", "not_found"} (agent.grounding); NULL on runs stored before
    # the check existed (the column is added to older databases when the store opens them)
    Column("grounding", JSON),
    Index("ix_runs_created_at", "created_at"),
    Index("ix_runs_status", "status"),
    Index("ix_runs_adapter", "adapter"),
)

feedback = Table(
    "feedback",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String(64), ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("correct", Boolean, nullable=False),
    Column("answer", Text),  # the corrected answer, when the user gave one
    Column("note", Text),
    # True: the trace's own tool calls support the corrected answer, so the run becomes a
    # training trajectory; False: kept only as a question/answer pair (teacher/gold input).
    Column("replayable", Boolean, nullable=False, default=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_feedback_run_id", "run_id"),
)


# The adapter registry. Times are epoch seconds (floats), as the registry's JSON API has always shown them.
adapter_blobs = Table(
    "adapter_blobs",
    metadata,
    Column("sha256", String(64), primary_key=True),  # of ``data``: checked again before any replica uses it
    Column("data", LargeBinary, nullable=False),  # an uncompressed tar of ADAPTER_FILES (see pack_adapter)
    Column("size_bytes", BigInteger, nullable=False),
    Column("created_at", Float, nullable=False),
)

adapters = Table(
    "adapters",
    metadata,
    Column("name", String(256), primary_key=True),
    Column("path", Text),  # the folder it was registered from, on the replica that registered it
    Column("source", String(256)),
    Column("sha256", String(64)),  # its files in adapter_blobs; None: known by scores only
    Column("size_bytes", BigInteger),
    Column("scores", JSON, nullable=False),  # {"dev.jsonl@20": {"accuracy": ..., "n": ..., "at": ...}}
    Column("info", JSON, nullable=False),  # any other fields given to register()
    Column("replica", String(256)),
    Column("created_at", Float, nullable=False),
)

adapter_activations = Table(
    "adapter_activations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),  # the latest id is the cluster's desired adapter
    Column("name", String(256)),  # None: the base model
    Column("sha256", String(64)),  # the files activated (the adapter's blob at that moment)
    Column("reason", Text),
    Column("replica", String(256)),  # who activated it
    Column("at", Float, nullable=False),
)


SCHEMA_LOCK_KEY = 0x71727363  # PostgreSQL advisory lock id ("qrsc") held while creating tables
# Columns added after a table first shipped: (table, column). A database made by an older qreact gets
# them (nullable, no default) when a store opens it, so old databases stay readable and writable.
ADDED_COLUMNS = (("runs", "grounding"),)


def add_missing_columns(conn: Any) -> list[str]:
    """ALTER TABLE ... ADD COLUMN for every ``ADDED_COLUMNS`` entry the database lacks; returns them."""
    inspector = inspect(conn)
    added = []
    for table_name, column_name in ADDED_COLUMNS:
        if not inspector.has_table(table_name):
            continue
        if column_name in {c["name"] for c in inspector.get_columns(table_name)}:
            continue
        column = metadata.tables[table_name].c[column_name]
        kind = column.type.compile(dialect=conn.dialect)
        conn.execute(text(f'ALTER TABLE {table_name} ADD COLUMN "{column_name}" {kind}'))
        added.append(f"{table_name}.{column_name}")
        logger.info("run store: added column %s.%s", table_name, column_name)
    return added


class RunNotFoundError(KeyError):
    """No run with that id."""


def normalize_url(url: str) -> str:
    """Accept plain ``postgresql://`` / ``postgres://`` and route them to the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _utc(value: datetime | None) -> datetime | None:
    """As UTC: naive values (SQLite hands them back) are UTC already; aware ones are converted."""
    if value is None:
        return None
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


def _iso(value: datetime | None) -> str | None:
    v = _utc(value)
    return v.isoformat() if v else None


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


class RunStore:
    """Durable log of runs and feedback behind one SQLAlchemy URL."""

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

    # --- writes
    def _lock(self) -> Any:
        """The SQLite write lock (one writer at a time), or a no-op on PostgreSQL (row locks do it)."""
        return self._write_lock if self._write_lock is not None else contextlib.nullcontext()

    def _write(self, stmt: Any) -> Any:
        if self._write_lock is None:
            with self.engine.begin() as conn:
                return conn.execute(stmt)
        with self._write_lock, self.engine.begin() as conn:
            return conn.execute(stmt)

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
        self._write(
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
            self._write(
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
        rows = conn.execute(
            select(feedback).where(feedback.c.run_id.in_(run_ids)).order_by(feedback.c.id)
        ).mappings()
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

    def ping(self) -> bool:
        """True when the database answers (readiness probes)."""
        try:
            with self.engine.connect() as conn:
                conn.execute(select(1))
            return True
        except Exception:  # a probe reports, it does not raise
            logger.exception("run store ping failed")
            return False

    def adapter_registry(self, replica: str = "") -> AdapterStore:
        """The adapter registry in this database (shares the engine and the SQLite write lock)."""
        return AdapterStore(self, replica or default_replica_id())

    def close(self) -> None:
        self.engine.dispose()


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


# --------------------------------------------------------------------------- the adapter registry

ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors")  # all peft needs to load a LoRA
ACTIVATION_LOCK_KEY = 0x71726561  # PostgreSQL advisory lock id ("qrea") serialising activations
MAX_ADAPTER_BYTES = 1 << 30  # 1 GiB: PostgreSQL's bytea limit; a LoRA of Gemma-3-270M is 15 MB at r=16


class AdapterBlobError(ValueError):
    """An adapter's stored files are missing, corrupt or do not match their sha256."""


def default_replica_id() -> str:
    """host:pid, the name this process gives itself in the activation history."""
    import socket

    return f"{socket.gethostname()}:{os.getpid()}"


def pack_adapter(folder: Path) -> tuple[bytes, str]:
    """An adapter folder's files as one deterministic tar (same files → same bytes) and its sha256."""
    buf = io.BytesIO()
    total = 0
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name in ADAPTER_FILES:
            data = (Path(folder) / name).read_bytes()
            total += len(data)
            if total > MAX_ADAPTER_BYTES:
                raise AdapterBlobError(f"adapter {folder} is larger than {MAX_ADAPTER_BYTES >> 20} MiB")
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, 0  # mtime 0: the bytes depend on content only
            tar.addfile(info, io.BytesIO(data))
    blob = buf.getvalue()
    return blob, hashlib.sha256(blob).hexdigest()


def folder_sha256(folder: Path) -> str | None:
    """sha256 of ``pack_adapter(folder)``, or None when the folder lacks the adapter files."""
    try:
        return pack_adapter(folder)[1]
    except (OSError, AdapterBlobError):
        return None


def unpack_adapter(blob: bytes, sha256: str, dest: Path) -> Path:
    """Write a stored blob's files into ``dest`` after checking its sha256; never extracts other names."""
    actual = hashlib.sha256(blob).hexdigest()
    if actual != sha256:
        raise AdapterBlobError(
            f"the stored files of {dest.name} are corrupt: sha256 {actual[:12]}… instead of {sha256[:12]}… "
            f"({len(blob)} bytes)"
        )
    tmp = dest.with_name(f".{dest.name}.tmp-{os.getpid()}-{threading.get_ident()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        with tarfile.open(fileobj=io.BytesIO(blob), mode="r:") as tar:
            for name in ADAPTER_FILES:
                member = tar.getmember(name)
                handle = tar.extractfile(member) if member.isfile() else None
                if handle is None:
                    raise AdapterBlobError(f"the stored files of {dest.name}: {name} is not a file")
                (tmp / name).write_bytes(handle.read())
        if dest.exists():
            shutil.rmtree(dest)
        os.replace(tmp, dest)
    except (tarfile.TarError, KeyError) as exc:
        raise AdapterBlobError(f"the stored files of {dest.name} are unreadable: {exc}") from exc
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest


def _safe_dir_name(name: str) -> str:
    return "".join(c if c.isalnum() or c in "_-." else "_" for c in name).lstrip(".") or "adapter"


class AdapterStore:
    """Adapters (files as blobs, eval scores) and the activation history, in the run store's database.

    The same interface as ``finetune.promote.AdapterRegistry`` (the single-host JSON file), plus what
    replicas need: ``latest_activation`` (the cluster's desired adapter) and ``local_folder`` (the
    adapter's files on this host, unpacked from the database when the registering folder is elsewhere).
    """

    def __init__(self, store: RunStore, replica: str) -> None:
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
                self.store._write(
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
                with self.store._lock(), self.engine.begin() as conn:
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
        with self.store._lock(), self.engine.begin() as conn:
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
        with self.store._lock(), self.engine.begin() as conn:
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
            self.store._write(insert(adapter_activations).values(**values))
        logger.info("imported %d adapters and %d activations from %s", len(entries), len(history), path)
        return len(entries) + len(history)


def open_adapter_registry(url: str, replica: str = "") -> AdapterStore | None:
    """The registry of an existing store (None when a SQLite file is not there yet); close its ``.store``."""
    parsed = make_url(normalize_url(url))
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if not database or database == ":memory:" or not Path(database).expanduser().is_file():
            return None
    return RunStore(url).adapter_registry(replica)
