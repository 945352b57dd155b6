"""Request and response models of the HTTP API, with the examples Swagger shows."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from agent.trace import RunResult

# A real trace shape (Calculator run); the numbers are what the calculator returns.
_ASK_EXAMPLE: dict[str, Any] = {
    "run_id": "4f1c2a9e8b7d4c3e9a1b2c3d4e5f6a7b",
    "question": "What is 37 * 12 + 5?",
    "answer": "449",
    "status": "answered",
    "steps": [
        {
            "index": 0,
            "kind": "tool",
            "thought": "I need to compute 37 * 12 + 5.",
            "tool": "Calculator",
            "tool_input": "37 * 12 + 5",
            "observation": "449",
            "observation_source": "Calculator",
            "final_answer": None,
            "format_error": None,
            "log": " I need to compute 37 * 12 + 5.\nAction: Calculator\nAction Input: 37 * 12 + 5",
            "ms": 2310.4,
            "llm_ms": 2305.9,
            "tool_ms": 1.2,
            "prompt_tokens": 174,
            "completion_tokens": 24,
        },
        {
            "index": 1,
            "kind": "final",
            "thought": "I now know the final answer",
            "tool": None,
            "tool_input": None,
            "observation": None,
            "observation_source": None,
            "final_answer": "449",
            "format_error": None,
            "log": "I now know the final answer\nFinal Answer: 449",
            "ms": 1402.7,
            "llm_ms": 1402.5,
            "tool_ms": 0.0,
            "prompt_tokens": 12,
            "completion_tokens": 11,
        },
    ],
    "backend": "local",
    "model": "gemma-3-270m",
    "adapter": "default",
    "latency_ms": 3714.6,
    "usage": {"prompt_tokens": 186, "completion_tokens": 35, "total_tokens": 221},
    "error": None,
    "prompt": "Answer the following questions as best you can. You have access to the following tools:\n...",
    "grounding": {"supported": True, "unsupported": [], "evidence": [0], "not_found": False},
}


def _example_run(question: str, steps: list[tuple[str, str, str]], answer: str, **fields: Any) -> dict[str, Any]:
    """A run in the response shape from (thought, action input, observation) steps (timings left out)."""
    out: list[dict[str, Any]] = []
    for i, (thought, tool_input, observation) in enumerate(steps):
        log = f"{' ' if i == 0 else ''}{thought}\nAction: Search\nAction Input: {tool_input}"
        out.append(
            {"index": i, "kind": "tool", "thought": thought, "tool": "Search", "tool_input": tool_input,
             "observation": observation, "observation_source": "local", "log": log}
        )  # fmt: skip
    if fields.get("status") != "not_found" or fields.pop("final_step", True):
        final_log = f"I now know the final answer\nFinal Answer: {fields.pop('model_answer', answer)}"
        out.append({"index": len(out), "kind": "final", "thought": "I now know the final answer",
                    "final_answer": final_log.split("Final Answer: ", 1)[1], "log": final_log})  # fmt: skip
    fields.pop("final_step", None)
    return {"run_id": "…", "question": question, "answer": answer, "steps": out, "backend": "local",
            "model": "gemma-3-270m", "adapter": "default", "error": None, **fields}  # fmt: skip


_INDIA = (
    "India: capital New Delhi; population 1,263,930,000; area 3,287,590 km2; region Asia; subregion Southern "
    "Asia; currency INR; languages Hindi, English; borders Afghanistan, Bangladesh, Bhutan, China, Myanmar, "
    "Nepal, Pakistan, Sri Lanka; calling code +91; demonym Indian."
)
_PAKISTAN = (
    "Pakistan: capital Islamabad; population 188,410,000; area 881,912 km2; region Asia; subregion Southern "
    "Asia; currency PKR; languages English, Urdu; borders Afghanistan, China, India, Iran; calling code +92; "
    "demonym Pakistani."
)
# Real runs of the shipped adapter on local search (steps trimmed to the fields that matter here).
ASK_STATUS_EXAMPLES: dict[str, dict[str, Any]] = {
    "answered": {
        "summary": "answered: every name and number of the answer is in an observation",
        "value": _example_run(
            "Which city is the capital of India?",
            [("I need to find the capital of India.", "capital of India", _INDIA)],
            "The capital of India is New Delhi.",
            status="answered",
            grounding={"supported": True, "unsupported": [], "evidence": [0], "not_found": False},
        ),
    },
    "ungrounded": {
        "summary": "ungrounded: the answer names what no observation holds (the text is kept, unverified)",
        "value": _example_run(
            "Who painted the Mona Lisa?",
            [("I need to find the artist.", "artist", "No good search result found.")],
            "The artist is called Leonardo da Vinci.",
            status="ungrounded",
            grounding={"supported": False, "unsupported": ["Leonardo da Vinci"], "evidence": [], "not_found": False},
        ),
    },
    "not_found": {
        "summary": "not_found: the same search repeated twice, so the run stopped with the not-found answer",
        "description": "The steps the shipped adapter wrote on this test question (it searched the same "
        "thing again and again until the step limit); the loop now stops it at the second repeat.",
        "value": _example_run(
            "What is the surface area of Pakistan?",
            [
                ("I need to find the area of Pakistan.", "area of Pakistan", _PAKISTAN),
                ("Now I need to find the area of Pakistan.", "area of Pakistan", _PAKISTAN),
                ("Now I need to find the area of Pakistan.", "area of Pakistan", _PAKISTAN),
            ],
            "I could not find the answer in the search results.",
            status="not_found",
            final_step=False,
            grounding={"supported": True, "unsupported": [], "evidence": [], "not_found": True},
            error="2 searches returned nothing useful",
        ),
    },
}


def integral(value: Any) -> Any:
    """JSON Schema's ``integer`` includes ``4.0``: a float with no fraction is that integer (a
    ``before`` validator for strict int fields, which still refuse ``"4"``, ``4.5`` and ``true``)."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


