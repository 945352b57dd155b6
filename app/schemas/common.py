"""What every route group shares: the error bodies and the strict-integer validator."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


def integral(value: Any) -> Any:
    """JSON Schema's ``integer`` includes ``4.0``: a float with no fraction is that integer (a
    ``before`` validator for strict int fields, which still refuse ``"4"``, ``4.5`` and ``true``)."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


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
