"""app.store.runs: RunStore (runs, feedback, threads, a SIGKILL, the grounding column) against SQLite always
and PostgreSQL when QREACT_TEST_PG_URL is set (.ci/run sets it)."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from agent.grounding import Grounding
from app.store.runs import RunNotFoundError, RunStore
from tests.app.store.helpers import REPO, fresh_store, make_run


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


WRITER = textwrap.dedent(
    """
    import sys
    from app.store.runs import RunStore
    from tests.app.store.helpers import make_run
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
    fresh_store(store_url).close()
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




def test_grounding_is_stored_and_an_older_database_gets_the_column(tmp_path: Path) -> None:
    """A runs table made before the grounding column existed stays readable, then gains it."""


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
