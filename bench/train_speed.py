"""Fine-tuning speed (issue 6 P3): qreact's recipe vs the seed's on the same trajectories and model.

    .venv/bin/python bench/train_speed.py --examples 16

Takes ~5 minutes on 2 free CPU cores with the real Gemma-3-270M (``--model small`` for a quick check).
Each recipe runs in its own process (so peak RSS is its own), on the same ``--examples`` trajectories
(default: the first ones of ``data/gold/train.jsonl``, generated as ``make gold`` does when missing), same
LoRA (r=16, alpha=32, all linear layers, fp32 — bf16 is >10x slower on these CPUs for both):

- seed: ``padding="max_length"``, ``max_length=512``, labels = every non-pad token, the output layer and
  loss at every position, batch 1 x 16 accumulation, gradient checkpointing (the seed notes' settings);
- qreact: what ``qreact finetune`` does by default on CPU (``--config``, default
  ``finetune/configs/cpu-default.yaml``): dynamic padding, length-grouped batches, loss on the agent's
  tokens only, the shared prompt prefix run once per batch, the output layer in row chunks, lean LoRA
  dropout, its batch x accumulation (``--set key=value`` tries variants);
- logits_only / logits_only_ckpt: the same batches with only the logits-at-supervised-positions lever
  (no shared prefix, no chunks, plain dropout), without / with gradient checkpointing: the trade-off
  the other levers remove.

The headline is agent tokens per second — the tokens of the agent's own text (logs, markers, final
answer) the recipe trains on per second, counted the same way for both — with examples/s and peak RSS.
Writes ``bench/results/train_speed.json`` and ``.md`` (``_gpu`` suffix on CUDA).
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT / "data" / "gold" / "train.jsonl"
sys.path.insert(0, str(ROOT))

SEED_RECIPE = {
    "batch": 1, "accumulation": 16, "checkpointing": True, "max_length": 512, "share_prefix": False,
    "chunk_rows": 0, "lora_dropout": 0.05, "lean_dropout": False,
}  # fmt: skip
RECIPE_NAMES = ("seed", "qreact", "logits_only", "logits_only_ckpt")
RECIPE_LABELS = {
    "seed": "pad to 512, full logits",
    "qreact": "the default",
    "logits_only": "dynamic pad, supervised logits",
    "logits_only_ckpt": "dynamic pad, supervised logits",
}


def recipe_for(name: str, config: str, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """The seed's settings, or qreact's as written in the given YAML config (cpu-default by default).

    ``logits_only`` is qreact's batch and accumulation with only the session-1 levers (dynamic padding,
    length grouping, logits at supervised positions; no shared prefix, no chunked output layer, no
    checkpointing); ``logits_only_ckpt`` the same with gradient checkpointing. ``overrides`` (``--set``)
    change any value of the qreact recipe, for experiments.
    """
    if name == "seed":
        return dict(SEED_RECIPE)
    from finetune.config import FinetuneConfig, load_yaml

    defaults = FinetuneConfig(train_files=["-"])
    cfg = {**{k: getattr(defaults, k) for k in vars(defaults)}, **load_yaml(config)}
    recipe = {
        "batch": int(cfg["per_device_train_batch_size"]),
        "accumulation": int(cfg["gradient_accumulation_steps"]),
        "checkpointing": bool(cfg["gradient_checkpointing"]),
        "max_length": int(cfg["max_length"]),
        "share_prefix": bool(cfg["shared_prefix"]),
        "chunk_rows": int(cfg["logits_chunk_rows"]),
        "lora_dropout": float(cfg["lora_dropout"]),
        "lean_dropout": bool(cfg["lean_lora_dropout"]),
    }
    if name.startswith("logits_only"):
        recipe.update(checkpointing=name.endswith("_ckpt"), share_prefix=False, chunk_rows=0, lean_dropout=False)
    elif overrides:
        for key, value in overrides.items():
            if key not in recipe:
                raise SystemExit(f"--set {key}: not one of {', '.join(recipe)}")
            recipe[key] = type(recipe[key])(value) if not isinstance(recipe[key], bool) else value in ("1", "true")
    return recipe


def ensure_gold_data(path: Path) -> None:
    """The default data is the gold set, generated here when missing (a fresh clone), exactly as
    `make gold` does, so every run measures the same 16 trajectories."""
    if path.is_file() or path != DEFAULT_DATA:
        return
    cmd = [sys.executable, "-m", "app.cli", "data", "gold", "--out", str(path.parent), "--seed", "0"]
    print(f"{path} is missing: generating the gold data ({' '.join(cmd[2:])}, a few seconds) ...", file=sys.stderr)
    try:
        subprocess.run(cmd, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    except (OSError, subprocess.CalledProcessError) as exc:  # e.g. no countryinfo: synthetic rows then
        print(f"could not generate the gold data ({exc}); using synthetic trajectories", file=sys.stderr)


def load_texts(path: Path, n: int) -> list[tuple[str, list[list[int]]]]:
    from finetune.data import iter_file

    if path.is_file():
        rows = []
        for row in iter_file(path):
            rows.append((row["text"], row["spans"]))
            if len(rows) == n:
                return rows
    import random

    from agent.prompt import render_prompt, step_log
    from finetune.data import build_example

    rng = random.Random(0)
    rows = []
    for i in range(n):
        a, b = rng.randint(10, 999), rng.randint(10, 999)
        q = f"What is {a} times {b}?"
        record = {
            "question": q, "prompt": render_prompt(q),
            "steps": [{"log": step_log(f"I need to calculate {a} * {b}.", "Calculator", f"{a} * {b}", True),
                       "observation": str(a * b)}],
            "final_answer": f"The answer is {a * b}.", "source": "synthetic", "id": str(i),
        }  # fmt: skip
        rows.append(build_example(record))
    return rows


def worker(args: argparse.Namespace) -> dict[str, Any]:
    """Train one pass over the examples with one recipe; return its measurements."""
    import torch
    from peft import LoraConfig, get_peft_model

    from finetune.data import IGNORE_INDEX, PadCollator, label_tokens
    from finetune.losses import supervised_loss
    from finetune.model import use_lean_lora_dropout

    if args.threads:
        torch.set_num_threads(args.threads)
    recipe = recipe_for(args.worker, args.config, dict(kv.split("=", 1) for kv in args.set))
    device = args.device
    if args.model == "small":
        from bench.rank_alignment import small_gemma
        from tests.tiny import make_tiny_tokenizer

        tokenizer = make_tiny_tokenizer()
        model = small_gemma()
        model.resize_token_embeddings(len(tokenizer))
    else:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from finetune.config import FinetuneConfig
        from finetune.plan import resolve_base_model

        path = resolve_base_model(FinetuneConfig(base_model=args.model))
        tokenizer = AutoTokenizer.from_pretrained(path)
        model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    model.config.use_cache = False
    model.to(device)
    lora = LoraConfig(
        r=16, lora_alpha=32, lora_dropout=recipe["lora_dropout"], target_modules="all-linear", task_type="CAUSAL_LM"
    )
    model = get_peft_model(model, lora)
    if recipe["lean_dropout"]:
        use_lean_lora_dropout(model)
    if recipe["checkpointing"]:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    model.train()
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=2e-4)

    rows = load_texts(Path(args.data), args.examples)
    agent_tokens = 0  # the agent's own tokens in the data: identical for both recipes
    batches: list[dict[str, Any]] = []
    if args.worker == "seed":
        for text, spans in rows:
            enc = tokenizer(text, padding="max_length", truncation=True, max_length=512, return_tensors="pt",
                            return_offsets_mapping=True)  # fmt: skip
            offsets = enc.pop("offset_mapping")[0].tolist()
            real = enc["attention_mask"][0].bool()
            agent_tokens += int((label_tokens(offsets, spans, len(text)) & real.numpy())[1:].sum())
            labels = enc["input_ids"].clone()
            labels[enc["attention_mask"] == 0] = IGNORE_INDEX
            batches.append({**enc, "labels": labels})
    else:
        from finetune.data import tokenize_batch

        tok = tokenize_batch(
            {"text": [t for t, _ in rows], "spans": [s for _, s in rows]}, tokenizer, recipe["max_length"]
        )
        feats = sorted(
            ({"input_ids": i, "labels": lab} for i, lab in zip(tok["input_ids"], tok["labels"], strict=True)),
            key=lambda f: len(f["input_ids"]),
        )  # length-grouped
        agent_tokens = sum(tok["n_supervised"])
        collate = PadCollator(tokenizer.pad_token_id)
        batches = [collate(feats[i : i + recipe["batch"]]) for i in range(0, len(feats), recipe["batch"])]

    def run(batch: dict[str, Any], scale: float) -> None:
        batch = {k: v.to(device) for k, v in batch.items()}
        if args.worker == "seed":
            loss = model(**batch).loss  # transformers' loss: logits at every position
        else:
            loss = supervised_loss(
                model, batch["input_ids"], batch["attention_mask"], batch["labels"],
                share_prefix=recipe["share_prefix"], chunk_rows=recipe["chunk_rows"],
            )  # fmt: skip
        (loss * scale).backward()

    load_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # model + data loaded
    run(batches[0], 0.0)  # warm-up (not timed): allocator, threads
    opt.zero_grad(set_to_none=True)
    processed = sum(int(b["attention_mask"].numel()) for b in batches)
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
        torch.cuda.synchronize()
    start, cpu_start = time.perf_counter(), time.process_time()
    for i, batch in enumerate(batches, start=1):
        run(batch, 1.0 / recipe["accumulation"])
        if i % recipe["accumulation"] == 0 or i == len(batches):
            opt.step()
            opt.zero_grad(set_to_none=True)
        print(f"{args.worker}: batch {i}/{len(batches)} {time.perf_counter() - start:.0f} s", file=sys.stderr)
    if device == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    cpu_seconds = time.process_time() - cpu_start  # all threads: less sensitive to other jobs than wall time
    return {
        "recipe": args.worker,
        **recipe,
        "examples": len(rows),
        "seconds": round(seconds, 2),
        "examples_per_s": round(len(rows) / seconds, 4),
        "agent_tokens": agent_tokens,
        "agent_tokens_per_s": round(agent_tokens / seconds, 2),
        "cpu_seconds": round(cpu_seconds, 2),
        "agent_tokens_per_cpu_s": round(agent_tokens / cpu_seconds, 2),
        "processed_tokens": processed,  # including padding
        "processed_tokens_per_s": round(processed / seconds, 2),
        "load_rss_mb": round(load_rss),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "peak_vram_mb": round(torch.cuda.max_memory_allocated() / 2**20) if device == "cuda" else None,
    }


def _describe(name: str, r: dict[str, Any]) -> str:
    levers = [RECIPE_LABELS[name]]
    if name == "qreact":
        levers = ["dynamic pad, supervised logits"]
        if r["share_prefix"]:
            levers.append("shared prompt prefix")
        if r["chunk_rows"]:
            levers.append(f"output layer in {r['chunk_rows']}-row chunks")
        if r["lean_dropout"]:
            levers.append("lean LoRA dropout")
    levers.append(f"{r['batch']}x{r['accumulation']}")
    if r["checkpointing"]:
        levers.append("checkpointing")
    if r["lora_dropout"] != SEED_RECIPE["lora_dropout"]:
        levers.append(f"LoRA dropout {r['lora_dropout']}")
    return f"{name} ({', '.join(levers)})"


def render(result: dict[str, Any]) -> str:
    names = [n for n in RECIPE_NAMES if n in result]
    seed = result["seed"]
    rows = [
        ("agent tokens / s", "agent_tokens_per_s"),
        ("agent tokens / CPU-second (all threads)", "agent_tokens_per_cpu_s"),
        ("examples / s", "examples_per_s"),
        ("processed tokens / s (incl. padding)", "processed_tokens_per_s"),
        ("seconds for the pass", "seconds"),
        ("peak RSS (MB)", "peak_rss_mb"),
    ]
    if seed.get("peak_vram_mb") is not None:
        rows.append(("peak VRAM (MB)", "peak_vram_mb"))
    lines = [
        "# Fine-tuning speed: qreact recipe vs seed recipe",
        "",
        f"`{result['command']}` — {result['device']} ({result['hardware']}), model `{result['model']}`, "
        f"{seed['examples']} trajectories ({seed['agent_tokens']} agent tokens), {result['when']}.",
        "",
        "| | " + " | ".join(_describe(n, result[n]) for n in names) + " |",
        "|---|" + "---|" * len(names),
    ]
    for label, key in rows:
        cells = []
        for n in names:
            value = result[n][key]
            ratio = f" ({value / seed[key]:.2f}x)" if n != "seed" and seed[key] else ""
            cells.append(f"{value}{ratio}")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines.append("")
    for n in names[1:]:
        lines.append(
            f"- **{n}: {result['speedup'][n]:.2f}x agent tokens/s at {result['memory_ratio'][n]:.2f}x "
            "the seed recipe's peak memory.**"
        )
    lines.append("")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="gemma-3-270m", help="gemma-3-270m | small | a model folder")
    parser.add_argument("--data", default=str(DEFAULT_DATA), help="JSONL (default: the gold set, made if missing)")
    parser.add_argument("--examples", type=int, default=16, help="trajectories per recipe (a multiple of 16)")
    parser.add_argument("--device", default=None, help="cpu | cuda (default: cuda when available)")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--out", default=None, help="result path without suffix")
    parser.add_argument(
        "--config",
        default=str(ROOT / "finetune" / "configs" / "cpu-default.yaml"),
        help="qreact's recipe: batch, accumulation, checkpointing, max_length from this YAML",
    )
    parser.add_argument("--recipes", nargs="+", default=list(RECIPE_NAMES), choices=RECIPE_NAMES,
                        help="recipes to run (seed first: ratios are against it)")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                        help="experiments: change the qreact recipe (batch, accumulation, checkpointing, "
                        "share_prefix, chunk_rows, lora_dropout)")
    parser.add_argument("--worker", choices=RECIPE_NAMES, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.device is None:
        import torch

        args.device = "cuda" if torch.cuda.is_available() else "cpu"
    if args.worker:
        print(json.dumps(worker(args)))
        return

    ensure_gold_data(Path(args.data))
    results: dict[str, Any] = {}
    for name in args.recipes:
        cmd = [sys.executable, __file__, "--worker", name, "--model", args.model, "--data", args.data,
               "--examples", str(args.examples), "--device", args.device,
               "--config", args.config, "--set", *args.set]  # fmt: skip
        if args.threads:
            cmd += ["--threads", str(args.threads)]
        print(f"running the {name} recipe ...", file=sys.stderr)
        done = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True)
        results[name] = json.loads(done.stdout.strip().splitlines()[-1])
    import torch

    if "seed" not in results:
        print(json.dumps(results, indent=2))  # an experiment without the reference: raw numbers only
        return
    others = [n for n in results if n != "seed"]
    hardware = (
        torch.cuda.get_device_name() if args.device == "cuda" else platform.processor() or platform.machine()
    )
    result = {
        "command": "python bench/train_speed.py " + " ".join(sys.argv[1:]),
        "model": args.model,
        "device": args.device,
        "hardware": hardware,
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        **results,
        "speedup": {
            n: results[n]["agent_tokens_per_s"] / results["seed"]["agent_tokens_per_s"] for n in others
        },
        "memory_ratio": {n: results[n]["peak_rss_mb"] / results["seed"]["peak_rss_mb"] for n in others},
    }
    suffix = "_gpu" if args.device == "cuda" else ""
    out = Path(args.out or ROOT / "bench" / "results" / f"train_speed{suffix}")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    out.with_suffix(".md").write_text(render(result))
    print(render(result))


if __name__ == "__main__":
    main()
