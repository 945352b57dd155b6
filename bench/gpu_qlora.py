"""Prove and measure the CUDA QLoRA path on a GPU host (issue 3 §3, issue 6 §3 "when a GPU is available").

Self-contained (torch + transformers + peft + bitsandbytes only), so it runs on a bare GPU box:

    python bench/gpu_qlora.py --batches .gpu/batches.pt --config .gpu/config.json --out bench/results/gpu

``batches.pt`` holds pre-tokenized gold trajectories (input_ids + labels with the prompt and
observations masked, from ``finetune.data``), ``config.json`` the Gemma-3-270M config. The base
weights are random with the real shapes (the 1 GB model cannot travel to the device box), so
losses are meaningless but speed and memory are the real ones. Measures, side by side:
the seed's QLoRA (NF4 + double quant + bf16 compute, r=64 alpha=16 dropout 0.05 all-linear,
gradient checkpointing) with qreact's loss (logits only at supervised positions, dynamic padding)
vs the seed recipe (padding to 512, logits everywhere); rank 16/17 and 64/63; 4-bit greedy decode;
and checks LoRA weights move, base weights do not, and the saved adapter reloads with peft.
Local smoke test: ``python bench/gpu_qlora.py --device cpu --tiny --steps 2``.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

IGNORE = -100


def build_base(config_path: str, tiny: bool, out_dir: Path) -> Path:
    from transformers import AutoConfig, AutoModelForCausalLM

    config = AutoConfig.from_pretrained(config_path)
    if tiny:  # smoke test on a CPU: same architecture, toy sizes
        config.update({"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
                       "num_attention_heads": 2, "num_key_value_heads": 1, "head_dim": 32})
        config.layer_types = config.layer_types[:2]
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(config, torch_dtype=torch.bfloat16)
    model.save_pretrained(out_dir)
    return out_dir


def load(base: Path, device: str, quant: bool, r: int, alpha: float, dropout: float, ckpt: bool):
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    kwargs: dict = {"torch_dtype": torch.bfloat16 if device == "cuda" else torch.float32}
    if quant:  # the seed's settings, verbatim
        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_use_double_quant=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_compute_dtype=torch.bfloat16 if device == "cuda" else torch.float32,
        )
        kwargs["device_map"] = {"": 0} if device == "cuda" else {"": "cpu"}
    model = AutoModelForCausalLM.from_pretrained(base, **kwargs)
    if not quant:
        model.to(device)
    if quant:
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=ckpt)
    elif ckpt:
        model.gradient_checkpointing_enable()
        model.enable_input_require_grads()
    cfg = LoraConfig(r=r, lora_alpha=alpha, lora_dropout=dropout, bias="none", task_type="CAUSAL_LM",
                     target_modules="all-linear")
    return get_peft_model(model, cfg)


def supervised_loss(model, ids, mask, labels):
    base = model.get_base_model()
    hidden = base.get_decoder()(input_ids=ids, attention_mask=mask, use_cache=False)[0]
    targets = labels[:, 1:]
    sel = targets != IGNORE
    logits = base.get_output_embeddings()(hidden[:, :-1][sel])
    cap = getattr(base.config, "final_logit_softcapping", None)
    if cap:
        logits = torch.tanh(logits / cap) * cap
    return F.cross_entropy(logits.float(), targets[sel])


def full_loss(model, ids, mask, labels):
    logits = model(input_ids=ids, attention_mask=mask, use_cache=False).logits
    return F.cross_entropy(logits[:, :-1].float().reshape(-1, logits.size(-1)), labels[:, 1:].reshape(-1),
                           ignore_index=IGNORE)


def batches(data, batch: int, pad_to: int | None, device: str, vocab: int):
    ids_all, lab_all = data["input_ids"], data["labels"]
    order = sorted(range(len(ids_all)), key=lambda i: len(ids_all[i]))  # length grouping
    for s in range(0, len(order) - batch + 1, batch):
        rows = order[s : s + batch]
        width = pad_to or max(len(ids_all[i]) for i in rows)
        ids = torch.zeros(batch, width, dtype=torch.long)
        lab = torch.full((batch, width), IGNORE, dtype=torch.long)
        att = torch.zeros(batch, width, dtype=torch.long)
        for j, i in enumerate(rows):
            x, y = ids_all[i][:width], lab_all[i][:width]
            ids[j, : len(x)] = torch.tensor([t % vocab for t in x])
            lab[j, : len(y)] = torch.tensor([t % vocab if t != IGNORE else IGNORE for t in y])
            att[j, : len(x)] = 1
        yield ids.to(device), att.to(device), lab.to(device)


def train_variant(name, base, data, args, *, quant=True, r=64, alpha=16.0, loss="supervised", pad_to=None):
    device = args.device
    if device == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    model = load(base, device, quant, r, alpha, 0.05, ckpt=True)
    vocab = model.get_base_model().config.vocab_size
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=2e-4)
    fn = supervised_loss if loss == "supervised" else full_loss
    it = batches(data, args.batch, pad_to, device, vocab)
    tokens = sup = 0
    t0 = None
    losses = []
    for step in range(args.warmup + args.steps):
        ids, att, lab = next(it)
        if step == args.warmup:
            if device == "cuda":
                torch.cuda.synchronize()
            t0 = time.perf_counter()
            tokens = sup = 0
        out = fn(model, ids, att, lab)
        out.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        losses.append(float(out))
        tokens += int(att.sum())
        sup += int((lab[:, 1:] != IGNORE).sum())
    if device == "cuda":
        torch.cuda.synchronize()
    dt = time.perf_counter() - t0
    res = {
        "variant": name, "quant_4bit": quant, "r": r, "loss_fn": loss, "pad_to": pad_to,
        "steps": args.steps, "batch": args.batch, "seconds": round(dt, 3),
        "tokens_per_s": round(tokens / dt, 1), "supervised_tokens_per_s": round(sup / dt, 1),
        "peak_vram_mib": round(torch.cuda.max_memory_allocated() / 2**20, 1) if device == "cuda" else None,
        "first_loss": round(losses[0], 4), "last_loss": round(losses[-1], 4),
    }
    print(json.dumps(res), flush=True)
    return res, model


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--batches", default=".gpu/batches.pt")
    ap.add_argument("--config", default=".gpu/config.json")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--tiny", action="store_true")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--out", default="bench/results/gpu")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    data = torch.load(args.batches)
    env = {"python": platform.python_version(), "torch": torch.__version__}
    if args.device == "cuda":
        env["gpu"] = torch.cuda.get_device_name(0)
    try:
        import bitsandbytes as bnb
        import peft
        import transformers

        env.update(bitsandbytes=bnb.__version__, transformers=transformers.__version__, peft=peft.__version__)
    except Exception as exc:  # report, then fail loudly below
        env["import_error"] = repr(exc)
    print(json.dumps(env), flush=True)
    results: dict = {"env": env, "runs": []}
    with tempfile.TemporaryDirectory() as tmp:
        base = build_base(args.config, args.tiny, Path(tmp) / "base")
        plan = [
            ("qreact QLoRA r64 (supervised logits, dynamic padding)", {}),
            ("seed QLoRA r64 (pad to 512, full logits)", {"loss": "full", "pad_to": 512}),
            ("QLoRA r63", {"r": 63, "alpha": 16 * 63 / 64}),
            ("QLoRA r16", {"r": 16, "alpha": 4.0}),
            ("QLoRA r17", {"r": 17, "alpha": 4.25}),
            ("bf16 LoRA r64, no quantization", {"quant": False}),
        ]
        first_model = None
        for name, kw in plan:
            try:
                res, model = train_variant(name, base, data, args, **kw)
            except Exception as exc:
                res, model = {"variant": name, "error": repr(exc)[:500]}, None
                print(json.dumps(res), flush=True)
            results["runs"].append(res)
            if first_model is None and model is not None:
                first_model = model
                # LoRA moved, base frozen, adapter saves and reloads
                lora_b = [p for n, p in model.named_parameters() if "lora_B" in n]
                frozen = [p for n, p in model.named_parameters() if "lora_" not in n and p.requires_grad]
                results["checks"] = {
                    "lora_B_nonzero": bool(any(float(p.abs().sum()) > 0 for p in lora_b)),
                    "trainable_non_lora_params": len(frozen),
                }
                model.save_pretrained(Path(tmp) / "adapter")
                saved = sorted(p.name for p in (Path(tmp) / "adapter").iterdir())
                results["checks"]["adapter_files"] = saved
                # 4-bit greedy decode speed with the adapter
                model.eval()
                ids = torch.tensor([data["input_ids"][0][:180]], device=args.device) % model.config.vocab_size
                with torch.no_grad():
                    model.generate(input_ids=ids, max_new_tokens=4, do_sample=False)
                    if args.device == "cuda":
                        torch.cuda.synchronize()
                    t = time.perf_counter()
                    gen = model.generate(input_ids=ids, max_new_tokens=64, min_new_tokens=64, do_sample=False)
                    if args.device == "cuda":
                        torch.cuda.synchronize()
                    dt = time.perf_counter() - t
                results["decode_4bit_tok_s"] = round((gen.shape[1] - ids.shape[1]) / dt, 1)
                print(json.dumps({"decode_4bit_tok_s": results["decode_4bit_tok_s"], **results["checks"]}),
                      flush=True)
            del model
    runs = {r["variant"]: r for r in results["runs"]}
    q, s = runs[plan[0][0]], runs[plan[1][0]]
    if "error" not in q and "error" not in s:
        results["ratio_supervised_tok_s_qreact_vs_seed"] = round(
            q["supervised_tokens_per_s"] / s["supervised_tokens_per_s"], 2)
        results["ratio_peak_vram_qreact_vs_seed"] = (
            round(q["peak_vram_mib"] / s["peak_vram_mib"], 2) if q["peak_vram_mib"] else None)
    (out / "gpu_qlora.json").write_text(json.dumps(results, indent=2))
    print("RESULT", json.dumps({k: v for k, v in results.items() if k.startswith("ratio")}), flush=True)


if __name__ == "__main__":
    main()
