"""Structured JSON logs with a request id on every line and in X-Request-ID (app/logging.py)."""

from __future__ import annotations

import io
import json
import logging
import time
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.concurrency import run_in_threadpool

from app.logging import (
    REQUEST_ID,
    JsonFormatter,
    RequestIdMiddleware,
    configure_logging,
    redact,
    register_secrets,
)
from tests.app.conftest import scripted_app

log = logging.getLogger("tests.handler")


def lines(stream: io.StringIO) -> list[dict]:
    """Server-side records (the test client's own httpx lines are outside any request)."""
    records = [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]
    return [r for r in records if not r["logger"].startswith("httpx")]


@pytest.fixture
def captured() -> io.StringIO:
    out = io.StringIO()
    handler = configure_logging("INFO", json_logs=True, stream=out)
    yield out
    logging.getLogger().removeHandler(handler)


def small_app() -> FastAPI:
    app = FastAPI()

    def in_thread() -> None:
        log.info("inside a worker thread")

    @app.get("/work")
    async def work() -> dict:
        log.info("inside the handler", extra={"answer": 42})
        await run_in_threadpool(in_thread)
        return {"ok": True}

    @app.get("/healthz")
    async def healthz() -> dict:
        return {"status": "ok"}

    @app.get("/fail")
    async def fail() -> dict:
        raise ValueError("something broke")

    app.add_middleware(RequestIdMiddleware)
    return app


def test_every_line_of_a_request_carries_its_id(captured: io.StringIO) -> None:
    response = TestClient(small_app()).get("/work")
    request_id = response.headers["x-request-id"]
    assert len(request_id) == 32
    records = lines(captured)
    messages = {r["msg"]: r for r in records}
    assert {"inside the handler", "inside a worker thread", "request"} <= set(messages)
    assert all(r["request_id"] == request_id for r in records)
    assert messages["inside the handler"]["answer"] == 42  # extra= fields become JSON fields
    access = messages["request"]
    assert access["status"] == 200 and access["path"] == "/work" and access["route"] == "/work"
    assert access["method"] == "GET" and access["ms"] >= 0
    assert {"ts", "level", "logger"} <= set(access)


def test_a_safe_client_id_is_kept_and_an_unsafe_one_replaced(captured: io.StringIO) -> None:
    client = TestClient(small_app())
    assert (
        client.get("/work", headers={"X-Request-ID": "trace-42.a:b"}).headers["x-request-id"]
        == "trace-42.a:b"
    )
    for bad in ("has spaces", "x" * 65, '"}{"level": "forged'):
        got = client.get("/work", headers={"X-Request-ID": bad}).headers["x-request-id"]
        assert got != bad and len(got) == 32
    assert all('"forged' not in line for line in captured.getvalue().splitlines())


def test_unhandled_errors_answer_500_with_the_id_and_log_the_traceback(captured: io.StringIO) -> None:
    response = TestClient(small_app(), raise_server_exceptions=False).get("/fail")
    assert response.status_code == 500
    body = response.json()
    assert body["request_id"] == response.headers["x-request-id"]
    assert "something broke" not in response.text and "Traceback" not in response.text
    error = next(r for r in lines(captured) if r["level"] == "ERROR")
    assert error["request_id"] == body["request_id"]
    assert "ValueError: something broke" in error["exc"]
    access = next(r for r in lines(captured) if r["msg"] == "request")
    assert access["status"] == 500


def test_no_request_id_outside_a_request_and_text_format() -> None:
    assert REQUEST_ID.get() is None
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "hello %s", ("world",), None)
    assert json.loads(JsonFormatter().format(record))["msg"] == "hello world"
    out = io.StringIO()
    handler = configure_logging("INFO", json_logs=False, stream=out)
    try:
        token = REQUEST_ID.set("abc123")
        logging.getLogger("tests.text").info("plain line")
        REQUEST_ID.reset(token)
    finally:
        logging.getLogger().removeHandler(handler)
    assert "[abc123] plain line" in out.getvalue()


def test_redaction_of_registered_secrets_and_bearer_tokens() -> None:
    register_secrets(["sk-live-secret-value", None, "ab"])
    text = redact('calling with sk-live-secret-value and "Authorization: Bearer eyJ.abc-DEF_123" ab')
    assert "sk-live-secret-value" not in text and "eyJ.abc-DEF_123" not in text
    assert text.endswith(" ab")  # values shorter than 4 characters are not scrubbed (too common)


def test_the_real_app_logs_an_ask_under_one_request_id(tmp_path: Path) -> None:
    app = scripted_app(tmp_path, log_level="INFO")
    out = io.StringIO()
    with TestClient(app) as client:
        deadline = time.monotonic() + 30
        while client.get("/readyz").status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.05)
        handler = configure_logging("INFO", json_logs=True, stream=out)
        try:
            response = client.post("/ask", json={"question": "What is 37 * 12 + 5?"})
        finally:
            logging.getLogger().removeHandler(handler)
    assert response.status_code == 200
    request_id = response.headers["x-request-id"]
    records = lines(out)
    access = [r for r in records if r["msg"] == "request"]
    assert access and access[-1]["route"] == "/ask" and access[-1]["status"] == 200
    assert all(r["request_id"] == request_id for r in records)


def test_probe_access_lines_are_debug_so_they_do_not_drown_the_log(captured: io.StringIO) -> None:
    client = TestClient(small_app())
    for _ in range(3):
        client.get("/healthz")
    client.get("/work")
    paths = [r.get("path") for r in lines(captured) if r["msg"] == "request"]
    assert paths == ["/work"]  # at INFO; the probes were logged at DEBUG
