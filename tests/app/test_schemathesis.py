"""schemathesis against the app's own OpenAPI schema, over real HTTP on loopback.

Every operation gets generated valid and invalid requests; every response must be a non-5xx that
matches the schema (status code, content type, body, headers). A 4xx for data the static schema
allows (a blank question, ``max_steps`` over the configured cap) is a runtime limit the schema
cannot express: counted, not a failure. ``bench/soak.py schema`` runs the same with ≥ 1000 requests.
"""

from __future__ import annotations

from pathlib import Path

from bench.soak import make_app, schema_test, serve


def test_generated_requests_get_no_server_errors_and_schema_valid_responses(tmp_path: Path) -> None:
    app = make_app(tmp_path, max_concurrency=4, max_queue=64)
    with serve(app) as base:
        result = schema_test(base, max_examples=30)
    assert result["operations"] >= 5
    assert result["requests"] >= 200, result
    assert result["server_errors"] == 0, result["failures"]
    assert result["failures"] == [], result["failures"]


def test_with_api_keys_every_generated_request_is_checked_for_ignored_auth(tmp_path: Path) -> None:
    # the admin key opens every route; schemathesis also replays each request without it (ignored_auth)
    app = make_app(tmp_path, api_keys=["user-key-123456"], admin_key="admin-key-123456", max_queue=64)
    with serve(app) as base:
        result = schema_test(base, max_examples=8, headers={"Authorization": "Bearer admin-key-123456"})
    assert result["requests"] >= 80, result
    assert result["server_errors"] == 0, result["failures"]
    assert result["failures"] == [], result["failures"]
