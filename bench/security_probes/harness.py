"""What every probe group uses: the probe row, HTTP and raw-socket helpers, the checkout's server
and the markdown table."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench.common import stop_process

REPO = Path(__file__).resolve().parents[2]
JSON = {"Content-Type": "application/json"}


def http_get(url: str, **kwargs: Any) -> httpx.Response:
    """httpx.get with a timeout for a loaded machine (httpx's default is 5 s)."""
    return httpx.get(url, **({"timeout": 60.0} | kwargs))


def http_post(url: str, **kwargs: Any) -> httpx.Response:
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
                ready = http_get(base + "/readyz", timeout=5)
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
        stop_process(child, 20)


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
    for line in http_get(base + "/metrics", timeout=10).text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return float("nan")


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
