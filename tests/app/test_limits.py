"""Bounded model concurrency (app/limits.py): slots, a short FIFO queue, 503 + Retry-After beyond it.

The unit tests drive ``ModelLimiter`` directly; the real app under uvicorn, overloaded, is in
tests/bench/test_soak.py (bench/soak.py's harness, for seconds instead of minutes).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.deps import ModelSlotDep
from app.limits import ModelLimiter, Overloaded
from app.state import AppState


def test_limiter_runs_n_queues_m_and_rejects_the_rest() -> None:
    async def scenario() -> None:
        limiter = ModelLimiter(max_concurrency=2, max_queue=1)
        await limiter.acquire()
        await limiter.acquire()
        assert limiter.active == 2
        waiter = asyncio.create_task(limiter.acquire())
        await asyncio.sleep(0)
        assert limiter.waiting == 1 and not waiter.done()
        with pytest.raises(Overloaded) as info:
            await limiter.acquire()
        assert info.value.retry_after_s >= 1
        assert "max_concurrency=2" in str(info.value) and limiter.rejected == 1
        limiter.release(0.5)  # the slot passes straight to the waiter
        await asyncio.wait_for(waiter, 1)
        assert limiter.active == 2 and limiter.waiting == 0
        limiter.release(0.5)
        limiter.release(0.5)
        assert limiter.active == 0

    asyncio.run(scenario())


def test_limiter_is_fifo_and_a_cancelled_waiter_frees_its_place() -> None:
    async def scenario() -> None:
        limiter = ModelLimiter(max_concurrency=1, max_queue=3)
        order: list[str] = []
        await limiter.acquire()

        async def run(name: str) -> None:
            await limiter.acquire()
            order.append(name)
            limiter.release(0.01)

        tasks = {name: asyncio.create_task(run(name)) for name in "abc"}
        await asyncio.sleep(0)
        tasks["b"].cancel()  # a client that went away while queued
        await asyncio.sleep(0)
        assert limiter.waiting == 2
        limiter.release(0.01)
        await asyncio.gather(tasks["a"], tasks["c"])
        assert order == ["a", "c"] and limiter.active == 0 and limiter.waiting == 0

    asyncio.run(scenario())


def test_queue_timeout_gives_up_with_overloaded() -> None:
    async def scenario() -> None:
        limiter = ModelLimiter(max_concurrency=1, max_queue=2, queue_timeout_s=0.05)
        await limiter.acquire()
        with pytest.raises(Overloaded, match="waited"):
            await limiter.acquire()
        assert limiter.waiting == 0 and limiter.active == 1

    asyncio.run(scenario())


def test_retry_after_follows_the_mean_run_time() -> None:
    limiter = ModelLimiter(max_concurrency=1, max_queue=4)
    for _ in range(30):  # 30 runs of 10 s each
        limiter.active = 1
        limiter.release(10.0)
    assert 8 <= limiter.retry_after_s() <= 12  # ~10 s per run, one ahead in line
    assert ModelLimiter(1, 1).retry_after_s() == 1


def test_model_slot_dependency_gives_503_with_retry_after(tmp_path: Path) -> None:
    from app.settings import Settings

    app = FastAPI()
    app.state = AppState(Settings(_env_file=None, cache_dir=tmp_path, max_concurrency=1, max_queue=0))  # type: ignore[call-arg]
    app.state.model_limiter = ModelLimiter(1, 0)

    @app.post("/generate")
    async def generate(_slot: ModelSlotDep) -> dict:
        return {"active": app.state.model_limiter.active}

    client = TestClient(app)
    assert client.post("/generate").json() == {"active": 1}
    assert app.state.model_limiter.active == 0  # released after the response

    async def hold() -> None:
        await app.state.model_limiter.acquire()

    asyncio.run(hold())
    response = client.post("/generate")
    assert response.status_code == 503 and int(response.headers["retry-after"]) >= 1


def test_v1_generation_stops_at_the_request_budget(tmp_path: Path, tiny_model_dir: Path) -> None:
    # /v1 runs no agent loop; the slot middleware's deadline bounds a 4096-token request to timeout_s
    import time

    from fastapi.testclient import TestClient

    from agent.tools import build_tools
    from app.main import create_app
    from app.settings import Settings

    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, cache_dir=tmp_path, local_model=str(tiny_model_dir), adapter=None, timeout_s=1.0
    )
    app = create_app(settings, tools=build_tools(search="local", cache_dir=tmp_path))
    with TestClient(app) as client:
        deadline = time.monotonic() + 60
        while client.get("/readyz").status_code != 200:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        started = time.monotonic()
        response = client.post(
            "/v1/chat/completions",
            json={"model": "tiny", "messages": [{"role": "user", "content": "Hello"}], "max_tokens": 4096},
        )
        elapsed = time.monotonic() - started
    assert response.status_code == 200
    body = response.json()
    assert body["choices"][0]["finish_reason"] == "length"
    assert body["usage"]["completion_tokens"] < 4096
    assert elapsed < 6, elapsed  # 1 s budget + the first forward pass's warm-up on a busy CPU


def test_v1_prompts_are_bounded_in_tokens_and_prefill_stops_at_the_deadline(
    tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time

    from fastapi.testclient import TestClient

    from agent.backends.local import PREFILL_CHUNK_TOKENS, LocalChatModel
    from agent.loop import DEADLINE
    from agent.tools import build_tools
    from app.main import create_app
    from app.settings import Settings

    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, cache_dir=tmp_path, local_model=str(tiny_model_dir), adapter=None, max_prompt_tokens=64
    )
    app = create_app(settings, tools=build_tools(search="local", cache_dir=tmp_path))
    with TestClient(app) as client:
        deadline = time.monotonic() + 60
        while client.get("/readyz").status_code != 200:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        ask = {"model": "tiny", "max_tokens": 2}
        long = client.post("/v1/chat/completions", json=ask | {"messages": [{"role": "user", "content": "x " * 5000}]})
        short = client.post("/v1/chat/completions", json=ask | {"messages": [{"role": "user", "content": "Hello"}]})
        model = app.state.chat_model
    assert long.status_code == 400 and "QREACT_MAX_PROMPT_TOKENS" in long.json()["detail"]
    assert short.status_code == 200

    forwards = []
    real = LocalChatModel._forward

    def slow_forward(self: LocalChatModel, ids: list[int], *args: object, **kwargs: object) -> object:
        forwards.append(len(ids))
        time.sleep(0.3)  # a long chunk on a busy CPU
        return real(self, ids, *args, **kwargs)

    monkeypatch.setattr(LocalChatModel, "_forward", slow_forward)
    token = DEADLINE.set(time.monotonic() + 0.2)
    try:
        out = model.generate_text("y " * (3 * PREFILL_CHUNK_TOKENS), max_new_tokens=8)
    finally:
        DEADLINE.reset(token)
    assert out.finish_reason == "timeout" and out.completion_tokens == 0
    assert forwards == [PREFILL_CHUNK_TOKENS]  # the rest was never fed (before: one forward of all 3072+)
