"""P1: qreact's agent vs the seed stack, same model + adapter, same 20 questions: latency, tokens, accuracy.

    .venv/bin/python -m bench.p1_ask_vs_seed                 # 20 questions, CPU; ~4 min idle, up to ~50 min worst case
    .venv/bin/python -m bench.p1_ask_vs_seed --n 5           # a quick look (~5-10 min on 2 cores)
    .venv/bin/python -m bench.p1_ask_vs_seed --device cuda   # on a GPU (4-bit base): bench/results/p1_cuda.*

Both stacks share one loaded model with the LoRA adapter (``--adapter default``: adapters/default/)
and the same tools (local Search with 1 result per observation, Calculator):

- **qreact**: ``app.wiring.build_agent`` on ``LocalChatModel`` — stop strings inside generation,
  the prompt's KV cache reused across steps and runs, token healing.
- **seed**: what a user of the seed writes: langchain-classic ``initialize_agent(tools, llm,
  agent=AgentType.ZERO_SHOT_REACT_DESCRIPTION)`` over langchain-huggingface ``HuggingFacePipeline``
  wrapping a transformers ``pipeline("text-generation", ...)`` on the same model. The pipeline gets
  the settings such a user must give it to work at all (``return_full_text=False``: without it the
  agent parses the prompt's own format lines; ``max_new_tokens`` and greedy decoding, equal to
  qreact's); ``HuggingFacePipeline`` ignores ``stop`` and the pipeline re-encodes the whole prompt
  at every step. Our tools are wrapped as classic ``Tool``s. ``AgentExecutor`` defaults otherwise
  (parse errors raise), with the same step limit as qreact and a per-question time cap
  (``--seed-cap-s``, checked between steps), so a capped run is reported as such.

Questions: a fixed kind-balanced selection of ``finetune/evalsets/test.jsonl`` (``bench.common.
select_questions``), scored with ``finetune.scoring.is_correct``. Runs alternate per question
(qreact, then seed) so machine noise hits both alike. Writes bench/results/p1_<device>.{json,md}.
"""

from __future__ import annotations

import argparse
import logging
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.common import (
    DEFAULT_QUESTIONS,
    environment,
    load_local,
    resolve_adapter_dir,
    resolve_model,
    results_stem,
    say,
    select_questions,
    write_results,
)
from bench.p1_report import compare, render_markdown, summarize

SEED_STOPPED = "Agent stopped due to iteration limit or time limit."  # AgentExecutor's "force" output


@dataclass
class P1Config:
    n: int = 20  # questions (a prefix of the fixed selection)
    questions: Path = DEFAULT_QUESTIONS
    model: str = "gemma-3-270m"  # the converted default model, a folder or an HF id
    adapter: str = "default"  # adapters/default/; 'none' for the base model
    device: str = "cpu"
    dtype: str = "auto"  # fp32 on CPU, bf16 on CUDA (the service's own choice)
    quantize: str = "auto"  # none on CPU, 4-bit NF4 on CUDA
    threads: int | None = None  # torch CPU threads (None: torch's default, all cores)
    max_new_tokens: int = 160  # per model call, both stacks (the service default)
    max_steps: int = 6  # model calls per question, both stacks (the service default)
    timeout_s: float = 120.0  # qreact's per-run budget (the service default), seconds
    seed_cap_s: float = 120.0  # seed stack: no new step after this many seconds of a question
    stacks: tuple[str, ...] = ("qreact", "seed")
    out_dir: Path | None = None  # default bench/results
    tag: str = ""  # appended to the results file name (e.g. "tiny" for smoke runs)


@dataclass
class StackRun:
    """One question on one stack."""

    answer: str | None
    status: str  # answered | max_steps | timeout | capped | error
    latency_s: float
    steps: int
    completion_tokens: int
    prefilled_tokens: int  # prompt tokens the model actually ran (not served from a KV cache)
    correct: bool = False
    error: str | None = None
    cpu_s: float = 0.0  # CPU time of this process during the run (steadier than wall time on a shared box)


# ----------------------------------------------------------------------------------------------- qreact
def _prefill_counter() -> Any:
    """A callback that adds up the prompt tokens the local backend prefilled (not cache hits)."""
    from langchain_core.callbacks import BaseCallbackHandler

    class PrefillCounter(BaseCallbackHandler):
        def __init__(self) -> None:
            self.prefilled = 0

        def on_llm_end(self, response: Any, **kwargs: Any) -> None:
            for gens in response.generations:
                for gen in gens:
                    usage = getattr(getattr(gen, "message", None), "usage_metadata", None) or {}
                    cached = (usage.get("input_token_details") or {}).get("cache_read", 0)
                    self.prefilled += int(usage.get("input_tokens", 0)) - int(cached or 0)

    return PrefillCounter()


def build_qreact(cfg: P1Config, chat_model: Any, tools: list[Any]) -> tuple[Any, Any]:
    """qreact's agent on the shared model; returns (agent, prefill counter)."""
    from app.settings import Settings
    from app.wiring import build_agent

    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        max_steps=cfg.max_steps,
        timeout_s=cfg.timeout_s,
        max_new_tokens=cfg.max_new_tokens,
        adapter=None,
    )
    counter = _prefill_counter()
    chat_model.callbacks = [counter]
    return build_agent(settings, chat_model=chat_model, tools=tools), counter


