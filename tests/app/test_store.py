"""RunStore against SQLite always and PostgreSQL when QREACT_TEST_PG_URL is set (.ci/run sets it)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update

from agent.trace import RunResult, Step, Usage
from app.store.database import normalize_url
from app.store.runs import RunNotFoundError, RunStore
from app.store.schema import adapter_blobs, metadata

PG_URL = os.environ.get("QREACT_TEST_PG_URL")
REPO = Path(__file__).resolve().parents[2]


def make_run(run_id: str, question: str = "What is 2+2?", **kw: object) -> RunResult:
    steps = [
        Step(
            index=0,
            kind="tool",
            thought="I should compute it",
            tool="Calculator",
            tool_input="2+2",
            observation="4",
            log=" I should compute it\nAction: Calculator\nAction Input: 2+2",
        ),
        Step(
            index=1,
            kind="final",
            thought="I now know the final answer",
            final_answer="4",
            log=" I now know the final answer\nFinal Answer: 4",
        ),
    ]
    fields: dict[str, object] = {
        "run_id": run_id,
        "question": question,
        "answer": "4",
        "status": "answered",
        "steps": steps,
        "backend": "local",
        "model": "gemma-3-270m",
        "adapter": "default",
        "latency_ms": 12.5,
        "usage": Usage(prompt_tokens=100, completion_tokens=20, total_tokens=120),
        "prompt": "PROMPT",
    }
    fields.update(kw)
    return RunResult.model_validate(fields)


def _url(kind: str, tmp_path: Path) -> str:
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / 'sub' / 'runs.db'}"
    if not PG_URL:
        pytest.skip("QREACT_TEST_PG_URL not set")
    return PG_URL


def _fresh(url: str) -> RunStore:
    store = RunStore(url)
    metadata.drop_all(store.engine)  # PostgreSQL is shared between tests: start empty
    metadata.create_all(store.engine)
    return store


BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return _url(request.param, tmp_path)


@pytest.fixture
def store(store_url: str) -> Iterator[RunStore]:
    s = _fresh(store_url)
    yield s
    s.close()


def test_save_get_roundtrip(store: RunStore) -> None:
    run = make_run("r1")
    store.save(run, request_id="req-1", client="test")
    got = store.get("r1")
    assert got is not None
    assert got["question"] == "What is 2+2?" and got["answer"] == "4" and got["status"] == "answered"
    assert got["adapter"] == "default" and got["prompt_tokens"] == 100 and got["completion_tokens"] == 20
    assert got["meta"] == {"request_id": "req-1", "client": "test"}
    assert got["n_steps"] == 2 and got["steps"][0]["tool_input"] == "2+2"
    assert got["feedback"] is None
    assert datetime.fromisoformat(got["created_at"]).tzinfo is not None
    assert store.get_result("r1") == run  # the whole trace survives the trip
    assert store.get("missing") is None


def test_list_filters_and_paging(store: RunStore) -> None:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    for i in range(5):
        store.save(
            make_run(f"ok{i}", adapter="default" if i % 2 else None), created_at=t0 + timedelta(minutes=i)
        )
    store.save(make_run("bad", status="max_steps", answer=None), created_at=t0 + timedelta(minutes=10))
    assert [r["run_id"] for r in store.list()] == ["bad", "ok4", "ok3", "ok2", "ok1", "ok0"]  # newest first
    assert [r["run_id"] for r in store.list(limit=2, offset=1)] == ["ok4", "ok3"]
    assert [r["run_id"] for r in store.list(status="max_steps")] == ["bad"]
    assert {r["run_id"] for r in store.list(adapter="default")} == {"ok1", "ok3", "bad"}
    assert {r["run_id"] for r in store.list(adapter="none")} == {"ok0", "ok2", "ok4"}
    store.add_feedback("ok2", True)
    assert [r["run_id"] for r in store.list(has_feedback=True)] == ["ok2"]
    assert "ok2" not in {r["run_id"] for r in store.list(has_feedback=False)}
    assert "steps" not in store.list()[0] and "steps" in store.list(with_trace=True)[0]
    assert store.count() == 6


def test_feedback_latest_wins_and_confirmed(store: RunStore) -> None:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    for i, rid in enumerate(["a", "b", "c", "d"]):
        store.save(make_run(rid), created_at=t0 + timedelta(hours=i))
    store.add_feedback("a", False, note="wrong")
    store.add_feedback("a", True)  # changed their mind: the latest counts
    store.add_feedback("b", False, answer="5", replayable=True)
    store.add_feedback("c", False, answer="Paris", note="trace never saw it")
    store.add_feedback("d", False)
    assert store.get("a")["feedback"]["correct"] is True
    assert [r["run_id"] for r in store.confirmed_runs()] == ["a", "b"]
    assert [r["run_id"] for r in store.confirmed_runs(since=t0 + timedelta(minutes=30))] == ["b"]
    plus2 = timezone(timedelta(hours=2))  # the same instant in another zone selects the same runs
    assert [
        r["run_id"] for r in store.confirmed_runs(since=(t0 + timedelta(minutes=30)).astimezone(plus2))
    ] == ["b"]
    assert store.qa_pairs() == [{"run_id": "c", "question": "What is 2+2?", "answer": "Paris"}]
    with pytest.raises(RunNotFoundError):
        store.add_feedback("nope", True)


def test_threads_share_one_store(store: RunStore) -> None:
    def worker(n: int) -> None:
        for i in range(15):
            store.save(make_run(f"t{n}-{i}"))
            assert store.get(f"t{n}-{i}") is not None

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.count() == 60


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


WRITER = textwrap.dedent(
    """
    import sys
    from app.store.runs import RunStore
    from tests.app.test_store import make_run
    store = RunStore(sys.argv[1])
    i = 0
    while True:
        rid = f"k{i}"
        store.save(make_run(rid))
        sys.stdout.write(rid + "\\n")
        sys.stdout.flush()  # printed only after save returned
        i += 1
    """
)


def test_sigkill_loses_no_saved_run(store_url: str) -> None:
    _fresh(store_url).close()
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, store_url], stdout=subprocess.PIPE, text=True, cwd=REPO
    )
    assert proc.stdout is not None
    saved = [proc.stdout.readline().strip() for _ in range(30)]
    proc.send_signal(signal.SIGKILL)
    rest, _ = proc.communicate(timeout=30)
    saved += [line for line in rest.splitlines() if line]
    store = RunStore(store_url)
    missing = [rid for rid in saved if store.get(rid) is None]
    store.close()
    assert len(saved) >= 30 and not missing


# --------------------------------------------------------------------------- the adapter registry


def fake_adapter(folder: Path, weights: bytes = b"w" * 1000) -> Path:
    """The two files the registry stores (their content is not checked here; the model does that)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "adapter_config.json").write_text('{"peft_type": "LORA"}')
    (folder / "adapter_model.safetensors").write_bytes(weights)
    (folder / "README.md").write_text("not stored")
    return folder


