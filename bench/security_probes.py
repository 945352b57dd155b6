"""Issue 14's black-box probes, rerun against a qreact checkout's own server: prints a table.

    .venv/bin/python -m bench.security_probes --repo /tmp/sec-fresh --out bench/results/security_probes.md

Not a test: it starts the checkout's servers on free loopback ports (``python -m app.cli serve``
from ``--repo``, so the checkout's code runs) and asks each probe of the audit again, the way the
audit did (raw sockets, forms, foreign Host headers, hostile paths and overrides, slow and
dropped clients). ``--model real`` (default) serves the embedded default model with the shipped
adapter, as ``make run`` does; ``--model scripted`` the soak harness's scripted model (seconds).
Three servers: ``open`` (the defaults of ``make run``), ``admin`` (an admin key, extra adapter
roots with probe adapters, a rate limit) and throwaway ones for the bind and empty-store cases.
Every key goes through the environment, never argv; run stores are temporary.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
JSON = {"Content-Type": "application/json"}


def _get(url: str, **kwargs: Any) -> httpx.Response:
    """httpx.get with a timeout for a loaded machine (httpx's default is 5 s)."""
    return httpx.get(url, **({"timeout": 60.0} | kwargs))


def _post(url: str, **kwargs: Any) -> httpx.Response:
    return httpx.post(url, **({"timeout": 60.0} | kwargs))


@dataclass
class Probe:
    finding: str  # what the audit saw on the old main
    probe: str  # what is sent now
    expect: str
    observed: str = ""
    ok: bool = False


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def server(
    repo: Path, model: str, env: dict[str, str], ready_timeout_s: float = 900.0, info: dict[str, Any] | None = None
) -> Iterator[str]:
    """The checkout's server on a free port; yields its base URL once /readyz is 200 (``info`` gets
    its ``log`` file and ``pid``)."""
    port = free_port()
    if model == "real":
        command = [sys.executable, "-m", "app.cli", "serve", "--port", str(port)]
    else:  # the soak harness's app; its Settings read the same QREACT_* environment
        cache = Path(env["QREACT_STORE_URL"].removeprefix("sqlite:///")).parent
        command = [sys.executable, "-m", "bench.soak", "_serve", "--port", str(port), "--delay", "0.5"]
        command += ["--cache-dir", str(cache)]
    log = tempfile.NamedTemporaryFile(prefix="qreact-probe-", suffix=".log", delete=False)  # noqa: SIM115
    child = subprocess.Popen(command, cwd=repo, env=os.environ | env, stdout=log, stderr=subprocess.STDOUT)
    if info is not None:
        info.update(log=Path(log.name), pid=child.pid)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + ready_timeout_s
    try:
        while True:
            try:
                ready = _get(base + "/readyz", timeout=5)
                if ready.status_code == 200:
                    break
                if "failed" in ready.text:  # the model did not load (e.g. the engine did not start in time)
                    raise RuntimeError(f"the server failed to load: {ready.json().get('reason', '')[:200]}")
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or child.poll() is not None:
                raise RuntimeError(f"the server did not become ready (log: {log.name})")
            time.sleep(0.5)
        yield base
    finally:
        child.terminate()
        try:
            child.wait(timeout=20)
        except subprocess.TimeoutExpired:
            child.kill()


def detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return f"{response.status_code} (not JSON) {response.text[:60]!r}"
    text = (body.get("message") or body.get("detail") or body.get("reason")) if isinstance(body, dict) else body
    return f"{response.status_code} {str(text)[:110]}"


def run(probe: Probe, check: Callable[[], tuple[str, bool]]) -> Probe:
    try:
        probe.observed, probe.ok = check()
    except Exception as exc:  # a probe that cannot run is a failed probe, with why
        probe.observed, probe.ok = f"probe error: {type(exc).__name__}: {exc}", False
    print(("PASS " if probe.ok else "FAIL ") + probe.finding + " -> " + probe.observed, flush=True)
    return probe


def raw(port: int, data: bytes) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=60)
    sock.sendall(data)
    return sock


def read_all(sock: socket.socket) -> str:
    out = b""
    with contextlib.suppress(OSError):
        while chunk := sock.recv(4096):
            out += chunk
    sock.close()
    return out.decode("latin-1")


def metric(base: str, name: str) -> float:
    for line in _get(base + "/metrics", timeout=10).text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return float("nan")


