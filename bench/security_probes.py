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
def server(repo: Path, model: str, env: dict[str, str], ready_timeout_s: float = 900.0) -> Iterator[str]:
    """The checkout's server on a free port; yields its base URL once /readyz is 200."""
    port = free_port()
    if model == "real":
        command = [sys.executable, "-m", "app.cli", "serve", "--port", str(port)]
    else:  # the soak harness's app; its Settings read the same QREACT_* environment
        cache = Path(env["QREACT_STORE_URL"].removeprefix("sqlite:///")).parent
        command = [sys.executable, "-m", "bench.soak", "_serve", "--port", str(port), "--delay", "0.5"]
        command += ["--cache-dir", str(cache)]
    log = tempfile.NamedTemporaryFile(prefix="qreact-probe-", suffix=".log", delete=False)  # noqa: SIM115
    child = subprocess.Popen(command, cwd=repo, env=os.environ | env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + ready_timeout_s
    try:
        while True:
            try:
                if httpx.get(base + "/readyz", timeout=5).status_code == 200:
                    break
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
    for line in httpx.get(base + "/metrics", timeout=10).text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return float("nan")


# ------------------------------------------------------------------------------------ probes
def open_probes(base: str, body_timeout_s: float, header_timeout_s: float) -> list[Probe]:
    port = int(base.rsplit(":", 1)[1])
    ask = {"question": "What is 37 * 12 + 5?"}
    out: list[Probe] = []

    def admin_without_key() -> tuple[str, bool]:
        r = httpx.get(base + "/admin/adapters")
        return detail(r), r.status_code == 403 and "QREACT_ADMIN_KEY" in r.text

    out.append(
        run(
            Probe("/admin/* answered without any key", "GET /admin/adapters, no key", "403 naming QREACT_ADMIN_KEY"),
            admin_without_key,
        )
    )

    def form_rollback() -> tuple[str, bool]:
        headers = {"Content-Type": "application/x-www-form-urlencoded", "Origin": "http://evil.example"}
        r = httpx.post(base + "/admin/adapters/rollback", content=b"x=1", headers=headers)
        s = httpx.post(base + "/ask", content=b'{"question": "hi"}', headers={"Content-Type": "text/plain"})
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
        r = httpx.get(base + "/readyz", headers={"Host": "rebind.evil.example"})
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
        r = httpx.post(base + "/admin/finetune", json=example)
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
        normal = httpx.post(base + "/ask", json=ask, timeout=300)
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
        health = httpx.get(base + "/healthz", timeout=10).status_code
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
        busy = threading.Thread(target=httpx.post, args=(base + "/ask",), kwargs={"json": ask, "timeout": 300})
        busy.start()
        time.sleep(0.5)
        started = time.monotonic()
        r = httpx.post(base + "/ask", json={"question": ""}, timeout=300)
        waited = time.monotonic() - started
        running = metric(base, "qreact_model_active_runs")
        busy.join()
        return (
            f"{r.status_code} after {waited * 1000:.0f} ms (active runs then: {running:g})",
            r.status_code == 422 and waited < 1.0,
        )

    out.append(
        run(
            Probe(
                "an invalid body waited 25 s behind a running run for its 422",
                "POST /ask {question: ''} while a run holds the slot",
                "422 at once",
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
        normal = httpx.post(base + "/ask", json=ask, timeout=300)
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
        r = httpx.post(base + "/v1/chat/completions", json=body, timeout=300)
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
        spec = httpx.get(base + "/openapi.json").json()
        props = spec["components"]["schemas"]["AskRequest"]["properties"]
        maximum = next(b["maximum"] for b in props["max_steps"]["anyOf"] if b.get("type") == "integer")
        over = httpx.post(base + "/ask", json={"question": "q", "max_steps": maximum + 1}).status_code
        fb = httpx.post(base + "/runs/0/feedback", json={"correct": "yes"}).status_code
        st = httpx.post(
            base + "/v1/chat/completions", json={"messages": [{"role": "user", "content": "x"}], "stream": "yes"}
        ).status_code
        utf = httpx.post(base + "/runs/0/feedback", content=b"\xff\x1b\xfel", headers=JSON)
        big = httpx.post(base + "/ask", content=b'{"question": "' + b"x" * 70_000 + b'"}', headers=JSON)
        comp = httpx.post(
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
    return out


def admin_probes(base: str, key: str, roots: Path, store_url: str) -> list[Probe]:
    auth = {"Authorization": f"Bearer {key}"}
    out: list[Probe] = []

    def activate(**body: str) -> httpx.Response:
        return httpx.post(base + "/admin/adapters/activate", json=body, headers=auth, timeout=300)

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
        before = httpx.get(base + "/readyz").json().get("adapter")
        r = activate(path=str(roots / "layer-replication"))
        after = httpx.get(base + "/readyz").json().get("adapter")
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
        r = httpx.post(base + "/admin/adapters/rollback", headers=auth, timeout=300)
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
        smuggle = httpx.post(
            finetune,
            json={"overrides": {"target_modules": ["--output_dir", "/tmp/x", "--store_url", "sqlite:///x"]}},
            headers=auth,
        )
        config = httpx.post(finetune, json={"config": "/etc/passwd"}, headers=auth)
        files = httpx.post(finetune, json={"train_files": ["/etc/shadow"]}, headers=auth)
        jobs = httpx.get(base + "/admin/jobs", headers=auth).json()
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
        codes = [httpx.get(base + "/runs", headers={"X-Forwarded-For": f"10.0.0.{i}"}).status_code for i in range(30)]
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
        return f"exit {done.returncode}: {done.stderr.strip()[:90]}", done.returncode == 2 and "refusing" in done.stderr

    return run(
        Probe(
            "binding 0.0.0.0 without keys neither refused nor warned",
            "qreact serve --host 0.0.0.0, no QREACT_API_KEYS",
            "refuses to start (exit 2)",
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
                    r = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5)
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repo", type=Path, default=REPO, help="the checkout whose server is probed")
    parser.add_argument("--model", choices=["real", "scripted"], default="real")
    parser.add_argument("--out", type=Path, default=None, help="write the table (markdown) here too")
    args = parser.parse_args(argv)
    repo = args.repo.resolve()
    commit = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    rows: list[Probe] = []
    with tempfile.TemporaryDirectory(prefix="qreact-probes-") as tmp_name:
        tmp = Path(tmp_name)
        rows.append(bind_probe(repo))
        timeouts = {"QREACT_BODY_TIMEOUT_S": "3", "QREACT_HEADER_TIMEOUT_S": "3"}  # the defaults are 10 s
        with server(repo, args.model, {"QREACT_STORE_URL": f"sqlite:///{tmp / 'open' / 'runs.db'}"} | timeouts) as base:
            rows += open_probes(base, 3.0, 3.0)
        roots = tmp / "roots"
        roots.mkdir()
        probe_adapters(repo, roots)
        key = secrets.token_urlsafe(24)
        admin_store = f"sqlite:///{tmp / 'admin' / 'runs.db'}"
        admin_env = {"QREACT_ADMIN_KEY": key, "QREACT_ADAPTER_ROOTS": str(roots), "QREACT_STORE_URL": admin_store,
                     "QREACT_RATE_LIMIT_PER_MINUTE": "20"}  # fmt: skip
        with server(repo, args.model, admin_env) as base:
            rows += admin_probes(base, key, roots, admin_store)
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
