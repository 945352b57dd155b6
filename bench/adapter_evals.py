"""Record one adapter's eval runs (full traces) on the issue-13 sets, the way the ship decisions ran them.

    .venv/bin/python -m bench.adapter_evals --adapter adapters/default --out ~/.cache/qreact/s6-eval/v2b
    .venv/bin/python -m bench.adapter_evals --adapter ADAPTER --out DIR --sets documents_probe   # one set
    .venv/bin/python -m bench.adapter_evals --out DIR --check      # validate what DIR holds, run nothing

Each set is one ``python -m app.cli eval`` process (= ``qreact eval``, run from this checkout so its code is
what runs) writing ``DIR/<set>.jsonl`` (one row per question, with the whole trace: what
``bench.grounding_documents`` replays), ``DIR/<set>.md`` (the report) and ``DIR/<set>.log``. Settings, the
same for every set and every adapter (docs/v6-soup/README.md, docs/v2-candidate.md): the llama.cpp engine
(``QREACT_ENGINE=llamacpp``: the run fails instead of falling back to torch), its shipped Q8_0 output head,
one thread a process, a 900 s run budget, local search, ``ungrounded=keep``, the document step of the
grounding check OFF (``QREACT_GROUNDING_DOCUMENTS=false``: the replay judges it offline), and so is its
attribute step (``QREACT_GROUNDING_ATTRIBUTES=false``: recorded as attempts 2-9 were, replayed on). At most ``--jobs``
processes at once (default 2), each at ``nice 19`` (and autogroup nice 19 on Linux); ``--head-type`` serves another head
(``QREACT_ENGINE_HEAD_TYPE``, recorded in harness.json); ``--pids FILE``
appends each pid with a tag. A rerun resumes: ``qreact eval`` skips the questions already in a set's file.
A set whose question file does not exist yet is skipped with a message. ``DIR/harness.json`` records the
commit, the adapter's sha256, the settings, every command, start/end times and the rows per set.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from agent.backends.llamacpp_merge import HEAD_TYPES
from bench.common import REPO_ROOT, _git_commit, say

EVALSETS = "finetune/evalsets"
CORPUS = f"{EVALSETS}/corpus"
DOCS = ("--corpus", CORPUS, "--max-results", "2")  # the documents command of every attempt since 2
# the probes hand-written in session 13 (2026-12-03) each search their own documents (corpus_probeN), so the first
# sets' searches (and their recordings) are unchanged by them; finetune/evalsets/README.md says what each holds
PROBES = range(2, 26)


def _probe_docs(n: int) -> tuple[str, ...]:
    return ("--corpus", f"{EVALSETS}/corpus_probe{n}", "--max-results", "2")


@dataclass(frozen=True)
class EvalSet:
    """One set: its question file, how many of its rows run, the extra ``qreact eval`` flags."""

    name: str
    questions: str
    limit: int | None = None
    args: tuple[str, ...] = ()


SETS: dict[str, EvalSet] = {
    s.name: s
    for s in (
        EvalSet("test", f"{EVALSETS}/test.jsonl"),  # all 200 (earlier runs: test40 + test41-200)
        EvalSet("heldout40", f"{EVALSETS}/heldout.jsonl", limit=40),
        EvalSet("korean", f"{EVALSETS}/korean.jsonl"),
        EvalSet("documents", f"{EVALSETS}/documents.jsonl", args=DOCS),
        EvalSet("documents_extra", f"{EVALSETS}/documents_extra.jsonl", args=DOCS),
        # all 80 rows (attempts 1-6 ran the 40 odd lines), --max-steps 4 as they did
        EvalSet("unanswerable", f"{EVALSETS}/unanswerable.jsonl", args=("--max-steps", "4")),
        EvalSet("documents_probe", f"{EVALSETS}/documents_probe.jsonl", args=DOCS),
        *(EvalSet(f"documents_probe{n}", f"{EVALSETS}/documents_probe{n}.jsonl", args=_probe_docs(n)) for n in PROBES),
    )
}
DOCUMENT_SETS = ("documents", "documents_extra", "documents_probe", *(f"documents_probe{n}" for n in PROBES))

ENV = {  # the same for every set and adapter
    "QREACT_ENGINE": "llamacpp",  # never the torch fallback: a missing engine fails the run
    "QREACT_ENGINE_HEAD_TYPE": "q8_0",  # the shipped output head (every recorded run since attempt 4)
    "QREACT_THREADS": "1",  # one thread a process: 2 processes on 2 shared cores
    "QREACT_TIMEOUT_S": "900",  # no question cut by the 120 s serving budget on a loaded machine
    "QREACT_GROUNDING_DOCUMENTS": "false",  # recorded off; bench.grounding_documents replays it on
    "QREACT_ENGINE_JUMP_FORWARD": "false",  # every token decoded, as attempts 2-9 were recorded (default on since s9)
    "QREACT_GROUNDING_ATTRIBUTES": "false",  # recorded off as every attempt before it; the replay applies it
    "QREACT_UNGROUNDED": "keep",
    "QREACT_SEARCH": "local",
    # recorded off as every attempt before session 13 (the replay cannot add it); --set QREACT_SECOND_LOOK=on records
    # the shipped default (auto: on for the local model)
    "QREACT_SECOND_LOOK": "off",
    "QREACT_GROUNDING_READ_COUNTS": "false",  # recorded off (rule G16, session 15); the replay applies it
    "QREACT_GROUNDING_READ_ROLES": "false",  # recorded off (rule G17, session 15); the replay applies it
}
ROW_FIELDS = ("trace", "answerable", "correct", "status", "final_answer", "question", "id")


def command(s: EvalSet, adapter: str, out: Path, python: str = sys.executable) -> list[str]:
    """The ``qreact eval`` command of one set, run from the repository root."""
    argv = [python, "-m", "app.cli", "eval", "--questions", s.questions, "--adapter", adapter]
    if s.limit:
        argv += ["--limit", str(s.limit)]
    return [*argv, *s.args, "--out", str(out / f"{s.name}.jsonl"), "--report", str(out / f"{s.name}.md")]


def expected_rows(s: EvalSet, root: Path = REPO_ROOT) -> int | None:
    path = root / s.questions
    if not path.is_file():
        return None
    n = sum(1 for line in path.read_text(encoding="utf-8").splitlines() if line.strip())
    return min(n, s.limit) if s.limit else n


def check_rows(path: Path, expected: int | None) -> list[str]:
    """What is wrong with a set's results file (empty: complete, every row replayable)."""
    if not path.is_file():
        return [f"{path.name}: missing"]
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    problems = []
    if expected is not None and len(rows) != expected:
        problems.append(f"{path.name}: {len(rows)} rows, expected {expected}")
    if len({r.get("config") for r in rows}) > 1:
        problems.append(f"{path.name}: more than one configuration (adapter) in one file")
    for r in rows:
        missing = [f for f in ROW_FIELDS if f not in r]
        if missing:
            problems.append(f"{path.name} {r.get('id')}: no {', '.join(missing)}")
            break
        if r.get("error"):
            problems.append(f"{path.name} {r['id']}: run error {r['error']!r}")
    return problems


