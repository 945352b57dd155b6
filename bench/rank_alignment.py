"""Must the LoRA rank be a multiple of 8/16? Time LoRA training steps at r=16 vs 17 and 64 vs 63.

    .venv/bin/python bench/rank_alignment.py --model small --repeats 7

``--model small`` is a random Gemma-3 with the real 270M layer shapes (hidden 640, MLP 2048, 4 heads x 256,
1 KV head) but 4 layers and a 4k vocabulary, so a step takes a fraction of a second on a CPU;
``--model gemma-3-270m`` (or any folder) times the real model. Every rank is a separate adapter on the
same base (peft ``add_adapter``), the ranks are timed interleaved in shuffled order each repeat, and the
median is reported. It also times the bare LoRA product ``x @ A @ B`` (forward + backward) in isolation.
Writes ``bench/results/rank_alignment.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

RANKS = [16, 17, 63, 64]
PAIRS = [(17, 16), (63, 64)]  # (unaligned, aligned)


def small_gemma() -> Any:
    from transformers import Gemma3ForCausalLM, Gemma3TextConfig

    torch.manual_seed(0)
    config = Gemma3TextConfig(
        vocab_size=4096, hidden_size=640, intermediate_size=2048, num_hidden_layers=4, num_attention_heads=4,
        num_key_value_heads=1, head_dim=256, max_position_embeddings=2048, sliding_window=512,
    )  # fmt: skip
    return Gemma3ForCausalLM(config)


def load_model(name: str, device: str) -> Any:
    if name == "small":
        return small_gemma().to(device)
    from transformers import AutoModelForCausalLM

    path = name
    if name == "gemma-3-270m":
        from agent.backends.gguf import ensure_default_model
        from app.settings import get_settings

        path = str(ensure_default_model(get_settings().cache_dir))
    return AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).to(device)


def sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def time_steps(args: argparse.Namespace) -> dict[int, list[float]]:
    from peft import LoraConfig, get_peft_model

    from finetune.losses import supervised_loss

    base = load_model(args.model, args.device)
    base.config.use_cache = False

    def lora(r: int) -> LoraConfig:
        return LoraConfig(
            r=r, lora_alpha=2 * r, lora_dropout=0.0, target_modules="all-linear", task_type="CAUSAL_LM"
        )

    model = get_peft_model(base, lora(RANKS[0]), adapter_name=f"r{RANKS[0]}")
    for r in RANKS[1:]:
        model.add_adapter(f"r{r}", lora(r))
    model.train()
    vocab = model.get_base_model().config.vocab_size
    gen = torch.Generator().manual_seed(0)
    ids = torch.randint(3, vocab, (args.batch, args.seq), generator=gen).to(args.device)
    labels = ids.clone()
    labels[:, : int(args.seq * 0.6)] = -100  # the prompt part: masked as in real data
    mask = torch.ones_like(ids)
    optimizers: dict[int, torch.optim.Optimizer] = {}
    times: dict[int, list[float]] = {r: [] for r in RANKS}

    def step(r: int) -> float:
        model.set_adapter(f"r{r}")
        params = [p for n, p in model.named_parameters() if f".r{r}." in n]
        for p in params:
            p.requires_grad_(True)
        opt = optimizers.setdefault(r, torch.optim.AdamW(params, lr=1e-4))
        sync(args.device)
        start = time.perf_counter()
        loss = supervised_loss(model, ids, mask, labels)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        sync(args.device)
        return time.perf_counter() - start

    for r in RANKS:  # warm-up: allocator, kernels, optimizer state
        step(r)
    rng = random.Random(0)
    for rep in range(args.repeats):
        order = RANKS[:]
        rng.shuffle(order)
        for r in order:
            times[r].append(step(r))
        print(
            f"repeat {rep + 1}/{args.repeats}: "
            + ", ".join(f"r={r} {times[r][-1] * 1e3:.0f} ms" for r in RANKS)
        )
    return times


def time_lora_product(args: argparse.Namespace) -> dict[int, list[float]]:
    """x (tokens x 640) @ A (640 x r) @ B (r x 2048), forward + backward, in isolation."""
    tokens, d_in, d_out = args.batch * args.seq, 640, 2048
    x = torch.randn(tokens, d_in, device=args.device)
    times: dict[int, list[float]] = {r: [] for r in RANKS}
    weights = {
        r: (
            torch.randn(d_in, r, device=args.device, requires_grad=True),
            torch.randn(r, d_out, device=args.device, requires_grad=True),
        )
        for r in RANKS
    }
    rng = random.Random(1)
    for rep in range(args.repeats * 5 + 2):
        order = RANKS[:]
        rng.shuffle(order)
        for r in order:
            a, b = weights[r]
            sync(args.device)
            start = time.perf_counter()
            ((x @ a) @ b).sum().backward()
            sync(args.device)
            if rep >= 2:  # the first two rounds warm up
                times[r].append(time.perf_counter() - start)
    return times


def summarise(times: dict[int, list[float]]) -> dict[str, Any]:
    med = {r: statistics.median(v) for r, v in times.items()}
    return {
        "median_ms": {str(r): round(m * 1e3, 3) for r, m in med.items()},
        "ratios": {f"{u}/{a}": round(med[u] / med[a], 3) for u, a in PAIRS},
        "samples_ms": {str(r): [round(t * 1e3, 3) for t in v] for r, v in times.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="small", help="small | gemma-3-270m | a model folder")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--seq", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "rank_alignment"))
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    steps = summarise(time_steps(args))
    product = summarise(time_lora_product(args))
    hardware = (
        torch.cuda.get_device_name() if args.device == "cuda" else platform.processor() or platform.machine()
    )
    result = {
        "command": "python bench/rank_alignment.py " + " ".join(sys.argv[1:]),
        "model": args.model,
        "device": args.device,
        "hardware": hardware,
        "threads": torch.get_num_threads(),
        "batch": args.batch,
        "seq": args.seq,
        "repeats": args.repeats,
        "training_step": steps,
        "lora_product": product,
        "torch": torch.__version__,
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    out.with_suffix(".md").write_text(render(result))
    print(render(result))


def render(result: dict[str, Any]) -> str:
    lines = [
        "# LoRA rank alignment",
        "",
        f"`{result['command']}` — {result['device']} ({result['hardware']}, {result['threads']} threads), "
        f"model `{result['model']}`, batch {result['batch']} x {result['seq']} tokens, "
        f"{result['repeats']} interleaved repeats, torch {result['torch']}, {result['when']}.",
        "",
        "| measurement | r=16 | r=17 | r=63 | r=64 | 17 vs 16 | 63 vs 64 |",
        "|---|---|---|---|---|---|---|",
    ]
    for label, key in (("LoRA training step (median ms)", "training_step"), ("x·A·B fwd+bwd (median ms)",
                                                                              "lora_product")):  # fmt: skip
        s = result[key]
        m = s["median_ms"]
        lines.append(
            f"| {label} | {m['16']} | {m['17']} | {m['63']} | {m['64']} | "
            f"{s['ratios']['17/16']}x | {s['ratios']['63/64']}x |"
        )
    lines += [
        "",
        "A ratio above 1 means the unaligned rank is slower. Run-to-run noise on a shared CPU is a few",
        "percent; ratios within that band mean the alignment claim does not show on this hardware.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
