"""POST /ask: response shape, real tools, stored runs, limits and errors."""

from __future__ import annotations

import json

import httpx
import openai
import pytest

from agent.trace import RunResult
from app.settings import Settings
from app.wiring import ungrounded_policy
from tests.app.conftest import make_settings, running_app
from tests.model import ScriptedChatModel, action, final

ASK_KEYS = {
    "run_id",
    "question",
    "answer",
    "status",
    "steps",
    "backend",
    "model",
    "adapter",
    "latency_ms",
    "usage",
    "error",
    "prompt",
    "grounding",
}


def test_ask_returns_the_run_with_its_trace_and_stores_it(client):
    response = client.post("/ask", json={"question": "What is 37 * 12 + 5?"})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == ASK_KEYS
    assert (body["status"], body["answer"], body["error"]) == ("answered", "449", None)
    assert (body["backend"], body["model"], body["adapter"]) == ("scripted", "ScriptedChatModel", None)
    tool_step, final_step = body["steps"]
    # the real Calculator computed the observation
    assert (tool_step["tool"], tool_step["tool_input"], tool_step["observation"]) == (
        "Calculator",
        "37 * 12 + 5",
        "449",
    )
    assert final_step["kind"] == "final" and final_step["final_answer"] == "449"
    assert body["usage"] == {"prompt_tokens": 14, "completion_tokens": 6, "total_tokens": 20}
    assert body["latency_ms"] > 0 and body["prompt"].endswith("Question: What is 37 * 12 + 5?\nThought:")
    stored = client.app.state.store.get(body["run_id"])
    assert stored is not None and stored["answer"] == "449" and len(stored["steps"]) == 2
    grounding = {"supported": True, "unsupported": [], "evidence": [0], "not_found": False}
    grounding["read_from_documents"] = False
    assert body["grounding"] == stored["grounding"] == grounding  # 449 is the Calculator's result
    RunResult.model_validate(body)


# One script per status; local search over the real country pack answers the searches.
STATUS_CASES = [
    (
        "answered",
        "What is the capital of Australia?",
        [action("Search", "capital of Australia"), final("The capital of Australia is Canberra.")],
        "The capital of Australia is Canberra.",
        {"supported": True, "unsupported": [], "evidence": [0], "not_found": False, "read_from_documents": False},
    ),
    (
        "ungrounded",
        "Who is the president of Australia?",
        [action("Search", "president of Australia"), final("The president of Australia is John Smith.")],
        "The president of Australia is John Smith.",
        {"supported": False, "unsupported": ["John Smith"], "evidence": [], "not_found": False,
         "read_from_documents": False},  # fmt: skip
    ),
    (
        "not_found",  # the model's own not-found answer
        "Who is the president of Australia?",
        [action("Search", "president of Australia"), final("I could not find the answer in the search results.")],
        "I could not find the answer in the search results.",
        {"supported": True, "unsupported": [], "evidence": [], "not_found": True, "read_from_documents": False},
    ),
    (
        "not_found",  # two searches that find nothing end the run
        "Who is the president of Wakanda?",
        [action("Search", "president of Wakanda"), action("Search", "Wakanda"), final("T'Challa")],
        "I could not find the answer in the search results.",
        {"supported": True, "unsupported": [], "evidence": [], "not_found": True, "read_from_documents": False},
    ),
]


@pytest.mark.parametrize(("status", "question", "script", "answer", "grounding"), STATUS_CASES)
def test_each_status_through_ask_stream_runs_and_metrics(settings, status, question, script, answer, grounding):
    settings = settings.model_copy(update={"ungrounded": "keep"})  # the default (auto) replaces it on local
    with running_app(settings, ScriptedChatModel(script=script)) as client:
        before = _metric(client, f'qreact_runs_total{{status="{status}"}}')
        ungrounded_before = _metric(client, "qreact_ungrounded_answers_total")
        body = client.post("/ask", json={"question": question}).json()
        assert (body["status"], body["answer"], body["grounding"]) == (status, answer, grounding)
        with client.stream("POST", "/ask/stream", json={"question": question}) as response:
            text = "".join(response.iter_text())
        final_event = json.loads(text.split("event: final\r\ndata: ")[1].split("\r\n")[0])
        assert (final_event["status"], final_event["grounding"]) == (status, grounding)
        listed = client.get("/runs", params={"status": status}).json()["items"]
        assert {r["run_id"] for r in listed} >= {body["run_id"], final_event["run_id"]}
        assert all(r["grounding"] == grounding for r in listed)
        assert client.get(f"/runs/{body['run_id']}").json()["grounding"] == grounding
        assert _metric(client, f'qreact_runs_total{{status="{status}"}}') == before + 2
        grew = _metric(client, "qreact_ungrounded_answers_total") - ungrounded_before
        assert grew == (2 if status == "ungrounded" else 0)


