"""Prometheus /metrics (app/metrics.py): scrape, ask, scrape again, the documented series moved."""

from __future__ import annotations

import time
from pathlib import Path

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from agent.trace import RunResult, Step
from app import metrics
from tests.app.conftest import scripted_app as make_app
from tests.model import ScriptedLocalModel

# Every series docs/metrics.md lists (histograms by their base name).
DOCUMENTED = {
    "qreact_http_requests",
    "qreact_http_request_duration_seconds",
    "qreact_ask_duration_seconds",
    "qreact_runs",
    "qreact_run_steps",
    "qreact_tool_calls",
    "qreact_tool_errors",
    "qreact_format_errors",
    "qreact_tokens",
    "qreact_model_queue_depth",
    "qreact_model_active_runs",
    "qreact_model_rejected",
    "qreact_rate_limited",
    "qreact_active_adapter",
    "qreact_ready",
    "qreact_training_job_state",
}


def scrape(client: TestClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    values = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            values[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return values


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def wait_ready(client: TestClient) -> None:
    deadline = time.monotonic() + 30
    while client.get("/readyz").status_code != 200:
        assert time.monotonic() < deadline, "the app did not become ready"
        time.sleep(0.05)


def test_series_are_present_and_move_when_ask_is_called(tmp_path: Path) -> None:
    with TestClient(make_app(tmp_path)) as client:
        wait_ready(client)
        before = scrape(client)
        names = {name for name, _ in before}
        missing = {n for n in DOCUMENTED if not any(x == n or x.startswith(n + "_") for x in names)}
        assert not missing, missing
        for _ in range(2):
            assert client.post("/ask", json={"question": "What is 37 * 12 + 5?"}).json()["answer"] == "449"
        after = scrape(client)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("qreact_http_requests_total", method="POST", route="/ask", status="200") == 2
    assert delta("qreact_http_request_duration_seconds_count", method="POST", route="/ask") == 2
    assert delta("qreact_ask_duration_seconds_count", status="answered") == 2
    assert delta("qreact_runs_total", status="answered") == 2
    assert delta("qreact_run_steps_count") == 2 and delta("qreact_run_steps_sum") == 4  # 2 steps per run
    assert delta("qreact_tool_calls_total", tool="Calculator") == 2
    assert delta("qreact_tokens_total", kind="completion") > 0
    assert delta("qreact_tokens_total", kind="prompt") > 0
    assert value(after, "qreact_ready") == 1
    assert value(after, "qreact_active_adapter", adapter="none") == 1
    assert value(after, "qreact_model_queue_depth") == 0
    assert value(after, "qreact_training_job_state", state="none") == 1


def test_tool_errors_format_errors_and_stream_runs_are_counted(tmp_path: Path) -> None:
    script = (
        " I need to divide.\nAction: Calculator\nAction Input: 1 / 0",
        "I will guess.\nAction: Oracle\nAction Input: anything",  # not a tool: a format error
        "I now know the final answer\nFinal Answer: undefined",
    )
    with TestClient(make_app(tmp_path, ScriptedLocalModel(script=script), ungrounded="keep")) as client:
        wait_ready(client)
        before = scrape(client)
        response = client.post("/ask/stream", json={"question": "What is 1 / 0?"})
        assert response.status_code == 200 and "event: final" in response.text
        after = scrape(client)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("qreact_tool_calls_total", tool="Calculator") == 1
    assert delta("qreact_tool_errors_total", tool="Calculator") == 1
    assert delta("qreact_format_errors_total") == 1
    # "undefined" rests on nothing (the only observation is an error): an ungrounded answer
    assert delta("qreact_runs_total", status="ungrounded") == 1
    assert delta("qreact_ungrounded_answers_total") == 1
    assert delta("qreact_http_requests_total", method="POST", route="/ask/stream", status="200") == 1
    assert not any(labels and ("tool", "Oracle") in labels for _, labels in after)


def test_random_paths_do_not_create_series(tmp_path: Path) -> None:
    with TestClient(make_app(tmp_path)) as client:
        for i in range(5):
            assert client.get(f"/no/such/path/{i}").status_code == 404
        samples = scrape(client)
    routes = {dict(labels).get("route") for name, labels in samples if name == "qreact_http_requests_total"}
    assert "unmatched" in routes
    assert not any(r and r.startswith("/no/such") for r in routes)


def test_record_run_is_idempotent_and_caps_tool_labels() -> None:
    run = RunResult(
        run_id="metrics-test-run",
        question="q",
        status="answered",
        backend="x",
        model="y",
        steps=[Step(index=0, kind="tool", tool="Calculator", observation="4")],
    )
    before = metrics.RUNS.labels("answered")._value.get()
    metrics.record_run(run, known_tools={"Calculator"})
    metrics.record_run(run, known_tools={"Calculator"})
    assert metrics.RUNS.labels("answered")._value.get() == before + 1
    odd = run.model_copy(update={"run_id": "metrics-test-run-2"})
    odd.steps = [Step(index=0, kind="tool", tool="rm -rf /", observation="Error: nope")]
    metrics.record_run(odd, known_tools={"Calculator", "Search"})
    assert metrics.TOOL_ERRORS.labels("other")._value.get() >= 1


def test_second_looks_are_counted_kept_or_refused() -> None:
    def run(run_id: str, status: str, second_look: str | None) -> RunResult:
        final = Step(index=1, kind="final", final_answer="a", second_look=second_look)
        search = Step(index=0, kind="tool", tool="Search", observation="text")
        return RunResult(run_id=run_id, question="q", status=status, backend="x", model="y", steps=[search, final])

    kept, refused = (metrics.SECOND_LOOKS.labels(o)._value.get() for o in ("kept", "refused"))
    metrics.record_run(run("second-look-kept", "answered", "The search results do not contain the answer"))
    metrics.record_run(run("second-look-refused", "not_found", "184 trains a day."))
    metrics.record_run(run("no-second-look", "not_found", None))
    assert metrics.SECOND_LOOKS.labels("kept")._value.get() == kept + 1
    assert metrics.SECOND_LOOKS.labels("refused")._value.get() == refused + 1
