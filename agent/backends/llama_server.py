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

# /proc/stat's cpu line: user nice system idle iowait irq softirq steal (guest time is inside user).
# "nice" is time of processes at a lower priority (nice > 0): they yield to the server and do not count.
_BUSY_FIELDS = (0, 2, 5, 6, 7)  # user, system, irq, softirq, steal


def _cpu_times(stat_file: Path) -> tuple[int, int]:
    """(busy at normal priority, total) jiffies since boot, from /proc/stat's first line."""
    values = [int(v) for v in stat_file.read_text().split("\n", 1)[0].split()[1:9]]
    return sum(values[i] for i in _BUSY_FIELDS), sum(values)


def _process_jiffies(pids: tuple[int, ...], proc: Path) -> int:
    """utime + stime of these processes (0 for one that is gone)."""
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = (proc / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # fields 14 and 15 of proc_pid_stat(5)
    return total


def busy_cores(
    sample_s: float = 0.5,
    stat_file: Path = Path("/proc/stat"),
    exclude: tuple[int, ...] = (),
    proc: Path = Path("/proc"),
) -> float:
    """How many cores the machine kept busy at normal priority (nice <= 0) over ``sample_s`` seconds, not
    counting the processes ``exclude`` (this service and the server it replaces): what a llama-server
    started now would compete with (0.0 where /proc/stat cannot be read)."""
    try:
        busy0, total0 = _cpu_times(stat_file)
        own0 = _process_jiffies(exclude, proc)
        time.sleep(sample_s)
        busy1, total1 = _cpu_times(stat_file)
        own1 = _process_jiffies(exclude, proc)
    except (OSError, ValueError, IndexError):
        return 0.0
    cores = os.cpu_count() or 1
    return cores * max(busy1 - busy0 - (own1 - own0), 0) / max(total1 - total0, 1)


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
