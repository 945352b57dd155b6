"""The OpenAPI schema says what this server does: its limits and every error it can answer.

FastAPI documents what the routes declare; the middleware (Host check, API keys, form guard, body
limit and timeout, rate limit, model slots) and the settings' limits are added here, per operation,
from the same settings the server runs with. ``tests/bench/test_soak.py`` runs schemathesis with
every check against it (``make soak``: ``bench/soak.py schema``, the same at length).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from app.limits import MODEL_PATHS
from app.settings import Settings

ERROR_REF = {"$ref": "#/components/schemas/ErrorResponse"}
# Paths that never see the key check, the rate limiter or the run store.
PUBLIC_PATHS = frozenset({"/healthz", "/readyz"})
UNLIMITED_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
NO_STORE_PATHS = frozenset({"/healthz", "/metrics"})
STATE_CHANGING = frozenset({"post", "put", "patch", "delete"})


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": ERROR_REF}}}


def _add(responses: dict[str, Any], status: int, description: str) -> None:
    """Document ``status`` (JSON ErrorResponse); an already documented one gets the reason appended."""
    key = str(status)
    if key not in responses:
        responses[key] = _error(description)
        return
    known = responses[key].get("description", "")
    if description not in known:
        responses[key]["description"] = f"{known}; or {description}" if known else description


def operation_errors(path: str, method: str, operation: dict[str, Any], settings: Settings) -> None:
    """Add the errors the middleware and the settings can answer for this operation."""
    responses = operation.setdefault("responses", {})
    has_body = "requestBody" in operation
    host = "the Host header is not in QREACT_ALLOWED_HOSTS"
    _add(responses, 400, f"{host}, or the body is not UTF-8 JSON" if has_body else host)
    admin = path == "/admin" or path.startswith("/admin/")
    if settings.api_keys and path not in PUBLIC_PATHS and not admin:
        _add(responses, 401, "missing or invalid API key (Authorization: Bearer <key>)")
    if admin and settings.admin_key is None:
        _add(responses, 403, "admin routes are disabled: QREACT_ADMIN_KEY is not set")
    elif admin:
        _add(responses, 401, "missing or wrong admin key")
        _add(responses, 403, "a user key was given")
    if method in STATE_CHANGING:
        _add(responses, 413, "the body is larger than QREACT_MAX_BODY_BYTES")
        _add(responses, 415, "no JSON Content-Type, Authorization or X-Requested-With header (cross-site forms)")
    if settings.rate_limit_per_minute > 0 and path not in UNLIMITED_PATHS:
        _add(responses, 429, "over QREACT_RATE_LIMIT_PER_MINUTE (see Retry-After)")
    if method == "post" and path in MODEL_PATHS and settings.backend == "local":
        _add(responses, 408, "the body did not arrive within QREACT_BODY_TIMEOUT_S")
        _add(responses, 503, "the model is busy: QREACT_MAX_CONCURRENCY running, QREACT_MAX_QUEUE waiting")
    if path not in NO_STORE_PATHS and path not in PUBLIC_PATHS:
        _add(responses, 503, "the model is loading, or the run store could not be opened")


def _property(schema: dict[str, Any], name: str) -> dict[str, Any]:
    """A property's own schema: the non-null branch of an ``anyOf`` [T, null]."""
    prop = schema.get("properties", {}).get(name, {})
    for branch in prop.get("anyOf", []):
        if branch.get("type") != "null":
            return branch
    return prop


def settings_limits(schemas: dict[str, Any], settings: Settings) -> None:
    """The limits that are settings, written into the request schemas."""
    ask = schemas.get("AskRequest")
    if ask is not None:
        _property(ask, "question")["maxLength"] = settings.max_question_chars
        _property(ask, "max_steps")["maximum"] = settings.max_steps_cap


def document_contract(app: FastAPI, settings: Settings) -> None:
    """Wrap ``app.openapi`` so the schema carries every error and limit (idempotent)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        schema = build()
        settings_limits(schema.get("components", {}).get("schemas", {}), settings)
        for path, operations in schema.get("paths", {}).items():
            for method, operation in operations.items():
                if isinstance(operation, dict):
                    operation_errors(path, method, operation, settings)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
