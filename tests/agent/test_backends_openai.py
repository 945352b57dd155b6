"""ChatOpenAI from settings, against a fake OpenAI-compatible server (httpx.MockTransport, no network)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from langchain_core.messages import HumanMessage
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI

from agent.backends import resolve_adapter
from agent.backends.openai import DUMMY_KEY, build_openai_chat
from agent.loop import ReActAgent
from agent.prompt import STOP, render_prompt
from app.settings import Settings
from app.wiring import build_chat_model, openai_config


class FakeServer:
    """Answers /v1/chat/completions with scripted texts and records every request."""

    def __init__(self, replies: list[str]) -> None:
        self.replies = list(replies)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        assert request.url.path.endswith("/chat/completions")
        text = self.replies.pop(0)
        return httpx.Response(
            200,
            json={
                "id": "chatcmpl-1",
                "object": "chat.completion",
                "created": 0,
                "model": "fake",
                "choices": [
                    {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
                ],
                "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18},
            },
        )

    def body(self, i: int) -> dict[str, Any]:
        return json.loads(self.requests[i].content)


def _settings(**kw: Any) -> Settings:
    base: dict[str, Any] = {"backend": "openai", "openai_model": "fake-model", "max_new_tokens": 64}
    return Settings(**(base | kw))


def _chat(server: FakeServer, settings: Settings) -> ChatOpenAI:
    client = httpx.Client(transport=httpx.MockTransport(server))
    return build_openai_chat(openai_config(settings), http_client=client)


def test_react_prompt_sent_as_one_user_message_with_stop(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    server = FakeServer([" I should search\nAction: Search\nAction Input: x"])
    chat = _chat(server, _settings(openai_base_url="http://qreact.test/v1"))
    prompt = render_prompt("What is the capital of Australia?")
    message = chat.invoke([HumanMessage(content=prompt)], stop=[STOP])
    assert message.content == " I should search\nAction: Search\nAction Input: x"
    assert message.usage_metadata is not None and message.usage_metadata["input_tokens"] == 11
    body = server.body(0)
    assert body["messages"] == [{"role": "user", "content": prompt}]
    assert body["stop"] == [STOP]
    assert body["temperature"] == 0.0 and body["model"] == "fake-model"
    assert body["max_tokens"] == 64 and "max_completion_tokens" not in body  # what Ollama/vLLM read
    assert str(server.requests[0].url) == "http://qreact.test/v1/chat/completions"
    # vLLM/Ollama ignore the key, but the client needs one: a dummy when none is configured
    assert server.requests[0].headers["authorization"] == f"Bearer {DUMMY_KEY}"


def test_openai_proper_gets_max_completion_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
    server = FakeServer(["a"])
    chat = _chat(server, _settings())
    chat.invoke("hi")
    # no base URL: the openai client's own default endpoint (answered here by the mock transport)
    default_base = str(openai.OpenAI(api_key="sk-x").base_url).rstrip("/")
    assert str(server.requests[0].url) == f"{default_base}/chat/completions"
    assert server.body(0)["max_completion_tokens"] == 64


def test_key_precedence(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
    server = FakeServer(["a", "b"])
    _chat(server, _settings(openai_base_url="http://x/v1")).invoke("hi")
    assert server.requests[0].headers["authorization"] == "Bearer sk-env"
    _chat(server, _settings(openai_base_url="http://x/v1", openai_api_key="sk-set")).invoke("hi")
    assert server.requests[1].headers["authorization"] == "Bearer sk-set"


def test_no_key_and_no_base_url_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(ValueError, match="OPENAI_API_KEY"):
        build_openai_chat(openai_config(_settings()))


def test_timeout_and_retries_from_settings() -> None:
    chat = build_openai_chat(
        openai_config(_settings(openai_base_url="http://x/v1", openai_timeout_s=7.5, openai_max_retries=4))
    )
    assert chat.request_timeout == 7.5 and chat.max_retries == 4
    assert chat.use_responses_api is False


def test_full_react_run_over_the_fake_server(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    server = FakeServer(
        [
            " I should look it up\nAction: Search\nAction Input: capital of Australia",
            "I now know the final answer\nFinal Answer: Canberra",
        ]
    )
    chat = _chat(server, _settings(openai_base_url="http://qreact.test/v1"))

    @tool("Search")
    def search(query: str) -> str:
        """Useful for web search."""
        return "Canberra is the capital of Australia."

    agent = ReActAgent(chat, [search])
    result = agent.run("What is the capital of Australia?")
    assert result.status == "answered" and result.answer == "Canberra"
    second = server.body(1)["messages"][0]["content"]
    assert second.endswith("Observation: Canberra is the capital of Australia.\nThought: ")
    assert result.usage.prompt_tokens == 22


def test_build_chat_model_dispatch(
    tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from agent.backends.local import LocalChatModel

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    assert isinstance(build_chat_model(_settings(openai_base_url="http://x/v1")), ChatOpenAI)
    local = build_chat_model(
        Settings(
            backend="local", local_model=str(tiny_model_dir), adapter="none", device="cpu", cache_dir=tmp_path
        )
    )
    assert isinstance(local, LocalChatModel) and local.active_adapter is None


def test_resolve_adapter(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import agent.backends as backends
    from agent.backends.adapter_check import AdapterError

    assert resolve_adapter(None) is None and resolve_adapter("none") is None
    monkeypatch.setattr(backends, "REPO_ROOT", tmp_path)
    assert resolve_adapter("default") is None  # not shipped yet: base model, logged once
    shipped = tmp_path / "adapters" / "default"
    shipped.mkdir(parents=True)
    (shipped / "adapter_config.json").write_text("{}")
    assert resolve_adapter("default") == ("default", shipped)
    mine = tmp_path / "my-adapter"
    mine.mkdir()
    assert resolve_adapter(str(mine)) == ("my-adapter", mine)
    with pytest.raises(AdapterError, match="does not exist"):
        resolve_adapter(str(tmp_path / "nope"))
