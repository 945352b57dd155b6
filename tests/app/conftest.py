"""App fixtures: the real app (real tools, real run store) on a scripted chat model, offline.

``tests/model.py`` has the scripted model; ``running_app(settings, model)`` starts the app through
its lifespan and waits until ``/readyz`` says ready; ``scripted_app`` builds one on its own tools.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from langchain_core.language_models import BaseChatModel
from langchain_core.tools import tool

from agent.tools import build_tools
from app.main import create_app
from app.settings import Settings
from tests.model import CALC_SCRIPT, ScriptedChatModel, ScriptedLocalModel

READY_TIMEOUT_S = 30.0  # the knowledge index is built on first use: well under a second here


def make_settings(cache_dir: Path, **overrides: Any) -> Settings:
    """Offline settings: local search, SQLite store under ``cache_dir``, no .env."""
    values: dict[str, Any] = {"cache_dir": cache_dir, "search": "local", "adapter": None, "log_json": False}
    return Settings(_env_file=None, **(values | overrides))  # type: ignore[call-arg]


def scripted_app(cache_dir: Path, chat_model: BaseChatModel | None = None, **overrides: Any) -> FastAPI:
    """The real app on its real tools (local search over ``cache_dir``), JSON logs at WARNING, on
    ``chat_model`` (default: the scripted local model on the calculator script)."""
    settings = make_settings(cache_dir, **({"log_json": True, "log_level": "WARNING"} | overrides))
    tools = build_tools(search="local", cache_dir=cache_dir, search_timeout_s=settings.search_timeout_s)
    return create_app(settings, chat_model=chat_model or ScriptedLocalModel(), tools=tools)


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
