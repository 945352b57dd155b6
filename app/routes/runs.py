"""GET /runs, GET /runs/{run_id}, POST /runs/{run_id}/feedback: the run log and its feedback."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, ConfigDict, Field

from agent.grounding import Grounding
from agent.replay import replay_check
from agent.trace import RunStatus, Step
from app.deps import StoreDep
from app.schemas.common import ErrorResponse
from app.store.runs import RunNotFoundError

router = APIRouter(tags=["runs"])

MAX_PAGE = 200  # runs per page: a page with traces stays well under a megabyte
MAX_FEEDBACK_CHARS = 2000  # corrected answer / note length, characters

NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorResponse, "description": "no run with that id"}
}


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
                    "grounding": {"supported": True, "unsupported": [], "evidence": [0], "not_found": False},
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
    note: str | None = Field(
        default=None, max_length=MAX_FEEDBACK_CHARS, description="free text, for reviewers"
    )


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


def _not_training(status: str) -> str:
    if status == "ungrounded":
        return "confirmed, but no observation supports the answer (ungrounded): not a training trajectory"
    if status == "not_found":
        return "confirmed, but the run answered not-found: kept as feedback, not as a trajectory"
    return f"confirmed, but the run has no final answer ({status})"


def _not_found(run_id: str) -> HTTPException:
    return HTTPException(status_code=404, detail=f"no run with id {run_id!r}")


@router.get("/runs", response_model=RunPage, summary="List runs, newest first")
def list_runs(
    store: StoreDep,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description="runs per page")] = 20,
    offset: Annotated[int, Query(ge=0, le=10**9, description="runs to skip")] = 0,
    status: Annotated[RunStatus | None, Query(description="only runs that ended this way")] = None,
    adapter: Annotated[str | None, Query(description="only runs on this adapter; 'none': base model")] = None,
    has_feedback: Annotated[
        bool | None, Query(description="runs with (true) / without (false) feedback")
    ] = None,
) -> RunPage:
    items = store.list(limit=limit, offset=offset, status=status, adapter=adapter, has_feedback=has_feedback)
    next_offset = offset + limit if len(items) == limit else None
    summaries = [RunSummary.model_validate(i) for i in items]
    return RunPage(items=summaries, limit=limit, offset=offset, next_offset=next_offset)


@router.get("/runs/{run_id}", response_model=RunDetail, responses=NOT_FOUND, summary="One run, full trace")
def get_run(run_id: str, store: StoreDep) -> RunDetail:
    run = store.get(run_id)
    if run is None:
        raise _not_found(run_id)
    return RunDetail.model_validate(run)


@router.post(
    "/runs/{run_id}/feedback",
    response_model=FeedbackResponse,
    responses=NOT_FOUND,
    summary="Mark a run right or wrong, optionally with the right answer",
)
def post_feedback(run_id: str, body: FeedbackRequest, store: StoreDep) -> FeedbackResponse:
    """A corrected answer makes the run a training example only when its trace can be replayed to
    it (the calculator calls re-run to the same results and the last observation contains the
    answer); otherwise it is kept as a question/answer pair."""
    run = store.get(run_id)
    if run is None:
        raise _not_found(run_id)
    replayable, use, reason = False, "none", "marked wrong without a corrected answer"
    if body.correct:
        answered = run["status"] == "answered"  # grounded: the trace shows where the answer came from
        use = "training" if answered else "none"
        reason = "confirmed" if answered else _not_training(run["status"])
    elif body.answer:
        check = replay_check(run["steps"], body.answer)
        replayable, reason = check.ok, check.reason
        use = "training" if check.ok else "qa_pair"
    try:
        store.add_feedback(run_id, body.correct, body.answer, body.note, replayable=replayable)
    except RunNotFoundError as exc:  # deleted in between
        raise _not_found(run_id) from exc
    return FeedbackResponse(
        run_id=run_id,
        correct=body.correct,
        answer=body.answer,
        note=body.note,
        replayable=replayable,
        use=use,  # type: ignore[arg-type]
        reason=reason,
    )
