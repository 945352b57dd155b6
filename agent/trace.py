"""What a run returns and what the run store, the API and the fine-tuning data share."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, PrivateAttr

from agent.grounding import Grounding

# answered: a final answer the observations support; not_found: the answer says the information
# was not found (the model's own not-found form, or the loop's after searches found nothing);
# ungrounded: a final answer some of whose numbers or names no observation supports (kept as written)
RunStatus = Literal["answered", "not_found", "ungrounded", "max_steps", "timeout", "error"]
StepKind = Literal["tool", "final", "format_error"]


class Usage(BaseModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0

    def add(self, prompt_tokens: int, completion_tokens: int) -> None:
        self.prompt_tokens += prompt_tokens
        self.completion_tokens += completion_tokens
        self.total_tokens = self.prompt_tokens + self.completion_tokens


class Step(BaseModel):
    """One model call and what followed it."""

    index: int = Field(description="0-based position in the run")
    kind: StepKind = Field(description="tool call, final answer, or a malformed step fed back to the model")
    thought: str = ""
    tool: str | None = Field(default=None, examples=["Calculator"])
    tool_input: str | None = Field(default=None, examples=["37 * 12 + 5"])
    observation: str | None = Field(
        default=None,
        description="Text returned by the tool (or the format error). Always data: the loop never "
        "parses it, so markers such as 'Final Answer:' inside it cannot forge a step.",
        examples=["449"],
    )
    observation_source: str | None = Field(
        default=None,
        description="who produced the observation: a tool/provider name, or 'agent' for format errors",
    )
    final_answer: str | None = None
    format_error: str | None = None
    log: str = Field(default="", description="the model's raw text for this step, cut at the stop sequence")
    ms: float = Field(default=0.0, description="wall time of the step (model + tool), milliseconds")
    llm_ms: float = 0.0
    tool_ms: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    second_look: str | None = Field(
        default=None,
        description="the second look (AgentConfig.second_look): on a final step the loop wrote after the model's "
        "not-found answer by forcing the final thought, that not-found step's log (the check supported this "
        "answer); on a not-found final step whose second look the check did not support, that unsupported answer",
    )


class RunResult(BaseModel):
    run_id: str
    question: str
    answer: str | None = Field(default=None, examples=["449"])
    status: RunStatus
    steps: list[Step] = Field(default_factory=list)
    backend: str = Field(examples=["local"])
    model: str = Field(examples=["gemma-3-270m"])
    adapter: str | None = Field(default=None, examples=["qreact-default"])
    latency_ms: float = 0.0
    usage: Usage = Field(default_factory=Usage)
    error: str | None = Field(default=None, description="why the run ended without an answer, when it did")
    prompt: str = Field(default="", description="the exact prompt of the first step (header + question)")
    grounding: Grounding | None = Field(
        default=None,
        description="whether the final answer is backed by the observations (agent.grounding); set on every "
        "run the loop finishes, null only on runs stored before the check existed",
    )
    # The exception that ended the run, if any (never serialized): lets the API answer 503 when
    # the chat-model backend is unreachable instead of a 200 with status "error".
    _exception: BaseException | None = PrivateAttr(default=None)
