"""The OpenAI-compatible API (/v1): chat and text completion requests and responses, the model list."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.schemas.common import integral


class ContentPart(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: str = "text"
    text: str | None = None


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[ContentPart] | None = None
    name: str | None = None

    def text(self) -> str:
        """The message's text; list content keeps its text parts only."""
        if isinstance(self.content, list):
            return "".join(part.text or "" for part in self.content if part.type == "text")
        return self.content or ""


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)

    include_usage: bool = Field(default=False, description="a last chunk with the usage of the whole completion")


class GenerationParams(BaseModel):
    """The generation fields both /v1 requests share; fields qreact does not use (top_p, seed...) are ignored."""

    model_config = ConfigDict(extra="allow", strict=True)

    model: str = Field(default="", description="accepted for compatibility; the served local model answers")
    max_tokens: int | None = Field(
        default=None, ge=1, le=4096, description="default QREACT_MAX_NEW_TOKENS; the run budget may end it sooner"
    )
    temperature: float | None = Field(default=None, ge=0, le=2, description="default 0 (greedy), unlike OpenAI's 1")
    stop: str | Annotated[list[str], Field(max_length=8)] | None = Field(
        default=None, description="up to 8 stop strings"
    )
    stream: bool = Field(default=False, description="JSON true/false only")
    stream_options: StreamOptions | None = None
    n: int = Field(default=1, ge=1, le=1, description="only 1 is supported")

    @field_validator("max_tokens", "n", mode="before")
    @classmethod
    def _integral(cls, value: Any) -> Any:
        return integral(value)

    def stop_list(self) -> list[str]:
        if self.stop is None:
            return []
        return [self.stop] if isinstance(self.stop, str) else [s for s in self.stop if s]


class ChatCompletionRequest(GenerationParams):
    """OpenAI's chat completion request; fields qreact does not use (top_p, seed...) are ignored."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "model": "gemma-3-270m",
                    "messages": [{"role": "user", "content": "Question: What is 2 + 2?\nThought:"}],
                    "max_tokens": 64,
                    "temperature": 0,
                    "stop": ["\nObservation:"],
                }
            ]
        },
    )

    messages: list[ChatMessage] = Field(min_length=1)
    max_completion_tokens: int | None = Field(default=None, ge=1, le=4096, description="the same as max_tokens")

    @field_validator("max_completion_tokens", mode="before")
    @classmethod
    def _integral_completion(cls, value: Any) -> Any:
        return integral(value)


class CompletionRequest(GenerationParams):
    """OpenAI's (legacy) text completion request, as vLLM-style clients send it: the prompt is
    generated from as it is, with no chat template."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "model": "gemma-3-270m",
                    "prompt": "Question: What is 2 + 2?\nThought:",
                    "max_tokens": 64,
                    "temperature": 0,
                    "stop": ["\nObservation:"],
                }
            ]
        },
    )

    prompt: str | Annotated[list[str], Field(min_length=1, max_length=1)] = Field(
        description="the text to continue; a list holds exactly one prompt (n=1)"
    )
    echo: bool = Field(default=False, description="true: the returned text starts with the prompt")

    def prompt_text(self) -> str:
        return self.prompt if isinstance(self.prompt, str) else self.prompt[0]


class ChatCompletionMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class ChatCompletionChoice(BaseModel):
    index: int = 0
    message: ChatCompletionMessage
    finish_reason: Literal["stop", "length"]
    logprobs: None = None


class CompletionUsage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


def _example(object_: str, id_: str, choice: dict[str, Any]) -> dict[str, Any]:
    """A response example of either completion API: one choice that stopped at ``Action: Calculator``."""
    return {
        "id": id_,
        "object": object_,
        "created": 1764460800,
        "model": "gemma-3-270m",
        "choices": [{"index": 0, **choice, "finish_reason": "stop", "logprobs": None}],
        "usage": {"prompt_tokens": 12, "completion_tokens": 9, "total_tokens": 21},
        "system_fingerprint": None,
    }


_EXAMPLE_TEXT = " I need to add.\nAction: Calculator"


class _CompletionResponse(BaseModel):
    # The fields both completion responses share; each subclass narrows ``object`` and ``choices``.
    id: str
    object: str
    created: int
    model: str
    choices: list[Any]
    usage: CompletionUsage
    system_fingerprint: str | None = None


class ChatCompletion(_CompletionResponse):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                _example(
                    "chat.completion",
                    "chatcmpl-9b1f0c6e2a7d4e21",
                    {"message": {"role": "assistant", "content": _EXAMPLE_TEXT}},
                )
            ]
        }
    )

    object: Literal["chat.completion"] = "chat.completion"
    choices: list[ChatCompletionChoice]


class CompletionChoice(BaseModel):
    index: int = 0
    text: str
    finish_reason: Literal["stop", "length"]
    logprobs: None = None


class Completion(_CompletionResponse):
    model_config = ConfigDict(
        json_schema_extra={"examples": [_example("text_completion", "cmpl-9b1f0c6e2a7d4e21", {"text": _EXAMPLE_TEXT})]}
    )

    object: Literal["text_completion"] = "text_completion"
    choices: list[CompletionChoice]


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "qreact"


class ModelList(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "object": "list",
                    "data": [{"id": "gemma-3-270m", "object": "model", "created": 1764460800, "owned_by": "qreact"}],
                }
            ]
        }
    )

    object: Literal["list"] = "list"
    data: list[ModelCard]
