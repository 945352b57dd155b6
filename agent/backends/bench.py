"""Measure the local backend: prefill cost, decode speed, and KV-cache reuse on a ReAct-shaped run.

    .venv/bin/python -m agent.backends.bench --dtype float32 --dtype bfloat16 --threads 1

Loads the converted default model (or ``--model``); prints one JSON line per dtype.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from agent.backends.gguf import ensure_default_model
from agent.backends.local import LocalChatModel
from agent.backends.prefix_cache import PrefixCache
from agent.config import default_cache_dir
from agent.prompt import STOP, observation_suffix, render_prompt

app = typer.Typer(add_completion=False)

QUESTION = "What is the capital of Australia?"
OTHER_QUESTION = "How many people live in Peru?"
OBSERVATIONS = [
    "Canberra is the capital city of Australia.",
    "Australia: population 26,000,000; area 7,692,024 km2; capital Canberra.",
    "3.38",
]


def _timed(fn: Any, repeats: int) -> tuple[float, float]:
    """Fastest (wall, CPU) seconds of ``repeats`` calls. CPU time (all threads of this process)
    is the number to compare on a shared box; wall time is only meaningful on an idle one."""
    walls, cpus = [], []
    for _ in range(repeats):
        w0, c0 = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - w0)
        cpus.append(time.process_time() - c0)
    return min(walls), min(cpus)


def react_run(model: Any, question: str, new_tokens: int) -> dict[str, Any]:
    """Three model steps, each prompt = previous prompt + output + observation."""
    prompt = render_prompt(question)
    texts, prompt_tokens, prefilled = [], 0, 0
    w0, c0 = time.perf_counter(), time.process_time()
    for obs in OBSERVATIONS:
        result = model.generate_text(prompt, max_new_tokens=new_tokens, stop=[STOP])
        texts.append(result.text)
        prompt_tokens += result.prompt_tokens
        prefilled += result.prompt_tokens - result.cached_tokens
        prompt = prompt + result.text + observation_suffix(obs)
    return {
        "wall_s": round(time.perf_counter() - w0, 2),
        "cpu_s": round(time.process_time() - c0, 2),
        "prompt_tokens": prompt_tokens,
        "prefilled_tokens": prefilled,
        "texts": texts,
    }


def measure(
    source: str, dtype: str, threads: int, decode_tokens: int, repeats: int, fast_head: bool = True
) -> dict[str, Any]:
    started = time.perf_counter()
    model = LocalChatModel.from_pretrained(
        source, device="cpu", dtype=dtype, quantize="none", threads=threads, fast_head=fast_head
    )
    load_s = time.perf_counter() - started
    prompt = render_prompt(QUESTION)
    model._kv = PrefixCache(0)  # every call prefills from scratch
    n_prompt = model.generate_text(prompt, max_new_tokens=2).prompt_tokens  # also warms the kernels
    prefill = _timed(lambda: model.generate_text(prompt, max_new_tokens=1), repeats)
    gen = _timed(lambda: model.generate_text(prompt, max_new_tokens=decode_tokens + 1), repeats)

    no_cache = react_run(model, QUESTION, 24)
    model._kv = PrefixCache(4)
    cold = react_run(model, QUESTION, 24)  # empty cache: steps 2-3 reuse step 1-2
    warm = react_run(model, OTHER_QUESTION, 24)  # after another run: the prompt header is cached too
    model._kv = PrefixCache(0)
    warm_reference = react_run(model, OTHER_QUESTION, 24)
    same = no_cache["texts"] == cold["texts"] and warm["texts"] == warm_reference["texts"]
    runs = {"no_cache": no_cache, "cache_first_run": cold, "cache_next_run": warm}
    return {
        "dtype": dtype,
        "screened_head": model._head is not None,
        "threads": threads,
        "load_s": round(load_s, 2),
        "prompt_tokens": n_prompt,
        "prefill_wall_s": round(prefill[0], 3),
        "prefill_cpu_s": round(prefill[1], 3),
        "decode_wall_ms_per_token": round((gen[0] - prefill[0]) / decode_tokens * 1000, 1),
        "decode_cpu_ms_per_token": round((gen[1] - prefill[1]) / decode_tokens * 1000, 1),
        "react3": {k: {x: y for x, y in v.items() if x != "texts"} for k, v in runs.items()},
        "react3_identical_text": same,
        "react3_texts": cold["texts"],
    }


@app.command()
def main(
    dtype: Annotated[list[str], typer.Option(help="dtypes to measure")] = ["float32"],  # noqa: B006
    model: Annotated[str, typer.Option(help="model folder (default: the converted Gemma 3 270M)")] = "",
    cache_dir: Annotated[
        Path | None, typer.Option(help="where the default model is converted (default: ~/.cache/qreact)")
    ] = None,
    threads: Annotated[int, typer.Option(help="torch CPU threads")] = 1,
    decode_tokens: Annotated[int, typer.Option(help="tokens timed for the decode rate")] = 32,
    repeats: Annotated[int, typer.Option(help="timings per number; the fastest is kept")] = 2,
    compare_head: Annotated[bool, typer.Option(help="float32 also without the screened output layer")] = True,
) -> None:
    source = model or str(ensure_default_model(cache_dir or default_cache_dir()))
    for name in dtype:
        typer.echo(json.dumps(measure(source, name, threads, decode_tokens, repeats)))
        if name == "float32" and compare_head:
            typer.echo(json.dumps(measure(source, name, threads, decode_tokens, repeats, fast_head=False)))


if __name__ == "__main__":
    app()