def test_adapter_registry_files_scores_history(store: RunStore, tmp_path: Path) -> None:
    reg = store.adapter_registry("host-a:1")
    a = reg.register("a", fake_adapter(tmp_path / "a"), source="job 1")
    b = reg.register("b", fake_adapter(tmp_path / "b"), source="copy")  # same files: stored once
    assert a["sha256"] == b["sha256"] and len(a["sha256"]) == 64 and a["replica"] == "host-a:1"
    with store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(adapter_blobs)).scalar_one() == 1
    reg.record_scores("a", "dev.jsonl@20", {"accuracy": 0.5, "n": 20})
    reg.record_scores("ghost", "dev.jsonl@20", {"accuracy": 0.1, "n": 20})  # scored, never registered
    assert reg.get("a")["scores"]["dev.jsonl@20"]["accuracy"] == 0.5 and reg.get("ghost")["sha256"] is None
    again = reg.register("a", tmp_path / "a", source="job 1", note="kept")  # re-registering keeps scores
    assert again["scores"]["dev.jsonl@20"]["n"] == 20 and again["note"] == "kept"

    assert reg.seed_activation(None, "serving at startup") == 1
    assert reg.seed_activation("a", "serving at startup") is None  # only into an empty history
    ids = [reg.record_activation(n, "t") for n in ["a", "a", "b", None]]
    assert ids[0] is not None and ids[1] is None and ids[2] > ids[0]  # type: ignore[operator]
    assert [h["name"] for h in reg.history()] == [None, "a", "b", None]
    assert reg.latest_activation()["name"] is None and reg.history()[1]["sha256"] == a["sha256"]
    assert reg.previous(None) == (True, "b") and reg.previous("zzz") == (False, None)
    assert {e["name"] for e in reg.all()} == {"a", "b", "ghost"}


