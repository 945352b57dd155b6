"""POST /ask and POST /ask/stream: run the agent on one question."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import AsyncIterator

import httpx
import openai
from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from langchain_core import exceptions as lc
from sse_starlette import EventSourceResponse
from starlette.concurrency import run_in_threadpool

from agent.loop import ReActAgent, StepCallback
from agent.trace import RunResult, Step
from app.deps import AgentDep, ServiceUnavailable, SettingsDep, StoreDep
from app.limits import slot_hold
from app.schemas.ask import ASK_STATUS_EXAMPLES, AskRequest, AskResponse
from app.schemas.common import ErrorResponse, ValidationErrorResponse
from app.settings import Settings
from app.store.runs import RunStore

logger = logging.getLogger(__name__)
router = APIRouter(tags=["agent"])


def backend_unavailable(exc: BaseException | None) -> bool:
    """True for failures of a chat-model backend that is down, unreachable or refusing us
    (langchain-core's standard model errors, and raw openai/httpx ones): the API answers 503."""
    if exc is None:
        return False
    unavailable = (
        lc.ModelConnectionError,
        lc.ModelTimeoutError,
        lc.ModelAPIError,  # provider 5xx
        lc.ModelRateLimitError,
        lc.ModelAuthenticationError,
        lc.ModelPermissionDeniedError,
        openai.APIConnectionError,  # includes APITimeoutError
        openai.InternalServerError,
        openai.RateLimitError,
        openai.AuthenticationError,
        httpx.TransportError,
        ServiceUnavailable,
    )
    return isinstance(exc, unavailable)


ERROR_RESPONSES: dict[int | str, dict] = {
    422: {
        "model": ValidationErrorResponse,
        "description": "a field is missing, empty, too long or of the wrong type",
    },
    503: {"model": ErrorResponse, "description": "the model is loading, or the backend is unreachable"},
}

_STREAM_EXAMPLE = (
    "event: step\r\n"
    'data: {"index": 0, "kind": "tool", "thought": "I need to compute 37 * 12 + 5.", "tool": "Calculator", '
    '"tool_input": "37 * 12 + 5", "observation": "449", ...}\r\n\r\n'
    "event: step\r\n"
    'data: {"index": 1, "kind": "final", "final_answer": "449", ...}\r\n\r\n'
    "event: final\r\n"
    'data: {"run_id": "4f1c...", "answer": "449", "status": "answered", "steps": [...], ...}\r\n\r\n'
)


class RunCancelled(Exception):
    """Raised inside the run (from its step callback) once the streaming client has gone."""


def checked_max_steps(body: AskRequest, settings: Settings) -> int | None:
    """A violated settings limit is a 422 naming the field, like pydantic's."""
    errors = body.limit_errors(settings.max_question_chars, settings.max_steps_cap)
    if errors:
        raise RequestValidationError(errors)
    return body.max_steps


def run_and_save(
    agent: ReActAgent,
    store: RunStore,
    question: str,
    max_steps: int | None,
    on_step: StepCallback | None = None,
) -> RunResult:
    """Run the agent and store the run (durable when this returns). Blocking: call it in a thread."""
    result = agent.run(question, max_steps=max_steps, on_step=on_step)
    try:
        store.save(result)
    except Exception as exc:  # the answer is not given out as if it had been recorded
        logger.exception("could not store run %s", result.run_id)
        raise ServiceUnavailable(f"the run store failed: {type(exc).__name__}", None, result.run_id) from exc
    return result


def raise_if_backend_down(result: RunResult) -> None:
    """503 with the reason when the run died because the chat-model backend is unreachable."""
    if result.status == "error" and backend_unavailable(result._exception):
        raise ServiceUnavailable(f"the chat model backend is unavailable: {result.error}", None, result.run_id)


@router.post(
    "/ask",
    response_model=AskResponse,
    responses={
        200: {
            "description": "the run, one example per status",
            "content": {"application/json": {"examples": ASK_STATUS_EXAMPLES}},
        },
        **ERROR_RESPONSES,
    },
    summary="Ask the agent a question",
    description="Runs the ReAct agent to a final answer (or a limit) and returns the whole trace. "
    "The run is stored before the response is sent.",
)
async def ask(body: AskRequest, agent: AgentDep, store: StoreDep, settings: SettingsDep) -> RunResult:
    max_steps = checked_max_steps(body, settings)
    result = await run_in_threadpool(run_and_save, agent, store, body.question.strip(), max_steps)
    raise_if_backend_down(result)
    return result


@router.post(
    "/ask/stream",
    response_class=EventSourceResponse,
    responses={
        200: {
            "description": "Server-Sent Events: one `step` event per step as it happens (a Step as JSON), "
            "then one `final` event (the whole run, as /ask returns it), or an `error` event.",
            "content": {"text/event-stream": {"example": _STREAM_EXAMPLE}},
        },
        **ERROR_RESPONSES,
    },
    summary="Ask the agent, streaming each step",
)
async def ask_stream(
    body: AskRequest, request: Request, agent: AgentDep, store: StoreDep, settings: SettingsDep
) -> EventSourceResponse:
    max_steps = checked_max_steps(body, settings)
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[str, Step | RunResult | str]] = asyncio.Queue()
    gone = threading.Event()

    def on_step(step: Step) -> None:  # called in the worker thread
        if gone.is_set():
            raise RunCancelled("the client disconnected")
        loop.call_soon_threadsafe(queue.put_nowait, ("step", step))

    async def run() -> None:
        try:
            question = body.question.strip()
            result = await run_in_threadpool(run_and_save, agent, store, question, max_steps, on_step)
        except ServiceUnavailable as exc:
            await queue.put(("error", exc.reason))
        except Exception as exc:  # never a stack trace to the client
            logger.exception("streamed run failed")
            await queue.put(("error", f"internal error: {type(exc).__name__}"))
        else:
            await queue.put(("final", result))

    # The run starts now and keeps the request's model slot until it really ends: a client that
    # leaves stops it at its next step, and the slot (and /metrics) stay taken until then.
    task = asyncio.create_task(run())
    _background.add(task)
    task.add_done_callback(_background.discard)
    hold = slot_hold(request.scope)
    if hold is not None:
        hold.detach()
        task.add_done_callback(lambda _task: hold.release())

    async def events() -> AsyncIterator[dict[str, str]]:
        try:
            while True:
                kind, payload = await queue.get()
                if isinstance(payload, Step | RunResult):
                    yield {"event": kind, "data": payload.model_dump_json()}
                else:
                    yield {"event": kind, "data": json.dumps({"detail": payload})}
                if kind != "step":
                    return
        finally:
            gone.set()  # a disconnect ends the run at its next step; it is still stored

    return EventSourceResponse(events())


_background: set[asyncio.Task[None]] = set()  # streamed runs (kept referenced until they end)
