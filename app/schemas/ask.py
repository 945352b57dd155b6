"""/ask and /ask/stream: the question, the run it returns, and the examples Swagger shows for each status."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from agent.prompt import FINAL_THOUGHT
from agent.trace import RunResult
from app.schemas.common import integral

# the grounding of an answered run in the examples (this module's and app.schemas.runs')
GROUNDED_EXAMPLE: dict[str, Any] = {
    "supported": True,
    "unsupported": [],
    "evidence": [0],
    "not_found": False,
    "read_from_documents": False,
}

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
            "thought": FINAL_THOUGHT,
            "tool": None,
            "tool_input": None,
            "observation": None,
            "observation_source": None,
            "final_answer": "449",
            "format_error": None,
            "log": f"{FINAL_THOUGHT}\nFinal Answer: 449",
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
    "grounding": GROUNDED_EXAMPLE,
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
        final_log = f"{FINAL_THOUGHT}\nFinal Answer: {fields.pop('model_answer', answer)}"
        out.append({"index": len(out), "kind": "final", "thought": FINAL_THOUGHT,
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
            grounding={
                "supported": True,
                "unsupported": [],
                "evidence": [0],
                "not_found": False,
                "read_from_documents": False,
            },
        ),
    },
    "ungrounded": {
        "summary": "ungrounded: the answer names what no observation holds (the text is kept, unverified)",
        "description": "With QREACT_UNGROUNDED=keep (the default on the openai backend). On the local backend the "
        "default (auto) returns the not-found answer instead, with status not_found and this grounding.",
        "value": _example_run(
            "Who painted the Mona Lisa?",
            [("I need to find the artist.", "artist", "No good search result found.")],
            "The artist is called Leonardo da Vinci.",
            status="ungrounded",
            grounding={
                "supported": False,
                "unsupported": ["Leonardo da Vinci"],
                "evidence": [],
                "not_found": False,
                "read_from_documents": False,
            },
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
            grounding={
                "supported": True,
                "unsupported": [],
                "evidence": [],
                "not_found": True,
                "read_from_documents": False,
            },
            error="2 searches returned nothing useful",
        ),
    },
}


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
    missing; with ``QREACT_GROUNDING_DOCUMENTS`` (on by default) also a value whose document sentence is not about
    the question's entity or the asked attribute — with ``QREACT_GROUNDING_EVERY_WORD`` (on by default) every asked
    word and the year the question names — and with ``QREACT_GROUNDING_ATTRIBUTES`` (on by default) an answer
    that repeats an asked word no document holds or counts a document's number as another thing, each with that
    reason in brackets; the answer is returned
    unverified, or replaced by the not-found answer when
    ``QREACT_UNGROUNDED=not_found``), ``not_found`` (the answer says it was not found, or the searches
    returned nothing useful twice), ``max_steps``, ``timeout`` or ``error`` (no final answer).
    """

    model_config = ConfigDict(json_schema_extra={"examples": [_ASK_EXAMPLE]})