# ------------------------------------------------------------------------------------ probes
def open_probes(base: str, body_timeout_s: float, header_timeout_s: float) -> list[Probe]:
    port = int(base.rsplit(":", 1)[1])
    ask = {"question": "What is 37 * 12 + 5?"}
    out: list[Probe] = []

    def admin_without_key() -> tuple[str, bool]:
        r = _get(base + "/admin/adapters")
        return detail(r), r.status_code == 403 and "QREACT_ADMIN_KEY" in r.text

    out.append(
        run(
            Probe("/admin/* answered without any key", "GET /admin/adapters, no key", "403 naming QREACT_ADMIN_KEY"),
            admin_without_key,
        )
    )

    def form_rollback() -> tuple[str, bool]:
        headers = {"Content-Type": "application/x-www-form-urlencoded", "Origin": "http://evil.example"}
        r = _post(base + "/admin/adapters/rollback", content=b"x=1", headers=headers)
        s = _post(base + "/ask", content=b'{"question": "hi"}', headers={"Content-Type": "text/plain"})
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
        r = _get(base + "/readyz", headers={"Host": "rebind.evil.example"})
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
        r = _post(base + "/admin/finetune", json=example)
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
        normal = _post(base + "/ask", json=ask, timeout=300)
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
        health = _get(base + "/healthz", timeout=10).status_code
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
            _post(base + "/ask", json=ask, timeout=300)
            finished.append(time.monotonic())

        busy = threading.Thread(target=busy_ask)
        busy.start()
        deadline = time.monotonic() + 60
        while metric(base, "qreact_model_active_runs") < 1 and busy.is_alive() and time.monotonic() < deadline:
            time.sleep(0.05)
        running = metric(base, "qreact_model_active_runs")
        started = time.monotonic()
        r = _post(base + "/ask", json={"question": ""}, timeout=300)
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
        normal = _post(base + "/ask", json=ask, timeout=300)
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
        r = _post(base + "/v1/chat/completions", json=body, timeout=300)
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
        spec = _get(base + "/openapi.json").json()
        props = spec["components"]["schemas"]["AskRequest"]["properties"]
        maximum = next(b["maximum"] for b in props["max_steps"]["anyOf"] if b.get("type") == "integer")
        over = _post(base + "/ask", json={"question": "q", "max_steps": maximum + 1}).status_code
        fb = _post(base + "/runs/0/feedback", json={"correct": "yes"}).status_code
        st = _post(
            base + "/v1/chat/completions", json={"messages": [{"role": "user", "content": "x"}], "stream": "yes"}
        ).status_code
        utf = _post(base + "/runs/0/feedback", content=b"\xff\x1b\xfel", headers=JSON)
        big = _post(base + "/ask", content=b'{"question": "' + b"x" * 70_000 + b'"}', headers=JSON)
        comp = _post(
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
        normal = _post(base + "/v1/completions", json={"prompt": "2 + 2 =", "max_tokens": 2}, timeout=300)
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


def normal_use_probes(base: str, repo: Path) -> list[Probe]:
    """Normal use is unchanged: the README's curl, and the console in a real browser, on loopback."""
    port = int(base.rsplit(":", 1)[1])
    out: list[Probe] = []

    def readme_curl() -> tuple[str, bool]:
        readme = (repo / "README.md").read_text(encoding="utf-8")
        block = readme.split("```bash\ncurl -s localhost:8000/ask", 1)[1].split("```", 1)[0]
        command = ("curl -s localhost:8000/ask" + block).replace("localhost:8000", f"localhost:{port}")
        done = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=600, check=False)
        try:
            answer = json.loads(done.stdout)
        except ValueError:
            return f"not JSON: {done.stdout[:80]!r} {done.stderr[:80]!r}", False
        ok = bool(answer.get("answer")) and answer.get("status") in ("answered", "ungrounded", "not_found")
        return f"status {answer.get('status')!r}, answer {str(answer.get('answer'))[:60]!r}", ok

    out.append(
        run(
            Probe(
                "(normal use) the README's curl",
                "the README's `curl -s localhost:8000/ask ...` block, port replaced",
                "a JSON answer",
            ),
            readme_curl,
        )
    )

    def console() -> tuple[str, bool]:
        chromium = Path(os.environ.get("QREACT_TEST_CHROMIUM", "/usr/bin/chromium"))
        try:
            from playwright import sync_api
        except ImportError:
            return "not run: playwright is not installed", False
        if not chromium.exists():
            return f"not run: no Chromium at {chromium}", False
        args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip
        wait = 600_000  # ms: a whole run on a loaded 2-core CPU
        with tempfile.TemporaryDirectory(prefix="qreact-probe-chromium-") as profile, \
                sync_api.sync_playwright() as playwright:  # fmt: skip
            context = playwright.chromium.launch_persistent_context(
                profile, executable_path=str(chromium), headless=True, args=args
            )
            try:
                page = context.new_page()
                page.set_default_timeout(wait)
                page.goto(f"http://127.0.0.1:{port}/")
                expect = sync_api.expect
                expect(page.locator("#server .dot")).to_have_attribute("data-state", "ready", timeout=wait)
                page.get_by_label("Question").fill("What is 37 * 12 + 5?")
                page.get_by_label("Question").press("Enter")
                expect(page.locator("#answer-card")).to_be_visible(timeout=wait)
                steps = page.locator("#steps li").count()
                answer = page.locator("#answer").inner_text()
            finally:
                context.close()
        return f"{steps} steps streamed, answer {answer.strip()[:40]!r}", steps >= 1 and "449" in answer

    out.append(
        run(
            Probe(
                "(normal use) the console on loopback",
                "headless Chromium opens http://127.0.0.1:PORT/, asks 'What is 37 * 12 + 5?'",
                "steps stream in, then the answer 449",
            ),
            console,
        )
    )
    return out


