"""Probes of how the server starts and ships: the bind rule, the Docker files, an empty run store."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import yaml

from bench.common import stop_process
from bench.security_probes.harness import (
    Probe,
    detail,
    free_port,
    http_get,
    run,
)


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
                        health = http_get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code
                    time.sleep(0.5)
            finally:
                stop_process(child, 30)
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
                    r = http_get(f"http://127.0.0.1:{port}/readyz", timeout=5)
                    if r.status_code == 503 and "empty" in r.text:
                        break
                time.sleep(0.5)
        finally:
            stop_process(child, 20)
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