def test_local_folder_unpacks_checks_and_refuses(store: RunStore, tmp_path: Path) -> None:
    from app.store.blobs import AdapterBlobError

    reg = store.adapter_registry("host-a:1")
    src = fake_adapter(tmp_path / "src" / "job-1", weights=bytes(range(256)) * 40)
    sha = reg.register("job-1", src)["sha256"]
    assert reg.local_folder("job-1", tmp_path / "cache") == src  # the registering folder, when here
    shutil.rmtree(src)  # another host: the files come from the database
    got = reg.local_folder("job-1", tmp_path / "cache")
    assert got == tmp_path / "cache" / "adapters" / f"job-1-{sha[:8]}"
    assert sorted(p.name for p in got.iterdir()) == ["adapter_config.json", "adapter_model.safetensors"]
    assert (got / "adapter_model.safetensors").read_bytes() == bytes(range(256)) * 40
    assert reg.local_folder("job-1", tmp_path / "cache") == got  # unpacked once
    with pytest.raises(LookupError):
        reg.local_folder("nobody", tmp_path / "cache")

    with store.engine.begin() as conn:  # truncated in the database
        data = conn.execute(select(adapter_blobs.c.data)).scalar_one()
        conn.execute(update(adapter_blobs).values(data=data[:100]))
    with pytest.raises(AdapterBlobError, match="corrupt: sha256"):
        reg.local_folder("job-1", tmp_path / "other-cache")
    assert not (tmp_path / "other-cache" / "adapters" / f"job-1-{sha[:8]}").exists()


def test_pack_is_deterministic_and_unpack_takes_only_adapter_files(tmp_path: Path) -> None:
    import hashlib
    import io
    import tarfile

    from app.store.blobs import AdapterBlobError, pack_adapter, unpack_adapter

    folder = fake_adapter(tmp_path / "a")
    blob, sha = pack_adapter(folder)
    (folder / "README.md").write_text("changed")  # not an adapter file: same blob
    assert pack_adapter(folder) == (blob, sha)
    out = unpack_adapter(blob, sha, tmp_path / "out")
    assert (out / "adapter_model.safetensors").read_bytes() == b"w" * 1000

    buf = io.BytesIO()  # a blob with a path-escaping member and no adapter files
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("../evil")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    evil = buf.getvalue()
    with pytest.raises(AdapterBlobError, match="unreadable"):
        unpack_adapter(evil, hashlib.sha256(evil).hexdigest(), tmp_path / "evil-out")
    assert not (tmp_path / "evil").exists() and not (tmp_path / "evil-out").exists()


