"""Run the issue-6 benchmarks P1–P4 one after another and print their four ratios side by side.

    .venv/bin/python -m bench.run_all                  # everything, CPU: ~10-15 min on 2 idle cores
    .venv/bin/python -m bench.run_all --quick          # P1 on 5 questions, shorter P2/P4: ~6-8 min
    .venv/bin/python -m bench.run_all --only p2 --only p4
    .venv/bin/python -m bench.run_all --device cuda    # P1-P3 on a GPU (4-bit base): *_cuda results

Each benchmark runs in its own process (so one model's memory is gone before the next loads)
and writes bench/results/<name>_<device>.{json,md}; this script then reads them and writes
bench/results/summary_<device>.{json,md}. P3 is ``bench/train_speed.py`` (the fine-tuning
benchmark), run as it is and quoted.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from typing import Any

from bench.common import REPO_ROOT, RESULTS_DIR, env_markdown, environment, md_table, say, write_results

ALL = ("p4", "p2", "p3", "p1")  # fastest first, so a short run already has something to show
EXTRA = ("engine",)  # issue 16's engine comparison (bench/engine.py; needs `make engine`): only with --only engine
TRAIN_SPEED = REPO_ROOT / "bench" / "train_speed.py"


def commands(device: str, quick: bool, adapter: str) -> dict[str, list[str]]:
    py = [sys.executable, "-m"]
    dev = ["--device", device]
    return {
        "p1": py + ["bench.p1_ask_vs_seed", *dev, "--adapter", adapter] + (["--n", "5"] if quick else []),
        "p2": py + ["bench.p2_decode", *dev] + (["--decode-tokens", "32", "--repeats", "2"] if quick else []),
        "p3": [sys.executable, str(TRAIN_SPEED)] + (dev if device != "cpu" else []),
        "p4": py + ["bench.p4_overhead"] + (["--requests", "100", "--duration", "8"] if quick else []),
        "engine": py + ["bench.engine"] + (["--n", "5", "--dev", "0", "--no-first-start"] if quick else []),
    }


def run_step(name: str, cmd: list[str]) -> dict[str, Any]:
    say(f"\n=== {name}: {' '.join(cmd[1:])}")
    started = time.perf_counter()
    proc = subprocess.run(cmd, cwd=REPO_ROOT)  # output goes straight to the terminal (progress)
    seconds = time.perf_counter() - started
    say(f"=== {name}: exit {proc.returncode} after {seconds / 60:.1f} min")
    return {"command": " ".join(cmd[1:]), "exit": proc.returncode, "minutes": round(seconds / 60, 1)}


def _load(stem: str) -> dict[str, Any] | None:
    path = RESULTS_DIR / f"{stem}.json"
    return json.loads(path.read_text()) if path.exists() else None


def _p3_result(device: str) -> dict[str, Any] | None:
    """The newest train_speed result for this device (its file name is the P3 script's choice)."""
    files = [p for p in RESULTS_DIR.glob("*.json") if p.stem.startswith(("p3", "train_speed"))]
    on_gpu = [p for p in files if "cuda" in p.stem or "gpu" in p.stem]
    files = on_gpu if device == "cuda" else [p for p in files if p not in on_gpu]
    if not files:
        return None
    return dict(json.loads(max(files, key=lambda p: p.stat().st_mtime).read_text()))


def _find_ratio(data: dict[str, Any]) -> Any:
    """P3's headline speedup: the first key naming a ratio/speedup, searched breadth-first."""
    queue: list[Any] = [data]
    while queue:
        item = queue.pop(0)
        if isinstance(item, dict):
            for key, value in item.items():
                if any(w in key for w in ("speedup", "ratio")) and isinstance(value, int | float):
                    return {key: value}
            queue.extend(item.values())
    return None


def summarize(device: str) -> dict[str, Any]:
    """The four headline numbers from the result files."""
    out: dict[str, Any] = {}
    p1 = _load(f"p1_{device}")
    if p1 and p1.get("comparison"):
        q, s, c = p1["summary"]["qreact"], p1["summary"]["seed"], p1["comparison"]
        out["P1"] = {
            "headline": f"qreact {c['median_latency_ratio']}× faster than the seed stack "
            "(median /ask latency); "
            f"accuracy {100 * q['accuracy']:.0f}% vs {100 * s['accuracy']:.0f}%; tokens generated "
            f"{q['completion_tokens']} vs {s['completion_tokens']}",
            "goal": "≥ 4× with equal or better accuracy",
            "met": c["goal_4x_met"],
        }
    p2 = _load(f"p2_{device}")
    if p2:
        parts = [
            f"{r['dtype']} {r['decode_tok_s']} tok/s = "
            f"{100 * r['achieved_of_bound']:.0f}% of {r['bound_tok_s']}"
            for r in p2["results"]
        ]
        best = max(r["achieved_of_bound"] for r in p2["results"])
        out["P2"] = {"headline": "; ".join(parts), "goal": "≥ 70% of the bound", "met": best >= 0.7}
    p3 = _p3_result(device)
    if p3 and isinstance(p3.get("speedup"), dict):  # train_speed.py: ratios per recipe vs the seed's
        memory = (p3.get("memory_ratio") or {}).get("qreact")
        p3 = {**p3, "speedup": p3["speedup"].get("qreact"), "memory_ratio": memory}
    if p3 and isinstance(p3.get("speedup"), int | float):
        memory = p3.get("memory_ratio")
        out["P3"] = {
            "headline": f"{p3['speedup']:.2f}× agent tokens/s vs the seed recipe"
            + (f" at {memory:.2f}× its peak memory" if isinstance(memory, int | float) else ""),
            "goal": "≥ 3× at ≤ the seed recipe's peak memory",
            "met": p3["speedup"] >= 3 and (memory is None or memory <= 1.0),
        }
    elif p3:
        out["P3"] = {"headline": json.dumps(_find_ratio(p3) or "see the P3 result file"), "goal": "≥ 3×"}
    p4 = _load("p4_cpu") if device == "cpu" else None
    if p4:
        o, t = p4["overhead"], p4["throughput"]
        out["P4"] = {
            "headline": f"{o['added_p50_ms']} ms added per /ask (median wall); {t['rps']} req/s "
            f"with {t['clients']} clients"
            + (
                f" | CPU time: {o['cpu_ms']['added_per_ask']} ms added, "
                f"~{t.get('capacity_rps_from_cpu')} req/s "
                "per server process on a free core"
                if "cpu_ms" in o
                else ""
            ),
            "goal": "≤ 5 ms, ≥ 200 req/s",
            "met": o["goal_met"] and t["goal_met"],
        }
    return out


def render_markdown(data: dict[str, Any]) -> str:
    rows = [
        [name, s["headline"], s["goal"], {True: "met", False: "NOT met"}.get(s.get("met"), "-")]
        for name, s in data["ratios"].items()
    ]
    steps = [[n, s["command"], s["exit"], s["minutes"]] for n, s in data["steps"].items()]
    return "\n".join(
        [
            f"# Benchmarks summary ({data['device']})\n",
            env_markdown(data["environment"]),
            md_table(["", "result", "goal", ""], rows),
            "\n## Runs\n",
            md_table(["", "command", "exit", "minutes"], steps) if steps else "(summary of earlier runs)\n",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--quick", action="store_true", help="P1 on 5 questions, shorter P2 and P4")
    p.add_argument("--only", action="append", choices=ALL + EXTRA, help="repeatable; default: all of P1-P4")
    p.add_argument("--adapter", default="default", help="for P1: 'default', a folder, or 'none'")
    p.add_argument("--summary-only", action="store_true", help="only re-read the result files")
    a = p.parse_args(argv)
    names = [n for n in ALL + EXTRA if n in (a.only or ALL)]
    if a.device != "cpu":
        names = [n for n in names if n != "p4"]  # service overhead is a CPU/loopback measurement
    if not TRAIN_SPEED.exists() and "p3" in names:
        say("P3: bench/train_speed.py is not there; skipped")
        names.remove("p3")
    steps: dict[str, Any] = {}
    if not a.summary_only:
        say(
            f"Benchmarks {', '.join(n.upper() for n in names)} on {a.device}. On 2 idle CPU cores: P4 ~1 min, "
            f"P2 ~2 min, P3 ~5 min, P1 {'~2 min' if a.quick else '~4 min'} (much longer on a busy machine). "
            "Progress below."
        )
        cmds = commands(a.device, a.quick, a.adapter)
        for name in names:
            steps[name] = run_step(name.upper(), cmds[name])
    data = {
        "device": a.device,
        "environment": environment(a.device),
        "steps": steps,
        "ratios": summarize(a.device),
    }
    write_results(f"summary_{a.device}", data, render_markdown(data), RESULTS_DIR)
    print("\n" + render_markdown(data), flush=True)  # the four ratios, side by side
    return 1 if any(s["exit"] != 0 for s in steps.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
