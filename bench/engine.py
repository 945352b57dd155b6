"""Issue 16: qreact's llama.cpp engine vs the torch path vs llama.cpp itself, in one run, on one GGUF.

    .venv/bin/python -m bench.engine                          # everything (~15-25 min on 2 busy cores)
    .venv/bin/python -m bench.engine --n 5 --dev 0 --no-first-start   # a quick look

What runs, each stack in its own process (so its peak RSS is its own):

- **llama-bench** (the engine's own build) on the embedded Q4_K_M GGUF: prefill (``-p``) and decode
  (``-n``) tokens/s, ``--threads`` threads. It cannot load a LoRA.
  Also on the file the engine serves (the shipped adapter merged in, the head in
  ``QREACT_ENGINE_HEAD_TYPE``: ``agent.backends.llamacpp_merge``; the merge is timed from scratch in
  an empty folder: what a hot swap pays), so the engine's decode is compared with llama.cpp on the
  same model and on the same file; and on the merge with the shipped Q8_0 head.
- **llama-server** started by hand on the same GGUF, base and with the shipped adapter as
  ``--lora``, and on the merged GGUF: its own ``timings`` (prompt and predicted tokens per second).
- **engine**: qreact's ``LlamaCppChatModel`` as the service builds it (``app.wiring``: the adapter
  merged) with n-gram speculative decoding on (``QREACT_ENGINE_SPECULATIVE=true``), adapter ``default``
  active; **engine-nospec** the same as the service's default, speculation off (plain decode speed;
  answers compared): decode tok/s (tokens /
  wall time of a 128-token greedy generation whose prompt is cached), prefill tok/s (a fresh prompt:
  prompt tokens / wall time to the first token), then
  ``/ask`` through ``app.wiring.build_agent`` on the 20-question P1 mix (``bench.common.
  select_questions``, after one warm-up question) and the dev set's answers.
- **torch**: ``LocalChatModel`` (fp32 lean forward, screened output layer), the same measurements.
- **first start**: each stack from an empty cache directory (GGUF join or GGUF→fp32 conversion,
  adapter conversion and, on the engine, merge; model up), wall time.

Peak RSS: each process's ``VmHWM`` from ``/proc`` (the worker's own and, for the engine, its
llama-server's): it starts fresh at exec, where ``ru_maxrss`` keeps the parent's peak across fork + exec.
Writes bench/results/engine_cpu.{json,md}.
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

DEV_QUESTIONS = REPO_ROOT / "finetune" / "evalsets" / "dev.jsonl"
DECODE_TOKENS = 128


def _settings(cache_dir: Path | None, engine: str, threads: int, speculative: bool = True) -> Any:
    """The service's settings (its environment: ``QREACT_ENGINE_HEAD_TYPE`` etc.) for one stack."""
    from agent.backends.llama_server import engine_dir
    from agent.config import default_cache_dir
    from app.settings import Settings

    fields: dict[str, Any] = {"engine": engine, "threads": threads, "adapter": "default", "search": "local",
                              "engine_speculative": speculative}  # fmt: skip
    if cache_dir is not None:  # an empty cache (first start): the engine built in the usual one
        fields["cache_dir"] = cache_dir
        fields["engine_dir"] = os.environ.get("QREACT_ENGINE_DIR") or engine_dir(default_cache_dir())
    return Settings(_env_file=None, **fields)  # type: ignore[call-arg]


def _hwm_mb(pid: int | None) -> float:
    """A process's peak resident memory (VmHWM), MB; 0 when it is gone."""
    if pid is None:
        return 0.0
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _self_peak_mb() -> float:
    """This process's own peak (VmHWM: not the parent's, which ``ru_maxrss`` inherits through fork + exec)."""
    return _hwm_mb(os.getpid())


