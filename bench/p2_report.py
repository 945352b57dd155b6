"""P2's Markdown report (``bench/p2_decode.py`` measures and calls it)."""

from __future__ import annotations

from typing import Any

from bench.common import env_markdown, md_table


def _cpu_cell(r: dict[str, Any]) -> str:
    if r.get("decode_cpu_ms_per_token") is None:
        return "-"
    if not r.get("hf_forward_decode_cpu_ms_per_token"):
        return str(r["decode_cpu_ms_per_token"])
    return (
        f"{r['decode_cpu_ms_per_token']} / {r['hf_forward_decode_cpu_ms_per_token']} "
        f"({r['speedup_vs_hf_forward_cpu']}×)"
    )


def render_markdown(data: dict[str, Any]) -> str:
    rows = data["results"]
    if not rows:
        return "# P2: no dtype could be measured\n\n" + "\n".join(
            f"- {f['dtype']}: {f['error']}" for f in data["failed"]
        )
    lines = [
        f"# P2: decode speed vs the memory-bandwidth bound ({data['config']['device']})\n",
        env_markdown(data["environment"]),
        f"Model `{data['config']['model']}`: {rows[0]['params'] / 1e6:.0f} M parameters (tied output layer "
        "counted once). Bound = read bandwidth / bytes read per decode step: every weight once, except "
        "that the backend's greedy fp32 decoding reads the output layer as an int8 copy plus 64 exact rows "
        "(agent/backends/fast_head.py).\n",
    ]
    if data["config"].get("note"):
        lines.append(f"Note: {data['config']['note']}\n")
    metrics = [
        ("read bandwidth (GB/s)", lambda r: r["bandwidth"]["read_gb_s"]),
        ("bytes read per token (MB)", lambda r: f"{r['bytes_per_token'] / 1e6:.0f}"),
        ("output layer as decoded", lambda r: r.get("output_layer", "full")),
        ("bound (tok/s)", lambda r: r["bound_tok_s"]),
        ("bound if all weights read in the dtype (tok/s)", lambda r: r.get("bound_full_weights_tok_s", "-")),
        ("decode path", lambda r: r.get("decode_path", "hf")),
        ("decode (tok/s)", lambda r: r["decode_tok_s"]),
        ("decode with the Hugging Face forward (tok/s)", lambda r: r.get("hf_forward_decode_tok_s") or "-"),
        (
            "speed-up vs the Hugging Face forward",
            lambda r: f"{r['speedup_vs_hf_forward']}×" if r.get("speedup_vs_hf_forward") else "-",
        ),
        ("decode step CPU time (ms): service path / Hugging Face forward", _cpu_cell),
        ("**achieved / bound**", lambda r: f"**{100 * r['achieved_of_bound']:.0f}%**"),
        ("decode step (ms)", lambda r: r["decode_ms_per_token"]),
        ("  of which output layer (ms)", lambda r: r["profile_ms"]["output_layer"]),
        ("  of which layer weight multiplications (ms)", lambda r: r["profile_ms"].get("layer_matmuls") or "-"),
        ("  of which the rest: attention, norms, rotary, Python (ms)", lambda r: r["profile_ms"]["rest_of_step"]),
        (f"prefill of {rows[0]['prompt_tokens']} prompt tokens (s)", lambda r: r["prefill_s"]),
    ]
    lines.append(md_table(["metric", *(r["dtype"] for r in rows)], [[m, *(f(r) for r in rows)] for m, f in metrics]))
    for fail in data.get("failed", []):
        lines.append(f"\n{fail['dtype']}: not measured ({fail['error']}).\n")
    llama = data["llama_cpp"]
    lines.append(
        f"\nllama.cpp: {llama['decode_tok_s']} tok/s on {llama['gguf']}\n"
        if llama.get("available")
        else f"\n{llama['note']}.\n"
    )
    return "\n".join(lines)