def test_replicas_seed_and_activate_once(store_url: str, tmp_path: Path) -> None:
    """Replicas starting together register a name and seed the history once; the same activation
    from several is one row."""
    stores = [_fresh(store_url)] + [RunStore(store_url) for _ in range(3)]
    regs = [s.adapter_registry(f"r{i}") for i, s in enumerate(stores)]
    regs[0].register("a", fake_adapter(tmp_path / "a"))
    barrier = threading.Barrier(len(regs))

    def seed_then_activate(reg: Any) -> None:
        barrier.wait()
        reg.register("b", tmp_path / "a", source=reg.replica)  # the same new name from every replica
        barrier.wait()
        reg.seed_activation(None, "serving at startup")
        barrier.wait()
        reg.record_activation("a", "promoted")

    threads = [threading.Thread(target=seed_then_activate, args=(r,)) for r in regs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [h["name"] for h in regs[1].history()] == [None, "a"]
    assert regs[2].get("b")["source"] in {"r0", "r1", "r2", "r3"} and len(regs[3].all()) == 2
    for s in stores:
        s.close()


def test_registry_json_is_imported_once(store: RunStore, tmp_path: Path) -> None:
    import json

    folder = fake_adapter(tmp_path / "job-1")
    path = tmp_path / "registry.json"
    path.write_text(json.dumps({
        "adapters": {
            "job-1": {"name": "job-1", "path": str(folder), "source": "job 1",
                      "scores": {"dev.jsonl@20": {"accuracy": 0.7, "n": 20}}},
            "gone": {"name": "gone", "path": str(tmp_path / "gone"), "source": "manual", "scores": {}},
        },
        "history": [{"name": None, "at": 1.0, "reason": "serving at startup"},
                    {"name": "job-1", "at": 2.0, "reason": "promoted"}],
    }))  # fmt: skip
    reg = store.adapter_registry("r")
    assert reg.import_json(path) == 4
    assert reg.get("job-1")["scores"]["dev.jsonl@20"]["accuracy"] == 0.7 and reg.get("job-1")["sha256"]
    assert reg.get("gone")["sha256"] is None  # its folder is gone: known by name only
    assert [(h["name"], h["at"]) for h in reg.history()] == [(None, 1.0), ("job-1", 2.0)]
    assert reg.import_json(path) == 0  # once
    assert len(reg.history()) == 2


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
    import os

    from app.store.database import StoreUnusable

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
    from fastapi.testclient import TestClient

    from app.main import create_app
    from tests.app.conftest import make_settings
    from tests.model import ScriptedChatModel

    (tmp_path / "runs.db").write_bytes(b"")
    settings = make_settings(knowledge_cache, store_url=f"sqlite:///{tmp_path / 'runs.db'}")
    with TestClient(create_app(settings, chat_model=ScriptedChatModel(script=["x"]))) as client:
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert "empty (0 bytes)" in ready.text and str(tmp_path) not in ready.text
        assert client.get("/runs").status_code == 503
    assert (tmp_path / "runs.db").stat().st_size == 0


def test_grounding_is_stored_and_an_older_database_gets_the_column(tmp_path: Path) -> None:
    """A runs table made before the grounding column existed stays readable, then gains it."""
    import sqlite3

    from agent.grounding import Grounding

    path = tmp_path / "old.db"
    con = sqlite3.connect(path)
    con.executescript(
        """CREATE TABLE runs (id VARCHAR(64) PRIMARY KEY, created_at DATETIME NOT NULL, question TEXT NOT NULL,
        answer TEXT, status VARCHAR(16) NOT NULL, backend VARCHAR(64) NOT NULL, model VARCHAR(256) NOT NULL,
        adapter VARCHAR(256), latency_ms FLOAT NOT NULL, prompt_tokens INTEGER NOT NULL,
        completion_tokens INTEGER NOT NULL, trace JSON NOT NULL, error TEXT);
        INSERT INTO runs VALUES ('old', '2026-11-30 10:00:00.000000', 'q', '4', 'answered', 'local', 'm', NULL,
        1.0, 1, 1, '{"prompt": "P", "steps": [], "meta": {}}', NULL);"""
    )
    con.close()
    store = RunStore(f"sqlite:///{path}")
    try:
        old = store.get("old")
        assert old is not None and old["grounding"] is None and old["answer"] == "4"
        assert store.get_result("old").grounding is None  # type: ignore[union-attr]
        g = Grounding(supported=False, unsupported=["Joe Biden"], evidence=[])
        store.save(make_run("new", status="ungrounded", grounding=g))
        assert store.get("new")["grounding"] == g.model_dump()  # type: ignore[index]
        assert store.get_result("new").grounding == g  # type: ignore[union-attr]
        assert [r["run_id"] for r in store.list(status="ungrounded")] == ["new"]
    finally:
        store.close()
    reopened = RunStore(f"sqlite:///{path}")  # the column is there now: nothing to add twice
    try:
        assert reopened.count() == 2
    finally:
        reopened.close()
