"""One trajectory: a question, the tool steps taken, the final answer, as training reads it.

``Trajectory.build`` is the one constructor: a finished run (``Trajectory.from_run``), a gold draft
and a teacher run all give it their tool calls ``(thought, tool, tool_input, observation)`` and the
final answer, and it renders each step's log and the final log with ``agent.prompt`` (the phrases
and the observation suffix the loop uses). ``example()`` is the exact text the loop would build and
the character spans the model wrote (what training supervises). A JSONL line is ``to_row()``;
``Trajectory.parse`` reads one leniently: logs, the prompt and the final log may be left out and are
then rendered from the parts (hand-written or older files).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from agent.prompt import FINAL_THOUGHT, STOP, final_log, observation_suffix, render_prompt, step_log
from agent.trace import RunResult

# (thought, tool, tool_input, observation): one tool call as every producer has it
ToolCall = tuple[str, str, str, str]


class TrajectoryStep(BaseModel):
    thought: str = ""
    tool: str = ""
    tool_input: str = ""
    observation: str
    log: str  # exactly what the model writes for this step (``agent.prompt.step_log``)


class Trajectory(BaseModel):
    """One training example; extra keys of a line (a family's ``answerable``, ...) are kept."""

    model_config = ConfigDict(extra="allow")

    id: str = ""
    question: str = ""
    prompt: str
    steps: list[TrajectoryStep] = Field(default_factory=list)
    final_answer: str = ""
    final_log: str  # exactly what the model writes for the final step (``agent.prompt.final_log``)
    source: str = "unknown"  # gold, teacher, logged, or a generator family
    answer: Any = None  # the gold answer it was scored against
    kind: str = "unknown"
    meta: dict[str, Any] = Field(default_factory=dict)

    @classmethod
    def build(
        cls,
        *,
        question: str,
        calls: Iterable[ToolCall],
        final_answer: str,
        final_thought: str = FINAL_THOUGHT,
        prompt: str | None = None,
        **fields: Any,
    ) -> Trajectory:
        """The trajectory of ``calls`` then ``final_answer``, its logs rendered as the model writes them."""
        steps = [
            TrajectoryStep(
                thought=thought,
                tool=tool,
                tool_input=tool_input,
                observation=observation,
                log=step_log(thought, tool, tool_input, first=i == 0),
            )
            for i, (thought, tool, tool_input, observation) in enumerate(calls)
        ]
        return cls(
            question=question,
            prompt=prompt if prompt is not None else render_prompt(question),
            steps=steps,
            final_answer=final_answer,
            final_log=final_log(final_thought, final_answer, first=not steps),
            **fields,
        )

    @classmethod
    def from_run(cls, run: RunResult, **fields: Any) -> Trajectory:
        """A finished run's tool steps and answer (the caller decides whether the run may train)."""
        calls = [(s.thought or "", s.tool or "", s.tool_input or "", s.observation or "") for s in run.steps
                 if s.kind == "tool"]  # fmt: skip
        final = run.steps[-1] if run.steps and run.steps[-1].kind == "final" else None
        return cls.build(
            question=run.question,
            prompt=run.prompt or None,
            calls=calls,
            final_answer=(run.answer or "").strip(),
            final_thought=(final.thought if final is not None else None) or FINAL_THOUGHT,
            **fields,
        )

    @classmethod
    def parse(cls, record: object) -> Trajectory:
        """A JSONL record as a trajectory; ``ValueError`` says why a record is not a usable one."""
        if not isinstance(record, Mapping):
            raise ValueError(f"expected a JSON object, got {type(record).__name__}")
        question = record.get("question")
        prompt = record.get("prompt") or (render_prompt(question) if isinstance(question, str) else None)
        if not isinstance(prompt, str) or not prompt:
            raise ValueError("missing 'question' (or 'prompt')")
        raw_steps = record.get("steps") or []
        if not isinstance(raw_steps, list):
            raise ValueError("'steps' must be a list")
        steps = [_parse_step(i, step) for i, step in enumerate(raw_steps)]
        last = record.get("final_log")
        answer = record.get("final_answer")
        if not isinstance(last, str) or not last:
            if not isinstance(answer, str) or not answer.strip():
                raise ValueError("missing 'final_log' (or 'final_answer')")
            last = final_log(FINAL_THOUGHT, answer, first=not steps)
        meta = record.get("meta")
        known = {"id", "question", "prompt", "steps", "final_answer", "final_log", "source", "answer", "kind", "meta"}
        return cls(
            id=str(record.get("id") or ""),
            question=question if isinstance(question, str) else "",
            prompt=prompt,
            steps=steps,
            final_answer=answer if isinstance(answer, str) else "",
            final_log=last,
            source=str(record.get("source") or "unknown"),
            answer=record.get("answer"),
            kind=str(record.get("kind") or "unknown"),
            meta=dict(meta) if isinstance(meta, Mapping) else {},
            **{k: v for k, v in record.items() if k not in known},
        )

    def example(self) -> tuple[str, list[tuple[int, int]]]:
        """The training text (prompt + logs + observations + final log, as the loop builds it) and the
        character spans [start, end) the model wrote: each log with the ``\\nObservation:`` after it
        (so it learns to stop there) and the final log. The scratchpad's trailing space after
        ``Thought:`` belongs to the next log (token healing: the local backend strips it from the
        prompt and the model writes it back as part of its first word)."""
        text, spans = self.prompt, []
        for step in self.steps:
            start = len(text) - 1 if text.endswith(" ") else len(text)
            text += step.log + STOP
            spans.append((start, len(text)))
            text += observation_suffix(step.observation)[len(STOP) :]
        start = len(text) - 1 if text.endswith(" ") else len(text)
        text += self.final_log
        spans.append((start, len(text)))
        return text, spans

    def training_text(self) -> str:
        return self.example()[0]

    def to_row(self) -> dict[str, Any]:
        """The JSONL line (every field, extras included)."""
        return self.model_dump()


def _parse_step(i: int, step: object) -> TrajectoryStep:
    if not isinstance(step, Mapping):
        raise ValueError(f"step {i}: expected an object")
    log = step.get("log")
    if not isinstance(log, str) or not log:
        if not all(isinstance(step.get(k), str) for k in ("thought", "tool", "tool_input")):
            raise ValueError(f"step {i}: needs 'log' or 'thought', 'tool' and 'tool_input'")
        log = step_log(step["thought"], step["tool"], step["tool_input"], first=i == 0)
    observation = step.get("observation")
    if not isinstance(observation, str):
        raise ValueError(f"step {i}: missing 'observation'")
    fields = {k: step[k] for k in ("thought", "tool", "tool_input") if isinstance(step.get(k), str)}
    return TrajectoryStep(observation=observation, log=log, **fields)
