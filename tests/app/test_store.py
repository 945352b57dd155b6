"""RunStore against SQLite always and PostgreSQL when QREACT_TEST_PG_URL is set (.ci/run sets it)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from agent.trace import RunResult, Step, Usage
from app.store import RunNotFoundError, RunStore, metadata, normalize_url

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
    from app.store import RunStore
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
