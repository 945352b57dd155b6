"""app.store.database: URL normalisation, a durable SQLite, the schema created by replicas together, and
an existing file that is not a usable database never replaced."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.store.database import StoreUnusable, normalize_url
from app.store.runs import RunStore
from app.store.schema import metadata
from tests.app.conftest import make_settings
from tests.app.store.helpers import make_run
from tests.model import ScriptedChatModel


def test_sqlite_is_wal_and_full_sync(tmp_path: Path) -> None:
    store = RunStore(f"sqlite:///{tmp_path / 'runs.db'}")
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
    store.close()


def test_normalize_url() -> None:
    assert normalize_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalize_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalize_url("sqlite:///x.db") == "sqlite:///x.db"


def test_replicas_create_the_schema_together(store_url: str) -> None:
    """Replicas starting at once on a new database: every one opens it (no 'table already exists')."""
    first = RunStore(store_url)
    metadata.drop_all(first.engine)
    first.close()
    barrier, errors, stores = threading.Barrier(4), [], []

    def open_store() -> None:
        barrier.wait()
        try:
            stores.append(RunStore(store_url))
        except Exception as exc:  # collected: the assertion below names it
            errors.append(exc)

    threads = [threading.Thread(target=open_store) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(stores) == 4
    stores[0].save(make_run("r1"))
    assert stores[3].get("r1") is not None
    for s in stores:
        s.close()


@pytest.mark.parametrize("damage", ["empty", "not sqlite", "unreadable", "folder"])
def test_an_existing_unusable_sqlite_file_is_never_replaced(tmp_path: Path, damage: str) -> None:
    path = tmp_path / "runs.db"
    if damage == "folder":
        path.mkdir()
    else:
        path.write_bytes(b"" if damage == "empty" else b"x" * 4096)
    if damage == "unreadable":
        if os.geteuid() == 0:
            pytest.skip("root reads any file")
        path.write_bytes(b"SQLite format 3\x00" + b"\x00" * 4080)
        path.chmod(0)
    with pytest.raises(StoreUnusable, match="runs.db") as refused:
        RunStore(f"sqlite:///{path}")
    assert str(tmp_path) not in str(refused.value)  # the message reaches /readyz: no folder
    if damage == "empty":
        assert path.stat().st_size == 0  # left as it was, for the operator to look at
    path.chmod(0o644)


def test_a_new_sqlite_file_is_created_and_reopened(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "runs.db"
    RunStore(f"sqlite:///{path}").close()
    assert path.stat().st_size > 0
    RunStore(f"sqlite:///{path}").close()  # an existing, healthy file opens


def test_the_app_fails_closed_on_an_empty_store_file(knowledge_cache: Path, tmp_path: Path) -> None:
    (tmp_path / "runs.db").write_bytes(b"")
    settings = make_settings(knowledge_cache, store_url=f"sqlite:///{tmp_path / 'runs.db'}")
    with TestClient(create_app(settings, chat_model=ScriptedChatModel(script=["x"]))) as client:
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert "empty (0 bytes)" in ready.text and str(tmp_path) not in ready.text
        assert client.get("/runs").status_code == 503
    assert (tmp_path / "runs.db").stat().st_size == 0
