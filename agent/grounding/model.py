"""What the check returns (``Grounding``, on every run) and what it reads (``Observation``)."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, Field


class Grounding(BaseModel):
    """Whether a final answer is backed by the run's observations."""

    supported: bool = Field(
        description="every number and name of the final answer was found in the question or an observation "
        "(a not-found answer claims nothing and is supported)",
        examples=[True],
    )
    unsupported: list[str] = Field(
        default_factory=list,
        description="spans of the final answer no observation supports (the whole answer when no search "
        "returned anything useful); with the document step, a value with its reason in brackets: "
        "'3 (no document about orbit coffee states it)'",
        examples=[["Joe Biden"]],
    )
    evidence: list[int] = Field(
        default_factory=list,
        description="indexes of the steps whose observations support the answer",
        examples=[[0, 2]],
    )
    not_found: bool = Field(
        default=False, description="the final answer says the information was not found", examples=[False]
    )
    read_from_documents: bool = Field(
        default=False,
        description="the final answer was read from a document by the check: the model's own answer was not found "
        "or unsupported, and a sentence of a document about the asked entity states every asked word and one count "
        "of the asked thing (the count reading, QREACT_GROUNDING_READ_COUNTS) or, when QREACT_GROUNDING_READ_ROLES is "
        "on, one name for the asked role; the model's answer stays in the last step",
        examples=[False],
    )


@dataclass(frozen=True)
class Observation:
    """One tool step of a run, as the check sees it."""

    index: int  # the step's index in the run
    tool: str
    tool_input: str
    text: str
