"""GET /runs, GET /runs/{run_id}, POST /runs/{run_id}/feedback: the run log and its feedback."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query

from agent.replay import replay_check
from agent.trace import RunStatus
from app.deps import StoreDep
from app.schemas.common import ErrorResponse
from app.schemas.runs import FeedbackRequest, FeedbackResponse, RunDetail, RunPage, RunSummary
from app.store.runs import RunNotFoundError

router = APIRouter(tags=["runs"])

MAX_PAGE = 200  # runs per page: a page with traces stays well under a megabyte

NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorResponse, "description": "no run with that id"}
}


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