def _engine_cpu_s(server_pid: int) -> float | None:
    """CPU seconds used so far by the server's llama-server child (None: no such child, e.g. torch)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, ValueError, IndexError):
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if int(stat[1]) == server_pid and "llama-server" in (entry / "cmdline").read_text(errors="replace"):
                return (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")
    return None


def budget_probes(base: str, timeout_s: float, server_pid: int) -> list[Probe]:
    """The run budget bounds a /v1 prompt the token limit lets in, prefill included: the response
    comes at the deadline, and the engine stops computing soon after (not at the end of the prompt)."""
    out: list[Probe] = []

    def within_limit() -> tuple[str, bool]:
        words = " ".join(f"w{i}" for i in range(480))  # ~1,800 tokens: under QREACT_MAX_PROMPT_TOKENS
        body = {"messages": [{"role": "user", "content": words}], "max_tokens": 1024}
        t0 = time.monotonic()
        long = _post(base + "/v1/chat/completions", json=body, timeout=300)
        took = time.monotonic() - t0
        # the engine's CPU time after the cut: it keeps rising while llama-server still computes
        cut, last, busy_until = time.monotonic(), _engine_cpu_s(server_pid), time.monotonic()
        while last is not None and time.monotonic() - busy_until < 2.0 and time.monotonic() - cut < 180:
            time.sleep(0.25)
            now = _engine_cpu_s(server_pid)
            if now is not None and now - last > 0.02:
                busy_until = time.monotonic()
            last = now
        held = busy_until - cut
        finish = long.json()["choices"][0]["finish_reason"] if long.status_code == 200 else None
        usage = long.json().get("usage", {}) if long.status_code == 200 else {}
        observed = (f"{long.status_code} finish {finish!r} in {took:.1f} s ({usage.get('completion_tokens')} tokens); "
                    f"the engine computed {held:.1f} s past the cut")  # fmt: skip
        slack = 5.0  # the response's own work on a loaded machine
        # one prompt batch (512 tokens) after a cut is the most llama-server computes; on a busy 2-core
        # box one batch took ~7 s, the whole prompt ~40 s
        ok = long.status_code == 200 and took < timeout_s + slack and last is not None and held < 15.0
        return observed, ok

    out.append(
        run(
            Probe(
                "prefill ignored the deadline (a long /v1 prompt held the model past its budget)",
                f"~1,800-token /v1 prompt (inside the token limit), max_tokens 1024, QREACT_TIMEOUT_S={timeout_s:g}",
                "answer within the budget + 5 s; llama-server stops computing < 15 s after (one prompt batch)",
            ),
            within_limit,
        )
    )
    return out


def admin_probes(base: str, key: str, roots: Path, store_url: str) -> list[Probe]:
    auth = {"Authorization": f"Bearer {key}"}
    out: list[Probe] = []

    def activate(**body: str) -> httpx.Response:
        return _post(base + "/admin/adapters/activate", json=body, headers=auth, timeout=300)

    def any_folder() -> tuple[str, bool]:
        answers = {p: activate(path=p) for p in ("/etc", "/nonexistent/adapter", "/etc/shadow", "../../../etc")}
        same = len({r.text.split('"request_id"')[0] for r in answers.values()}) == 1
        codes = sorted({r.status_code for r in answers.values()})
        first = detail(next(iter(answers.values())))
        return f"{codes}, one message for all: {same}: {first[:70]}", codes == [422] and same

    out.append(
        run(
            Probe(
                "activate took any folder; errors told whether a path exists",
                "activate /etc, /nonexistent/adapter, /etc/shadow, ../../../etc",
                "422, the same message for each",
            ),
            any_folder,
        )
    )

    def reserved_default() -> tuple[str, bool]:
        r = activate(path=str(roots / "good"), name="default")
        return detail(r), r.status_code == 422 and "reserved" in r.text

    out.append(
        run(
            Probe(
                "another folder registered under the name 'default'",
                "activate a folder in the roots as name 'default'",
                "422 (reserved)",
            ),
            reserved_default,
        )
    )

    def layer_replication() -> tuple[str, bool]:
        before = _get(base + "/readyz").json().get("adapter")
        r = activate(path=str(roots / "layer-replication"))
        after = _get(base + "/readyz").json().get("adapter")
        ok_next = activate(name="default").status_code
        observed = f"{detail(r)[:80]}; /readyz adapter {before!r} -> {after!r}; next activation {ok_next}"
        return observed, r.status_code == 422 and before == after and ok_next == 200

    out.append(
        run(
            Probe(
                "a layer_replication adapter gave a 500 and a lying /readyz",
                "activate an adapter whose config sets layer_replication",
                "422; /readyz unchanged; later activations work",
            ),
            layer_replication,
        )
    )

    def pre_policy_entry() -> tuple[str, bool]:
        from app.store.registry import open_adapter_registry

        registry = open_adapter_registry(store_url)
        assert registry is not None
        outside = Path(tempfile.mkdtemp(prefix="qreact-probe-outside-")) / "old-evil"
        shutil.copytree(roots / "good", outside)
        registry.register("old-evil", outside, source="activated")  # as the pre-policy main wrote it
        registry.store.close()
        r = activate(name="old-evil")
        return detail(r), r.status_code == 422 and "outside the adapter roots" in r.text

    out.append(
        run(
            Probe(
                "an activated folder was copied into the database and re-applied after restarts",
                "activate by name an entry registered from outside the roots (pre-policy)",
                "422, not served",
            ),
            pre_policy_entry,
        )
    )

    def rollback() -> tuple[str, bool]:
        r = _post(base + "/admin/adapters/rollback", headers=auth, timeout=300)
        active = r.json().get("active") if r.status_code == 200 else None
        return f"{r.status_code}, now serving {active!r}", r.status_code == 200

    out.append(
        run(
            Probe("'default' could not be rolled back", "POST /admin/adapters/rollback", "200: a target always exists"),
            rollback,
        )
    )

    def overrides() -> tuple[str, bool]:
        finetune = base + "/admin/finetune"
        smuggle = _post(
            finetune,
            json={"overrides": {"target_modules": ["--output_dir", "/tmp/x", "--store_url", "sqlite:///x"]}},
            headers=auth,
        )
        config = _post(finetune, json={"config": "/etc/passwd"}, headers=auth)
        files = _post(finetune, json={"train_files": ["/etc/shadow"]}, headers=auth)
        jobs = _get(base + "/admin/jobs", headers=auth).json()
        leaked = "root:" in config.text + files.text
        observed = (f"list flags -> {smuggle.status_code}; config /etc/passwd -> {config.status_code}; "
                    f"train_files /etc/shadow -> {files.status_code}; jobs started: {len(jobs)}; "
                    f"file content echoed: {leaked}")  # fmt: skip
        ok = all(r.status_code in (400, 422) for r in (smuggle, config, files)) and not jobs and not leaked
        return observed, ok

    out.append(
        run(
            Probe(
                "list overrides smuggled flags; absolute paths read /etc/shadow and echoed a secret",
                "overrides ['--output_dir', ...]; config /etc/passwd; train_files /etc/shadow",
                "4xx, no job, nothing echoed",
            ),
            overrides,
        )
    )

    def forwarded_for() -> tuple[str, bool]:
        codes = [_get(base + "/runs", headers={"X-Forwarded-For": f"10.0.0.{i}"}).status_code for i in range(30)]
        limited = codes.count(429)
        return f"30 requests with 30 X-Forwarded-For addresses: {limited} x 429", limited >= 5

    out.append(
        run(
            Probe(
                "X-Forwarded-For chose the rate-limit bucket",
                "30 x GET /runs, a new X-Forwarded-For each, limit 20/min",
                "429 once the socket's bucket is empty",
            ),
            forwarded_for,
        )
    )
    return out


def bind_probe(repo: Path) -> Probe:
    def check() -> tuple[str, bool]:
        env = os.environ | {"QREACT_API_KEYS": "", "QREACT_ALLOW_OPEN_ACCESS": "false"}
        command = [sys.executable, "-m", "app.cli", "serve", "--host", "0.0.0.0", "--port", str(free_port())]
        done = subprocess.run(command,
                              cwd=repo, env=env, capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
        refused = done.returncode == 2 and "refusing" in done.stderr
        # the explicit opt-in starts, with a warning at the start
        port = free_port()
        opt_in = env | {"QREACT_ALLOW_OPEN_ACCESS": "true", "QREACT_LOG_JSON": "false"}
        command = [sys.executable, "-m", "app.cli", "serve", "--host", "0.0.0.0", "--port", str(port)]
        with tempfile.TemporaryFile() as log:
            child = subprocess.Popen(command, cwd=repo, env=opt_in, stdout=log, stderr=subprocess.STDOUT)
            try:
                deadline, health = time.monotonic() + 300, 0
                while time.monotonic() < deadline and child.poll() is None and health != 200:
                    with contextlib.suppress(httpx.HTTPError):
                        health = _get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code
                    time.sleep(0.5)
            finally:
                child.terminate()
                child.wait(timeout=30)
            log.seek(0)
            warned = "WITHOUT API keys" in log.read().decode(errors="replace")
        observed = (f"exit {done.returncode}: {done.stderr.strip()[:90]}; with QREACT_ALLOW_OPEN_ACCESS=true: "
                    f"/healthz {health}, warning logged: {warned}")  # fmt: skip
        return observed, refused and health == 200 and warned

    return run(
        Probe(
            "binding 0.0.0.0 without keys neither refused nor warned",
            "qreact serve --host 0.0.0.0, no QREACT_API_KEYS; then with QREACT_ALLOW_OPEN_ACCESS=true",
            "refuses to start (exit 2); the opt-in starts and logs a warning",
        ),
        check,
    )


def empty_store_probe(repo: Path, model: str, tmp: Path) -> Probe:
    def check() -> tuple[str, bool]:
        db = tmp / "empty" / "runs.db"
        db.parent.mkdir(parents=True)
        db.write_bytes(b"")
        port = free_port()
        env = os.environ | {"QREACT_STORE_URL": f"sqlite:///{db}"}
        command = [sys.executable, "-m", "app.cli", "serve", "--port", str(port)]
        child = subprocess.Popen(command, cwd=repo, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline, r = time.monotonic() + 120, None
            while time.monotonic() < deadline:
                with contextlib.suppress(httpx.HTTPError):
                    r = _get(f"http://127.0.0.1:{port}/readyz", timeout=5)
                    if r.status_code == 503 and "empty" in r.text:
                        break
                time.sleep(0.5)
        finally:
            child.terminate()
            child.wait(timeout=20)
        size = db.stat().st_size
        return (
            f"{detail(r) if r is not None else 'no answer'}; file still {size} bytes",
            r is not None and r.status_code == 503 and size == 0,
        )

    return run(
        Probe(
            "a 0-byte runs.db was silently replaced by an empty store",
            "start on a 0-byte runs.db",
            "/readyz 503 naming it; the file untouched",
        ),
        check,
    )


def docker_probe(repo: Path) -> Probe:
    """The Docker files follow the bind rule: compose demands API keys, and the images' entrypoint,
    run with .env.example's values, refuses to serve 0.0.0.0 (no Docker engine needed)."""

    def check() -> tuple[str, bool]:
        import yaml

        docker = repo / "docker"
        example: dict[str, str] = {}
        for line in (docker / ".env.example").read_text(encoding="utf-8").splitlines():
            name, sep, value = line.partition("=")
            if sep and not line.lstrip().startswith("#"):
                example[name.strip()] = value.strip()
        compose = yaml.safe_load((docker / "compose.yaml").read_text(encoding="utf-8"))
        served = {name: svc for name, svc in compose["services"].items()
                  if svc.get("ports") and "qreact" in str(svc.get("image", ""))}  # fmt: skip
        def env_of(svc: dict[str, Any], name: str) -> str:
            return str((svc.get("environment") or {}).get(name, ""))

        demanding = [n for n, svc in served.items() if env_of(svc, "QREACT_API_KEYS").startswith("${QREACT_API_KEYS:?")]
        opened = [n for n, svc in served.items() if env_of(svc, "QREACT_ALLOW_OPEN_ACCESS").lower() == "true"]
        entry = next(
            json.loads(line.split(None, 1)[1])
            for line in (docker / "Dockerfile.cpu").read_text(encoding="utf-8").splitlines()
            if line.startswith("ENTRYPOINT")
        )
        assert entry[:2] == ["qreact", "serve"], entry
        args = [a if a != "8000" else str(free_port()) for a in entry[2:]]
        env = os.environ | {k: v for k, v in example.items() if k.startswith("QREACT_")}
        done = subprocess.run([sys.executable, "-m", "app.cli", "serve", *args], cwd=repo, env=env,
                              capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
        observed = (f"compose: {len(demanding)}/{len(served)} published qreact services demand QREACT_API_KEYS "
                    f"(.env.example: {example.get('QREACT_API_KEYS')!r}), open-access opt-ins: {opened}; "
                    f"image entrypoint {' '.join(entry)} with .env.example: exit {done.returncode}")  # fmt: skip
        ok = (bool(served) and len(demanding) == len(served) and not opened and not example.get("QREACT_API_KEYS")
              and done.returncode == 2 and "refusing" in done.stderr)  # fmt: skip
        return observed, ok

    return run(
        Probe(
            "the Docker images bound 0.0.0.0 with the keys empty in .env.example",
            "docker/compose.yaml + .env.example as shipped; the images' ENTRYPOINT with .env.example's values",
            "compose refuses without QREACT_API_KEYS; the entrypoint exits 2",
        ),
        check,
    )


@contextlib.contextmanager
def temporary_postgres(password: str) -> Iterator[str]:
    """A PostgreSQL server on a free loopback port with a password-protected user; yields its URL.
    (initdb refuses root: as root it runs as nobody, in a folder of its own under /tmp.)"""
    tmp = Path(tempfile.mkdtemp(prefix="qreact-probe-pg-"))
    data, sock = tmp / "pgdata", tmp / "pgsock"
    for folder in (data, sock):
        folder.mkdir(parents=True)
    pwfile = tmp / "pgpass"
    pwfile.write_text(password + "\n", encoding="utf-8")
    prefix: list[str] = []
    if os.geteuid() == 0:
        prefix = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
        for path in (tmp, data, sock, pwfile):
            os.chown(path, 65534, 65534)
    port = free_port()
    quiet = {"capture_output": True, "text": True, "check": True, "timeout": 120}
    subprocess.run([*prefix, "initdb", "-D", str(data), "-U", "qreact", f"--pwfile={pwfile}",
                    "-A", "scram-sha-256"], **quiet)  # type: ignore[call-overload]  # fmt: skip
    pwfile.unlink()
    options = f"-p {port} -k {sock} -c listen_addresses=127.0.0.1"
    subprocess.run([*prefix, "pg_ctl", "-D", str(data), "-o", options, "-l", str(tmp / "pg.log"), "-w", "start"],
                   **quiet)  # type: ignore[call-overload]  # fmt: skip
    try:
        subprocess.run([*prefix, "createdb", "-h", "127.0.0.1", "-p", str(port), "-U", "qreact", "qreact"],
                       env=os.environ | {"PGPASSWORD": password}, **quiet)  # type: ignore[call-overload]  # fmt: skip
        yield f"postgresql+psycopg://qreact:{password}@127.0.0.1:{port}/qreact"
    finally:
        subprocess.run([*prefix, "pg_ctl", "-D", str(data), "-m", "fast", "stop"], capture_output=True, check=False)
        shutil.rmtree(tmp, ignore_errors=True)


def _process_cmdlines() -> dict[int, str]:
    out = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                out[int(entry.name)] = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    return out


def secrets_probes(repo: Path, model: str, tmp: Path) -> list[Probe]:
    """A run store URL with a password, a started training job: the password is in no log line, no
    argv, no train.log, no job.error, no file the job writes (it reaches the trainer only through
    its environment)."""
    out: list[Probe] = []
    if not shutil.which("initdb") or not shutil.which("pg_ctl"):
        probe = Probe("the store URL's password appeared in a log line, the trainer's argv, train.log and "
                      "job.error", "a PostgreSQL run store with a password", "not in any of them")  # fmt: skip
        probe.observed = "not run: no PostgreSQL (initdb, pg_ctl) on PATH"
        out.append(probe)
        return out
    password = "pw-" + secrets.token_hex(8)
    key = secrets.token_urlsafe(24)
    data_root = tmp / "secret-data"
    data_root.mkdir()
    (data_root / "broken.jsonl").write_text("{not json\n", encoding="utf-8")
    (data_root / "job.yaml").write_text(
        f"train_files: [{data_root / 'broken.jsonl'}]\nmax_steps: 1\nmax_length: 256\ndevice: cpu\n"
        "precision: fp32\ngradient_checkpointing: false\n", encoding="utf-8"
    )  # fmt: skip
    with contextlib.ExitStack() as stack:
        url = stack.enter_context(temporary_postgres(password))
        info: dict[str, Any] = {}
        env = {"QREACT_STORE_URL": url, "QREACT_ADMIN_KEY": key, "QREACT_DATA_ROOTS": str(data_root),
               "QREACT_LOG_LEVEL": "DEBUG"}  # fmt: skip
        base = stack.enter_context(server(repo, model, env, info=info))
        auth = {"Authorization": f"Bearer {key}"}

        def job() -> tuple[str, bool]:
            asked = _post(base + "/admin/finetune", headers=auth, timeout=60,
                               json={"config": str(data_root / "job.yaml"), "promote": False})  # fmt: skip
            if asked.status_code != 202 and asked.status_code != 200:
                return f"the job did not start: {detail(asked)}", False
            job_id = asked.json()["id"]
            seen_argv: list[str] = []
            deadline, state = time.monotonic() + 600, {}
            while time.monotonic() < deadline:
                seen_argv += [c for c in _process_cmdlines().values() if job_id in c]  # its config path
                state = _get(base + f"/admin/jobs/{job_id}", headers=auth, timeout=30).json()
                if state.get("state") in ("failed", "trained", "cancelled", "promoted", "rejected"):
                    break
                time.sleep(0.2)
            job_dir = Path(state.get("adapter_dir", "")).parents[1] / "jobs" / job_id
            files = {p.name: p.read_text(encoding="utf-8", errors="replace") for p in job_dir.glob("*") if p.is_file()}
            server_log = info["log"].read_text(encoding="utf-8", errors="replace")
            places = {"server log": server_log, "trainer argv": "\n".join(seen_argv)}
            places["job.error"] = str(state.get("error"))
            places |= {f"jobs/<id>/{n}": t for n, t in files.items()}
            leaked = [where for where, text in places.items() if password in text or key in text]
            observed = (f"job {state.get('state')}, trainer argv seen {len(set(seen_argv))}x, "
                        f"checked {', '.join(places)}: password or key in {leaked or 'none'}; "
                        f"job.error: {str(state.get('error'))[:80]!r}")  # fmt: skip
            ok = bool(seen_argv) and state.get("state") == "failed" and "train.log" in files and not leaked
            return observed, ok

        out.append(
            run(
                Probe(
                    "the store URL's password appeared in a log line, the trainer's argv, train.log and job.error",
                    "PostgreSQL run store with a password; a training job (DEBUG logs) that fails on bad data",
                    "the password (and the admin key) in none of them",
                ),
                job,
            )
        )
    return out


def probe_adapters(repo: Path, roots: Path) -> None:
    """In the admin server's extra root: a copy of the shipped adapter, and one with layer_replication."""
    shutil.copytree(repo / "adapters" / "default", roots / "good")
    shutil.copytree(repo / "adapters" / "default", roots / "layer-replication")
    config = roots / "layer-replication" / "adapter_config.json"
    data = json.loads(config.read_text(encoding="utf-8"))
    data["layer_replication"] = [[0, 9], [4, 18]]
    config.write_text(json.dumps(data), encoding="utf-8")


def table(rows: list[Probe], header: dict[str, Any]) -> str:
    lines = [f"# Security probes (issue 14) — {header['when']}", ""]
    lines += [f"- {k}: {v}" for k, v in header.items() if k != "when"]
    lines += ["", "| # | Finding on the old main | Probe now | Expected | Observed | |", "|---|---|---|---|---|---|"]
    for i, p in enumerate(rows, 1):
        cells = [str(i), p.finding, p.probe, p.expect, p.observed.replace("|", "/"), "PASS" if p.ok else "**FAIL**"]
        lines.append("| " + " | ".join(cells) + " |")
    passed = sum(p.ok for p in rows)
    lines += ["", f"{passed}/{len(rows)} probes refused as expected."]
    return "\n".join(lines) + "\n"


GROUPS = ("bind", "docker", "open", "normal", "budget", "admin", "secrets", "store")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repo", type=Path, default=REPO, help="the checkout whose server is probed")
    parser.add_argument("--model", choices=["real", "scripted"], default="real")
    parser.add_argument("--out", type=Path, default=None, help="write the table (markdown) here too")
    parser.add_argument("--only", nargs="+", choices=GROUPS, default=None, help="run only these groups of probes")
    args = parser.parse_args(argv)
    repo = args.repo.resolve()
    commit = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    rows: list[Probe] = []
    with tempfile.TemporaryDirectory(prefix="qreact-probes-") as tmp_name:
        tmp = Path(tmp_name)
        groups = set(args.only or GROUPS)
        if "bind" in groups:
            rows.append(bind_probe(repo))
        if "docker" in groups:
            rows.append(docker_probe(repo))
        timeouts = {"QREACT_BODY_TIMEOUT_S": "3", "QREACT_HEADER_TIMEOUT_S": "3"}  # the defaults are 10 s
        if groups & {"open", "normal"}:
            try:
                open_env = {"QREACT_STORE_URL": f"sqlite:///{tmp / 'open' / 'runs.db'}"} | timeouts
                with server(repo, args.model, open_env) as base:
                    rows += open_probes(base, 3.0, 3.0) if "open" in groups else []
                    rows += normal_use_probes(base, repo) if "normal" in groups else []
            except RuntimeError as exc:  # a server that did not start: its probes fail, the rest run
                rows.append(Probe("(server did not start)", "the server for these probes", "ready", str(exc)))
        if "budget" in groups:
            try:
                budget = {"QREACT_STORE_URL": f"sqlite:///{tmp / 'budget' / 'runs.db'}", "QREACT_TIMEOUT_S": "8"}
                info: dict[str, Any] = {}
                with server(repo, args.model, budget, info=info) as base:
                    rows += budget_probes(base, 8.0, info["pid"])
            except RuntimeError as exc:  # a server that did not start: its probes fail, the rest run
                rows.append(Probe("(server did not start)", "the server for these probes", "ready", str(exc)))
        if "admin" in groups:
            try:
                roots = tmp / "roots"
                roots.mkdir()
                probe_adapters(repo, roots)
                key = secrets.token_urlsafe(24)
                admin_store = f"sqlite:///{tmp / 'admin' / 'runs.db'}"
                admin_env = {"QREACT_ADMIN_KEY": key, "QREACT_ADAPTER_ROOTS": str(roots),
                             "QREACT_STORE_URL": admin_store, "QREACT_RATE_LIMIT_PER_MINUTE": "20"}  # fmt: skip
                with server(repo, args.model, admin_env) as base:
                    rows += admin_probes(base, key, roots, admin_store)
            except RuntimeError as exc:  # a server that did not start: its probes fail, the rest run
                rows.append(Probe("(server did not start)", "the server for these probes", "ready", str(exc)))
        if "secrets" in groups:
            try:
                rows += secrets_probes(repo, args.model, tmp)
            except RuntimeError as exc:  # a server that did not start: its probes fail, the rest run
                rows.append(Probe("(server did not start)", "the server for these probes", "ready", str(exc)))
        if "store" in groups:
            rows.append(empty_store_probe(repo, args.model, tmp))
    header = {
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "checkout": f"{repo} at {commit}",
        "servers": "`python -m app.cli serve` from the checkout (as `make run`), "
        + (
            "the embedded default model + shipped adapter"
            if args.model == "real"
            else "the scripted model (bench.soak)"
        ),
        "command": "`.venv/bin/python -m bench.security_probes "
        + " ".join(argv if argv is not None else sys.argv[1:])
        + "`",
    }
    text = table(rows, header)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text, encoding="utf-8")
    return 0 if all(p.ok for p in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