@pytest.mark.parametrize("ungrounded", ["not_found", "auto"])  # auto = not_found on the local backend (default)
def test_ungrounded_answers_can_be_replaced_by_the_not_found_answer(knowledge_cache, tmp_path, ungrounded):
    settings = make_settings(knowledge_cache, store_url=f"sqlite:///{tmp_path / 'runs.db'}", ungrounded=ungrounded)
    assert Settings(_env_file=None).ungrounded == "auto" and settings.backend == "local"  # type: ignore[call-arg]
    _, question, script, answer, grounding = STATUS_CASES[1]
    with running_app(settings, ScriptedChatModel(script=script)) as client:
        before = _metric(client, "qreact_ungrounded_answers_total")
        body = client.post("/ask", json={"question": question}).json()
        assert (body["status"], body["answer"]) == ("not_found", "I could not find the answer in the search results.")
        assert body["steps"][-1]["final_answer"] == answer and body["grounding"] == grounding
        assert _metric(client, "qreact_ungrounded_answers_total") == before + 1


def _metric(client, series: str) -> float:
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(series + " "):
            return float(line.split()[-1])
    raise AssertionError(f"{series} not in /metrics")


def test_local_search_shows_the_knowledge_pack_document(settings):
    script = [action("Search", "capital of Australia"), final("Canberra")]
    with running_app(settings, ScriptedChatModel(script=script)) as client:
        body = client.post("/ask", json={"question": "What is the capital of Australia?"}).json()
    step = body["steps"][0]
    assert step["observation_source"] == "local"
    assert "Australia: capital Canberra" in step["observation"]
    assert body["answer"] == "Canberra"


def test_max_steps_from_the_request_is_honoured(settings):
    with running_app(settings, ScriptedChatModel(script=[action("Calculator", "1 + 1")])) as client:
        body = client.post("/ask", json={"question": "loop", "max_steps": 2}).json()
        assert (body["status"], len(body["steps"])) == ("max_steps", 2)
        body = client.post("/ask", json={"question": "loop"}).json()
        assert len(body["steps"]) == settings.max_steps


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "question"),
        ({"question": ""}, "question"),
        ({"question": "   "}, "question"),
        ({"question": "x" * 2001}, "question"),
        ({"question": 42}, "question"),
        ({"question": ["a"]}, "question"),
        ({"question": "q", "max_steps": 13}, "max_steps"),
        ({"question": "q", "max_steps": 0}, "max_steps"),
        ({"question": "q", "max_steps": "3"}, "max_steps"),
        ({"question": "q", "max_step": 3}, "max_step"),
    ],
)
def test_bad_input_is_a_422_naming_the_field(client, payload, field):
    response = client.post("/ask", json=payload)
    assert response.status_code == 422
    body = response.json()
    assert body["message"].startswith(f"{field}:")
    assert body["detail"][0]["loc"][-1] == field
    assert "Traceback" not in response.text


def test_malformed_json_is_a_422(client):
    response = client.post("/ask", content=b'{"question": ', headers={"content-type": "application/json"})
    assert response.status_code == 422 and "JSON" in response.json()["message"]


def test_model_failure_is_an_honest_error_status_and_the_server_keeps_serving(settings):
    with running_app(settings, ScriptedChatModel(script=[RuntimeError("CUDA out of memory")])) as client:
        body = client.post("/ask", json={"question": "q"}).json()
        assert (body["status"], body["error"]) == ("error", "RuntimeError: CUDA out of memory")
        assert client.get("/healthz").status_code == 200


