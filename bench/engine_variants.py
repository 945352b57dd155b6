"""Issue 16, session 8: /ask latency levers on the default local path, side by side in one run (rule E7).

    .venv/bin/python -m bench.engine_variants                                  # every variant, P1 + 100 dev
    .venv/bin/python -m bench.engine_variants --dev 10 --variants default,jump --tag quick   # a quick look

Each variant is the service's llama.cpp engine as ``app.wiring`` builds it (adapter ``default``, local
search) in its own process, with its own environment (``VARIANTS``); the first one is the current default
and every other is compared with it. Per variant: decode and prefill tok/s through the service's client
(``bench.engine.measure_generation``: 128 greedy tokens on a cached prompt; a fresh prompt), then the
agent (``agent.run``, what ``/ask`` runs) on the 20-question P1 mix after one warm-up question, then the
100 dev questions; every model request's llama-server ``timings`` are kept (requests, decoded and
prefilled tokens per question). Answers are compared with the first variant's, question by question,
and scored with ``finetune.scoring.is_correct``. The rule (NOTES.md, E7): a default changes only if the
P1 /ask median improves >= 5 % AND the dev answers are identical >= 97/100 with the right count not
lower than the current default's. Writes bench/results/engine_cpu_s8[_TAG].{json,md}.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import (
    DEFAULT_QUESTIONS,
    REPO_ROOT,
    env_markdown,
    environment,
    load_jsonl,
    md_table,
    median,
    percentile,
    say,
    select_questions,
    write_results,
)
from bench.engine import DEV_QUESTIONS

# name -> the service's environment for it; the first is the current default
VARIANTS: dict[str, dict[str, str]] = {
    "default": {},  # merged GGUF (adapted layers Q8_0, head q8_0), every token decoded
    "jump": {"QREACT_ENGINE_JUMP_FORWARD": "true"},
    "lora-f16": {"QREACT_ENGINE_MERGE": "false", "QREACT_ENGINE_LORA_TYPE": "f16"},
    "lora-f16+jump": {"QREACT_ENGINE_MERGE": "false", "QREACT_ENGINE_LORA_TYPE": "f16",
                      "QREACT_ENGINE_JUMP_FORWARD": "true"},  # fmt: skip
}
TIMING_KEYS = ("prompt_n", "cache_n", "prompt_ms", "predicted_n", "predicted_ms")


# ------------------------------------------------------------------------------------------ a worker
def _recorder(calls: list[dict[str, Any]]) -> Any:
    """A stand-in for ``llama_server.sse_events`` that keeps each request's last ``timings``."""
    from agent.backends import llama_server

    original = llama_server.sse_events

    def sse_events(lines: Any) -> Any:
        call: dict[str, Any] = {}
        calls.append(call)
        for event in original(lines):
            timings = event.get("timings")
            if timings:
                call |= {k: timings[k] for k in TIMING_KEYS if k in timings}
            yield event

    return sse_events