# ------------------------------------------------------------------------------------------ a worker
def measure_generation(model: Any, prompt: str) -> dict[str, Any]:
    """Decode and prefill speed through the model's own generate_text (what the service calls)."""
    model.generate_text(prompt, max_new_tokens=DECODE_TOKENS, stop=[])  # warm: the prompt is now cached
    started = time.perf_counter()
    out = model.generate_text(prompt, max_new_tokens=DECODE_TOKENS, stop=[])
    decode_s = time.perf_counter() - started
    fresh = f"Run {time.time_ns()}.\n{prompt}"  # a new first token: nothing of it is cached
    started = time.perf_counter()
    first = model.generate_text(fresh, max_new_tokens=1, stop=[])
    prefill_s = time.perf_counter() - started
    return {
        "decode_tokens": out.completion_tokens,
        "decode_tok_s": round(out.completion_tokens / decode_s, 1),
        "prefill_tokens": first.prompt_tokens - first.cached_tokens,
        "prefill_tok_s": round((first.prompt_tokens - first.cached_tokens) / prefill_s, 1),
    }


def run_questions(agent: Any, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    from finetune.scoring import is_correct

    out = []
    for row in rows:
        run = agent.run(row["question"])
        out.append({
            "id": row.get("id"),
            "answer": run.answer,
            "status": run.status,
            "latency_s": round(run.latency_ms / 1000, 3),
            "completion_tokens": run.usage.completion_tokens,
            "correct": bool(is_correct(run.answer, row["answer"], row.get("rel_tol"))),
        })  # fmt: skip
    return out


def worker(stack: str, args: argparse.Namespace) -> dict[str, Any]:
    """One stack: load, speeds, /ask on the P1 mix, dev answers; peak RSS at the end."""
    from agent.prompt import render_prompt
    from app.wiring import build_agent, build_chat_model, build_default_tools

    cache_dir = Path(args.cache_dir) if args.cache_dir else None
    engine = "torch" if stack == "torch" else "llamacpp"
    settings = _settings(cache_dir, engine, args.threads, speculative=stack != "engine-nospec")
    started = time.perf_counter()
    model = build_chat_model(settings)
    load_s = time.perf_counter() - started
    result: dict[str, Any] = {"stack": stack, "load_s": round(load_s, 1)}
    result["adapter"] = getattr(model, "active_adapter", None)
    server = getattr(model, "_server", None)
    if server is not None:  # what the engine serves: the merged GGUF or the base + --lora
        result["served"] = {"model": server.spec.model.name, "lora": server.spec.lora is not None,
                            "speculative": server.spec.speculative, "head_type": settings.engine_head_type,
                            "size_mb": round(server.spec.model.stat().st_size / 1e6)}  # fmt: skip
    if args.first_start_only:
        result["peak_rss_mb"] = round(_self_peak_mb() + _hwm_mb(getattr(model, "server_pid", None)), 0)
        return result
    prompt = render_prompt("What is the capital of Australia?") + "Thought:"
    result |= measure_generation(model, prompt)
    tools = build_default_tools(settings)
    agent = build_agent(settings, chat_model=model, tools=tools)
    p1 = select_questions(DEFAULT_QUESTIONS, args.n)
    run_questions(agent, p1[:1])  # warm-up (the shared prompt header and the tools' first use)
    result["p1"] = run_questions(agent, p1)
    if args.dev:
        result["dev"] = run_questions(agent, load_jsonl(DEV_QUESTIONS)[: args.dev])
    result["peak_rss_mb"] = round(_self_peak_mb() + _hwm_mb(getattr(model, "server_pid", None)), 0)
    result["server_peak_rss_mb"] = round(_hwm_mb(getattr(model, "server_pid", None)), 0)
    result["python_peak_rss_mb"] = round(_self_peak_mb(), 0)
    return result


# ------------------------------------------------------------------------------------------ llama.cpp itself
def llama_bench(engine_dir: Path, gguf: Path, threads: int, prompt_tokens: int, repeats: int) -> dict[str, Any]:
    command = [
        str(engine_dir / "bin" / "llama-bench"), "-m", str(gguf), "-t", str(threads), "-p", str(prompt_tokens),
        "-n", str(DECODE_TOKENS), "-r", str(repeats), "-o", "json",
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=900, check=True)
    rows = json.loads(done.stdout)
    out: dict[str, Any] = {"command": " ".join(command[1:])}
    for row in rows:
        kind = "prefill_tok_s" if row.get("n_prompt") else "decode_tok_s"
        out[kind] = round(float(row["avg_ts"]), 1)
    return out


def raw_server(engine_dir: Path, gguf: Path, lora: Path | None, threads: int, prompt: str) -> dict[str, Any]:
    """llama-server by hand (no qreact): its own timings for the same prompt and 128 tokens."""
    import httpx

    from agent.backends.llama_server import LlamaServer, ServerSpec

    spec = ServerSpec(
        binary=engine_dir / "bin" / "llama-server", model=gguf, lora=lora, threads=threads, ctx_size=4096,
        log_file=Path(tempfile.gettempdir()) / "qreact-bench-llama-server.log",
    )  # fmt: skip
    server = LlamaServer(spec).start(120)
    try:
        body = {"prompt": prompt, "n_predict": DECODE_TOKENS, "samplers": ["top_k"], "top_k": 1, "ignore_eos": True}
        assert server.client is not None
        server.client.post("/completion", json=body | {"cache_prompt": False}, timeout=httpx.Timeout(900))
        timings = server.client.post("/completion", json=body | {"cache_prompt": False}, timeout=900).json()["timings"]
    finally:
        server.stop()
    return {
        "decode_tok_s": round(float(timings["predicted_per_second"]), 1),
        "prefill_tok_s": round(float(timings["prompt_per_second"]), 1),
        "prefill_tokens": timings["prompt_n"],
    }


# ------------------------------------------------------------------------------------------ the run
def _spawn(args: argparse.Namespace, stack: str, extra: list[str], env: dict[str, str] | None = None) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as handle:
        out = Path(handle.name)
    command = [sys.executable, "-m", "bench.engine", "--worker", stack, "--worker-out", str(out), "--threads",
               str(args.threads), "--n", str(args.n), "--dev", str(args.dev), *extra]  # fmt: skip
    say(f"--- {stack}: {' '.join(command[2:])} {env or ''}")
    started = time.perf_counter()
    subprocess.run(command, cwd=REPO_ROOT, check=True, env=os.environ | (env or {}))
    data = dict(json.loads(out.read_text()))
    data["wall_s"] = round(time.perf_counter() - started, 1)
    out.unlink()
    return data


def summarize_ask(runs: list[dict[str, Any]]) -> dict[str, Any]:
    latencies = [r["latency_s"] for r in runs]
    return {
        "questions": len(runs),
        "median_s": round(median(latencies), 2),
        "p95_s": round(percentile(latencies, 95), 2),
        "accuracy": round(sum(r["correct"] for r in runs) / len(runs), 3) if runs else None,
    }


def agreement(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> dict[str, Any]:
    same = sum(x["answer"] == y["answer"] for x, y in zip(a, b, strict=True))
    return {
        "questions": len(a),
        "same_answer": same,
        "engine_correct": sum(x["correct"] for x in a),
        "torch_correct": sum(y["correct"] for y in b),
        "differ": [{"id": x["id"], "engine": x["answer"], "torch": y["answer"]} for x, y in zip(a, b, strict=True)
                   if x["answer"] != y["answer"]],
    }  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20, help="P1-mix questions for /ask")
    parser.add_argument("--dev", type=int, default=100, help="dev-set questions compared answer by answer (0: none)")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--prompt-tokens", type=int, default=200, help="llama-bench's prefill length")
    parser.add_argument("--repeats", type=int, default=3, help="llama-bench repetitions")
    parser.add_argument("--no-first-start", dest="first_start", action="store_false")
    parser.add_argument("--no-speculation", dest="speculation", action="store_false",
                        help="skip the engine run with n-gram speculation (off by default in the service)")
    parser.add_argument("--no-torch", dest="torch", action="store_false", help="skip the torch path")
    parser.add_argument("--head-types", type=lambda v: [t for t in v.split(",") if t], default=[],
                        help="comma-separated other QREACT_ENGINE_HEAD_TYPEs to run the engine with too")
    parser.add_argument("--worker", choices=["engine", "engine-nospec", "torch"], help=argparse.SUPPRESS)
    parser.add_argument("--worker-out", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--cache-dir", help=argparse.SUPPRESS)
    parser.add_argument("--first-start-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        args.worker_out.write_text(json.dumps(worker(args.worker, args)))
        return 0

    from agent.prompt import render_prompt
    from app.wiring import llamacpp_config, resolved_engine_dir

    settings = _settings(None, "llamacpp", args.threads)
    engine_dir = resolved_engine_dir(settings)
    config = llamacpp_config(settings)
    prompt = render_prompt("What is the capital of Australia?") + "Thought:"
    env = environment("cpu")
    say(f"llama-bench on {config.model_gguf.name}, {args.threads} threads")
    results: dict[str, Any] = {"environment": env, "threads": args.threads, "gguf": str(config.model_gguf)}
    results["llama_bench"] = llama_bench(engine_dir, config.model_gguf, args.threads, args.prompt_tokens, args.repeats)
    from agent.backends import default_adapter_dir
    from agent.backends.llamacpp import convert_adapter
    from agent.backends.llamacpp_merge import merge_lora

    lora = convert_adapter(default_adapter_dir(), config)
    head = config.head_type
    with tempfile.TemporaryDirectory(prefix="qreact-merge-") as fresh:  # a merge from scratch: what a hot swap pays
        started = time.perf_counter()
        merge_lora(config.model_gguf, lora, engine_dir, fresh, args.threads, head_type=head)
        results["merge_s"] = round(time.perf_counter() - started, 1)
    served = merge_lora(config.model_gguf, lora, engine_dir, config.cache_dir, args.threads, head_type=head)
    merged = merge_lora(config.model_gguf, lora, engine_dir, config.cache_dir, args.threads)  # the shipped head
    if config.vocab_rank:  # the file the engine serves: its vocabulary trimmed too (QREACT_ENGINE_VOCAB_RANK)
        from agent.backends.llamacpp_vocab import trimmed

        served = trimmed(served, config.cache_dir, config.vocab_rank)
    results["head_type"], results["vocab_rank"] = head, config.vocab_rank
    results["served_gguf"] = {"name": served.name, "size_mb": round(served.stat().st_size / 1e6)}
    results["llama_bench_served"] = llama_bench(engine_dir, served, args.threads, args.prompt_tokens, args.repeats)
    results["llama_bench_merged"] = (
        results["llama_bench_served"] if merged == served
        else llama_bench(engine_dir, merged, args.threads, args.prompt_tokens, args.repeats)
    )  # fmt: skip
    results["llama_server"] = raw_server(engine_dir, config.model_gguf, None, args.threads, prompt)
    results["llama_server_lora"] = raw_server(engine_dir, config.model_gguf, lora, args.threads, prompt)
    results["llama_server_merged"] = raw_server(engine_dir, served, None, args.threads, prompt)
    results["engine"] = _spawn(args, "engine", []) if args.speculation else None
    results["engine_nospec"] = _spawn(args, "engine-nospec", [])
    results["torch"] = _spawn(args, "torch", []) if args.torch else None
    results["head_variants"] = {}
    for other in args.head_types:  # the same engine run with another head type: speed, /ask, answers
        run = _spawn(args, "engine-nospec", [], env={"QREACT_ENGINE_HEAD_TYPE": other})
        variant = merge_lora(config.model_gguf, lora, engine_dir, config.cache_dir, args.threads, head_type=other)
        results["head_variants"][other] = {
            "llama_bench": llama_bench(engine_dir, variant, args.threads, args.prompt_tokens, args.repeats),
            "engine": {k: run[k] for k in ("decode_tok_s", "prefill_tok_s", "peak_rss_mb", "served")},
            "ask": summarize_ask(run["p1"]),
            "answers": agreement(run["p1"], results["engine_nospec"]["p1"]),
        }
        if args.dev:  # the dev set answer by answer, against the shipped head ("torch_*": the shipped head's)
            results["head_variants"][other]["dev_answers"] = agreement(run["dev"], results["engine_nospec"]["dev"])
    if args.first_start:
        for stack in ("engine-nospec", "torch") if args.torch else ("engine-nospec",):
            with tempfile.TemporaryDirectory(prefix=f"qreact-first-{stack}-") as empty:
                extra = ["--cache-dir", empty, "--first-start-only"]
                results[f"first_start_{stack.split('-')[0]}"] = _spawn(args, stack, extra)
    results["environment_after"] = environment("cpu")
    stacks = [s for s in ("engine", "engine_nospec", "torch") if results[s] is not None]
    results["ask"] = {s: summarize_ask(results[s]["p1"]) for s in stacks}
    if results["torch"] is not None:
        results["p1_answers"] = agreement(results["engine_nospec"]["p1"], results["torch"]["p1"])
        if args.dev:
            results["dev_answers"] = agreement(results["engine_nospec"]["dev"], results["torch"]["dev"])
    if results["engine"] is not None:
        results["spec_answers"] = agreement(results["engine"]["p1"], results["engine_nospec"]["p1"])
    write_results("engine_cpu", results, "")  # the numbers first, whatever the rendering does
    write_results("engine_cpu", results, render_markdown(results))
    say((REPO_ROOT / "bench" / "results" / "engine_cpu.md").read_text())
    return 0


def render_markdown(r: dict[str, Any]) -> str:
    e, n, t, lb = r["engine"], r["engine_nospec"], r["torch"], r["llama_bench"]
    lbs, lbm = r["llama_bench_served"], r["llama_bench_merged"]
    ls, ll, lm = r["llama_server"], r["llama_server_lora"], r["llama_server_merged"]
    ask, head = r["ask"], r.get("head_type") or "the base's"

    def ratio(a: float, b: float) -> str:
        return f"{a / b:.2f}×" if b else "n/a"

    def speed(name: str, row: dict[str, Any] | None) -> list[Any] | None:
        if row is None:
            return None
        decode = row["decode_tok_s"]
        return [name, decode, row["prefill_tok_s"], ratio(decode, lb["decode_tok_s"]),
                ratio(decode, lbs["decode_tok_s"])]  # fmt: skip

    stacks = [(label, row) for label, row in (("engine + speculation", e), ("engine (the default)", n), ("torch", t))
              if row is not None]  # fmt: skip
    keys = {"engine + speculation": "engine", "engine (the default)": "engine_nospec", "torch": "torch"}
    ask_rows = [
        ["/ask median, {} questions (s)".format(ask["engine_nospec"]["questions"]), "median_s"],
        ["/ask p95 (s)", "p95_s"],
        ["P1 accuracy", "accuracy"],
    ]
    first = {"engine (the default)": r.get("first_start_engine"), "torch": r.get("first_start_torch")}
    served = r.get("served_gguf", {})
    speed_rows = [
        speed("llama-bench, the shipped GGUF (base; it cannot load a LoRA)", lb),
        speed(f"llama-bench, **the served file** (base + LoRA merged, head {head}; {served.get('size_mb')} MB)", lbs),
        speed("llama-bench, the merge with the shipped Q8_0 head", lbm) if lbm != lbs else None,
        speed("llama-server by hand, base", ls),
        speed("llama-server by hand, base + LoRA at run time (--lora)", ll),
        speed("llama-server by hand, the served file", lm),
        speed("**qreact engine**, the served file, plain decode (the default)", n),
        speed("qreact engine + n-gram speculation (QREACT_ENGINE_SPECULATIVE=true): *effective*", e),
        speed("qreact torch path (fp32 lean forward, merged LoRA)", t),
    ]
    lines = [
        "# The llama.cpp engine vs the torch path vs llama.cpp (issue 16)\n",
        env_markdown(r["environment"]),
        f"Load at the end: {r['environment_after'].get('load_avg_1m')}. {r['threads']} threads everywhere; "
        f"GGUF `{Path(r['gguf']).name}`; adapter `default` everywhere but the base rows; the engine serves it "
        f"merged into a copy of the GGUF (`{served.get('name')}`: adapted layers Q8_0, embedding/output head "
        f"{head}; merge {r.get('merge_s')} s from scratch, cached by content). Command: `python -m bench.engine`.\n",
        "## Speed\n",
        md_table(
            ["stack", "decode tok/s", "prefill tok/s", "decode vs llama-bench, shipped GGUF",
             "decode vs llama-bench, served file"],
            [row for row in speed_rows if row is not None],
        ),  # fmt: skip
        "\nThe engine rows are measured through the service's client: a 128-token greedy generation whose "
        "prompt is cached (tokens / wall time), then a fresh prompt (prompt tokens / time to the first token). "
        "With speculation the decode figure is *effective*: tokens per second of wall time, drafts checked "
        "in batches; llama.cpp's own decode speed per sequential step is the plain row.\n",
        "## /ask on the P1 mix, memory, load time\n",
        md_table(
            ["", *(label for label, _ in stacks)],
            [[label, *(ask[keys[s]][key] for s, _ in stacks)] for label, key in ask_rows]
            + [
                ["peak RSS (VmHWM), Python + llama-server (MB)", *(row["peak_rss_mb"] for _, row in stacks)],
                ["model load, warm cache (s)", *(row["load_s"] for _, row in stacks)],
                *(
                    [["first start, empty cache (s)", *((first.get(s) or {}).get("load_s", "") for s, _ in stacks)]]
                    if "first_start_engine" in r else []
                ),
            ],
        ),  # fmt: skip
        f"\nEngine peak RSS (VmHWM): Python {n.get('python_peak_rss_mb')} MB + llama-server "
        f"{n.get('server_peak_rss_mb')} MB.\n",
    ]
    for key, title in (("p1_answers", "P1 mix"), ("dev_answers", "dev set")):
        if key in r:
            a = r[key]
            lines.append(
                f"\n**Answers, {title}:** {a['same_answer']} of {a['questions']} identical; correct: engine "
                f"{a['engine_correct']}, torch {a['torch_correct']}.\n"
            )
            if a["differ"]:
                lines.append(
                    md_table(["id", "engine", "torch"], [[d["id"], d["engine"], d["torch"]] for d in a["differ"]])
                )
    if r.get("head_variants"):
        lines += [
            "\n## Other head types (QREACT_ENGINE_HEAD_TYPE), the same engine run\n",
            md_table(
                ["head", "llama-bench decode, its served file", "engine decode", "/ask median (s)", "/ask p95 (s)",
                 "P1 accuracy", f"P1 answers identical to head {head}", "peak RSS (MB)"],
                [[h, v["llama_bench"]["decode_tok_s"], v["engine"]["decode_tok_s"], v["ask"]["median_s"],
                  v["ask"]["p95_s"], v["ask"]["accuracy"], f"{v['answers']['same_answer']}/{v['answers']['questions']}",
                  v["engine"]["peak_rss_mb"]] for h, v in r["head_variants"].items()],
            ),
        ]  # fmt: skip
        for h, v in r["head_variants"].items():
            if "dev_answers" in v:
                a = v["dev_answers"]
                lines.append(
                    f"\n**Dev set, head {h} vs head {head}:** {a['same_answer']} of {a['questions']} answers "
                    f"identical; correct: {h} {a['engine_correct']}, {head} {a['torch_correct']}.\n"
                )
                if a["differ"]:
                    lines.append(md_table(["id", h, head], [[d["id"], d["engine"], d["torch"]] for d in a["differ"]]))
    if "spec_answers" in r:
        a = r["spec_answers"]
        lines.append(
            f"\n**Speculation changes no answer:** engine with and without n-gram speculation, P1 mix: "
            f"{a['same_answer']} of {a['questions']} identical.\n"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
