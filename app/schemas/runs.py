"""/runs: the stored runs (summary, detail, a page of them) and their feedback."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from agent.grounding import Grounding
from agent.trace import Step
from app.schemas.ask import GROUNDED_EXAMPLE

MAX_FEEDBACK_CHARS = 2000  # corrected answer / note length, characters


class Feedback(BaseModel):
    correct: bool
    answer: str | None = None
    note: str | None = None
    replayable: bool = Field(description="the trace's tool calls support the corrected answer")
    created_at: str | None = None


class RunSummary(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "run_id": "4f1c2a9e8b7d4c3e9a1b2c3d4e5f6a7b",
                    "created_at": "2026-11-29T23:40:12.345678+00:00",
                    "question": "What is 37 * 12 + 5?",
                    "answer": "449",
                    "status": "answered",
                    "backend": "local",
                    "model": "gemma-3-270m",
                    "adapter": "default",
                    "latency_ms": 3714.6,
                    "prompt_tokens": 186,
                    "completion_tokens": 35,
                    "error": None,
                    "grounding": GROUNDED_EXAMPLE,
                    "n_steps": 2,
                    "feedback": {"correct": True, "answer": None, "note": None, "replayable": False},
                }
            ]
        }
    )

    run_id: str
    created_at: str | None
    question: str
    answer: str | None
    status: str = Field(description="answered, not_found, ungrounded, max_steps, timeout or error")
    backend: str
    model: str
    adapter: str | None
    latency_ms: float
    prompt_tokens: int
    completion_tokens: int
    error: str | None
    grounding: Grounding | None = Field(
        default=None, description="the grounding verdict of the final answer (null on runs stored before it)"
    )
    n_steps: int
    feedback: Feedback | None = Field(description="the latest feedback, if any")


class RunDetail(RunSummary):
    prompt: str = Field(description="the exact first prompt")
    steps: list[Step]
    meta: dict[str, Any] = Field(default_factory=dict, description="what the server recorded beside the run")


class RunPage(BaseModel):
    items: list[RunSummary]
    limit: int
    offset: int
    next_offset: int | None = Field(description="offset of the next page; null on the last page")


class FeedbackRequest(BaseModel):
    """Was the answer right? If not, what is the right one?"""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"correct": True},
                {"correct": False, "answer": "Canberra", "note": "Sydney is the largest city"},
            ]
        },
    )

    correct: bool = Field(
        strict=True, description="true: the answer is right (the run becomes a training example); JSON true/false only"
    )
    answer: str | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_FEEDBACK_CHARS,
        description="the right answer, when the run's was wrong",
        examples=["Canberra"],
    )
    note: str | None = Field(default=None, max_length=MAX_FEEDBACK_CHARS, description="free text, for reviewers")


class FeedbackResponse(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "run_id": "4f1c2a9e8b7d4c3e9a1b2c3d4e5f6a7b",
                    "correct": False,
                    "answer": "Canberra",
                    "note": None,
                    "replayable": True,
                    "use": "training",
                    "reason": "the last observation supports the corrected answer",
                }
            ]
        }
    )

    run_id: str
    correct: bool
    answer: str | None
    note: str | None
    replayable: bool
    use: Literal["training", "qa_pair", "none"] = Field(
        description="training: exported as a trajectory; qa_pair: kept as a question/answer pair for the "
        "gold or teacher generators (the trace does not support the correction); none: a negative label only"
    )
    reason: str
