"""A password-protected PostgreSQL run store and a failing training job: no secret in logs, argv or job
files."""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.security_probes.harness import (
    Probe,
    detail,
    free_port,
    http_get,
    http_post,
    run,
    server,
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
            asked = http_post(base + "/admin/finetune", headers=auth, timeout=60,
                               json={"config": str(data_root / "job.yaml"), "promote": False})  # fmt: skip
            if asked.status_code != 202 and asked.status_code != 200:
                return f"the job did not start: {detail(asked)}", False
            job_id = asked.json()["id"]
            seen_argv: list[str] = []
            deadline, state = time.monotonic() + 600, {}
            while time.monotonic() < deadline:
                seen_argv += [c for c in _process_cmdlines().values() if job_id in c]  # its config path
                state = http_get(base + f"/admin/jobs/{job_id}", headers=auth, timeout=30).json()
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
