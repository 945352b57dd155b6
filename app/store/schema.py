"""The run store's tables (SQLAlchemy 2 Core): runs, their feedback, and the adapter registry
(blobs, adapters, activations); ``add_missing_columns`` upgrades a database made by an older qreact."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    inspect,
    text,
)

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
