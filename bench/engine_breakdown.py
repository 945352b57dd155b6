"""Issue 16: where an ``/ask`` on the llama.cpp engine spends its time, step by step, on the P1 mix.

    .venv/bin/python -m bench.engine_breakdown                     # the service's default engine
    .venv/bin/python -m bench.engine_breakdown --server-args "-fa on" --tag fa   # a lever, by hand

The agent runs as the service builds it (``app.wiring``: the default adapter merged, speculation as
configured), one warm-up question, then the 20-question P1 mix (``bench.common.select_questions``).
Every model call's stream is read as usual; its last event's llama-server ``timings`` are kept
(``prompt_n``: prompt tokens computed, ``cache_n``: reused from the previous prompt, ``prompt_ms``,
``predicted_n``, ``predicted_ms``). Per step: the agent's own ``llm_ms`` and ``tool_ms``; the client
overhead is ``llm_ms - prompt_ms - predicted_ms`` (HTTP, streaming, Python, token healing, stops);
"other" is the run's latency minus its steps (prompt rendering before, grounding check after).

``--server-args`` appends llama-server flags to the engine's command line for this run only (a way to
measure a lever through the real service path before it becomes a default). Writes
bench/results/engine_breakdown[_TAG].{json,md}.
"""

from __future__ import annotations

import argparse
import shlex
import time
from collections.abc import Iterator
from typing import Any

from bench.common import (
    DEFAULT_QUESTIONS,
    env_markdown,
    environment,
    md_table,
    median,
    percentile,
    say,
    select_questions,
    write_results,
)

TIMING_KEYS = ("prompt_n", "cache_n", "prompt_ms", "predicted_n", "predicted_ms")


def _recording(calls: list[dict[str, Any]]) -> Any:
    """A stand-in for ``llama_server.sse_events`` that keeps each stream's last ``timings``."""
    from agent.backends import llama_server

    original = llama_server.sse_events

    def sse_events(lines: Iterator[str]) -> Iterator[dict[str, Any]]:
        started = time.perf_counter()
        call: dict[str, Any] = {}
        calls.append(call)
        for event in original(lines):
            if "first_event_ms" not in call:
                call["first_event_ms"] = (time.perf_counter() - started) * 1000
            timings = event.get("timings")
            if timings:
                call |= {k: timings[k] for k in TIMING_KEYS if k in timings}
            yield event

    return sse_events


def run(args: argparse.Namespace) -> dict[str, Any]:
    import agent.backends.llamacpp as llamacpp
    from agent.backends.llama_server import ServerSpec
    from app.settings import Settings
    from app.wiring import build_agent, build_chat_model, build_default_tools
    from finetune.scoring import is_correct

    extra = shlex.split(args.server_args)
    if extra:  # this run's engine command line gets the extra flags (the class is frozen: wrap argv)
        argv = ServerSpec.argv
        ServerSpec.argv = lambda self, port: [*argv(self, port), *extra]  # type: ignore[method-assign]
    calls: list[dict[str, Any]] = []
    llamacpp.sse_events = _recording(calls)  # type: ignore[attr-defined]
    fields: dict[str, Any] = {"engine": "llamacpp", "adapter": "default", "search": "local"}
    if args.threads:
        fields["threads"] = args.threads
    settings = Settings(_env_file=None, **fields)  # type: ignore[call-arg]
    model: Any = build_chat_model(settings)  # the engine: LlamaCppChatModel
    server = model._server
    agent = build_agent(settings, chat_model=model, tools=build_default_tools(settings))
    rows = select_questions(DEFAULT_QUESTIONS, args.n)
    agent.run(rows[0]["question"])  # warm-up: the shared prompt header is cached from here on
    questions = []
    for row in rows:
        calls.clear()
        result = agent.run(row["question"])
        steps = []
        for step, call in zip(result.steps, calls, strict=False):
            server_ms = call.get("prompt_ms", 0.0) + call.get("predicted_ms", 0.0)
            steps.append({
                "kind": step.kind, "llm_ms": round(step.llm_ms, 1), "tool_ms": round(step.tool_ms, 1),
                **{k: round(v, 1) if isinstance(v, float) else v for k, v in call.items()},
                "client_ms": round(step.llm_ms - server_ms, 1),
            })  # fmt: skip
        latency = result.latency_ms
        questions.append({
            "id": row.get("id"), "kind": row.get("kind"), "latency_ms": round(latency, 1),
            "status": result.status, "correct": bool(is_correct(result.answer, row["answer"], row.get("rel_tol"))),
            "steps": steps, "other_ms": round(latency - sum(s.ms for s in result.steps), 1),
        })  # fmt: skip
    model.close()
    return {
        "environment": environment("cpu"),
        "threads": settings.threads,
        "served": {
            "model": server.spec.model.name,
            "argv_extra": extra,
            "speculative": server.spec.speculative,
            "head_type": settings.engine_head_type,
        },  # fmt: skip
        "questions": questions,
        "summary": summarize(questions),
    }