class AskRequest(BaseModel):
    """A question for the agent."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={
            "examples": [
                {"question": "What is 37 * 12 + 5?"},
                {"question": "What is the capital of Australia?", "max_steps": 4},
            ]
        },
    )

    # The schema's maxLength / maximum are this server's QREACT_MAX_QUESTION_CHARS / QREACT_MAX_STEPS_CAP
    # (app.contract writes them in); the route enforces them (app.routes.ask.checked_max_steps).
    question: str = Field(
        min_length=1,
        description="The question, in plain words (not blank). Longer than QREACT_MAX_QUESTION_CHARS → 422.",
        examples=["What is 37 * 12 + 5?"],
        json_schema_extra={"pattern": r"\S"},
    )
    max_steps: int | None = Field(
        default=None,
        ge=1,
        le=100,
        description="Model steps for this run (default QREACT_MAX_STEPS); over QREACT_MAX_STEPS_CAP → 422.",
        examples=[4],
    )

    @field_validator("question")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the question is empty")
        return value  # its length is checked as sent; the agent gets it stripped

    @field_validator("max_steps", mode="before")
    @classmethod
    def _integral(cls, value: Any) -> Any:
        return integral(value)

    def limit_errors(self, max_question_chars: int, max_steps_cap: int) -> list[dict[str, Any]]:
        """The limits that depend on settings, as pydantic-style errors (empty when within them)."""
        errors: list[dict[str, Any]] = []
        if len(self.question) > max_question_chars:
            msg = f"the question is longer than {max_question_chars} characters"
            errors.append({"loc": ("body", "question"), "msg": msg, "type": "string_too_long", "input": None})
        if self.max_steps is not None and self.max_steps > max_steps_cap:
            msg = f"max_steps may be at most {max_steps_cap}"
            errors.append({"loc": ("body", "max_steps"), "msg": msg, "type": "less_than_equal", "input": None})
        return errors


class AskResponse(RunResult):
    """The whole run: the answer, an honest status and a trace of every step.

    ``status``: ``answered`` (the grounding check found every number and name of the answer in the
    question or an observation), ``ungrounded`` (it did not: ``grounding.unsupported`` lists what is
    missing; the answer is returned unverified, or replaced by the not-found answer when
    ``QREACT_UNGROUNDED=not_found``), ``not_found`` (the answer says it was not found, or the searches
    returned nothing useful twice), ``max_steps``, ``timeout`` or ``error`` (no final answer).
    """

    model_config = ConfigDict(json_schema_extra={"examples": [_ASK_EXAMPLE]})


class ErrorResponse(BaseModel):
    """An error with its reason (never a stack trace)."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"detail": "the model is still loading; retry in a few seconds"}]}
    )

    detail: str = Field(description="what went wrong, in words")
    run_id: str | None = Field(default=None, description="the stored run, when one was recorded")
    request_id: str | None = Field(
        default=None, description="the request's X-Request-ID (on errors the middleware writes)"
    )


