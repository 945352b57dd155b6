"""Probes of the ``open`` server (the defaults of ``make run``): keys, hostile requests, slow and dropped
clients."""

from __future__ import annotations

import threading
import time

import httpx

from bench.security_probes.harness import (
    JSON,
    Probe,
    detail,
    http_get,
    http_post,
    metric,
    raw,
    read_all,
    run,
)


def open_probes(base: str, body_timeout_s: float, header_timeout_s: float) -> list[Probe]:
    port = int(base.rsplit(":", 1)[1])
    ask = {"question": "What is 37 * 12 + 5?"}
    out: list[Probe] = []

    def admin_without_key() -> tuple[str, bool]:
        r = http_get(base + "/admin/adapters")
        return detail(r), r.status_code == 403 and "QREACT_ADMIN_KEY" in r.text

    out.append(
        run(
            Probe("/admin/* answered without any key", "GET /admin/adapters, no key", "403 naming QREACT_ADMIN_KEY"),
            admin_without_key,
        )
    )

    def form_rollback() -> tuple[str, bool]:
        headers = {"Content-Type": "application/x-www-form-urlencoded", "Origin": "http://evil.example"}
        r = http_post(base + "/admin/adapters/rollback", content=b"x=1", headers=headers)
        s = http_post(base + "/ask", content=b'{"question": "hi"}', headers={"Content-Type": "text/plain"})
        return (
            f"rollback {detail(r)[:40]}; /ask text/plain {s.status_code}",
            r.status_code == 403 and s.status_code == 415,
        )

    out.append(
        run(
            Probe(
                "a cross-site form POST moved the adapter (rollback)",
                "form POST /admin/adapters/rollback; text/plain POST /ask",
                "403; 415",
            ),
            form_rollback,
        )
    )

    def foreign_host() -> tuple[str, bool]:
        r = http_get(base + "/readyz", headers={"Host": "rebind.evil.example"})
        return detail(r), r.status_code == 400 and "QREACT_ALLOWED_HOSTS" in r.text

    out.append(
        run(
            Probe(
                "a foreign Host header was served (DNS rebinding)",
                "GET /readyz, Host: rebind.evil.example",
                "400 naming QREACT_ALLOWED_HOSTS",
            ),
            foreign_host,
        )
    )

    def finetune_without_key() -> tuple[str, bool]:
        example = {"config": "finetune/configs/tiny-test.yaml", "promote": False}  # a schema example
        r = http_post(base + "/admin/finetune", json=example)
        return detail(r), r.status_code == 403

    out.append(
        run(
            Probe(
                "an unauthenticated request started a training job",
                "POST /admin/finetune (schema example), no key",
                "403, no job",
            ),
            finetune_without_key,
        )
    )

    def slow_bodies() -> tuple[str, bool]:
        head = "POST /ask HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n"
        socks = [raw(port, head.encode() + b'{"question": "') for _ in range(5)]
        time.sleep(0.3)
        started = time.monotonic()
        normal = http_post(base + "/ask", json=ask, timeout=300)
        asked_s = time.monotonic() - started
        answers = [read_all(s) for s in socks]
        cut = sum(a.startswith("HTTP/1.1 408") for a in answers)
        observed = f"/ask {normal.status_code} in {asked_s:.1f} s while 5 bodies trickled; {cut}/5 got 408"
        return observed, normal.status_code == 200 and cut == 5

    out.append(
        run(
            Probe(
                "5 trickled bodies made every /ask 503 for 90 s",
                f"5 sockets send half a body; one normal /ask (QREACT_BODY_TIMEOUT_S={body_timeout_s:g})",
                "/ask 200; 5 x 408",
            ),
            slow_bodies,
        )
    )

    def slow_headers() -> tuple[str, bool]:
        socks = [raw(port, b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n") for _ in range(5)]
        started = time.monotonic()
        health = http_get(base + "/healthz", timeout=10).status_code
        answers = [read_all(s) for s in socks]
        waited = time.monotonic() - started
        cut = sum(a.startswith("HTTP/1.1 408") for a in answers)
        return f"/healthz {health}; {cut}/5 cut with 408 after {waited:.1f} s", health == 200 and cut == 5

    out.append(
        run(
            Probe(
                "headers were read with no timeout (slowloris)",
                f"5 sockets never finish their headers (QREACT_HEADER_TIMEOUT_S={header_timeout_s:g})",
                "408 + close at the timeout",
            ),
            slow_headers,
        )
    )

    def invalid_behind_run() -> tuple[str, bool]:
        finished: list[float] = []

        def busy_ask() -> None:
            http_post(base + "/ask", json=ask, timeout=300)
            finished.append(time.monotonic())

        busy = threading.Thread(target=busy_ask)
        busy.start()
        deadline = time.monotonic() + 60
        while metric(base, "qreact_model_active_runs") < 1 and busy.is_alive() and time.monotonic() < deadline:
            time.sleep(0.05)
        running = metric(base, "qreact_model_active_runs")
        started = time.monotonic()
        r = http_post(base + "/ask", json={"question": ""}, timeout=300)
        answered = time.monotonic()
        busy.join()
        before_run_end = bool(finished) and answered < finished[0]
        later = (finished[0] - answered) if finished else float("nan")
        return (
            f"{r.status_code} after {(answered - started) * 1000:.0f} ms while a run held the slot "
            f"(active runs: {running:g}); the run ended {later:.1f} s later",
            r.status_code == 422 and running >= 1 and before_run_end,
        )

    out.append(
        run(
            Probe(
                "an invalid body waited 25 s behind a running run for its 422",
                "POST /ask {question: ''} while a run holds the slot",
                "422 before that run ends",
            ),
            invalid_behind_run,
        )
    )

    def dropped_streams() -> tuple[str, bool]:
        drops = 5
        for _ in range(drops):
            with httpx.stream("POST", base + "/ask/stream", json=ask, timeout=300) as r:
                for line in r.iter_lines():
                    if line.startswith("event: step") or line.startswith("event: error"):
                        break  # leave mid-run
        started, active = time.monotonic(), metric(base, "qreact_model_active_runs")
        while active > 0 and time.monotonic() - started < 240:
            time.sleep(0.5)
            active = metric(base, "qreact_model_active_runs")
        settled = time.monotonic() - started
        time.sleep(1.0)
        after = metric(base, "qreact_model_active_runs")
        t0 = time.monotonic()
        normal = http_post(base + "/ask", json=ask, timeout=300)
        observed = (f"{drops} drops: active runs 0 after {settled:.1f} s, still {after:g} 1 s later; "
                    f"next /ask {normal.status_code} in {time.monotonic() - t0:.1f} s")  # fmt: skip
        return observed, active == 0 and after == 0 and normal.status_code == 200

    out.append(
        run(
            Probe(
                "dropped /ask/stream clients left orphan runs invisible to /metrics",
                "5 clients leave /ask/stream after the first step",
                "slots held until each run stops, then 0; /ask served",
            ),
            dropped_streams,
        )
    )

    def long_prompt() -> tuple[str, bool]:
        body = {"messages": [{"role": "user", "content": "word " * 12_000}], "max_tokens": 8}
        started = time.monotonic()
        r = http_post(base + "/v1/chat/completions", json=body, timeout=300)
        return f"{detail(r)[:70]} in {time.monotonic() - started:.1f} s", r.status_code == 400

    out.append(
        run(
            Probe(
                "a 60,000-character /v1 prompt held the model 88 s past its budget",
                "POST /v1/chat/completions, 60,000 characters",
                "400 (QREACT_MAX_PROMPT_TOKENS) before the model runs",
            ),
            long_prompt,
        )
    )

    def contract() -> tuple[str, bool]:
        spec = http_get(base + "/openapi.json").json()
        props = spec["components"]["schemas"]["AskRequest"]["properties"]
        maximum = next(b["maximum"] for b in props["max_steps"]["anyOf"] if b.get("type") == "integer")
        over = http_post(base + "/ask", json={"question": "q", "max_steps": maximum + 1}).status_code
        fb = http_post(base + "/runs/0/feedback", json={"correct": "yes"}).status_code
        st = http_post(
            base + "/v1/chat/completions", json={"messages": [{"role": "user", "content": "x"}], "stream": "yes"}
        ).status_code
        utf = http_post(base + "/runs/0/feedback", content=b"\xff\x1b\xfel", headers=JSON)
        big = http_post(base + "/ask", content=b'{"question": "' + b"x" * 70_000 + b'"}', headers=JSON)
        comp = http_post(
            base + "/v1/completions",
            json={"prompt": "Question: What is 2 + 2?\nThought:", "max_tokens": 4},
            timeout=300,
        )
        documented = "400" in spec["paths"]["/runs/{run_id}/feedback"]["post"]["responses"]
        observed = (f"schema max_steps<={maximum}, {maximum + 1} -> {over}; correct 'yes' -> {fb}; "
                    f"stream 'yes' -> {st}; "
                    f"bad UTF-8 -> {utf.status_code} JSON, documented={documented}; 70 kB -> {big.status_code} "
                    f"{big.headers.get('content-type')}; /v1/completions -> {comp.status_code}")  # fmt: skip
        ok = (over == 422 and fb == 422 and st == 422 and utf.status_code == 400 and documented
              and utf.headers["content-type"] == "application/json" and big.status_code == 413
              and big.headers["content-type"] == "application/json" and comp.status_code == 200)  # fmt: skip
        return observed, ok

    out.append(
        run(
            Probe(
                "schema and behaviour disagreed (max_steps 100 vs 12, lax booleans, 400, plain 413, "
                "/v1/completions 404)",
                "the schema's limits, non-boolean flags, bad UTF-8, 70 kB body, /v1/completions",
                "422, 422, 422, documented JSON 400, JSON 413, 200",
            ),
            contract,
        )
    )

    def dropped_v1_streams() -> tuple[str, bool]:
        drops = 3
        body = {"messages": [{"role": "user", "content": "Write a long story about a lighthouse."}],
                "max_tokens": 400, "stream": True}  # fmt: skip
        for _ in range(drops):
            with httpx.stream("POST", base + "/v1/chat/completions", json=body, timeout=300) as r:
                for line in r.iter_lines():
                    if line.startswith("data: ") and '"content"' in line:
                        break  # leave after the first token
        started, active = time.monotonic(), metric(base, "qreact_model_active_runs")
        while active > 0 and time.monotonic() - started < 240:
            time.sleep(0.25)
            active = metric(base, "qreact_model_active_runs")
        settled = time.monotonic() - started
        t0 = time.monotonic()
        normal = http_post(base + "/v1/completions", json={"prompt": "2 + 2 =", "max_tokens": 2}, timeout=300)
        observed = (f"{drops} drops: active runs 0 after {settled:.1f} s; "
                    f"next /v1/completions {normal.status_code} in {time.monotonic() - t0:.1f} s")  # fmt: skip
        return observed, active == 0 and normal.status_code == 200

    out.append(
        run(
            Probe(
                "dropped /v1 streams: the model went on for clients that had left",
                "3 clients leave a /v1/chat/completions stream (400 tokens asked) after its first token",
                "slot held until generation stops, then 0; next request served",
            ),
            dropped_v1_streams,
        )
    )
    return out
