"""POST /ask/stream: one `step` event per step, then `final`; a disconnect ends the run."""

from __future__ import annotations

import asyncio
import json
import time

from agent.trace import RunResult, Step
from app.main import create_app
from tests.app.conftest import post_then_disconnect
from tests.model import ScriptedChatModel, action


def parse_sse(text: str) -> list[tuple[str, dict]]:
    events = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        lines = [line for line in block.split("\n") if line and not line.startswith(":")]
        if not lines:
            continue
        fields = dict(line.split(": ", 1) for line in lines)
        events.append((fields.get("event", "message"), json.loads(fields["data"])))
    return events


def test_stream_sends_each_step_then_the_final_run(client):
    with client.stream("POST", "/ask/stream", json={"question": "What is 37 * 12 + 5?"}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = parse_sse(response.read().decode())
    assert [name for name, _ in events] == ["step", "step", "final"]
    steps = [Step.model_validate(data) for _, data in events[:2]]
    assert [s.index for s in steps] == [0, 1]
    assert steps[0].tool == "Calculator" and steps[0].observation == "449"
    run = RunResult.model_validate(events[2][1])
    assert run.status == "answered" and run.answer == "449"
    assert [s.model_dump() for s in run.steps] == [s.model_dump() for s in steps]
    assert client.app.state.store.get(run.run_id)["answer"] == "449"


def test_stream_validates_like_ask(client):
    response = client.post("/ask/stream", json={"question": ""})
    assert response.status_code == 422 and response.json()["message"].startswith("question:")
    response = client.post("/ask/stream", json={"question": "q", "max_steps": 99})
    assert response.status_code == 422 and response.json()["message"].startswith("max_steps:")


def test_client_disconnect_ends_the_run_and_it_is_still_stored(settings):
    """Drive the ASGI app directly: read the first step event, then disconnect."""
    model = ScriptedChatModel(script=[action("Calculator", "1 + 1")], delay_s=0.05)
    app = create_app(settings, chat_model=model)
    payload = {"question": "loop until I leave", "max_steps": 12}

    async def scenario() -> dict:
        async with app.router.lifespan_context(app):
            while not app.state.ready:
                await asyncio.sleep(0.01)
            chunks = await post_then_disconnect(app, "/ask/stream", payload, b"event: step")
            assert not any(b"event: final" in c for c in chunks)
            store = app.state.store
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                rows = store.list(limit=5)
                if rows:
                    return store.get(rows[0]["run_id"])
                await asyncio.sleep(0.02)
            raise AssertionError("the cancelled run was not stored")

    run = asyncio.run(scenario())
    assert run["status"] == "error" and "client disconnected" in run["error"]
    assert 1 <= len(run["steps"]) < 12


def test_a_dropped_stream_holds_its_slot_until_the_run_stops_and_leaves_no_orphan(settings):
    """10 clients leave mid-stream: each run stops at its next step, holding its model slot (and
    /metrics) until then; afterwards nothing runs and the slots are free."""
    from app import metrics

    model = ScriptedChatModel(script=[action("Calculator", "1 + 1")], delay_s=0.1)
    app = create_app(settings.model_copy(update={"max_concurrency": 1, "max_queue": 10}), chat_model=model)
    payload = {"question": "loop until I leave", "max_steps": 12}

    async def scenario() -> tuple[list[int], int]:
        async with app.router.lifespan_context(app):
            while not app.state.ready:
                await asyncio.sleep(0.01)
            limiter = app.state.model_limiter
            held = []
            for _ in range(10):
                await post_then_disconnect(app, "/ask/stream", payload, b"event: step")
                held.append(limiter.active)  # the response is over; the run is not yet
                assert metrics.ACTIVE_RUNS._value.get() == limiter.active
            deadline = time.monotonic() + 10
            while limiter.active and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
            calls = len(model.prompts)
            await asyncio.sleep(0.5)  # no orphan: nothing calls the model any more
            assert len(model.prompts) == calls
            return held, limiter.active

    held, active_after = asyncio.run(scenario())
    assert held == [1] * 10  # on main: 0 — the slot was freed while the run went on
    assert active_after == 0 and metrics.ACTIVE_RUNS._value.get() == 0


class SlowStreamingModel(ScriptedChatModel):
    """A local-style model whose /v1 stream writes one piece per ``delay_s`` (off the GIL), and
    records how many it wrote and when its generation ended (closed or finished)."""

    model_name: str = "slow"
    pieces: int = 0
    ended_at: float | None = None

    def generate_text(self, prompt: str, **kwargs: object) -> object:
        from agent.backends.local import GenerationResult

        return GenerationResult("x", 1, 1, "stop")

    def stream_text(self, prompt: str, on_finish: object = None, **kwargs: object):
        try:
            for _ in range(50):
                time.sleep(self.delay_s)
                self.pieces += 1
                yield "piece "
        finally:
            self.ended_at = time.monotonic()


def test_a_dropped_v1_stream_holds_its_slot_until_the_generation_stops(settings):
    """Like /ask/stream: a client that leaves a /v1 stream frees the model slot only once the
    generation has really stopped (no generation outlives its slot, /metrics tells the truth)."""
    from app import metrics

    model = SlowStreamingModel(delay_s=0.1)
    app = create_app(settings.model_copy(update={"max_concurrency": 1, "max_queue": 4}), chat_model=model)
    body = {"messages": [{"role": "user", "content": "go on"}], "stream": True, "max_tokens": 64}
    for path, payload in (("/v1/chat/completions", body), ("/v1/completions", {"prompt": "go on", "stream": True})):
        model.pieces, model.ended_at = 0, None

        async def scenario() -> tuple[list[tuple[int, float | None]], int]:
            async with app.router.lifespan_context(app):
                while not app.state.ready:
                    await asyncio.sleep(0.01)
                limiter = app.state.model_limiter
                changes: list[tuple[int, float | None]] = []
                limiter.on_change.append(lambda lim: changes.append((lim.active, model.ended_at)))
                chunks = await post_then_disconnect(app, path, payload, b"piece")  # noqa: B023
                assert not any(b"[DONE]" in c for c in chunks)
                assert metrics.ACTIVE_RUNS._value.get() == limiter.active == 0
                written = model.pieces
                await asyncio.sleep(0.5)  # no orphan: the generation wrote nothing more
                assert model.pieces == written < 50
                return changes, limiter.active

        changes, active = asyncio.run(scenario())
        released = [ended for n, ended in changes if n == 0]
        assert released and all(ended is not None for ended in released), (path, changes)
        assert active == 0
