"""App fixtures: the real app (real tools, real run store) on a scripted chat model, offline.

``ScriptedChatModel`` answers with fixed ReAct texts; ``running_app(settings, model)`` starts the
app through its lifespan and waits until ``/readyz`` says ready.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.tools import tool
from pydantic import Field

from agent.prompt import STOP, render_prompt
from app.main import create_app
from app.settings import Settings

READY_TIMEOUT_S = 30.0  # the knowledge index is built on first use: well under a second here


_HEADER_OBSERVATIONS = render_prompt("").count(STOP)  # "Observation:" lines of the format instructions


class ScriptedChatModel(BaseChatModel):
    """Step k of every run gets ``script[k]`` (the last one repeats); an Exception item is raised.

    k is read from the prompt (observations in the scratchpad), so each run starts the script over.
    """

    script: list[Any]
    delay_s: float = 0.0  # per call, seconds
    prompts: list[str] = Field(default_factory=list)

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def _generate(
        self, messages: list[BaseMessage], stop: list[str] | None = None, **kwargs: Any
    ) -> ChatResult:
        self.prompts.append(str(messages[-1].content))
        if self.delay_s:
            time.sleep(self.delay_s)
        step = str(messages[-1].content).count(STOP) - _HEADER_OBSERVATIONS
        item = self.script[min(step, len(self.script) - 1)]
        if isinstance(item, Exception):
            raise item
        usage = {"input_tokens": 7, "output_tokens": 3, "total_tokens": 10}
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=item, usage_metadata=usage))])


def action(tool: str, tool_input: str, thought: str = "I should use a tool.") -> str:
    return f" {thought}\nAction: {tool}\nAction Input: {tool_input}"


def final(answer: str) -> str:
    return f"I now know the final answer\nFinal Answer: {answer}"


CALC_SCRIPT = [action("Calculator", "37 * 12 + 5", "I need to compute this."), final("449")]


def make_settings(cache_dir: Path, **overrides: Any) -> Settings:
    """Offline settings: local search, SQLite store under ``cache_dir``, no .env."""
    values: dict[str, Any] = {"cache_dir": cache_dir, "search": "local", "adapter": None, "log_json": False}
    return Settings(_env_file=None, **(values | overrides))  # type: ignore[call-arg]


def wait_ready(client: TestClient, timeout_s: float = READY_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        response = client.get("/readyz")
        if response.status_code == 200:
            return
        if response.json().get("status") == "failed":
            raise AssertionError(f"the app failed to load: {response.json()}")
        time.sleep(0.02)
    raise AssertionError("the app did not become ready")


@contextmanager
def running_app(
    settings: Settings,
    chat_model: BaseChatModel | None = None,
    ready_timeout_s: float = READY_TIMEOUT_S,
    **kwargs: Any,
) -> Iterator[TestClient]:
    """A TestClient on a started (lifespan) and ready app."""
    app = create_app(settings, chat_model=chat_model, **kwargs)
    with TestClient(app) as client:
        wait_ready(client, ready_timeout_s)
        yield client


async def post_then_disconnect(app: Any, path: str, payload: dict, marker: bytes) -> list[bytes]:
    """POST ``payload`` to the ASGI ``app`` directly; disconnect once a body chunk holds ``marker``.

    (TestClient buffers whole responses, so a client leaving mid-stream needs raw ASGI.)
    Returns the body chunks sent before the app finished.
    """
    import asyncio
    import json

    seen = asyncio.Event()
    chunks: list[bytes] = []
    requested = False

    async def receive() -> dict:
        nonlocal requested
        if not requested:
            requested = True
            return {"type": "http.request", "body": json.dumps(payload).encode(), "more_body": False}
        await seen.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        if message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))
            if marker in chunks[-1]:
                seen.set()

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-type", b"application/json"), (b"host", b"testserver")],
        "client": ("127.0.0.1", 1234),
        "server": ("testserver", 80),
        "state": {},
        "app": app,
    }
    await asyncio.wait_for(app(scope, receive, send), timeout=30)
    return chunks


@pytest.fixture(scope="session")
def knowledge_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cache dir whose country index is built once per session."""
    from agent.knowledge import ensure_default_index

    cache = tmp_path_factory.mktemp("qreact-cache")
    ensure_default_index(cache)
    return cache


@pytest.fixture
def settings(knowledge_cache: Path, tmp_path: Path) -> Settings:
    # shared country index, a fresh run store per test
    return make_settings(knowledge_cache, store_url=f"sqlite:///{tmp_path / 'runs.db'}")


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    """The app on the calculator script (37 * 12 + 5 → 449)."""
    with running_app(settings, ScriptedChatModel(script=CALC_SCRIPT)) as c:
        yield c


@tool("Calculator")
def four_calculator(expr: str) -> str:
    """Useful for when you need to answer questions about math."""
    return "4"  # a tool that answers without computing: the admin tests only need the agent to run