def test_unreachable_backend_is_a_503_with_the_reason(settings):
    down = openai.APIConnectionError(request=httpx.Request("POST", "http://127.0.0.1:9/v1/chat/completions"))
    with running_app(settings, ScriptedChatModel(script=[down])) as client:
        response = client.post("/ask", json={"question": "q"})
        assert response.status_code == 503
        body = response.json()
        assert "backend is unavailable" in body["detail"] and "APIConnectionError" in body["detail"]
        # the failed run is still on record
        assert client.app.state.store.get(body["run_id"])["status"] == "error"


def test_openapi_has_a_worked_example_on_every_route(client):
    spec = client.get("/openapi.json").json()
    assert spec["info"]["title"] == "qreact" and "ReAct" in spec["info"]["description"]
    schemas = spec["components"]["schemas"]
    for name in (
        "AskRequest",
        "AskResponse",
        "Health",
        "Readiness",
        "ChatCompletionRequest",
        "ChatCompletion",
    ):
        assert schemas[name].get("examples"), name
    stream = spec["paths"]["/ask/stream"]["post"]["responses"]["200"]["content"]["text/event-stream"]
    assert "event: final" in stream["example"]
    assert client.get("/docs").status_code == 200


def test_openai_backend_that_is_down_is_a_503(settings):
    """The real ChatOpenAI backend pointed at a closed port: connection refused → 503 naming it."""
    down = settings.model_copy(
        update={
            "backend": "openai",
            "openai_base_url": "http://127.0.0.1:9/v1",
            "openai_max_retries": 0,
            "openai_timeout_s": 5.0,
        }
    )
    with running_app(down) as client:
        assert client.get("/readyz").json()["backend"] == "openai"
        response = client.post("/ask", json={"question": "What is 37 * 12 + 5?"})
    assert response.status_code == 503
    assert response.json()["detail"].startswith("the chat model backend is unavailable: OpenAIConnectionError")


@pytest.mark.slow
def test_real_default_model_gives_a_well_formed_trace(knowledge_cache, tmp_path):
    """The embedded Gemma (converted into the real cache on first use) with the configured adapter."""
    from app.settings import Settings

    real_cache = Settings(_env_file=None).cache_dir
    settings = make_settings(
        real_cache, adapter="default", search="local", store_url=f"sqlite:///{tmp_path / 'runs.db'}"
    )
    with running_app(settings, ready_timeout_s=600) as client:
        response = client.post("/ask", json={"question": "What is 37 * 12 + 5?", "max_steps": 3})
    body = response.json()
    assert response.status_code == 200 and set(body) == ASK_KEYS
    assert (body["backend"], body["model"]) == ("local", "gemma-3-270m")
    assert body["status"] in {"answered", "max_steps", "timeout", "error"} and body["steps"]
    for step in body["steps"]:
        assert "\nObservation:" not in step["log"] and step["completion_tokens"] > 0


def test_the_shipped_settings_catch_a_document_near_miss(tmp_path):
    """QREACT_GROUNDING_DOCUMENTS is on by default: a value of the found document that is not the asked fact
    (the zoo's 1,900 animals given as its visitors) is not supported, so the shipped QREACT_UNGROUNDED=auto
    returns the not-found answer on the local backend (with keep: status ungrounded); off, it is answered."""
    from agent.knowledge import index_folder
    from app.settings import Settings

    assert Settings(_env_file=None).grounding_documents is True  # type: ignore[call-arg]
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "brookfield_zoo.md").write_text(
        "# Brookfield Zoo\n\nBrookfield Zoo opened in 1934. It is home to 1,900 animals.\n"
    )
    index_folder(tmp_path / "docs", tmp_path / "docs.db")
    question = "How many visitors does Brookfield Zoo get each year?"
    script = [action("Search", "Brookfield Zoo visitors"), final("Brookfield Zoo gets 1,900 visitors each year.")]
    off = {"grounding_documents": False, "grounding_attributes": False}  # (the attribute step alone also catches it)
    cases = (({}, "not_found"), ({"ungrounded": "keep"}, "ungrounded"), (off, "answered"))
    for extra, status in cases:
        settings = make_settings(
            tmp_path, search_index=tmp_path / "docs.db", store_url=f"sqlite:///{tmp_path / f'{status}.db'}", **extra
        )
        with running_app(settings, ScriptedChatModel(script=list(script))) as client:
            body = client.post("/ask", json={"question": question}).json()
        assert "Brookfield Zoo" in body["steps"][0]["observation"]
        assert body["status"] == status, body
        reason = "1,900 (the sentence holding it does not state the asked visitors)"
        assert body["grounding"]["unsupported"] == ([reason] if status != "answered" else [])
        if status == "not_found":
            assert body["answer"] == "I could not find the answer in the search results."


