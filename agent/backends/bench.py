"""Measure the local backend: prefill cost, decode speed, and KV-cache reuse on a ReAct-shaped run.

    .venv/bin/python -m agent.backends.bench --dtype float32 --dtype bfloat16 --threads 2

Loads the converted default model (or ``--model``); prints one JSON line per dtype.
"""

from __future__ import annotations

import json
import time
from typing import Annotated, Any

import typer

from agent.prompt import STOP, observation_suffix, render_prompt

app = typer.Typer(add_completion=False)

QUESTION = "What is the capital of Australia?"
OBSERVATIONS = [
    "Canberra is the capital city of Australia.",
    "Australia: population 26,000,000; area 7,692,024 km2; capital Canberra.",
    "3.38",
]


def _best(fn: Any, repeats: int) -> float:
    """Fastest of ``repeats`` timings, seconds (the box is shared: the minimum is the least noisy)."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def react_run(model: Any, new_tokens: int) -> tuple[float, list[str], int, int]:
    """Three model steps, each prompt = previous prompt + output + observation.

    Returns (seconds, texts, prompt tokens, prefilled tokens)."""
    prompt = render_prompt(QUESTION)
    texts, prompt_tokens, prefilled = [], 0, 0
    started = time.perf_counter()
    for obs in OBSERVATIONS:
        result = model.generate_text(prompt, max_new_tokens=new_tokens, stop=[STOP])
        texts.append(result.text)
        prompt_tokens += result.prompt_tokens
        prefilled += result.prompt_tokens - result.cached_tokens
        prompt = prompt + result.text + observation_suffix(obs)
    return time.perf_counter() - started, texts, prompt_tokens, prefilled


def measure(source: str, dtype: str, threads: int, decode_tokens: int, repeats: int) -> dict[str, Any]:
    from agent.backends.local import LocalChatModel, PrefixCache

    started = time.perf_counter()
    model = LocalChatModel.from_pretrained(
        source, device="cpu", dtype=dtype, quantize="none", threads=threads
    )
    load_s = time.perf_counter() - started
    prompt = render_prompt(QUESTION)
    model._kv = PrefixCache(0)  # every call prefills from scratch
    n_prompt = model.generate_text(prompt, max_new_tokens=1).prompt_tokens
    prefill_s = _best(lambda: model.generate_text(prompt, max_new_tokens=1), repeats)
    gen_s = _best(lambda: model.generate_text(prompt, max_new_tokens=decode_tokens + 1), repeats)
    decode_tps = decode_tokens / (gen_s - prefill_s)

    run_plain = react_run(model, 24)
    model._kv = PrefixCache(4)
    react_run(model, 24)  # warm: the header is cached as it would be after the first request
    model._kv = PrefixCache(4)
    run_cold = react_run(model, 24)
    run_warm = react_run(model, 24)  # same run again: the prompt header and all steps reusable
    return {
        "dtype": dtype,
        "threads": threads,
        "load_s": round(load_s, 2),
        "prompt_tokens": n_prompt,
        "prefill_s": round(prefill_s, 3),
        "prefill_tok_s": round(n_prompt / prefill_s, 1),
        "decode_tok_s": round(decode_tps, 2),
        "react3_no_cache_s": round(run_plain[0], 2),
        "react3_cache_cold_s": round(run_cold[0], 2),
        "react3_cache_warm_s": round(run_warm[0], 2),
        "react3_prompt_tokens": run_plain[2],
        "react3_prefilled_no_cache": run_plain[3],
        "react3_prefilled_cache_cold": run_cold[3],
        "react3_prefilled_cache_warm": run_warm[3],
        "react3_identical_text": run_plain[1] == run_cold[1] == run_warm[1],
    }


@app.command()
def main(
    dtype: Annotated[list[str], typer.Option(help="dtypes to measure")] = ["float32"],  # noqa: B006
    model: Annotated[str, typer.Option(help="model folder (default: the converted Gemma 3 270M)")] = "",
    threads: Annotated[int, typer.Option(help="torch CPU threads")] = 2,
    decode_tokens: Annotated[int, typer.Option(help="tokens timed for the decode rate")] = 32,
    repeats: Annotated[int, typer.Option(help="timings per number; the fastest is kept")] = 2,
) -> None:
    from agent.backends.gemma import ensure_default_model
    from app.settings import Settings

    source = model or str(ensure_default_model(Settings().cache_dir))
    for name in dtype:
        typer.echo(json.dumps(measure(source, name, threads, decode_tokens, repeats)))


if __name__ == "__main__":
    app()
