"""The app on the llama.cpp engine (tiny model as GGUF, a real llama-server): /ask, /v1, hot swap,
limits and metrics work as on the torch path; the wiring picks the engine as settings say."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest
from fastapi.testclient import TestClient

from agent.backends.llamacpp import LlamaCppChatModel
from agent.config import LlamaCppConfig
from app.main import create_app
from app.settings import Settings
from app.wiring import choose_engine
from tests.app.conftest import four_calculator, make_settings, wait_ready
from tests.tiny import make_lora_adapter

KEY = "admin-secret"
AUTH = {"Authorization": f"Bearer {KEY}"}
PROMPT = "Question: What is the capital of Australia?\nThought:"


@pytest.fixture(scope="module")
def engine(tiny_gguf: Path, tiny_model_dir: Path, llamacpp_dir: Path, tmp_path_factory) -> Iterator[LlamaCppChatModel]:
    model = LlamaCppChatModel.from_config(
        LlamaCppConfig(
            model_gguf=tiny_gguf,
            config_dir=tiny_model_dir,
            engine_dir=llamacpp_dir,
            cache_dir=tmp_path_factory.mktemp("engine-app"),
            model_name="tiny",
            threads=1,
            ctx_size=2048,
            max_new_tokens=8,
        )
    )
    yield model
    model.close()


@pytest.fixture(scope="module")
def adapters(tiny_model_dir: Path, tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("engine-adapters")
    out = {name: make_lora_adapter(tiny_model_dir, root / name, i, std=0.3) for i, name in enumerate(["ad1", "ad2"])}
    broken = root / "broken"
    shutil.copytree(out["ad1"], broken)
    weights = broken / "adapter_model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    out["broken"] = broken
    return out


@pytest.fixture
def client(engine: LlamaCppChatModel, adapters: dict[str, Path], tmp_path: Path) -> Iterator[TestClient]:
    engine.activate_adapter(None)
    for a in engine.list_adapters():
        engine.unload_adapter(a["name"])
    settings = make_settings(
        tmp_path,
        store_url=f"sqlite:///{tmp_path / 'runs.db'}",
        admin_key=KEY,
        max_steps=1,
        adapter_roots=[adapters["ad1"].parent],
        timeout_s=20.0,
    )
    app = create_app(settings, chat_model=engine, tools=[four_calculator])
    with TestClient(app) as c:
        wait_ready(c)
        yield c


def ask_adapter(client: TestClient) -> str | None:
    r = client.post("/ask", json={"question": "What is 2 + 2?"})
    assert r.status_code == 200, r.text
    return r.json()["adapter"]


def test_v1_serves_the_engine(client: TestClient, engine: LlamaCppChatModel) -> None:
    oai = openai.OpenAI(base_url="http://testserver/v1", api_key="unused", http_client=client, max_retries=0)
    assert [m.id for m in oai.models.list().data] == ["tiny"]
    completion = oai.chat.completions.create(
        model="tiny", messages=[{"role": "user", "content": PROMPT}], max_tokens=12, temperature=0
    )
    direct = engine.generate_text(PROMPT, max_new_tokens=12)
    assert completion.choices[0].message.content == direct.text
    assert completion.usage.completion_tokens == direct.completion_tokens
    assert completion.usage.prompt_tokens == direct.prompt_tokens
    stream = oai.chat.completions.create(
        model="tiny", messages=[{"role": "user", "content": PROMPT}], max_tokens=12, temperature=0, stream=True
    )
    assert "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices) == direct.text


def test_v1_limits_hold_on_the_engine(client: TestClient) -> None:
    ask = {"model": "tiny", "max_tokens": 2}
    long = client.post("/v1/chat/completions", json=ask | {"messages": [{"role": "user", "content": "x " * 5000}]})
    assert long.status_code == 400 and "QREACT_MAX_PROMPT_TOKENS" in long.json()["detail"]
    ok = client.post("/v1/chat/completions", json=ask | {"messages": [{"role": "user", "content": "Hello"}]})
    assert ok.status_code == 200


def test_v1_generation_stops_at_the_request_budget(engine: LlamaCppChatModel, tmp_path: Path) -> None:
    settings = make_settings(tmp_path, store_url=f"sqlite:///{tmp_path / 'runs.db'}", timeout_s=1.0)
    app = create_app(settings, chat_model=engine, tools=[four_calculator])
    with TestClient(app) as client:
        wait_ready(client)
        started = time.monotonic()
        response = client.post(
            "/v1/chat/completions",
            json={"model": "tiny", "messages": [{"role": "user", "content": "Hello"}], "max_tokens": 4096},
        )
        elapsed = time.monotonic() - started
    assert response.status_code == 200
    assert response.json()["choices"][0]["finish_reason"] == "length"
    assert response.json()["usage"]["completion_tokens"] < 4096
    assert elapsed < 5, elapsed


def test_ask_runs_and_metrics_count_tokens(client: TestClient) -> None:
    def tokens(kind: str) -> float:
        for line in client.get("/metrics").text.splitlines():
            if line.startswith(f'qreact_tokens_total{{kind="{kind}"}}'):
                return float(line.split()[-1])
        return 0.0

    before = tokens("completion"), tokens("prompt")
    r = client.post("/ask", json={"question": "What is 2 + 2?"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["backend"] == "local" and body["model"] == "tiny"
    assert body["usage"]["completion_tokens"] > 0 and body["usage"]["prompt_tokens"] > 0
    assert tokens("completion") - before[0] == body["usage"]["completion_tokens"]
    assert tokens("prompt") - before[1] == body["usage"]["prompt_tokens"]


def test_hot_swap_through_admin(client: TestClient, engine: LlamaCppChatModel, adapters: dict[str, Path]) -> None:
    base = engine.generate_text(PROMPT, max_new_tokens=12).text
    r = client.post("/admin/adapters/activate", json={"path": str(adapters["ad1"])}, headers=AUTH)
    assert r.status_code == 200, r.text
    assert r.json()["active"] == "ad1" and ask_adapter(client) == "ad1"
    adapted = engine.generate_text(PROMPT, max_new_tokens=12).text
    assert adapted != base
    pid = engine.server_pid

    bad = client.post("/admin/adapters/activate", json={"path": str(adapters["broken"])}, headers=AUTH)
    assert bad.status_code == 422 and "unreadable or truncated" in bad.json()["detail"]
    assert engine.server_pid == pid and ask_adapter(client) == "ad1"  # the previous adapter still answers
    assert engine.generate_text(PROMPT, max_new_tokens=12).text == adapted

    r = client.post("/admin/adapters/activate", json={"path": str(adapters["ad2"]), "name": "second"}, headers=AUTH)
    assert r.json()["active"] == "second" and ask_adapter(client) == "second"
    assert client.post("/admin/adapters/rollback", headers=AUTH).json()["active"] == "ad1"
    assert engine.generate_text(PROMPT, max_new_tokens=12).text == adapted
    assert client.post("/admin/adapters/activate", json={"name": "none"}, headers=AUTH).json()["active"] is None
    assert engine.generate_text(PROMPT, max_new_tokens=12).text == base
    metrics = client.get("/metrics").text
    assert 'qreact_active_adapter{adapter="none"} 1.0' in metrics


# ------------------------------------------------------------------ which engine the wiring picks


def _settings(tmp_path: Path, **overrides: object) -> Settings:
    return make_settings(tmp_path, **overrides)


def test_auto_picks_llamacpp_for_the_default_model_when_it_is_built(tmp_path: Path, llamacpp_dir: Path) -> None:
    assert choose_engine(_settings(tmp_path, engine_dir=llamacpp_dir, device="cpu")) == "llamacpp"
    assert choose_engine(_settings(tmp_path, engine_dir=llamacpp_dir, engine="torch")) == "torch"
    other = _settings(tmp_path, engine_dir=llamacpp_dir, local_model="some/other-model", device="cpu")
    assert choose_engine(other) == "torch"


def test_auto_falls_back_to_torch_and_says_how_to_build(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("WARNING", logger="app.wiring"):
        assert choose_engine(_settings(tmp_path, engine_dir=tmp_path / "none", device="cpu")) == "torch"
    assert "make engine" in caplog.text
    with pytest.raises(RuntimeError, match="make engine"):
        choose_engine(_settings(tmp_path, engine_dir=tmp_path / "none", engine="llamacpp"))