def run_qreact(agent: Any, counter: Any, question: str) -> StackRun:
    counter.prefilled = 0
    run = agent.run(question)
    return StackRun(
        answer=run.answer,
        status=run.status,
        latency_s=run.latency_ms / 1000,
        steps=len(run.steps),
        completion_tokens=run.usage.completion_tokens,
        prefilled_tokens=counter.prefilled,
        error=run.error,
    )


# ----------------------------------------------------------------------------------------------- seed
def _counting_pipeline_class() -> Any:
    """transformers' text-generation pipeline that also counts prompt and generated tokens."""
    from transformers.pipelines.text_generation import TextGenerationPipeline

    class CountingPipeline(TextGenerationPipeline):
        prompt_tokens = 0
        generated_tokens = 0

        def _forward(self, model_inputs: Any, **generate_kwargs: Any) -> Any:
            out = super()._forward(model_inputs, **generate_kwargs)
            prompt = out["input_ids"].shape[-1] if out.get("input_ids") is not None else 0
            self.prompt_tokens += prompt
            self.generated_tokens += out["generated_sequence"].shape[-1] - prompt
            return out

    return CountingPipeline


def build_seed(cfg: P1Config, chat_model: Any, tools: list[Any]) -> tuple[Any, Any]:
    """The seed's stack on the same model + adapter; returns (AgentExecutor, counting pipeline)."""
    from langchain_classic.agents import AgentType, Tool, initialize_agent
    from langchain_huggingface import HuggingFacePipeline
    from transformers import pipeline

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "PeftModel is not supported for text-generation": it works
        pipe = pipeline(
            "text-generation",
            model=chat_model.model,  # the same module qreact serves, adapter active
            tokenizer=chat_model.tokenizer,
            pipeline_class=_counting_pipeline_class(),
            max_new_tokens=cfg.max_new_tokens,
            do_sample=False,
            return_full_text=False,
        )
    llm = HuggingFacePipeline(pipeline=pipe)
    classic_tools = [Tool(name=t.name, func=t.invoke, description=t.description) for t in tools]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # initialize_agent's deprecation warning
        executor = initialize_agent(
            classic_tools,
            llm,
            agent=AgentType.ZERO_SHOT_REACT_DESCRIPTION,
            max_iterations=cfg.max_steps,
            max_execution_time=cfg.seed_cap_s,
            return_intermediate_steps=True,  # read-only: lets us count steps
        )
    return executor, pipe


def run_seed(executor: Any, pipe: Any, question: str, cap_s: float) -> StackRun:
    pipe.prompt_tokens = pipe.generated_tokens = 0
    started = time.perf_counter()
    answer: str | None = None
    status, error, steps = "answered", None, 0
    try:
        out = executor.invoke({"input": question})
        answer = str(out.get("output", ""))
        steps = len(out.get("intermediate_steps", [])) + 1
        if answer == SEED_STOPPED:
            elapsed = time.perf_counter() - started
            status, answer = ("capped" if elapsed >= cap_s else "max_steps"), None
            steps -= 1
    except Exception as exc:  # the seed's AgentExecutor raises on an unparsable step
        status, error = "error", f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
    latency = time.perf_counter() - started
    return StackRun(
        answer=answer,
        status=status,
        latency_s=latency,
        steps=steps,
        completion_tokens=pipe.generated_tokens,
        prefilled_tokens=pipe.prompt_tokens,
        error=error,
    )


# ----------------------------------------------------------------------------------------------- main
def build_model(cfg: P1Config) -> Any:
    source = resolve_model(cfg.model)
    adapter = resolve_adapter_dir(cfg.adapter)
    say(f"loading {source} ({cfg.device}, dtype {cfg.dtype}, adapter {adapter or 'none'}) ...")
    return load_local(
        source,
        device=cfg.device,
        dtype=cfg.dtype,
        quantize=cfg.quantize,
        threads=cfg.threads,
        adapter=adapter,
        max_new_tokens=cfg.max_new_tokens,
    )


def build_tools_for(cfg: P1Config) -> list[Any]:
    from agent.tools import build_tools
    from app.settings import Settings

    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    return build_tools(search="local", max_results=settings.search_max_results, cache_dir=settings.cache_dir)


def save(
    cfg: P1Config, chat_model: Any, rows: list[dict[str, Any]], complete: bool
) -> tuple[dict, Path, Path]:
    """Summarize ``rows`` and write the JSON + Markdown results."""
    summary = {s: summarize(rows, s) for s in cfg.stacks}
    data = {
        "benchmark": "P1",
        "complete": complete,
        "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(cfg).items()},
        "dtype": str(getattr(getattr(chat_model, "model", None), "dtype", cfg.dtype)).replace("torch.", ""),
        "environment": environment(cfg.device),
        "summary": summary,
        "comparison": compare(summary),
        "rows": rows,
    }
    stem = results_stem("p1", cfg.device) + (f"_{cfg.tag}" if cfg.tag else "")
    json_path, md_path = write_results(stem, data, render_markdown(data), cfg.out_dir)
    return data, json_path, md_path


