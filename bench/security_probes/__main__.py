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
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.security_probes.admin import admin_probes, probe_adapters
from bench.security_probes.harness import REPO, Probe, server, table
from bench.security_probes.normal_use import budget_probes, normal_use_probes
from bench.security_probes.open_access import open_probes
from bench.security_probes.secret_leaks import secrets_probes
from bench.security_probes.startup import bind_probe, docker_probe, empty_store_probe

GROUPS = ("bind", "docker", "open", "normal", "budget", "admin", "secrets", "store")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.security_probes",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
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
