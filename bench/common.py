"""Shared pieces of the P1/P2/P4 benchmarks: results files, the machine, questions, bandwidth, models.

Not a script: ``bench/p1_ask_vs_seed.py``, ``bench/p2_decode.py``, ``bench/p4_overhead.py`` and
``bench/run_all.py`` import it.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = REPO_ROOT / "bench" / "results"
DEFAULT_QUESTIONS = REPO_ROOT / "finetune" / "evalsets" / "test.jsonl"


def stop_process(child: subprocess.Popen[Any], timeout_s: float) -> None:
    """SIGTERM a child server, SIGKILL it if it has not exited after ``timeout_s``."""
    child.terminate()
    try:
        child.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()


def say(message: str) -> None:
    """Progress for the person watching (stderr, so stdout keeps only the results)."""
    sys.stderr.write(message + "\n")
    sys.stderr.flush()


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = min(len(ordered), max(1, round(q / 100 * len(ordered) + 0.5))) - 1
    return float(ordered[k])


def best_of(fn: Callable[[], Any], repeats: int) -> float:
    """Fastest of ``repeats`` timings, seconds (a shared machine adds noise; the minimum has the least)."""
    times = []
    for _ in range(max(1, repeats)):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


# --------------------------------------------------------------------------------------------- machine
def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def environment(device: str = "cpu") -> dict[str, Any]:
    """What the numbers were measured on: CPU/GPU, cores, load, library versions, commit, time."""
    info: dict[str, Any] = {
        "date_utc": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S"),
        "commit": _git_commit(),
        "python": platform.python_version(),
        "cpu": _cpu_model(),
        "cpu_cores": os.cpu_count(),
        "device": device,
    }
    try:
        info["load_avg_1m"] = round(os.getloadavg()[0], 2)  # >cores means others shared the CPU
    except OSError:
        pass
    try:  # share of the last minute some runnable task waited for a CPU (Linux PSI), percent
        line = Path("/proc/pressure/cpu").read_text().splitlines()[0]
        info["cpu_pressure_avg60"] = float(line.split("avg60=")[1].split()[0])
    except (OSError, IndexError, ValueError):
        pass
    try:
        import torch
        import transformers

        info["torch"] = torch.__version__
        info["transformers"] = transformers.__version__
        info["torch_threads"] = torch.get_num_threads()
        if device == "cuda" and torch.cuda.is_available():
            info["gpu"] = torch.cuda.get_device_name(0)
    except ImportError:
        pass
    return info


# --------------------------------------------------------------------------------------------- results
def results_stem(name: str, device: str) -> str:
    """``p1_cpu``, ``p1_cuda``: GPU runs never overwrite the CPU results."""
    return f"{name}_{device}"


def write_results(
    stem: str, data: dict[str, Any], markdown: str, out_dir: Path | None = None
) -> tuple[Path, Path]:
    """Write ``<stem>.json`` and ``<stem>.md`` under ``out_dir`` (default bench/results)."""
    out_dir = Path(out_dir) if out_dir is not None else RESULTS_DIR
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out_dir / f"{stem}.json", out_dir / f"{stem}.md"
    json_path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    md_path.write_text(markdown, encoding="utf-8")
    return json_path, md_path


def md_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def env_markdown(env: dict[str, Any]) -> str:
    keys = ["date_utc", "commit", "cpu", "cpu_cores", "load_avg_1m", "cpu_pressure_avg60", "gpu", "torch"]
    text = "Measured on: " + ", ".join(f"{k}={env[k]}" for k in keys + ["transformers"] if k in env) + ".\n"
    if busy(env):
        text += (
            f"\n**Warning: the machine was busy** (load {env.get('load_avg_1m')} on "
            f"{env.get('cpu_cores')} cores, "
            f"tasks waiting for a CPU {env.get('cpu_pressure_avg60', '?')}% of the last minute): wall-clock "
            "numbers are inflated; CPU-time numbers are the steadier ones. Rerun on an idle machine.\n"
        )
    return text


def busy(env: dict[str, Any]) -> bool:
    """Other work held the CPUs while measuring (load above the core count, or CPU pressure > 50%)."""
    load, cores = env.get("load_avg_1m"), env.get("cpu_cores") or 1
    return (load is not None and load > cores + 0.5) or env.get("cpu_pressure_avg60", 0) > 50


# --------------------------------------------------------------------------------------------- questions
def load_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]


def select_questions(path: Path = DEFAULT_QUESTIONS, n: int = 20) -> list[dict[str, Any]]:
    """A fixed, kind-balanced selection: round-robin over kinds (in order of first appearance),
    each kind's questions in file order. The first ``n`` of that order, so ``--n 5`` is a prefix."""
    rows = load_jsonl(path)
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_kind.setdefault(str(row.get("kind", "unknown")), []).append(row)
    picked: list[dict[str, Any]] = []
    depth = 0
    while len(picked) < min(n, len(rows)):
        for items in by_kind.values():
            if depth < len(items) and len(picked) < n:
                picked.append(items[depth])
        depth += 1
    return picked


