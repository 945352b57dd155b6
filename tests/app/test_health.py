"""GET /healthz and /readyz through the agent's loading, ready and failed states."""

from __future__ import annotations

import threading

from fastapi.testclient import TestClient

import app.wiring as wiring
from app.main import create_app
from tests.app.conftest import wait_ready
from tests.model import CALC_SCRIPT, ScriptedChatModel


def test_ready_app(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {
        "status": "ready",
        "backend": "scripted",
        "model": "ScriptedChatModel",
        "adapter": None,
        "reason": None,
    }


def test_loading_app_is_alive_but_not_ready(settings, monkeypatch):
    release = threading.Event()
    real_build = wiring.build_agent

    def slow_build(*args, **kwargs):
        release.wait(10)  # seconds: the model "loads" until the test lets it
        return real_build(*args, **kwargs)

    monkeypatch.setattr(wiring, "build_agent", slow_build)
    app = create_app(settings, chat_model=ScriptedChatModel(script=CALC_SCRIPT))
    with TestClient(app) as client:
        assert client.get("/healthz").status_code == 200
        readyz = client.get("/readyz")
        assert readyz.status_code == 503 and readyz.json()["status"] == "loading"
        ask = client.post("/ask", json={"question": "What is 37 * 12 + 5?"})
        assert ask.status_code == 503 and "loading" in ask.json()["detail"]
        assert ask.headers["retry-after"] == "5"
        release.set()
        wait_ready(client)
        assert client.post("/ask", json={"question": "What is 37 * 12 + 5?"}).json()["answer"] == "449"


def test_failed_load_is_reported_with_its_reason(settings, monkeypatch):
    def broken_build(*args, **kwargs):
        raise OSError("no model at /nowhere")

    monkeypatch.setattr(wiring, "build_agent", broken_build)
    with TestClient(create_app(settings)) as client:
        for _ in range(500):
            readyz = client.get("/readyz")
            if readyz.json()["status"] == "failed":
                break
        assert readyz.status_code == 503
        assert readyz.json()["reason"] == "the agent failed to load: OSError: no model at /nowhere"
        ask = client.post("/ask", json={"question": "q"})
        assert ask.status_code == 503 and "no model at /nowhere" in ask.json()["detail"]
        assert client.get("/healthz").status_code == 200


def test_a_run_store_that_cannot_open_is_reported_not_a_crash(settings, tmp_path):
    blocked = tmp_path / "not-a-dir"
    blocked.write_text("a file where the database folder should be")
    broken = settings.model_copy(update={"store_url": f"sqlite:///{blocked / 'runs.db'}"})
    with TestClient(create_app(broken, chat_model=ScriptedChatModel(script=CALC_SCRIPT))) as client:
        readyz = client.get("/readyz")
        assert readyz.status_code == 503 and readyz.json()["status"] == "failed"
        assert readyz.json()["reason"].startswith("the run store could not be opened")
        ask = client.post("/ask", json={"question": "What is 37 * 12 + 5?"})
        assert ask.status_code == 503 and "run store" in ask.json()["detail"]
        assert client.get("/healthz").status_code == 200
