"""Faults: web search down, an OpenAI-compatible backend failing, a model raising mid-run.

Each one ends in a fallback, an observation, or an honest status and HTTP code — and the server
keeps serving. The OpenAI-compatible backend is a real HTTP server on loopback that fails on purpose.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from agent.tools import search as search_module
from tests.app.conftest import scripted_app as make_app
from tests.model import ScriptedLocalModel

SEARCH_SCRIPT = (
    " I need to find the capital of Australia.\nAction: Search\nAction Input: Australia capital",
    "I now know the final answer\nFinal Answer: Canberra",
)


def wait_ready(client: TestClient) -> None:
    deadline = time.monotonic() + 30
    while client.get("/readyz").status_code != 200:
        assert time.monotonic() < deadline, client.get("/readyz").text
        time.sleep(0.05)


def ask(client: TestClient, question: str = "What is the capital of Australia?") -> httpx.Response:
    return client.post("/ask", json={"question": question})


def _ratelimit(*_: Any) -> list:
    from ddgs.exceptions import RatelimitException

    raise RatelimitException("202 Ratelimit")


def _unreachable(*_: Any) -> list:
    raise httpx.ConnectError("[Errno 101] Network is unreachable")


def _hang(*_: Any) -> list:
    time.sleep(3)
    return []


@pytest.mark.parametrize(
    "failure", [_ratelimit, _unreachable, _hang], ids=["rate-limit", "unreachable", "timeout"]
)
def test_web_search_failures_fall_back_to_the_local_index(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failure: Any
) -> None:
    monkeypatch.setattr(search_module, "_ddgs_text", failure)
    monkeypatch.setattr(search_module, "_sleep", lambda _s: None)  # no real backoff waits
    from agent.tools import build_tools
    from app.main import create_app
    from app.settings import Settings

    settings = Settings(_env_file=None, cache_dir=tmp_path, adapter=None, search="auto", search_timeout_s=0.5)  # type: ignore[call-arg]
    tools = build_tools(search="auto", cache_dir=tmp_path, search_timeout_s=0.5)
    app = create_app(settings, chat_model=ScriptedLocalModel(script=SEARCH_SCRIPT), tools=tools)
    with TestClient(app) as client:
        wait_ready(client)
        started = time.monotonic()
        body = ask(client).json()
        elapsed = time.monotonic() - started
    step = body["steps"][0]
    assert body["status"] == "answered" and body["answer"] == "Canberra"
    assert step["observation_source"] == "local" and "Canberra" in step["observation"]
    assert elapsed < 3, "the search budget bounds the wait"


def test_web_search_only_mode_turns_failures_into_an_observation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(search_module, "_ddgs_text", _unreachable)
    from agent.tools import build_tools
    from app.main import create_app
    from app.settings import Settings

    settings = Settings(_env_file=None, cache_dir=tmp_path, adapter=None, search="duckduckgo", ungrounded="keep")  # type: ignore[call-arg]
    tools = build_tools(search="duckduckgo", cache_dir=tmp_path)
    app = create_app(settings, chat_model=ScriptedLocalModel(script=SEARCH_SCRIPT), tools=tools)
    with TestClient(app) as client:
        wait_ready(client)
        body = ask(client).json()
    # the run goes on to a final answer; the failed search is no evidence for it
    assert body["status"] == "ungrounded" and body["grounding"]["evidence"] == []
    assert body["steps"][0]["observation"].startswith("Error: web search failed")


def test_a_hung_tool_is_abandoned_at_the_tool_timeout(tmp_path: Path) -> None:
    from langchain_core.tools import tool

    from app.main import create_app
    from app.settings import Settings

    @tool("Search")
    def slow_search(query: str) -> str:
        """Useful for web search."""
        time.sleep(5)
        return "too late"

    settings = Settings(_env_file=None, cache_dir=tmp_path, adapter=None, tool_timeout_s=0.3, ungrounded="keep")  # type: ignore[call-arg]
    app = create_app(settings, chat_model=ScriptedLocalModel(script=SEARCH_SCRIPT), tools=[slow_search])
    with TestClient(app) as client:
        wait_ready(client)
        started = time.monotonic()
        body = ask(client).json()
        assert time.monotonic() - started < 3
    assert body["status"] == "ungrounded"  # a final answer, with nothing behind it
    assert body["steps"][0]["observation"] == "Error: Search timed out after 0.3 s."


class FailingOpenAI(BaseHTTPRequestHandler):
    """/v1/chat/completions that answers 500 (or hangs) every time, counting the attempts."""

    mode = "500"
    attempts = 0

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        type(self).attempts += 1
        length = int(self.headers.get("content-length") or 0)
        self.rfile.read(length)
        if self.mode == "hang":
            time.sleep(2)
        body = json.dumps({"error": {"message": "upstream exploded", "type": "server_error"}}).encode()
        self.send_response(500 if self.mode == "500" else 503)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except OSError:  # the client gave up (timeout)
            pass

    def log_message(self, *args: Any) -> None:
        pass


@contextmanager
def failing_server(mode: str) -> Iterator[str]:
    handler = type("Handler", (FailingOpenAI,), {"mode": mode, "attempts": 0})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1", handler  # type: ignore[misc]
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("mode", ["500", "hang"])
def test_openai_backend_errors_retry_a_bounded_number_of_times_then_503(tmp_path: Path, mode: str) -> None:
    from agent.tools import build_tools
    from app.main import create_app
    from app.settings import Settings

    with failing_server(mode) as (base_url, handler):
        settings = Settings(  # type: ignore[call-arg]
            _env_file=None,
            cache_dir=tmp_path,
            backend="openai",
            openai_base_url=base_url,
            openai_api_key="sk-fault-test-0000",
            openai_max_retries=1,
            openai_timeout_s=0.5,
        )
        app = create_app(settings, tools=build_tools(search="local", cache_dir=tmp_path))
        with TestClient(app) as client:
            wait_ready(client)
            started = time.monotonic()
            response = ask(client, "What is 37 * 12 + 5?")
            elapsed = time.monotonic() - started
            assert client.get("/healthz").status_code == 200  # still serving
            again = ask(client, "What is 2 + 2?")
    assert response.status_code in (502, 503), response.text
    detail = response.json()["detail"]
    reason = "Error code: 500" if mode == "500" else "Timeout"
    assert reason in detail and "unavailable" in detail, detail
    assert handler.attempts == 2 * 2  # two requests, each one try + openai_max_retries=1 retry
    assert elapsed < 10
    assert again.status_code == response.status_code
    assert "sk-fault-test-0000" not in response.text


def test_a_model_raising_mid_run_ends_it_with_status_error_and_the_server_keeps_serving(
    tmp_path: Path,
) -> None:
    model = ScriptedLocalModel(fail_at=1)  # the second step raises (a CUDA error, say)
    with TestClient(make_app(tmp_path, model)) as client:
        wait_ready(client)
        first = ask(client, "What is 37 * 12 + 5?")
        stream = client.post("/ask/stream", json={"question": "What is 37 * 12 + 5?"})
        health = client.get("/healthz")
        model.fail_at = None  # the fault clears: the same server answers again
        after = ask(client, "What is 37 * 12 + 5?")
        metrics = client.get("/metrics").text
    body = first.json()
    assert first.status_code == 200 and body["status"] == "error"
    assert "RuntimeError" in body["error"] and "device-side assert" in body["error"]
    assert [s["kind"] for s in body["steps"]] == ["tool"]  # the step before the failure is kept
    assert stream.status_code == 200 and "event: final" in stream.text and '"status":"error"' in stream.text
    assert health.status_code == 200
    assert after.json()["status"] == "answered" and after.json()["answer"] == "449"
    assert 'qreact_runs_total{status="error"}' in metrics
