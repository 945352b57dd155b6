"""The real app on loopback for the benchmarks and their tests: a scripted chat model, the app on it
with the real tools and run store, and uvicorn in a thread (``serve``) or a child process
(``serve_process``, so a load generator does not share the server's GIL).

    .venv/bin/python -m bench.harness --port 8123 --delay 0.5     # what serve_process starts

``bench/soak.py`` (load, overload, schema) and ``bench/p4_overhead.py`` measure through it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
from langchain_core.language_models import BaseChatModel

from bench.common import stop_process
from tests.model import ScriptedLocalModel

# The default script: one Calculator call, then the answer (what a tuned model does for arithmetic).
CALC_SCRIPT = (
    " I need to compute 37 * 12 + 5.\nAction: Calculator\nAction Input: 37 * 12 + 5",
    "I now know the final answer\nFinal Answer: 449",
)


class ScriptedChatModel(ScriptedLocalModel):
    """The one scripted model of the tests (``tests/model.py``: step ``k`` of ``script`` when the prompt
    holds ``k`` observations, the local backend's text API for ``/v1``) with the soak's script, keeping
    no prompts (a soak makes 100k calls)."""

    script: Sequence[Any] = CALC_SCRIPT
    record: bool = False


def make_app(cache_dir: Path, chat_model: BaseChatModel | None = None, **settings: Any) -> Any:
    """The real app on a scripted model (or ``chat_model``) with the real tools, local search."""
    from agent.tools import build_tools
    from app.main import create_app
    from app.settings import Settings

    base: dict[str, Any] = {
        "cache_dir": cache_dir,
        "search": "local",
        "adapter": None,
        "log_level": "WARNING",
    }
    cfg = Settings(_env_file=None, **(base | settings))  # type: ignore[call-arg]
    tools = build_tools(search="local", cache_dir=cache_dir, search_timeout_s=cfg.search_timeout_s)
    return create_app(cfg, chat_model=chat_model or ScriptedChatModel(), tools=tools)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(base: str, timeout_s: float, alive: Callable[[], bool], poll_s: float) -> None:
    """Return once ``base``/readyz answers 200; ``RuntimeError`` after ``timeout_s`` or once the server died."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if httpx.get(base + "/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline or not alive():
            raise RuntimeError("the server did not become ready")
        time.sleep(poll_s)


@contextlib.contextmanager
def serve(app: Any, ready_timeout_s: float = 60.0) -> Iterator[str]:
    """Run ``app`` under uvicorn in a thread on loopback; yields the base URL once /readyz is 200."""
    import uvicorn

    from app.server import uvicorn_options

    port = free_port()
    # `qreact serve`'s options (header timeout, X-Forwarded-For from nobody), on loopback; keep-alive
    # longer than any client pause (uvicorn's 5 s default races with busy clients' reuse)
    options = uvicorn_options(app.state.settings) | {"host": "127.0.0.1", "port": port, "timeout_keep_alive": 75}
    config = uvicorn.Config(app, lifespan="on", **options)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="soak-uvicorn", daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, ready_timeout_s, thread.is_alive, poll_s=0.05)
        yield base
    finally:
        server.should_exit = True
        thread.join(timeout=15)


@contextlib.contextmanager
def serve_process(
    cache_dir: Path,
    delay_s: float = 0.0,
    model: str | None = None,
    ready_timeout_s: float = 300.0,
    **settings: Any,
) -> Iterator[str]:
    """Like ``serve`` but in a child process, so the load generator does not share the server's GIL."""
    import subprocess

    port = free_port()
    # -m from the repository root: the server imports this tree's code (a script would put bench/
    # first on sys.path and import whichever qreact is installed)
    command = [sys.executable, "-m", "bench.harness", "--port", str(port)]
    command += ["--cache-dir", str(cache_dir), "--delay", str(delay_s), "--settings", json.dumps(settings)]
    command += ["--model", model] if model else []
    child = subprocess.Popen(command, cwd=Path(__file__).resolve().parents[1])
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, ready_timeout_s, lambda: child.poll() is None, poll_s=0.1)
        yield base
    finally:
        stop_process(child, 15)


def serve_forever(args: argparse.Namespace) -> int:
    """The child process of ``serve_process`` (and of ``python -m bench.soak _serve``): serve until killed."""
    import os

    import uvicorn

    if os.environ.get("SOAK_SWITCH_INTERVAL"):
        sys.setswitchinterval(float(os.environ["SOAK_SWITCH_INTERVAL"]))

    from app.server import uvicorn_options

    app = make_app(Path(args.cache_dir), _chat_model(args, args.delay), **json.loads(args.settings))
    options = uvicorn_options(app.state.settings) | {"host": "127.0.0.1", "port": args.port, "timeout_keep_alive": 75}
    uvicorn.run(app, **options)
    return 0


def _chat_model(args: argparse.Namespace, delay_s: float) -> BaseChatModel:
    if getattr(args, "model", None):
        from app.settings import Settings
        from app.wiring import build_chat_model

        cfg = Settings(_env_file=None, local_model=args.model, adapter=None, max_new_tokens=32)  # type: ignore[call-arg]
        return build_chat_model(cfg)
    return ScriptedChatModel(delay_s=delay_s)


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    """The options ``serve_forever`` reads (also accepted by ``bench.soak _serve``)."""
    parser.add_argument("--port", type=int, default=0, help="the loopback port to serve on")
    parser.add_argument("--cache-dir", default=None, help="the app's cache folder (a temporary one by default)")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds per scripted model step")
    parser.add_argument("--model", default=None, help="a local model folder to serve instead of the scripted model")
    parser.add_argument("--settings", default="{}", help="Settings fields as JSON")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_serve_arguments(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if args.cache_dir is None:
        args.cache_dir = tempfile.mkdtemp(prefix="qreact-harness-")
    return serve_forever(args)


if __name__ == "__main__":
    sys.exit(main())
