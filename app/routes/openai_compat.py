"""OpenAI-compatible API: POST /v1/chat/completions, POST /v1/completions and GET /v1/models,
serving the local model.

Any OpenAI client works against it (the official ``openai`` package, langchain-openai's
``ChatOpenAI(base_url=".../v1")``). It serves the local backend only: with ``QREACT_BACKEND=openai``
there is no local model to serve and it answers 503.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator, Generator
from typing import Any, Literal

from fastapi import APIRouter, HTTPException
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from sse_starlette import EventSourceResponse
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool

from agent.backends import TextGenerator
from agent.backends.text import messages_to_prompt
from app.deps import ChatModelDep, ServiceUnavailable, SettingsDep
from app.schemas.common import ErrorResponse, ValidationErrorResponse
from app.schemas.openai_compat import (
    ChatCompletion,
    ChatCompletionChoice,
    ChatCompletionMessage,
    ChatCompletionRequest,
    ChatMessage,
    Completion,
    CompletionChoice,
    CompletionRequest,
    CompletionUsage,
    GenerationParams,
    ModelCard,
    ModelList,
)
from app.settings import Settings

router = APIRouter(prefix="/v1", tags=["openai-compatible"])

LOCAL_ONLY = "the /v1 API serves the local backend only (QREACT_BACKEND=local)"
_STARTED = int(time.time())  # "created" of the served model, seconds since the epoch

_STREAM_EXAMPLE = (
    'data: {"id":"chatcmpl-9b1f","object":"chat.completion.chunk","created":1764460800,'
    '"model":"gemma-3-270m",'
    '"choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}\r\n\r\n'
    'data: {"id":"chatcmpl-9b1f","object":"chat.completion.chunk","created":1764460800,'
    '"model":"gemma-3-270m",'
    '"choices":[{"index":0,"delta":{"content":" I need"},"finish_reason":null}]}\r\n\r\n'
    'data: {"id":"chatcmpl-9b1f","object":"chat.completion.chunk","created":1764460800,'
    '"model":"gemma-3-270m",'
    '"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\r\n\r\n'
    "data: [DONE]\r\n\r\n"
)


_COMPLETION_STREAM_EXAMPLE = (
    'data: {"id":"cmpl-9b1f","object":"text_completion","created":1764460800,"model":"gemma-3-270m",'
    '"choices":[{"index":0,"text":" I need","logprobs":null,"finish_reason":null}]}\r\n\r\n'
    'data: {"id":"cmpl-9b1f","object":"text_completion","created":1764460800,"model":"gemma-3-270m",'
    '"choices":[{"index":0,"text":"","logprobs":null,"finish_reason":"stop"}]}\r\n\r\n'
    "data: [DONE]\r\n\r\n"
)

GENERATION_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorResponse, "description": "the prompt is longer than QREACT_MAX_PROMPT_TOKENS"},
    422: {"model": ValidationErrorResponse, "description": "a field is missing or of the wrong type"},
    503: {"model": ErrorResponse, "description": "loading, or the backend is not local"},
}


def local_model(chat_model: Any) -> TextGenerator:
    """The served model, or 503 when the backend is not a local model."""
    if not isinstance(chat_model, TextGenerator):
        raise ServiceUnavailable(LOCAL_ONLY, None)
    return chat_model


def render_messages(chat_model: Any, messages: list[ChatMessage]) -> str:
    """Messages → one prompt, exactly as the local backend renders a langchain chat.

    A single user message is passed raw (qreact's agent sends the whole ReAct prompt that way);
    several use the tokenizer's chat template when it has one, else the contents joined.
    """
    def convert(m: ChatMessage) -> Any:
        if m.role in ("system", "developer"):
            return SystemMessage(m.text())
        if m.role == "assistant":
            return AIMessage(m.text())
        if m.role == "tool":
            return ToolMessage(m.text(), tool_call_id=str(getattr(m, "tool_call_id", "") or ""))
        return HumanMessage(m.text())

    return messages_to_prompt([convert(m) for m in messages], getattr(chat_model, "tokenizer", None))


def _generation_args(body: GenerationParams, settings: Settings) -> dict[str, Any]:
    max_tokens = body.max_tokens or getattr(body, "max_completion_tokens", None)
    return {
        "max_new_tokens": max_tokens or settings.max_new_tokens,
        "stop": body.stop_list(),
        "temperature": body.temperature or 0.0,
    }


def _model_id(chat_model: Any) -> str:
    return str(getattr(chat_model, "model_name", None) or "local")


@router.get(
    "/models",
    response_model=ModelList,
    responses={503: {"model": ErrorResponse, "description": "loading, or the backend is not local"}},
    summary="The served model (OpenAI format)",
)
async def list_models(chat_model: ChatModelDep) -> ModelList:
    model = local_model(chat_model)
    return ModelList(data=[ModelCard(id=_model_id(model), created=_STARTED)])


@router.post(
    "/chat/completions",
    response_model=ChatCompletion,
    responses={
        200: {
            "description": "a chat completion; with `stream: true`, OpenAI's SSE chunks, then `data: [DONE]`",
            "content": {"text/event-stream": {"example": _STREAM_EXAMPLE}},
        },
        **GENERATION_ERRORS,
    },
    summary="Chat completion from the local model (OpenAI format)",
)
async def chat_completions(
    body: ChatCompletionRequest, chat_model: ChatModelDep, settings: SettingsDep
) -> ChatCompletion | EventSourceResponse:
    model = local_model(chat_model)
    prompt = render_messages(model, body.messages)
    check_prompt_tokens(model, prompt, settings.max_prompt_tokens)
    args = _generation_args(body, settings)
    completion_id, created = f"chatcmpl-{uuid.uuid4().hex[:24]}", int(time.time())
    if body.stream:
        include_usage = body.stream_options is not None and body.stream_options.include_usage
        chunks = _stream_chunks(model, prompt, args, completion_id, created, include_usage)
        return EventSourceResponse(chunks, ping=None)
    out = await run_in_threadpool(model.generate_text, prompt, **args)
    return ChatCompletion(
        id=completion_id,
        created=created,
        model=_model_id(model),
        choices=[
            ChatCompletionChoice(message=ChatCompletionMessage(content=out.text), finish_reason=_finish(out))
        ],
        usage=_usage(out.prompt_tokens, out.completion_tokens),
    )


@router.post(
    "/completions",
    response_model=Completion,
    responses={
        200: {
            "description": "a text completion; with `stream: true`, OpenAI's SSE chunks "
            "(`object: text_completion`, each choice's `text` a piece), then `data: [DONE]`",
            "content": {"text/event-stream": {"example": _COMPLETION_STREAM_EXAMPLE}},
        },
        **GENERATION_ERRORS,
    },
    summary="Text completion from the local model (OpenAI's legacy format, what vLLM-style clients call)",
)
async def completions(
    body: CompletionRequest, chat_model: ChatModelDep, settings: SettingsDep
) -> Completion | EventSourceResponse:
    model = local_model(chat_model)
    prompt = body.prompt_text()  # raw: no chat template
    check_prompt_tokens(model, prompt, settings.max_prompt_tokens)
    args = _generation_args(body, settings)
    completion_id, created = f"cmpl-{uuid.uuid4().hex[:24]}", int(time.time())
    echo = prompt if body.echo else ""
    if body.stream:
        include_usage = body.stream_options is not None and body.stream_options.include_usage
        chunks = _stream_chunks(
            model, prompt, args, completion_id, created, include_usage, text_completion=True, echo=echo
        )
        return EventSourceResponse(chunks, ping=None)
    out = await run_in_threadpool(model.generate_text, prompt, **args)
    return Completion(
        id=completion_id,
        created=created,
        model=_model_id(model),
        choices=[CompletionChoice(text=echo + out.text, finish_reason=_finish(out))],
        usage=_usage(out.prompt_tokens, out.completion_tokens),
    )


def check_prompt_tokens(model: Any, prompt: str, limit: int) -> None:
    """400 before the model runs when the prompt is longer than ``limit`` tokens (its prefill alone
    could hold the model past any budget)."""
    tokenizer = getattr(model, "tokenizer", None)
    count = len(tokenizer(prompt)["input_ids"]) if tokenizer is not None else len(prompt) // 4
    if count > limit:
        raise HTTPException(
            status_code=400,
            detail=f"the prompt is {count} tokens; the most this server takes is {limit} (QREACT_MAX_PROMPT_TOKENS)",
        )


def _finish(out: Any) -> Literal["stop", "length"]:
    # the local backend also reports "timeout" (its deadline cut the text): truncated, like "length"
    return "length" if getattr(out, "finish_reason", "stop") in ("length", "timeout") else "stop"


def _usage(prompt_tokens: int, completion_tokens: int) -> CompletionUsage:
    return CompletionUsage(
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        total_tokens=prompt_tokens + completion_tokens,
    )


def _chunk(
    completion_id: str, created: int, model: str, choices: list[dict], obj: str = "chat.completion.chunk", **extra: Any
) -> str:
    payload = {
        "id": completion_id,
        "object": obj,
        "created": created,
        "model": model,
        "system_fingerprint": None,
        "choices": choices,
    }
    return json.dumps(payload | extra, separators=(",", ":"))


def _choice(delta: dict[str, str], finish: str | None = None) -> list[dict]:
    return [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]


def _text_choice(text: str, finish: str | None = None) -> list[dict]:
    return [{"index": 0, "text": text, "logprobs": None, "finish_reason": finish}]


def _text_pieces(model: TextGenerator, prompt: str, args: dict[str, Any]) -> Generator[Any, None, None]:
    """Text pieces from the backend as they are decided, then its GenerationResult (counts, finish)."""
    done: list[Any] = []
    yield from model.stream_text(prompt, on_finish=done.append, **args)
    yield from done


async def _stream_chunks(
    model: Any,
    prompt: str,
    args: dict[str, Any],
    completion_id: str,
    created: int,
    include_usage: bool,
    text_completion: bool = False,
    echo: str = "",
) -> AsyncIterator[dict[str, str]]:
    """OpenAI's chunk sequence: [role,] content pieces, finish_reason, [usage], then [DONE].

    Chat chunks carry ``delta``s (the first one the role); text completion chunks carry ``text``.
    """
    name = _model_id(model)
    obj = "text_completion" if text_completion else "chat.completion.chunk"

    def chunk(text: str | None, finish: str | None = None) -> dict[str, str]:
        if text_completion:
            choices = _text_choice(text or "", finish)
        else:
            choices = _choice({} if text is None else {"content": text}, finish)
        return {"data": _chunk(completion_id, created, name, choices, obj)}

    if not text_completion:
        yield {"data": _chunk(completion_id, created, name, _choice({"role": "assistant", "content": ""}))}
    elif echo:
        yield chunk(echo)
    finish, prompt_tokens, completion_tokens, streamed = "stop", 0, 0, False
    pieces = _text_pieces(model, prompt, args)
    try:
        async for piece in iterate_in_threadpool(pieces):
            if not isinstance(piece, str):  # the GenerationResult: counts and the finish reason
                finish = _finish(piece)
                prompt_tokens, completion_tokens = piece.prompt_tokens, piece.completion_tokens
                if piece.text and not streamed:  # a backend without stream_text: all at once
                    yield chunk(piece.text)
            elif piece:
                streamed = True
                yield chunk(piece)
    finally:
        pieces.close()  # sync, so it runs even when cancelled: a disconnect frees the generation lock
    yield chunk(None, finish)
    if include_usage:  # OpenAI's last chunk: no choices, the usage of the whole completion
        usage = _usage(prompt_tokens, completion_tokens).model_dump()
        yield {"data": _chunk(completion_id, created, name, [], obj, usage=usage)}
    yield {"data": "[DONE]"}