class ValidationErrorItem(BaseModel):
    loc: list[str | int] = Field(description="where the bad value is, e.g. ['body', 'question']")
    msg: str
    type: str


class ValidationErrorResponse(BaseModel):
    """422: which field is wrong and why."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "detail": [
                        {
                            "loc": ["body", "question"],
                            "msg": "String should have at least 1 character",
                            "type": "string_too_short",
                        }
                    ],
                    "message": "question: String should have at least 1 character",
                }
            ]
        }
    )

    detail: list[ValidationErrorItem]
    message: str = Field(description="the same errors in one line, each naming its field")


class Health(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"status": "ok"}]})

    status: Literal["ok"] = "ok"


class Readiness(BaseModel):
    """Whether the agent (model, tools, run store) is loaded and can take questions."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "status": "ready",
                    "backend": "local",
                    "model": "gemma-3-270m",
                    "adapter": "default",
                    "reason": None,
                },
                {
                    "status": "loading",
                    "backend": "local",
                    "model": None,
                    "adapter": None,
                    "reason": "loading the local model (first start converts it: ~2 minutes)",
                },
            ]
        }
    )

    status: Literal["ready", "loading", "failed"]
    backend: str
    model: str | None = None
    adapter: str | None = None
    reason: str | None = Field(default=None, description="why the service is not ready")


# --- OpenAI-compatible API (/v1)


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


class ChatCompletion(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "chatcmpl-9b1f0c6e2a7d4e21",
                    "object": "chat.completion",
                    "created": 1764460800,
                    "model": "gemma-3-270m",
                    "choices": [
                        {
                            "index": 0,
                            "message": {
                                "role": "assistant",
                                "content": " I need to add.\nAction: Calculator",
                            },
                            "finish_reason": "stop",
                            "logprobs": None,
                        }
                    ],
                    "usage": {"prompt_tokens": 12, "completion_tokens": 9, "total_tokens": 21},
                    "system_fingerprint": None,
                }
            ]
        }
    )

    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[ChatCompletionChoice]
    usage: CompletionUsage
    system_fingerprint: str | None = None


class CompletionChoice(BaseModel):
    index: int = 0
    text: str
    finish_reason: Literal["stop", "length"]
    logprobs: None = None


class Completion(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "cmpl-9b1f0c6e2a7d4e21",
                    "object": "text_completion",
                    "created": 1764460800,
                    "model": "gemma-3-270m",
                    "choices": [
                        {
                            "index": 0,
                            "text": " I need to add.\nAction: Calculator",
                            "finish_reason": "stop",
                            "logprobs": None,
                        }
                    ],
                    "usage": {"prompt_tokens": 12, "completion_tokens": 9, "total_tokens": 21},
                    "system_fingerprint": None,
                }
            ]
        }
    )

    id: str
    object: Literal["text_completion"] = "text_completion"
    created: int
    model: str
    choices: list[CompletionChoice]
    usage: CompletionUsage
    system_fingerprint: str | None = None


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
