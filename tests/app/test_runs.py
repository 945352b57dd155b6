"""/runs routes through the real app (TestClient) with a scripted fake chat model."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langchain_core.tools import tool

from app.main import create_app
from app.settings import Settings
from app.store.runs import RunStore

REPO = Path(__file__).resolve().parents[2]
SCRIPT = [
    " I need to compute it.\nAction: Calculator\nAction Input: 37 * 12 + 5",
    "I now know the final answer\nFinal Answer: 449",
]


@tool("Calculator")
def calculator(expr: str) -> str:
    """Useful for when you need to answer questions about math."""
    return {"37 * 12 + 5": "449", "2 + 2": "4"}.get(expr.strip(), "Error: unknown")


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(cache_dir=tmp_path, store_url=f"sqlite:///{tmp_path / 'runs.db'}", log_json=False)
    fake = FakeListChatModel(responses=SCRIPT)
    app = create_app(settings, chat_model=fake, tools=[calculator])
    with TestClient(app) as c:
        deadline = time.monotonic() + 30
        while not app.state.ready and time.monotonic() < deadline:
            time.sleep(0.02)
        assert app.state.ready, app.state.load_error
        yield c


def ask(client: TestClient, question: str = "What is 37 * 12 + 5?") -> str:
    r = client.post("/ask", json={"question": question})
    assert r.status_code == 200, r.text
    assert r.json()["answer"] == "449"
    return r.json()["run_id"]


def test_runs_list_get_and_404(client: TestClient) -> None:
    ids = [ask(client, f"What is 37 * 12 + 5? ({i})") for i in range(3)]
    page = client.get("/runs", params={"limit": 2}).json()
    assert [r["run_id"] for r in page["items"]] == ids[::-1][:2] and page["next_offset"] == 2
    last = client.get("/runs", params={"limit": 2, "offset": 2}).json()
    assert [r["run_id"] for r in last["items"]] == [ids[0]] and last["next_offset"] is None
    detail = client.get(f"/runs/{ids[0]}").json()
    assert detail["question"] == "What is 37 * 12 + 5? (0)" and detail["status"] == "answered"
    assert detail["steps"][0]["tool"] == "Calculator" and detail["steps"][0]["observation"] == "449"
    assert detail["prompt"].startswith("Answer the following questions")
    missing = client.get("/runs/nope")
    assert missing.status_code == 404 and "nope" in missing.json()["detail"]
    assert client.get("/runs", params={"limit": 0}).status_code == 422
    assert client.get("/runs", params={"status": "exploded"}).status_code == 422
    assert client.get("/runs", params={"status": "max_steps"}).json()["items"] == []


def test_feedback_confirm_correct_and_filters(client: TestClient) -> None:
    a, b, c, d = (ask(client, f"What is 37 * 12 + 5? ({i})") for i in range(4))
    ok = client.post(f"/runs/{a}/feedback", json={"correct": True})
    assert ok.status_code == 200 and ok.json()["use"] == "training"
    fixed = client.post(f"/runs/{b}/feedback", json={"correct": False, "answer": "449.0", "note": "format"})
    assert fixed.json()["replayable"] is True and fixed.json()["use"] == "training"
    qa = client.post(f"/runs/{c}/feedback", json={"correct": False, "answer": "Canberra"})
    assert qa.json()["replayable"] is False and qa.json()["use"] == "qa_pair"
    assert "no observation contains" in qa.json()["reason"]
    assert client.post(f"/runs/{d}/feedback", json={"correct": False}).json()["use"] == "none"
    assert client.post("/runs/nope/feedback", json={"correct": True}).status_code == 404
    assert client.post(f"/runs/{a}/feedback", json={"answer": "x"}).status_code == 422  # correct is required
    assert client.post(f"/runs/{a}/feedback", json={"correct": True, "extra": 1}).status_code == 422

    with_fb = client.get("/runs", params={"has_feedback": True}).json()["items"]
    assert {r["run_id"] for r in with_fb} == {a, b, c, d}
    assert client.get(f"/runs/{c}").json()["feedback"]["answer"] == "Canberra"
    store = client.app.state.store  # type: ignore[attr-defined]
    assert {r["run_id"] for r in store.confirmed_runs()} == {a, b}
    assert [p["run_id"] for p in store.qa_pairs()] == [c]
    ask(client)
    assert len(client.get("/runs", params={"has_feedback": False}).json()["items"]) == 1


def test_openapi_has_examples(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert "/runs/{run_id}/feedback" in spec["paths"]
    schema = spec["components"]["schemas"]["FeedbackRequest"]
    assert schema["examples"][1]["answer"] == "Canberra"


SERVER = textwrap.dedent(
    """
    import sys
    import uvicorn
    from langchain_core.language_models.fake_chat_models import FakeListChatModel
    from tests.app.test_runs import SCRIPT, calculator
    from app.main import create_app
    from app.settings import Settings

    store_url, cache_dir, port = sys.argv[1:4]
    settings = Settings(store_url=store_url, cache_dir=cache_dir, log_json=False, max_queue=16)
    app = create_app(settings, chat_model=FakeListChatModel(responses=SCRIPT), tools=[calculator])
    uvicorn.run(app, host="127.0.0.1", port=int(port), log_level="warning")
    """
)


def test_sigkill_during_a_burst_of_asks_loses_no_returned_run(tmp_path: Path) -> None:
    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"sqlite:///{tmp_path / 'runs.db'}"
    server = subprocess.Popen([sys.executable, "-c", SERVER, url, str(tmp_path), str(port)], cwd=REPO)
    base = f"http://127.0.0.1:{port}"
    returned: list[str] = []
    lock = threading.Lock()
    try:
        # importing the app and langchain takes seconds on an idle box, minutes on a loaded one:
        # the bound only catches a server that never starts
        deadline = time.monotonic() + 240
        while True:
            assert server.poll() is None and time.monotonic() < deadline, "the server did not start"
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)

        def burst() -> None:
            with httpx.Client(base_url=base, timeout=30) as c:
                while True:
                    try:
                        r = c.post("/ask", json={"question": "What is 37 * 12 + 5?"})
                    except httpx.HTTPError:
                        if server.poll() is not None:
                            return  # the server is gone
                        time.sleep(0.05)  # a slow answer on a loaded machine: ask again
                        continue
                    if r.status_code == 200:
                        with lock:
                            returned.append(r.json()["run_id"])

        threads = [threading.Thread(target=burst) for _ in range(3)]
        for t in threads:
            t.start()
        answering = time.monotonic() + 120
        while len(returned) < 30:
            assert time.monotonic() < answering and server.poll() is None, "too few answers"
            time.sleep(0.01)
        server.send_signal(signal.SIGKILL)  # mid-burst: requests are in flight
        for t in threads:
            t.join(15)
    finally:
        server.kill()
        server.wait(10)
    store = RunStore(url)
    missing = [rid for rid in returned if store.get(rid) is None]
    store.close()
    assert len(returned) >= 30 and not missing