def sha256(folder: Path) -> str | None:
    weights = folder / "adapter_model.safetensors"
    return hashlib.sha256(weights.read_bytes()).hexdigest() if weights.is_file() else None


def environment(head_type: str | None = None, extra: Sequence[str] = ()) -> dict[str, str]:
    """``ENV``, with the served head in ``head_type`` when given (``QREACT_ENGINE_HEAD_TYPE``) and each
    ``QREACT_NAME=VALUE`` of ``extra`` (``--set``) on top."""
    env = {**ENV, "QREACT_ENGINE_HEAD_TYPE": head_type} if head_type else dict(ENV)
    for item in extra:
        key, sep, value = item.partition("=")
        if not sep or not key.startswith("QREACT_"):
            raise ValueError(f"--set wants QREACT_NAME=VALUE, not {item!r}")
        env[key] = value
    return env


def engine_in_use(env: dict[str, str] = ENV) -> str:
    """What app.wiring would run the local model on under ``env`` (raises if llama.cpp is not built)."""
    os.environ.update(env)
    from app.settings import Settings
    from app.wiring import choose_engine

    return choose_engine(Settings())


def _renice_group(pid: int) -> None:
    try:  # Linux autogroup: nice alone does not yield to other sessions' processes
        Path(f"/proc/{pid}/autogroup").write_text("19")
    except OSError:
        pass


def start(
    s: EvalSet, adapter: str, out: Path, pids: Path | None, tag: str, env: dict[str, str] = ENV
) -> subprocess.Popen[bytes]:
    argv = ["nice", "-n", "19", *command(s, adapter, out)]
    log = (out / f"{s.name}.log").open("ab")
    log.write(f"\n# {datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC: {' '.join(argv)}\n".encode())
    log.flush()
    child = subprocess.Popen(argv, cwd=REPO_ROOT, env={**os.environ, **env}, stdout=log, stderr=log)
    _renice_group(child.pid)
    if pids is not None:
        with pids.open("a", encoding="utf-8") as f:
            f.write(f"{child.pid} {tag}:{s.name}\n")
    say(f"started {s.name} (pid {child.pid}): {' '.join(argv)}")
    return child


def _rows(path: Path) -> int:
    return sum(1 for line in path.read_text(encoding="utf-8").splitlines() if line.strip()) if path.exists() else 0