def run_rows(agent: Any, rows: list[dict[str, Any]], calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    from finetune.scoring import is_correct

    out = []
    for row in rows:
        calls.clear()
        run = agent.run(row["question"])
        out.append({
            "id": row.get("id"), "answer": run.answer, "status": run.status,
            "latency_s": round(run.latency_ms / 1000, 3), "steps": len(run.steps), "requests": len(calls),
            "decoded": sum(int(c.get("predicted_n", 0)) for c in calls),
            "prefilled": sum(int(c.get("prompt_n", 0)) for c in calls),
            "decode_ms": round(sum(float(c.get("predicted_ms", 0.0)) for c in calls), 1),
            "prefill_ms": round(sum(float(c.get("prompt_ms", 0.0)) for c in calls), 1),
            "correct": bool(is_correct(run.answer, row["answer"], row.get("rel_tol"))),
        })  # fmt: skip
    return out


def worker(args: argparse.Namespace) -> dict[str, Any]:
    import agent.backends.llamacpp as llamacpp
    from agent.prompt import render_prompt
    from app.settings import Settings
    from app.wiring import build_agent, build_chat_model, build_default_tools
    from bench.engine import _hwm_mb, measure_generation

    calls: list[dict[str, Any]] = []
    llamacpp.sse_events = _recorder(calls)  # type: ignore[attr-defined]
    fields: dict[str, Any] = {"engine": "llamacpp", "adapter": "default", "search": "local"}
    if args.threads:
        fields["threads"] = args.threads
    settings = Settings(_env_file=None, **fields)  # type: ignore[call-arg]
    started = time.perf_counter()
    model: Any = build_chat_model(settings)
    result: dict[str, Any] = {"load_s": round(time.perf_counter() - started, 1)}
    spec = model._server.spec
    result["served"] = {"model": spec.model.name, "lora": spec.lora.name if spec.lora else None,
                        "threads": spec.threads, "jump_forward": model.config.jump_forward,
                        "size_mb": round((spec.model.stat().st_size + (spec.lora.stat().st_size if spec.lora else 0))
                                         / 1e6)}  # fmt: skip
    result |= measure_generation(model, render_prompt("What is the capital of Australia?") + "Thought:")
    agent = build_agent(settings, chat_model=model, tools=build_default_tools(settings))
    p1 = select_questions(DEFAULT_QUESTIONS, args.n)
    run_rows(agent, p1[:1], calls)  # warm-up: the shared prompt header is cached from here on
    result["p1"] = run_rows(agent, p1, calls)
    result["dev"] = run_rows(agent, load_jsonl(DEV_QUESTIONS)[: args.dev], calls) if args.dev else []
    result["peak_rss_mb"] = round(_hwm_mb(os.getpid()) + _hwm_mb(model.server_pid), 0)
    model.close()
    return result


# ------------------------------------------------------------------------------------------ the run
def spawn(name: str, args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as handle:
        out = Path(handle.name)
    command = [sys.executable, "-m", "bench.engine_variants", "--worker", "--worker-out", str(out),
               "--threads", str(args.threads), "--n", str(args.n), "--dev", str(args.dev)]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith("QREACT_ENGINE_")} | VARIANTS[name]
    say(f"--- {name}: {VARIANTS[name] or 'the default settings'} ({time.strftime('%H:%M:%S')})")
    started = time.perf_counter()
    subprocess.run(command, cwd=REPO_ROOT, check=True, env=env)
    data = dict(json.loads(out.read_text()))
    out.unlink()
    data["wall_s"] = round(time.perf_counter() - started, 1)
    return data


def summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    latencies = [r["latency_s"] for r in runs]
    return {
        "questions": len(runs),
        "median_s": round(median(latencies), 3),
        "p95_s": round(percentile(latencies, 95), 3),
        "mean_s": round(sum(latencies) / len(latencies), 3) if runs else None,
        "right": sum(r["correct"] for r in runs),
        "requests_per_question": round(sum(r["requests"] for r in runs) / len(runs), 2) if runs else None,
        "decoded_per_question": round(sum(r["decoded"] for r in runs) / len(runs), 1) if runs else None,
        "decoded_median": median([r["decoded"] for r in runs]),
    }


def compare(runs: list[dict[str, Any]], base: list[dict[str, Any]]) -> dict[str, Any]:
    pairs = list(zip(runs, base, strict=True))
    return {
        "identical": sum(a["answer"] == b["answer"] for a, b in pairs),
        "questions": len(pairs),
        "differ": [{"id": a["id"], "variant": a["answer"], "variant_right": a["correct"], "default": b["answer"],
                    "default_right": b["correct"]} for a, b in pairs if a["answer"] != b["answer"]],
    }  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", default=",".join(VARIANTS), help=f"comma-separated, of {', '.join(VARIANTS)}")
    parser.add_argument("--n", type=int, default=20, help="P1-mix questions")
    parser.add_argument("--dev", type=int, default=100, help="dev questions (0: none)")
    parser.add_argument("--threads", type=int, default=0, help="engine threads (0: the service's choice)")
    parser.add_argument("--tag", default="", help="results file suffix: engine_cpu_s8_TAG")
    parser.add_argument("--judge", type=Path, help="apply rule E8 to a results JSON of an earlier run, rewrite it")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--worker-out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        args.worker_out.write_text(json.dumps(worker(args)))
        return 0
    if args.judge:  # a run of the session-8 code: its files get rule E8's columns and verdict
        results = json.loads(args.judge.read_text())
        apply_e8(results)
        write_results(args.judge.stem, results, render(results))
        say(render(results))
        return 0
    names = [v for v in args.variants.split(",") if v]
    unknown = [v for v in names if v not in VARIANTS]
    if unknown:
        parser.error(f"unknown variants: {unknown}")
    results: dict[str, Any] = {
        "environment": environment("cpu"),
        "started_utc": time.strftime("%H:%M:%S", time.gmtime()),
        "args": {"n": args.n, "dev": args.dev, "threads": args.threads, "tag": args.tag},
        "variants": {},
    }
    for name in names:
        data = spawn(name, args)
        data["env"] = VARIANTS[name]
        data["ask"], data["dev_summary"] = summary(data["p1"]), summary(data["dev"]) if data["dev"] else {}
        results["variants"][name] = data
    first = names[0]
    base = results["variants"][first]
    for name in names:
        v = results["variants"][name]
        v["p1_vs_default"] = compare(v["p1"], base["p1"])
        v["dev_vs_default"] = compare(v["dev"], base["dev"]) if v["dev"] else None
    for name in names[1:]:
        results["variants"][name]["rule_e7"] = judge(results, name, first)
    apply_e8(results)
    results["ended_utc"] = time.strftime("%H:%M:%S", time.gmtime())
    results["environment_after"] = environment("cpu")
    stem = f"engine_cpu_s8_{args.tag}" if args.tag else "engine_cpu_s8"
    write_results(stem, results, "")  # the numbers first, whatever the rendering does
    write_results(stem, results, render(results))
    say(render(results))
    return 0


BAD_STATUSES = ("max_steps", "error", "timeout")


def judge_e8(r: dict[str, Any], name: str, first: str) -> dict[str, Any]:
    """Rule E8 (NOTES.md, session 9, written before its idle run) for ``name`` against the default ``first``:
    the P1 /ask median >= 5 % lower, dev and P1 right counts not lower, no dev question newly ending at the
    step limit, in an error or a timeout (rightness instead of E7's identity)."""
    v, d = r["variants"][name], r["variants"][first]
    gain = 1 - v["ask"]["median_s"] / d["ask"]["median_s"]
    bad_before = {row["id"] for row in d["dev"] if row.get("status") in BAD_STATUSES}
    newly_bad = [row["id"] for row in v["dev"] if row.get("status") in BAD_STATUSES and row["id"] not in bad_before]
    checks: dict[str, Any] = {"p1_median_gain": round(gain, 3), "median_ok": gain >= 0.05}
    checks["dev_right_ok"] = bool(v["dev"]) and v["dev_summary"]["right"] >= d["dev_summary"]["right"]
    checks["p1_right_ok"] = v["ask"]["right"] >= d["ask"]["right"]
    checks["newly_bad"] = newly_bad
    checks["passes"] = bool(checks["median_ok"] and checks["dev_right_ok"] and checks["p1_right_ok"] and not newly_bad)
    return checks


def e8_winner(r: dict[str, Any]) -> str:
    """The variant rule E8 makes the default: the passing one with the lowest P1 median, else the first."""
    names = list(r["variants"])
    passing = [n for n in names[1:] if r["variants"][n].get("rule_e8", {}).get("passes")]
    return min(passing, key=lambda n: r["variants"][n]["ask"]["median_s"]) if passing else names[0]


def e8_cell(e8: dict[str, Any] | None) -> str:
    if e8 is None:
        return "(the default)"
    if e8["passes"]:
        return "**passes**"
    failed = [k.removesuffix("_ok") for k in ("median_ok", "dev_right_ok", "p1_right_ok") if not e8[k]]
    newly = f"; {len(e8['newly_bad'])} dev newly at the step limit / an error" if e8["newly_bad"] else ""
    return f"fails: {', '.join(failed)}{newly} (median {e8['p1_median_gain']:+.1%})"


def apply_e8(results: dict[str, Any]) -> None:
    names = list(results["variants"])
    for name in names[1:]:
        results["variants"][name]["rule_e8"] = judge_e8(results, name, names[0])
    results["rule_e8_default"] = e8_winner(results)


def judge(r: dict[str, Any], name: str, first: str) -> dict[str, Any]:
    """Rule E7 for variant ``name`` against the default ``first``."""
    v, d = r["variants"][name], r["variants"][first]
    gain = 1 - v["ask"]["median_s"] / d["ask"]["median_s"]
    dev = v["dev_vs_default"]
    checks: dict[str, Any] = {"p1_median_gain": round(gain, 3), "median_ok": gain >= 0.05}
    checks["identical_ok"] = dev is not None and dev["questions"] >= 100 and dev["identical"] >= 97
    checks["right_ok"] = dev is not None and v["dev_summary"]["right"] >= d["dev_summary"]["right"]
    checks["passes"] = bool(checks["median_ok"] and checks["identical_ok"] and checks["right_ok"])
    return checks


def render(r: dict[str, Any]) -> str:
    names = list(r["variants"])
    vs = r["variants"]

    def dev_cell(v: dict[str, Any], key: str) -> Any:
        return v["dev_summary"].get(key, "") if v["dev_summary"] else ""

    rows = []
    for name in names:
        v = vs[name]
        dev = v["dev_vs_default"]
        rule, e8 = v.get("rule_e7"), v.get("rule_e8")
        rows.append([
            f"**{name}**", v["decode_tok_s"], v["prefill_tok_s"], v["ask"]["median_s"], v["ask"]["p95_s"],
            v["ask"]["mean_s"], v["ask"]["decoded_per_question"], v["ask"]["requests_per_question"],
            f"{v['ask']['right']}/{v['ask']['questions']}",
            f"{v['p1_vs_default']['identical']}/{v['p1_vs_default']['questions']}",
            dev_cell(v, "median_s"), f"{dev['identical']}/{dev['questions']}" if dev else "",
            f"{dev_cell(v, 'right')}/{dev_cell(v, 'questions')}" if dev else "", v["peak_rss_mb"],
            "(the default)" if rule is None else
            f"{'**passes**' if rule['passes'] else 'fails'} (median {rule['p1_median_gain']:+.1%})",
            e8_cell(e8),
        ])  # fmt: skip
    lines = [
        "# /ask latency levers on the llama.cpp engine, side by side (issue 16, session 8, rule E7)\n",
        env_markdown(r["environment"]),
        f"Run {r['started_utc']}-{r['ended_utc']} UTC; load at the end {r['environment_after'].get('load_avg_1m')}. "
        f"Command: `python -m bench.engine_variants{' --tag ' + r['args']['tag'] if r['args']['tag'] else ''}` "
        f"(P1 mix {r['args']['n']} questions after one warm-up, then {r['args']['dev']} dev questions; each variant in "
        "its own process, in this order). `/ask` = `agent.run` as the service builds it (adapter `default`, local "
        "search); decode tok/s = 128 greedy tokens on a cached prompt through the service's client.\n",
        md_table(
            ["variant", "decode tok/s", "prefill tok/s", "P1 /ask median (s)", "P1 p95 (s)", "P1 mean (s)",
             "P1 tokens decoded / question", "P1 requests / question", "P1 right", "P1 identical",
             "dev /ask median (s)", "dev identical", "dev right", "peak RSS MB", "rule E7", "rule E8"],
            rows,
        ),  # fmt: skip
        "\n" + "\n".join(f"- **{n}**: `{' '.join(f'{k}={v}' for k, v in vs[n]['env'].items()) or 'default settings'}`; "
                         f"served `{vs[n]['served']['model']}`" + (f" + `--lora {vs[n]['served']['lora']}`"
                         if vs[n]["served"]["lora"] else "") + f" ({vs[n]['served']['size_mb']} MB), "
                         f"{vs[n]['served']['threads']} threads" for n in names),
        f"\nRule E8 (session 9: the P1 median >= 5 % lower, dev and P1 right not lower, no dev question newly at the "
        f"step limit / an error): the default is **{r.get('rule_e8_default', names[0])}**.",
    ]  # fmt: skip
    for name in names[1:]:
        dev = vs[name]["dev_vs_default"]
        differ = (dev["differ"] if dev else []) + vs[name]["p1_vs_default"]["differ"]
        if differ:
            lines += [
                f"\n## Answers that differ: {name} vs {names[0]} (dev, then P1)\n",
                md_table(
                    ["id", name, "right", names[0], "right"],
                    [[d["id"], d["variant"], d["variant_right"], d["default"], d["default_right"]] for d in differ],
                ),
            ]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
