"""The one scripted fake chat model of the tests (LangGraph keeps its fake in ``tests/model.py`` too).

Step ``k`` of a run gets ``script[k]`` (the last item repeats), where ``k`` is the number of
observations in the prompt's scratchpad: stateless, so concurrent runs and reruns each start the
script over. An Exception item is raised instead of answered, and so is any step from ``fail_at`` on.
``ScriptedLocalModel`` adds the local backend's text API (``generate_text``/``stream_text``), so
the app treats it as the local model (``/v1`` serves it, traces say ``backend: local``). The
benchmarks serve it too (``bench/harness.py``); tests never import ``bench``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import Field

from agent.backends.text import GenerationResult
from agent.prompt import FINAL_THOUGHT, STOP, render_prompt

_HEADER_OBSERVATIONS = render_prompt("").count(STOP)  # "Observation:" lines of the format instructions


def action(tool: str, tool_input: str, thought: str = "I should use a tool.") -> str:
    return f" {thought}\nAction: {tool}\nAction Input: {tool_input}"


def final(answer: str) -> str:
    return f"{FINAL_THOUGHT}\nFinal Answer: {answer}"


CALC_SCRIPT = [action("Calculator", "37 * 12 + 5", "I need to compute this."), final("449")]


def step_of(prompt: str) -> int:
    """Observations in the scratchpad = the model steps this run has taken so far."""
    return max(prompt.count(STOP) - _HEADER_OBSERVATIONS, 0)


class ScriptedChatModel(BaseChatModel):
    """Answers step ``k`` of a run with ``script[k]``; records every prompt and stop list."""

    script: Sequence[Any] = Field(default_factory=lambda: list(CALC_SCRIPT))
    delay_s: float = 0.0  # per call, seconds (time.sleep: off the GIL, like a real model's kernels)
    fail_at: int | None = None  # steps from this one on raise (a mid-run model failure)
    prompts: list[str] = Field(default_factory=list)
    stops: list[list[str] | None] = Field(default_factory=list)
    record: bool = True  # keep every prompt and stop list (bench/harness.py turns it off: a soak makes 100k calls)
    forced_final: str | None = None  # the answer to a prompt ending in a forced "Final Answer:" (the second look)

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def step_text(self, prompt: str) -> str:
        step = step_of(prompt)
        if self.delay_s:
            time.sleep(self.delay_s)
        if self.fail_at is not None and step >= self.fail_at:
            raise RuntimeError("CUDA error: device-side assert triggered (scripted failure)")
        if self.forced_final is not None and prompt.endswith("\nFinal Answer:"):
            return self.forced_final
        item = self.script[min(step, len(self.script) - 1)]
        if isinstance(item, Exception):
            raise item
        return str(item)

    def _generate(
        self, messages: list[BaseMessage], stop: list[str] | None = None, **kwargs: Any
    ) -> ChatResult:
        prompt = str(messages[-1].content)
        if self.record:
            self.prompts.append(prompt)
            self.stops.append(stop)
        text = self.step_text(prompt)
        usage = {"input_tokens": 7, "output_tokens": 3, "total_tokens": 10}  # per step, whatever the text
        message = AIMessage(content=text, usage_metadata=usage)  # type: ignore[arg-type]
        return ChatResult(generations=[ChatGeneration(message=message)])


class ScriptedLocalModel(ScriptedChatModel):
    """The scripted model with the local backend's text API (what ``/v1`` and the trace read)."""

    model_name: str = "scripted"
    active_adapter: str | None = None

    def generate_text(
        self,
        prompt: str,
        max_new_tokens: int | None = None,
        stop: Sequence[str] | None = None,
        temperature: float = 0.0,
    ) -> GenerationResult:
        text = self.step_text(prompt)
        for marker in stop or []:
            if marker and marker in text:
                text = text[: text.index(marker)]
        words = text.split(" ")[: max_new_tokens or None]
        return GenerationResult(" ".join(words), len(prompt) // 4, len(words), "stop")

    def stream_text(self, prompt: str, on_finish: Any = None, **kwargs: Any) -> Iterator[str]:
        result = self.generate_text(prompt, **kwargs)
        if on_finish is not None:
            on_finish(result)
        yield from (piece + " " for piece in result.text.split(" "))