def main(cfg: P1Config, chat_model: Any = None, tools: list[Any] | None = None) -> dict[str, Any]:
    from finetune.scoring import is_correct

    questions = select_questions(cfg.questions, cfg.n)
    say(
        f"P1: {len(questions)} questions × {len(cfg.stacks)} stacks. On 2 CPU cores expect ~10-20 s per "
        f"question for qreact and up to ~{cfg.seed_cap_s:g} s (+ one model call) for the seed stack: "
        f"up to ~{len(questions) * (cfg.seed_cap_s + 40) / 60:.0f} min in all."
    )
    chat_model = chat_model if chat_model is not None else build_model(cfg)
    tools = tools if tools is not None else build_tools_for(cfg)
    agent, counter = build_qreact(cfg, chat_model, tools)
    executor, pipe = build_seed(cfg, chat_model, tools)
    # warm-up (not timed): torch's first calls, and qreact's shared prompt header in its KV cache,
    # as in a service that has answered one request before
    warm = "What is 2 + 2?"
    agent.run(warm, max_steps=1)
    pipe(warm, max_new_tokens=1)

    rows: list[dict[str, Any]] = []
    for i, q in enumerate(questions, 1):
        row: dict[str, Any] = {
            "id": q["id"],
            "kind": q.get("kind"),
            "question": q["question"],
            "gold": q["answer"],
        }
        for stack in cfg.stacks:
            cpu0 = time.process_time()
            run = (
                run_qreact(agent, counter, q["question"])
                if stack == "qreact"
                else run_seed(executor, pipe, q["question"], cfg.seed_cap_s)
            )
            run.cpu_s = round(time.process_time() - cpu0, 2)
            run.correct = is_correct(run.answer, q["answer"], q.get("rel_tol"))
            row[stack] = asdict(run)
        rows.append(row)
        say(
            f"[{i}/{len(questions)}] {q.get('kind')}: "
            + " | ".join(
                f"{s} {row[s]['latency_s']:.1f} s {row[s]['completion_tokens']} tok {row[s]['status']} "
                f"{'✓' if row[s]['correct'] else '✗'}"
                for s in cfg.stacks
            )
        )

        # written after every question: an interrupted run still leaves its results (complete: false)
        data, json_path, md_path = save(cfg, chat_model, rows, complete=i == len(questions))
    summary = data["summary"]
    ratios = data["comparison"]
    if ratios:
        q, s = summary["qreact"], summary["seed"]
        say(
            f"P1 median latency: qreact {q['median_latency_s']:.2f} s vs seed {s['median_latency_s']:.2f} s "
            f"→ {ratios['median_latency_ratio']}× | tokens {q['completion_tokens']} vs "
            f"{s['completion_tokens']} "
            f"| accuracy {100 * q['accuracy']:.0f}% vs {100 * s['accuracy']:.0f}% | seed capped {s['capped']}"
        )
    say(f"wrote {json_path} and {md_path}")
    return data


def parse_args(argv: list[str] | None = None) -> P1Config:
    d = P1Config()
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=d.n, help="questions (a prefix of the fixed selection of 20)")
    p.add_argument("--questions", type=Path, default=d.questions)
    p.add_argument("--model", default=d.model)
    p.add_argument("--adapter", default=d.adapter, help="'default' (adapters/default), a folder, or 'none'")
    p.add_argument("--device", default=d.device, choices=["cpu", "cuda"])
    p.add_argument("--dtype", default=d.dtype, choices=["auto", "float32", "bfloat16", "float16"])
    p.add_argument("--quantize", default=d.quantize, choices=["auto", "none", "4bit"])
    p.add_argument("--threads", type=int, default=d.threads)
    p.add_argument("--max-new-tokens", type=int, default=d.max_new_tokens)
    p.add_argument("--max-steps", type=int, default=d.max_steps)
    p.add_argument("--timeout-s", type=float, default=d.timeout_s)
    p.add_argument("--seed-cap-s", type=float, default=d.seed_cap_s, help="seed stack per-question time cap")
    p.add_argument("--only", choices=["qreact", "seed"], default=None, help="run one stack only")
    p.add_argument("--out-dir", type=Path, default=None)
    p.add_argument("--tag", default="")
    a = p.parse_args(argv)
    return P1Config(
        n=a.n,
        questions=a.questions,
        model=a.model,
        adapter=a.adapter,
        device=a.device,
        dtype=a.dtype,
        quantize=a.quantize,
        threads=a.threads,
        max_new_tokens=a.max_new_tokens,
        max_steps=a.max_steps,
        timeout_s=a.timeout_s,
        seed_cap_s=a.seed_cap_s,
        stacks=(a.only,) if a.only else P1Config.stacks,
        out_dir=a.out_dir,
        tag=a.tag,
    )


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    main(parse_args())
