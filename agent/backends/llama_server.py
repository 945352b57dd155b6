"""One llama-server child process: the installed engine, how a server is started, checked and stopped.

``LlamaServer`` runs llama.cpp's ``llama-server`` bound to 127.0.0.1 on a free port, with a random API
key passed through the environment (never argv), started from one long-lived spawner thread and
killed with this process (``PR_SET_PDEATHSIG``). ``ServerSpec`` is its command line.
``agent.backends.llamacpp.LlamaCppChatModel`` is the chat model on top.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import ctypes
import json
import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

logger = logging.getLogger(__name__)

SERVER_BINARY = "llama-server"
# n-gram ("prompt lookup") speculative decoding: llama-server drafts the tokens that followed the last
# SPEC_NGRAM_N tokens where they occurred before in the prompt or the text so far, up to SPEC_NGRAM_M,
# and checks the draft in one batch; the greedy text is the same. A ReAct step copies a lot
# ("I now know the final answer\nFinal Answer:", "Action: Search\nAction Input:", observation words).
# 3/4 chosen by replaying llama.cpp's ngram-simple rule on 24 recorded dev-set steps (680 tokens): 470
# sequential passes instead of 680 with 568 drafted tokens; longer drafts (m 8-16) accept few more
# tokens but verify 2-3x as many, and every verified token costs one pass of the 262k-row output layer.
SPEC_NGRAM_N = 3
SPEC_NGRAM_M = 4
CONVERT_LORA_SCRIPT = "convert_lora_to_gguf.py"


class EngineError(RuntimeError):
    """llama-server failed to start or answered a request with an error."""


# --------------------------------------------------------------------------- the installed engine


PROMPT_BATCH_TOKENS = 512  # llama-server --batch-size: the most prompt tokens computed past a cancel


def engine_dir(cache_dir: str | Path) -> Path:
    """Where ``make engine`` installs llama.cpp: ``{cache_dir}/engine/llama.cpp`` (bin/, py/)."""
    return Path(cache_dir).expanduser() / "engine" / "llama.cpp"


def engine_installed(folder: str | Path) -> bool:
    """The engine folder holds an executable llama-server and the LoRA converter."""
    folder = Path(folder)
    server = folder / "bin" / SERVER_BINARY
    return server.is_file() and os.access(server, os.X_OK) and (folder / "py" / CONVERT_LORA_SCRIPT).is_file()


# --------------------------------------------------------------------------- threads


def _autogroup(text: str) -> tuple[str, int]:
    """(group, nice) from /proc/PID/autogroup ("/autogroup-123 nice 19")."""
    group, _, nice = text.split()
    return group, int(nice)


def _competing_jiffies(proc: Path, exclude: tuple[int, ...]) -> dict[int, int]:
    """utime + stime of every process that would compete with a server started now, by pid.

    A process competes unless the scheduler gives it less weight: with autogroups on (each session's
    processes share one group's CPU, whatever their nice), one in another group competes unless that
    group's nice is > 0 (``echo 19 > /proc/PID/autogroup``); one in this process's group, or any with
    autogroups off, unless its own nice is > 0. ``exclude`` (this service, the server being replaced)
    never does."""
    try:
        autogroups = (proc / "sys" / "kernel" / "sched_autogroup_enabled").read_text().strip() == "1"
        own_group = _autogroup((proc / str(os.getpid()) / "autogroup").read_text())[0] if autogroups else ""
    except (OSError, ValueError):
        autogroups, own_group = False, ""
    out = {}
    for entry in proc.iterdir():
        if not entry.name.isdigit() or int(entry.name) in exclude:
            continue
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()  # after "pid (comm)"
            jiffies, nice = int(fields[11]) + int(fields[12]), int(fields[16])  # utime, stime, nice
            if autogroups:
                group, group_nice = _autogroup((entry / "autogroup").read_text())
                if group != own_group:
                    nice = group_nice
            if nice <= 0:
                out[int(entry.name)] = jiffies
    return out


def busy_cores(sample_s: float = 0.5, proc: Path = Path("/proc"), exclude: tuple[int, ...] = ()) -> float:
    """How many cores processes that compete at normal priority (``_competing_jiffies``) kept busy over
    ``sample_s`` seconds: what a llama-server started now would share the CPU with (0.0 where /proc cannot
    be read)."""
    try:
        before, started = _competing_jiffies(proc, exclude), time.monotonic()
        time.sleep(sample_s)
        after, elapsed = _competing_jiffies(proc, exclude), time.monotonic() - started
    except OSError:
        return 0.0
    used = sum(max(jiffies - before.get(pid, 0), 0) for pid, jiffies in after.items())  # new ones: all of theirs
    return used / (os.sysconf("SC_CLK_TCK") * max(elapsed, 1e-3))


def auto_threads(cores: int, busy: float) -> int:
    """llama.cpp's thread count for ``cores`` cores of which ``busy`` are kept busy by others: one thread
    per free core, at least one. llama.cpp's threads meet at a barrier after every operation: a thread
    that waits for a core stalls the others (2 busy loops beside it, P1 /ask median: 2 threads 9.3 s,
    1 thread 4.3 s; idle: 2 threads 1.49 s, 1 thread 2.66 s)."""
    return max(1, min(cores, round(cores - busy)))


# --------------------------------------------------------------------------- one llama-server process


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    # PR_SET_PDEATHSIG: the server gets SIGKILL if this process dies (even by SIGKILL). Not SIGTERM:
    # llama-server takes a first SIGTERM as a graceful shutdown, which was seen to hang for 20+ min
    # mid-generation on a loaded box (its client gone); nobody is left to wait for a graceful end.
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)


# PR_SET_PDEATHSIG fires when the *thread* that forked the child ends, not the process: a server
# started from a loading thread or a request's worker thread (anyio retires idle ones) got SIGTERM
# then. Every server is started from this one thread, which lives as long as the process.
_SPAWNER = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="llama-server-spawner")


def _spawn(argv: list[str], **kwargs: Any) -> subprocess.Popen[bytes]:
    def start() -> subprocess.Popen[bytes]:
        return subprocess.Popen(argv, **kwargs)  # noqa: S603 - a fixed binary and argv, no shell

    return _SPAWNER.submit(start).result()


def _stop_process(process: subprocess.Popen[bytes], timeout_s: float = 5.0) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout_s)


@dataclass(frozen=True)
class ServerSpec:
    """What one server runs: the base GGUF and at most one LoRA GGUF."""

    binary: Path
    model: Path
    lora: Path | None
    threads: int
    ctx_size: int
    log_file: Path
    speculative: bool = False  # n-gram speculative decoding (SPEC_NGRAM_N / _M)

    def argv(self, port: int) -> list[str]:
        args = [
            str(self.binary), "--model", str(self.model), "--host", "127.0.0.1", "--port", str(port),
            "--threads", str(self.threads), "--threads-batch", str(self.threads),
            "--ctx-size", str(self.ctx_size), "--parallel", "1", "--swa-full", "--no-webui",
            "--cache-ram", "0",  # no host-memory copies of old prompts: one slot, one prefix is what ReAct reuses
            "--n-gpu-layers", "0",
            # a prompt is computed in batches of this many tokens and a dropped request is cancelled only
            # between them: 512 (= the default micro-batch, same speed) bounds what runs past a deadline
            # to one batch; with the default 2048 a whole QREACT_MAX_PROMPT_TOKENS prefill did (46 s seen)
            "--batch-size", str(PROMPT_BATCH_TOKENS),
        ]  # fmt: skip
        if self.lora is not None:
            args += ["--lora", str(self.lora)]
        if self.speculative:
            args += ["--spec-type", "ngram-simple", "--spec-ngram-simple-size-n", str(SPEC_NGRAM_N),
                     "--spec-ngram-simple-size-m", str(SPEC_NGRAM_M)]  # fmt: skip
        return args


class LlamaServer:
    """A started llama-server child on 127.0.0.1 (``start`` waits for ``/health``); ``stop`` ends it."""

    def __init__(self, spec: ServerSpec) -> None:
        self.spec = spec
        self.port = 0
        self.api_key = secrets.token_urlsafe(24)
        self.process: subprocess.Popen[bytes] | None = None
        self.client: httpx.Client | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float) -> LlamaServer:
        spec = self.spec
        spec.log_file.parent.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "LLAMA_API_KEY": self.api_key}  # the key never appears in argv (ps)
        started = time.monotonic()
        for attempt in range(3):  # another process may take the free port before the server binds it
            self.port = _free_port()
            with spec.log_file.open("ab") as log:
                self.process = _spawn(  # a fixed binary and argv, no shell
                    spec.argv(self.port), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                    env=env, preexec_fn=_die_with_parent if sys.platform == "linux" else None,
                )  # fmt: skip
            self.client = httpx.Client(
                base_url=self.url, headers={"Authorization": f"Bearer {self.api_key}"}, timeout=30.0
            )
            if self._wait_healthy(started + timeout_s):
                logger.info(
                    "llama-server up on 127.0.0.1:%d (%s%s) in %.1f s",
                    self.port, spec.model.name, f" + {spec.lora.name}" if spec.lora else "",
                    time.monotonic() - started,
                )  # fmt: skip
                return self
            self.stop()
            if time.monotonic() >= started + timeout_s:
                break
            logger.warning("llama-server did not start (attempt %d); see %s", attempt + 1, spec.log_file)
        raise EngineError(f"llama-server did not start within {timeout_s:.0f} s: {self._log_tail()}")

    def _wait_healthy(self, deadline: float) -> bool:
        assert self.process is not None and self.client is not None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            try:
                if self.client.get("/health", timeout=2.0).status_code == 200:
                    return True
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        return False

    def _log_tail(self, lines: int = 6) -> str:
        try:
            text = self.spec.log_file.read_text(errors="replace").strip().splitlines()
        except OSError:
            return "(no log)"
        return " | ".join(line.strip() for line in text[-lines:]) or "(empty log)"

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        if self.client is not None:
            self.client.close()
        if self.process is not None:
            _stop_process(self.process)

    def tokenize(self, text: str, add_special: bool = True) -> list[int]:
        assert self.client is not None
        reply = self.client.post("/tokenize", json={"content": text, "add_special": add_special})
        reply.raise_for_status()
        return [int(t) for t in reply.json()["tokens"]]


def stop_all(servers: list[LlamaServer]) -> None:
    for server in servers:
        server.stop()


def sse_events(lines: Iterator[str]) -> Iterator[dict[str, Any]]:
    """The JSON objects of a server-sent-events stream (``data: {...}`` lines)."""
    for line in lines:
        if line.startswith("error:"):
            yield {"error": line[6:].strip()}
            continue
        if not line.startswith("data:"):
            continue  # blank separators, ": ping" comments
        payload = line[5:].strip()
        if payload and payload != "[DONE]":
            yield json.loads(payload)
