"""The OpenAPI schema says what the server does (issue 14, item 6): its limits are the configured
ones, every error it answers is documented and JSON, and no documented route 404s.

schemathesis checks the same with every check over every operation (tests/bench/test_soak.py);
these pin the findings one by one on the real app (scripted model, real middleware).
"""

from __future__ import annotations

import warnings
from collections import Counter
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.limits import MODEL_PATHS
from tests.app.conftest import make_settings, running_app
from tests.model import ScriptedLocalModel


@pytest.fixture
def capped(knowledge_cache: Path, tmp_path: Path):
    settings = make_settings(
        knowledge_cache, store_url=f"sqlite:///{tmp_path / 'runs.db'}", max_steps_cap=7, max_question_chars=50
    )
    with running_app(settings, ScriptedLocalModel()) as client:
        yield client


def ask_schema(client: TestClient) -> dict:
    return client.get("/openapi.json").json()["components"]["schemas"]["AskRequest"]["properties"]


def test_the_schema_states_the_configured_limits_and_the_server_keeps_them(capped: TestClient) -> None:
    props = ask_schema(capped)
    max_steps = next(b for b in props["max_steps"]["anyOf"] if b.get("type") == "integer")
    assert max_steps["maximum"] == 7  # on main: 100, while 13 was refused (the cap is 12)
    assert props["question"]["maxLength"] == 50 and props["question"]["pattern"] == r"\S"
    assert capped.post("/ask", json={"question": "What is 37 * 12 + 5?", "max_steps": 7}).status_code == 200
    refused = capped.post("/ask", json={"question": "q", "max_steps": 8})
    assert refused.status_code == 422 and refused.json()["message"] == "max_steps: max_steps may be at most 7"
    assert capped.post("/ask", json={"question": "x" * 50}).status_code == 200
    assert capped.post("/ask", json={"question": "x" * 51}).status_code == 422
    # the length is the one sent (the schema's maxLength), though the agent gets the question stripped
    assert capped.post("/ask", json={"question": " " * 45 + "q" + " " * 5}).status_code == 422


@pytest.mark.parametrize(("value", "status"), [(4.0, 200), (4, 200), (4.5, 422), ("4", 422), (True, 422)])
def test_an_integer_is_what_json_schema_calls_one(capped: TestClient, value: object, status: int) -> None:
    # JSON Schema's integer includes 4.0 (schemathesis sends it); strings and booleans stay refused
    response = capped.post("/ask", json={"question": "What is 37 * 12 + 5?", "max_steps": value})
    assert response.status_code == status, response.text


def test_every_operation_documents_the_errors_the_middleware_answers(knowledge_cache: Path, tmp_path: Path) -> None:
    settings = make_settings(
        knowledge_cache,
        store_url=f"sqlite:///{tmp_path / 'runs.db'}",
        api_keys=["k-123456"],
        admin_key="a-123456",
        rate_limit_per_minute=600,
    )
    with running_app(settings, ScriptedLocalModel()) as client:
        spec = client.get("/openapi.json", headers={"Authorization": "Bearer k-123456"}).json()
    for path, operations in spec["paths"].items():
        for method, op in operations.items():
            codes = set(op["responses"])
            assert "400" in codes, (method, path)  # Host header (and a body that is not UTF-8 JSON)
            if path not in ("/healthz", "/readyz"):
                assert "401" in codes, (method, path)
            if path not in ("/healthz", "/readyz", "/metrics"):
                assert "429" in codes, (method, path)
            if method == "post":
                assert {"413", "415"} <= codes, (method, path)
            if method == "post" and path in MODEL_PATHS:
                assert {"408", "503"} <= codes, (method, path)
            for code, response in op["responses"].items():
                if code.startswith(("4", "5")) and not (path == "/readyz" and code == "503"):
                    assert list(response["content"]) == ["application/json"], (method, path, code)


def test_operation_ids_are_unique_and_the_schema_builds_without_warnings(capped: TestClient) -> None:
    # OpenAPI requires unique operationIds; a router included twice made FastAPI warn and reuse one
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        spec = capped.get("/openapi.json").json()
    ids = Counter(op["operationId"] for ops in spec["paths"].values() for op in ops.values() if "operationId" in op)
    assert ids and max(ids.values()) == 1, [i for i, n in ids.items() if n > 1]


def test_no_documented_model_route_404s(capped: TestClient) -> None:
    # /v1/completions was in the model-slot paths and the docs, and answered 404
    paths = capped.get("/openapi.json").json()["paths"]
    for path in MODEL_PATHS:
        assert "post" in paths[path], path
    body = {"prompt": "Question: What is 37 * 12 + 5?\nThought:", "max_tokens": 8}
    response = capped.post("/v1/completions", json=body)
    assert response.status_code == 200 and response.json()["object"] == "text_completion", response.text


def test_an_unserved_method_is_405_with_allow_not_a_csrf_415(client: TestClient) -> None:
    for method, path, allow in (("PUT", "/healthz", "GET"), ("DELETE", "/runs", "GET"), ("PATCH", "/ask", "POST")):
        response = client.request(method, path)  # no JSON content type: the form guard used to say 415
        assert response.status_code == 405, (method, path, response.text)
        assert allow in response.headers["allow"] and response.json()["detail"] == "Method Not Allowed"


def test_admin_routes_need_their_key_before_the_form_guard(knowledge_cache: Path, tmp_path: Path) -> None:
    settings = make_settings(knowledge_cache, store_url=f"sqlite:///{tmp_path / 'runs.db'}", admin_key="a-123456")
    with running_app(settings, ScriptedLocalModel()) as client:
        response = client.post("/admin/adapters/rollback")  # no key, no body, no content type
    assert response.status_code == 401 and "admin key" in response.json()["detail"]


def test_a_body_that_is_not_utf8_is_a_documented_json_400(client: TestClient) -> None:
    response = client.post(
        "/runs/0123/feedback", content=b"\xff\x1b\xfel", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400 and response.json()["detail"] == "There was an error parsing the body"
    documented = client.get("/openapi.json").json()["paths"]["/runs/{run_id}/feedback"]["post"]["responses"]
    assert "not UTF-8 JSON" in documented["400"]["description"]