def test_the_shipped_settings_catch_an_absent_asked_item(tmp_path):
    """QREACT_GROUNDING_ATTRIBUTES is on by default: an answer that repeats an asked item the found document does
    not hold (a cappuccino at a bakery that prices sourdough and croissants) is not supported, so QREACT_UNGROUNDED=auto
    returns the not-found answer; off, it is answered."""
    from agent.knowledge import index_folder
    from app.settings import Settings

    assert Settings(_env_file=None).grounding_attributes is True  # type: ignore[call-arg]
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "harbor_street_bakery.md").write_text(
        "# Harbor Street Bakery\n\nA sourdough loaf costs 6 dollars and a croissant costs 3 dollars.\n"
    )
    index_folder(tmp_path / "docs", tmp_path / "docs.db")
    question = "How much does a cappuccino cost at Harbor Street Bakery?"
    script = [action("Search", "Harbor Street Bakery cappuccino"), final("A cappuccino costs 6 dollars.")]
    attribute = "cappuccino (asked and stated, but no document holds it)"
    every_word = "6 (no sentence holding it states every asked word: cappuccino / cost)"  # the document step, first
    cases = [
        ("default", {}, "not_found", [every_word]),
        ("attributes", {"grounding_every_word": False}, "not_found", [attribute]),
        ("off", {"grounding_every_word": False, "grounding_attributes": False}, "answered", []),
    ]
    for name, extra, status, reasons in cases:
        settings = make_settings(
            tmp_path, search_index=tmp_path / "docs.db", store_url=f"sqlite:///{tmp_path / f'{name}.db'}", **extra
        )
        with running_app(settings, ScriptedChatModel(script=list(script))) as client:
            body = client.post("/ask", json={"question": question}).json()
        assert body["status"] == status, body
        assert body["grounding"]["unsupported"] == reasons


@pytest.mark.parametrize(
    ("backend", "ungrounded", "policy"),
    [("local", "auto", "not_found"), ("openai", "auto", "keep"), ("local", "keep", "keep"),
     ("openai", "not_found", "not_found")],
)  # fmt: skip
def test_ungrounded_auto_replaces_on_the_local_model_and_keeps_openai_answers(backend, ungrounded, policy):
    settings = Settings(_env_file=None, backend=backend, ungrounded=ungrounded)  # type: ignore[call-arg]
    assert ungrounded_policy(settings) == policy


@pytest.mark.parametrize(
    ("backend", "second_look", "on"),
    [("local", "auto", True), ("openai", "auto", False), ("local", "off", False), ("openai", "on", True)],
)  # fmt: skip
def test_second_look_auto_is_on_for_the_local_model_only(backend, second_look, on):
    from app.wiring import agent_config

    settings = Settings(_env_file=None, backend=backend, second_look=second_look)  # type: ignore[call-arg]
    assert agent_config(settings).second_look is on


def test_grounding_every_word_setting_reaches_the_agent():
    from app.wiring import agent_config

    default = Settings(_env_file=None)  # type: ignore[call-arg]
    on = Settings(_env_file=None, grounding_every_word=True)  # type: ignore[call-arg]
    off = Settings(_env_file=None, grounding_every_word=False)  # type: ignore[call-arg]
    assert agent_config(on).grounding_every_word is True and agent_config(off).grounding_every_word is False
    assert agent_config(default).grounding_every_word is Settings.model_fields["grounding_every_word"].default