def run(
    sets: Sequence[EvalSet], adapter: str, out: Path, jobs: int, pids: Path | None, tag: str, env: dict[str, str] = ENV
) -> dict[str, Any]:
    """Run the sets, ``jobs`` at a time; the second starts once the first has scored a row (one merge of
    the adapter into the served GGUF, then a cache hit)."""
    todo = list(sets)
    running: dict[str, tuple[subprocess.Popen[bytes], float]] = {}
    done: dict[str, Any] = {}
    first = todo[0].name if todo else ""
    first_rows = _rows(out / f"{first}.jsonl")
    while todo or running:
        warm = first in done or _rows(out / f"{first}.jsonl") > first_rows
        while todo and len(running) < jobs and (not running or warm):
            s = todo.pop(0)
            running[s.name] = (start(s, adapter, out, pids, tag, env), time.time())
        for name, (child, t0) in list(running.items()):
            if child.poll() is not None:
                done[name] = {"rc": child.returncode, "wall_s": round(time.time() - t0, 1)}
                del running[name]
                rows = _rows(out / f"{name}.jsonl")
                say(f"finished {name}: rc {child.returncode}, {done[name]['wall_s']} s, {rows} rows")
        time.sleep(2)
    return done


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--adapter", help="adapter folder ('default' = adapters/default)")
    p.add_argument("--out", required=True, type=Path, help="folder for <set>.jsonl/.md/.log and harness.json")
    p.add_argument("--sets", default=",".join(SETS), help=f"comma-separated, of {', '.join(SETS)}")
    p.add_argument("--jobs", type=int, default=2, help="eval processes at once")
    p.add_argument("--pids", type=Path, help="append 'PID TAG:SET' for each process started")
    p.add_argument("--tag", default="adapter_evals", help="tag of the --pids lines")
    p.add_argument("--check", action="store_true", help="only validate the results in --out")
    p.add_argument("--dry-run", action="store_true", help="print the commands, run nothing")
    p.add_argument(
        "--head-type",
        choices=HEAD_TYPES,
        help=f"the served head (QREACT_ENGINE_HEAD_TYPE; default {ENV['QREACT_ENGINE_HEAD_TYPE']})",
    )
    p.add_argument("--set", action="append", default=[], metavar="QREACT_NAME=VALUE",
                   help="one more setting for every set (recorded in harness.json); repeatable")  # fmt: skip
    args = p.parse_args(argv)
    out = args.out.expanduser().resolve()
    names = [n.strip() for n in args.sets.split(",") if n.strip()]
    unknown = [n for n in names if n not in SETS]
    if unknown:
        p.error(f"unknown sets {unknown}; known: {', '.join(SETS)}")
    chosen = [SETS[n] for n in names]
    if args.check:
        problems = [x for s in chosen for x in check_rows(out / f"{s.name}.jsonl", expected_rows(s))]
        say("\n".join(problems) if problems else f"{out}: every set complete, every row has its trace")
        return 1 if problems else 0
    if not args.adapter:
        p.error("--adapter is required (except with --check)")
    adapter = (
        str(REPO_ROOT / "adapters" / "default")
        if args.adapter == "default"
        else str(Path(args.adapter).expanduser().resolve())
    )
    runnable = []
    for s in chosen:
        if expected_rows(s) is None:
            say(f"skipping {s.name}: {s.questions} does not exist (yet)")
        else:
            runnable.append(s)
    try:
        env = environment(args.head_type, args.set)
    except ValueError as exc:
        p.error(str(exc))
    if args.dry_run:
        for s in runnable:
            print(" ".join(f"{k}={v}" for k, v in env.items()), "nice -n 19", " ".join(command(s, adapter, out)))
        return 0
    out.mkdir(parents=True, exist_ok=True)
    engine = engine_in_use(env)
    if engine != "llamacpp":
        say(f"error: the local model would run on {engine}, not llama.cpp")
        return 1
    meta_path = out / "harness.json"
    entry: dict[str, Any] = {
        "started_utc": f"{datetime.now(UTC):%Y-%m-%d %H:%M:%S}",
        "commit": _git_commit(),
        "adapter": adapter,
        "adapter_sha256": sha256(Path(adapter)),
        "engine": engine,
        "env": env,
        "commands": {s.name: " ".join(command(s, adapter, out)) for s in runnable},
    }
    entry["sets"] = run(runnable, adapter, out, args.jobs, args.pids, args.tag, env)
    entry["finished_utc"] = f"{datetime.now(UTC):%Y-%m-%d %H:%M:%S}"
    entry["problems"] = [x for s in runnable for x in check_rows(out / f"{s.name}.jsonl", expected_rows(s))]
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {"runs": []}  # read now: runs may overlap
    meta["runs"].append(entry)
    meta_path.write_text(json.dumps(meta, indent=1) + "\n")
    say("\n".join(entry["problems"]) if entry["problems"] else f"{out}: every set complete")
    return 1 if entry["problems"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
