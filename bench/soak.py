"""Soak, load, overload and schema-fuzz measurements of the real app on loopback (served by bench/harness.py).

    .venv/bin/python -m bench.soak all                      # everything below, with the issue's sizes
    .venv/bin/python -m bench.soak load --clients 64 --duration 60
    .venv/bin/python -m bench.soak overload --duration 20
    .venv/bin/python -m bench.soak schema --examples 120     # >= 1000 generated requests in all

Each run starts the real ``create_app`` under uvicorn on 127.0.0.1 (a free port, a temporary cache
and run store) with a scripted chat model: "instant" for load (0 ms per step), "slow" for overload
(``--delay`` seconds per step, time spent off the GIL like a real model). ``--model DIR`` serves a
real local model folder instead (e.g. the tiny test model, or the converted Gemma) for overload.
Every figure is printed as one JSON line; the exit status is 1 when a target is missed:
load: 0 errors; overload: only 200/503, every 503 with Retry-After, /healthz p99 < 50 ms;
schema: ``schemathesis run --checks all`` (every operation, every phase) with 0 failures, once on
the default (closed) server and once with API and admin keys.

The tests (tests/bench/test_soak.py) run the same functions for seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

from bench.harness import serve_forever, serve_process

# Made-up keys for the schema run with keys (a scripted server on loopback, gone when the run ends).
SOAK_USER_KEY, SOAK_ADMIN_KEY = "soak-user-key-0123456789", "soak-admin-key-0123456789"


def percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


async def _load(base: str, clients: int, duration_s: float, question: str, min_per_client: int = 1) -> dict[str, Any]:
    latencies: list[float] = []
    statuses: Counter[str] = Counter()
    wrong: list[str] = []
    started = time.monotonic()
    stop_at = started + duration_s
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as client:

        async def worker() -> None:
            done = 0
            while time.monotonic() < stop_at or done < min_per_client:
                done += 1
                t0 = time.perf_counter()
                try:
                    response = await client.post("/ask", json={"question": question})
                except httpx.HTTPError as exc:
                    statuses[type(exc).__name__] += 1
                    continue
                latencies.append((time.perf_counter() - t0) * 1000)
                statuses[str(response.status_code)] += 1
                if response.status_code == 200 and response.json().get("answer") != "449":
                    wrong.append(response.text[:200])

        await asyncio.gather(*(worker() for _ in range(clients)))
    elapsed = time.monotonic() - started
    total = sum(statuses.values())
    errors = total - statuses["200"] + len(wrong)
    return {
        "test": "load",
        "clients": clients,
        "duration_s": duration_s,
        "requests": total,
        "errors": errors,
        "statuses": dict(statuses),
        "elapsed_s": round(elapsed, 1),
        "rps": round(total / elapsed, 1),
        "p50_ms": round(percentile(latencies, 50), 1),
        "p99_ms": round(percentile(latencies, 99), 1),
        "ok": errors == 0 and total > 0,
    }


def load_test(base: str, clients: int = 64, duration_s: float = 60.0, min_per_client: int = 1) -> dict[str, Any]:
    """``clients`` concurrent /ask loops for ``duration_s`` (each makes at least ``min_per_client``
    requests, however long they take): every answer must be 200 and correct."""
    return asyncio.run(_load(base, clients, duration_s, "What is 37 * 12 + 5?", min_per_client))


# The /healthz prober runs in its own process with its own connection, like a kubelet's probe,
# so the load generator's work does not count as the server's latency.
_PROBE = """
import json, sys, time, httpx
base, duration, every = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
ms, bad = [], 0
stop = time.monotonic() + duration
with httpx.Client(base_url=base, timeout=5) as client:
    while time.monotonic() < stop:
        t0 = time.perf_counter()
        try:
            bad += client.get("/healthz").status_code != 200
        except httpx.HTTPError:
            bad += 1
        ms.append((time.perf_counter() - t0) * 1000)
        time.sleep(every)
