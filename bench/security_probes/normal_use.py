"""Normal use (the README's curl, the console in a browser) and the run budget."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import tempfile
import time
from pathlib import Path

from bench.security_probes.harness import (
    Probe,
    http_post,
    run,
)


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
        long = http_post(base + "/v1/chat/completions", json=body, timeout=300)
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