def summarize(questions: list[dict[str, Any]]) -> dict[str, Any]:
    """Per-question sums of every part, their medians and means, and the step/token counts."""

    def total(q: dict[str, Any], key: str) -> float:
        return float(sum(s.get(key, 0) or 0 for s in q["steps"]))

    parts = {
        "prefill_ms": lambda q: total(q, "prompt_ms"),
        "decode_ms": lambda q: total(q, "predicted_ms"),
        "client_ms": lambda q: total(q, "client_ms"),
        "tool_ms": lambda q: total(q, "tool_ms"),
        "other_ms": lambda q: q["other_ms"],
        "latency_ms": lambda q: q["latency_ms"],
        "steps": lambda q: len(q["steps"]),
        "prompt_tokens_computed": lambda q: total(q, "prompt_n"),
        "prompt_tokens_cached": lambda q: total(q, "cache_n"),
        "decode_tokens": lambda q: total(q, "predicted_n"),
    }
    out: dict[str, Any] = {}
    for name, fn in parts.items():
        values = [fn(q) for q in questions]
        out[name] = {"median": round(median(values), 1), "mean": round(sum(values) / len(values), 1),
                     "p95": round(percentile(values, 95), 1)}  # fmt: skip
    steps = [s for q in questions for s in q["steps"] if "prompt_ms" in s]
    prefill_ms, prefill_n = sum(s["prompt_ms"] for s in steps), sum(s["prompt_n"] for s in steps)
    decode_ms, decode_n = sum(s["predicted_ms"] for s in steps), sum(s["predicted_n"] for s in steps)
    out["prefill_tok_s"] = round(1000 * prefill_n / prefill_ms, 1) if prefill_ms else None
    out["decode_tok_s"] = round(1000 * decode_n / decode_ms, 1) if decode_ms else None
    out["first_step_cached"] = [q["steps"][0].get("cache_n") for q in questions if q["steps"]]
    out["accuracy"] = round(sum(q["correct"] for q in questions) / len(questions), 3)
    return out


def render(r: dict[str, Any], tag: str) -> str:
    s = r["summary"]
    names = [("latency_ms", "/ask latency"), ("prefill_ms", "prefill (server prompt_ms)"),
             ("decode_ms", "decode (server predicted_ms)"), ("client_ms", "client overhead (llm_ms - server)"),
             ("tool_ms", "tools"), ("other_ms", "other (prompt render, grounding check)"),
             ("steps", "model calls"), ("prompt_tokens_computed", "prompt tokens computed"),
             ("prompt_tokens_cached", "prompt tokens reused (cache_n)"),
             ("decode_tokens", "tokens decoded")]  # fmt: skip
    lines = [
        f"# Where /ask time goes on the llama.cpp engine ({tag or 'the default'})\n",
        env_markdown(r["environment"]),
        f"{r['threads']} threads; served `{r['served']['model']}` (head {r['served']['head_type']}, speculation "
        f"{r['served']['speculative']}, extra llama-server flags: `{' '.join(r['served']['argv_extra']) or 'none'}`). "
        f"Command: `python -m bench.engine_breakdown{' --tag ' + tag if tag else ''}`. P1 mix, "
        f"{len(r['questions'])} questions after one warm-up; per-question sums.\n",
        md_table(
            ["part", "median", "mean", "p95"],
            [[label, s[key]["median"], s[key]["mean"], s[key]["p95"]] for key, label in names],
        ),
        f"\nIn-run speeds (all steps): prefill {s['prefill_tok_s']} tok/s, decode {s['decode_tok_s']} tok/s. "
        f"P1 accuracy {s['accuracy']}. Prompt tokens reused at each question's first step (the shared header): "
        f"{s['first_step_cached']}.\n",
        "## Per question\n",
        md_table(
            ["id", "latency ms", "steps: computed+cached prompt tokens / decoded tokens / prefill+decode+client ms"],
            [
                [
                    q["id"],
                    q["latency_ms"],
                    "; ".join(
                        f"{st.get('prompt_n')}+{st.get('cache_n')}/{st.get('predicted_n')}/"
                        f"{st.get('prompt_ms')}+{st.get('predicted_ms')}+{st.get('client_ms')}"
                        for st in q["steps"]
                    ),
                ]
                for q in r["questions"]
            ],
        ),  # fmt: skip
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20, help="P1-mix questions")
    parser.add_argument("--threads", type=int, default=0, help="engine threads (0: the service's setting)")
    parser.add_argument("--server-args", default="", help="extra llama-server flags for this run, e.g. '-fa on'")
    parser.add_argument("--tag", default="", help="results file suffix: engine_breakdown_TAG")
    args = parser.parse_args(argv)
    results = run(args)
    stem = f"engine_breakdown_{args.tag}" if args.tag else "engine_breakdown"
    write_results(stem, results, render(results, args.tag))
    say(render(results, args.tag).split("## Per question")[0])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