print(json.dumps([ms, bad]))
"""


async def _overload(base: str, clients: int, duration_s: float, probe_every_s: float) -> dict[str, Any]:
    statuses: Counter[str] = Counter()
    missing_retry_after = 0
    stop_at = time.monotonic() + duration_s
    limits = httpx.Limits(max_connections=clients + 4)
    # longer than a queued wait (up to timeout_s) plus a run (up to timeout_s): 2 x 120 s
    async with httpx.AsyncClient(base_url=base, timeout=300, limits=limits) as client:

        async def asker() -> None:
            nonlocal missing_retry_after
            while time.monotonic() < stop_at:
                try:
                    response = await client.post("/ask", json={"question": "What is 37 * 12 + 5?"})
                except httpx.HTTPError as exc:
                    statuses[type(exc).__name__] += 1
                    continue
                statuses[str(response.status_code)] += 1
                if response.status_code == 503:
                    missing_retry_after += "retry-after" not in response.headers
                    await asyncio.sleep(0.05)  # hammer: a polite client would wait Retry-After

        probe = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            _PROBE,
            base,
            str(duration_s),
            str(probe_every_s),
            stdout=asyncio.subprocess.PIPE,
        )
        await asyncio.gather(*(asker() for _ in range(clients)))
        out, _ = await probe.communicate()
    health_ms, health_bad = json.loads(out)
    unexpected = {k: v for k, v in statuses.items() if k not in ("200", "503")}
    p99 = percentile(health_ms, 99)
    return {
        "test": "overload",
        "clients": clients,
        "duration_s": duration_s,
        "statuses": dict(statuses),
        "rejected_503": statuses["503"],
        "missing_retry_after": missing_retry_after,
        "healthz_probes": len(health_ms),
        "healthz_errors": health_bad,
        "healthz_p50_ms": round(percentile(health_ms, 50), 2),
        "healthz_p99_ms": round(p99, 2),
        "healthz_max_ms": round(max(health_ms or [float("nan")]), 2),
        "ok": not unexpected and statuses["503"] > 0 and missing_retry_after == 0 and health_bad == 0 and p99 < 50,
    }


def overload_test(base: str, clients: int = 16, duration_s: float = 10.0, probe_every_s: float = 0.02) -> dict:
    """More clients than slots + queue: the rest get 503 + Retry-After; /healthz stays fast."""
    return asyncio.run(_overload(base, clients, duration_s, probe_every_s))


def schema_test(
    base: str,
    max_examples: int = 25,
    seed: int | None = 0,
    headers: dict[str, str] | None = None,
    max_time_s: int | None = None,
    phases: str | None = None,
) -> dict[str, Any]:
    """``schemathesis run --checks all`` against the app's own OpenAPI: every operation, every phase
    (examples, coverage, fuzzing, stateful; or ``phases``), valid and invalid data; the numbers from
    its JSON report.

    ``headers`` (an ``Authorization`` key) go with every request, through a config file that reads
    them from the environment (so the command, printed in the result, holds no key); schemathesis
    then also checks that each request without them is refused (``ignored_auth``,
    ``missing_required_header``).
    """
    import os
    import subprocess

    st = str(Path(sys.executable).with_name("schemathesis"))
    with tempfile.TemporaryDirectory(prefix="qreact-st-") as tmp:
        config, report = Path(tmp) / "schemathesis.toml", Path(tmp) / "report.json"
        env = dict(os.environ)
        lines = []
        for i, (name, value) in enumerate((headers or {}).items()):
            env[f"QREACT_SOAK_HEADER_{i}"] = value
            lines.append(f'"{name}" = "${{QREACT_SOAK_HEADER_{i}}}"')
        config.write_text("[headers]\n" + "\n".join(lines) + "\n" if lines else "", encoding="utf-8")
        command = [st, "--config-file", str(config), "run", base + "/openapi.json", "--checks", "all"]
        command += ["--max-examples", str(max_examples), "--workers", "1", "--request-timeout", "60"]
        command += ["--report", "json", "--report-json-path", str(report), "--no-shrink", "--wait-for-schema", "120"]
        command += ["--seed", str(seed)] if seed is not None else []
        command += ["--max-time", str(max_time_s)] if max_time_s else []  # fuzzing repeats until then
        command += ["--phases", phases] if phases else []
        httpx.get(base + "/openapi.json", headers=headers, timeout=120)  # built on first use: not in the CLI's 10 s
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False, cwd=tmp)
        try:
            data = json.loads(report.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            data = {}
    failures = data.get("failures") or []
    tail = done.stdout.strip().splitlines()[-60:]
    return {
        "test": "schema",
        "command": "schemathesis run --checks all " + " ".join(command[command.index("--max-examples") :]),
        "exit_code": done.returncode,
        "operations": (data.get("operations") or {}).get("tested", 0),
        "requests": (data.get("test_cases") or {}).get("generated", 0),
        "failed_checks": sum(f.get("count", 0) for f in failures),
        "failures": [f"{f.get('code')} {f.get('title')}: {', '.join(f.get('operations', []))}" for f in failures],
        "errors": data.get("errors") or [],
        "phases": {k: v.get("status") for k, v in (data.get("phases") or {}).items()},
        "seconds": round(float(data.get("running_time") or 0.0), 1),
        "output_tail": tail if done.returncode else [],
        "ok": done.returncode == 0 and not failures,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=["load", "overload", "schema", "all", "_serve"])
    parser.add_argument("--clients", type=int, default=None, help="concurrent clients (load 64, overload 16)")
    parser.add_argument("--duration", type=float, default=None, help="seconds (load 60, overload 20)")
    parser.add_argument("--examples", type=int, default=120, help="schemathesis examples per operation")
    parser.add_argument("--delay", type=float, default=0.5, help="seconds per model step for overload")
    parser.add_argument("--model", default=None, help="a local model folder to serve for overload")
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--cache-dir", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--settings", default="{}", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if args.what == "_serve":  # the child process of serve_process
        return serve_forever(args)
    results = []
    # the server runs in its own process: the clients here must not slow it down through the GIL
    with tempfile.TemporaryDirectory(prefix="qreact-soak-") as tmp:
        if args.what in ("load", "all"):
            # room for every client: the test is about throughput without errors, not rejection
            with serve_process(Path(tmp) / "load", 0.0, max_concurrency=8, max_queue=256) as base:
                results.append(load_test(base, args.clients or 64, args.duration or 60.0))
            print(json.dumps(results[-1]), flush=True)
        if args.what in ("overload", "all"):
            with serve_process(Path(tmp) / "overload", args.delay, args.model, max_concurrency=1, max_queue=4) as base:
                results.append(overload_test(base, args.clients or 16, args.duration or 20.0))
            print(
                json.dumps(results[-1] | {"model": args.model or f"scripted, {args.delay:g} s/step"}),
                flush=True,
            )
        if args.what in ("schema", "all"):
            with serve_process(Path(tmp) / "schema", 0.0, max_concurrency=4, max_queue=64) as base:
                results.append(schema_test(base, args.examples) | {"server": "default (no keys)"})
            print(json.dumps(results[-1]), flush=True)
            keys = {"api_keys": SOAK_USER_KEY, "admin_key": SOAK_ADMIN_KEY, "max_concurrency": 4, "max_queue": 64}
            with serve_process(Path(tmp) / "schema-keys", 0.0, **keys) as base:
                auth = {"Authorization": f"Bearer {SOAK_ADMIN_KEY}"}
                results.append(schema_test(base, args.examples, headers=auth) | {"server": "API + admin keys"})
            print(json.dumps(results[-1]), flush=True)
    return 0 if all(r["ok"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
