"""/v1 on a real tiny local model, through the official ``openai`` client and langchain's ChatOpenAI."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import openai
import pytest
from fastapi.testclient import TestClient
from langchain_openai import ChatOpenAI

from tests.app.conftest import make_settings, post_then_disconnect, running_app
from tests.model import CALC_SCRIPT, ScriptedChatModel

PROMPT = "Question: What is the capital of Australia?\nThought:"


@pytest.fixture(scope="module")
def v1_client(tiny_model_dir: Path, knowledge_cache: Path, tmp_path_factory) -> Iterator[TestClient]:
    """The app built from settings alone (real factory, real LocalChatModel on the tiny model)."""
    runs = tmp_path_factory.mktemp("v1") / "runs.db"
    settings = make_settings(
        knowledge_cache, local_model=str(tiny_model_dir), device="cpu", store_url=f"sqlite:///{runs}"
    )
    with running_app(settings) as client:
        yield client


@pytest.fixture(scope="module")
def oai(v1_client: TestClient) -> openai.OpenAI:
    return openai.OpenAI(
        base_url="http://testserver/v1", api_key="unused", http_client=v1_client, max_retries=0
    )


def served_name(v1_client: TestClient) -> str:
    return v1_client.app.state.chat_model.model_name


def direct(v1_client: TestClient, prompt: str = PROMPT, **kwargs) -> str:
    args = {"max_new_tokens": 12, "stop": [], "temperature": 0.0} | kwargs
    return v1_client.app.state.chat_model.generate_text(prompt, **args).text


def test_models_lists_the_served_model(oai, v1_client):
    assert [m.id for m in oai.models.list().data] == [served_name(v1_client)]


def test_chat_completion_matches_the_model(oai, v1_client):
    completion = oai.chat.completions.create(
        model="anything", messages=[{"role": "user", "content": PROMPT}], max_tokens=12, temperature=0
    )
    choice = completion.choices[0]
    assert choice.message.role == "assistant"
    assert choice.message.content == direct(v1_client)
    assert choice.finish_reason in ("stop", "length")
    assert completion.model == served_name(v1_client) and completion.id.startswith("chatcmpl-")
    assert 0 < completion.usage.completion_tokens <= 12
    assert (
        completion.usage.total_tokens == completion.usage.prompt_tokens + completion.usage.completion_tokens
    )


def test_stop_strings_are_applied(oai, v1_client):
    full = direct(v1_client)
    stop = full.strip()[1:3]
    assert len(stop) == 2, f"the tiny model wrote too little to pick a stop string: {full!r}"
    completion = oai.chat.completions.create(
        model="m", messages=[{"role": "user", "content": PROMPT}], max_tokens=12, stop=[stop]
    )
    text = completion.choices[0].message.content
    assert stop not in text and full.startswith(text) and len(text) < len(full)
    assert completion.choices[0].finish_reason == "stop"


def test_streaming_chunks_add_up_to_the_completion(oai, v1_client):
    stream = oai.chat.completions.create(
        model="m",
        messages=[{"role": "user", "content": PROMPT}],
        max_tokens=12,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == direct(v1_client)
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert len(finishes) == 1
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens > 0
    assert all(c.object == "chat.completion.chunk" and c.id == chunks[0].id for c in chunks)


def test_raw_stream_ends_with_done(v1_client):
    body = {"messages": [{"role": "user", "content": PROMPT}], "max_tokens": 4, "stream": True}
    with v1_client.stream("POST", "/v1/chat/completions", json=body) as response:
        lines = [line for line in response.read().decode().splitlines() if line]
    assert lines[-1] == "data: [DONE]"
    assert all(line.startswith("data: ") for line in lines)


def test_a_client_leaving_a_stream_frees_the_model(oai, v1_client):
    """A disconnect mid-stream must release the generation lock, or the model is stuck for good."""
    payload = {"messages": [{"role": "user", "content": PROMPT}], "max_tokens": 64, "stream": True}
    app = v1_client.app
    chunks = v1_client.portal.call(post_then_disconnect, app, "/v1/chat/completions", payload, b'"content":"')
    assert not any(b"[DONE]" in c for c in chunks)
    lock = app.state.chat_model._lock
    assert lock.acquire(timeout=10), "the generation lock is still held after the client left"
    lock.release()
    completion = oai.chat.completions.create(
        model="m", messages=[{"role": "user", "content": PROMPT}], max_tokens=4
    )
    assert completion.choices[0].message.content == direct(v1_client, max_new_tokens=4)


def test_chat_openai_talks_to_the_app(v1_client):
    llm = ChatOpenAI(
        model="qreact",
        base_url="http://testserver/v1",
        api_key="unused",
        http_client=v1_client,
        temperature=0,
        max_tokens=12,
        max_retries=0,
    )
    message = llm.invoke(PROMPT)
    assert message.content == direct(v1_client)
    assert message.usage_metadata["output_tokens"] > 0
    assert "".join(str(chunk.content) for chunk in llm.stream(PROMPT)) == message.content


def test_several_messages_are_rendered_into_one_prompt(oai, v1_client):
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    completion = oai.chat.completions.create(model="m", messages=messages, max_tokens=6)
    assert completion.choices[0].message.content == direct(v1_client, "Be brief.\n\nHi", max_new_tokens=6)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"messages": []}, "messages"),
        ({"messages": [{"role": "wizard", "content": "x"}]}, "messages.0.role"),
        ({"messages": [{"role": "user", "content": "x"}], "n": 2}, "n"),
        ({"messages": [{"role": "user", "content": "x"}], "max_tokens": 0}, "max_tokens"),
    ],
)
def test_bad_requests_are_422_naming_the_field(v1_client, body, field):
    response = v1_client.post("/v1/chat/completions", json=body)
    assert response.status_code == 422 and response.json()["message"].startswith(f"{field}:")


def test_v1_serves_the_local_backend_only(settings):
    with running_app(
        settings.model_copy(update={"backend": "openai"}), ScriptedChatModel(script=CALC_SCRIPT)
    ) as c:
        response = c.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": "hi"}]})
        assert response.status_code == 503 and "local backend only" in response.json()["detail"]
        assert c.get("/v1/models").status_code == 503


# --------------------------------------------------------------- /v1/completions (raw prompts)
def test_text_completion_continues_the_raw_prompt(oai, v1_client):
    completion = oai.completions.create(model="anything", prompt=PROMPT, max_tokens=12, temperature=0)
    choice = completion.choices[0]
    assert choice.text == direct(v1_client)  # the prompt as sent: no chat template
    assert choice.finish_reason in ("stop", "length") and completion.object == "text_completion"
    assert completion.id.startswith("cmpl-") and completion.model == served_name(v1_client)
    assert 0 < completion.usage.completion_tokens <= 12
    echoed = oai.completions.create(model="m", prompt=[PROMPT], max_tokens=12, echo=True)
    assert echoed.choices[0].text == PROMPT + choice.text


def test_text_completion_streams_pieces_that_add_up(oai, v1_client):
    stream = oai.completions.create(
        model="m", prompt=PROMPT, max_tokens=12, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    text = "".join(c.choices[0].text for c in chunks if c.choices)
    assert text == direct(v1_client)
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] in ("stop", "length")
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "prompt"),
        ({"prompt": ["a", "b"]}, "prompt"),
        ({"prompt": "a", "stream": "yes"}, "stream"),
        ({"prompt": "a", "max_tokens": "8"}, "max_tokens"),
    ],
)
def test_bad_text_completion_requests_are_422_naming_the_field(v1_client, body, field):
    response = v1_client.post("/v1/completions", json=body)
    assert response.status_code == 422 and response.json()["message"].startswith(f"{field}"), response.text


def test_a_text_completion_prompt_over_the_token_limit_is_400(knowledge_cache, tiny_model_dir, tmp_path):
    settings = make_settings(
        knowledge_cache,
        local_model=str(tiny_model_dir),
        device="cpu",
        store_url=f"sqlite:///{tmp_path / 'runs.db'}",
        max_prompt_tokens=16,
    )
    with running_app(settings) as client:
        response = client.post("/v1/completions", json={"prompt": "word " * 200, "max_tokens": 4})
    assert response.status_code == 400 and "QREACT_MAX_PROMPT_TOKENS" in response.json()["detail"]