# --------------------------------------------------------------------------------------------- bandwidth
def measure_bandwidth(size_mb: int = 512, repeats: int = 5, device: str = "cpu") -> dict[str, float]:
    """Memory bandwidth with torch on the current thread count, GB/s (1e9 bytes/s).

    ``read``: a sum over a ``size_mb`` float32 buffer (each byte read once; the arithmetic is far
    below the CPU's peak, so the memory bus is the limit) — what a decode step does with the weights.
    ``copy``: buffer → buffer, bytes read + written.
    """
    import torch

    n = size_mb * 1024 * 1024 // 4
    src = torch.ones(n, dtype=torch.float32, device=device)
    dst = torch.empty_like(src)
    nbytes = src.numel() * src.element_size()

    def sync() -> None:
        if device == "cuda":
            torch.cuda.synchronize()

    def read() -> None:
        src.sum()
        sync()

    def copy() -> None:
        dst.copy_(src)
        sync()

    read(), copy()  # first touch: page faults are not bandwidth
    read_s, copy_s = best_of(read, repeats), best_of(copy, repeats)
    return {
        "size_mb": size_mb,
        "read_gb_s": round(nbytes / read_s / 1e9, 2),
        "copy_gb_s": round(2 * nbytes / copy_s / 1e9, 2),
    }


# --------------------------------------------------------------------------------------------- models
def resolve_adapter_dir(value: str | None) -> Path | None:
    """'none' → None; 'default' → adapters/default (an error if it is not there yet); else a folder."""
    if value is None or value.strip().lower() in {"", "none", "off", "base"}:
        return None
    path = REPO_ROOT / "adapters" / "default" if value == "default" else Path(value).expanduser()
    if not (path / "adapter_config.json").is_file():
        raise SystemExit(
            f"adapter {value!r}: {path} has no adapter_config.json (not trained yet?); "
            "pass --adapter none to benchmark the base model"
        )
    return path


def resolve_model(model: str) -> str:
    """'gemma-3-270m' → the converted default folder (converting it once); else a folder or HF id."""
    from agent.backends.loading import resolve_model_source
    from app.settings import Settings

    return resolve_model_source(model, Settings(_env_file=None).cache_dir)  # type: ignore[call-arg]


def load_local(
    source: str,
    *,
    device: str = "cpu",
    dtype: str = "auto",
    quantize: str = "auto",
    threads: int | None = None,
    adapter: Path | None = None,
    **fields: Any,
) -> Any:
    """The local backend (LocalChatModel) on ``source``, with ``adapter`` loaded and active."""
    from agent.backends.local import LocalChatModel

    model = LocalChatModel.from_pretrained(
        source, device=device, dtype=dtype, quantize=quantize, threads=threads, **fields
    )
    if adapter is not None:
        model.load_adapter(adapter, "bench")
        model.activate_adapter("bench")
    return model
