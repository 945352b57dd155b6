"""The training card: what was trained, on what, how fast, with what result (JSON + Markdown + loss PNG)."""

from __future__ import annotations

import json
import logging
import platform
import time
from collections import Counter
from pathlib import Path
from typing import Any

import torch

from finetune.callbacks import peak_rss_mb
from finetune.config import FinetuneConfig
from finetune.plan import Plan
from finetune.trainer import SupervisedTrainer

logger = logging.getLogger(__name__)


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in ("torch", "transformers", "peft", "bitsandbytes", "datasets"):
        try:
            out[name] = __import__(name).__version__
        except Exception:  # noqa: BLE001 - a missing optional package is just not listed
            continue
    return out


def plot_loss(log_history: list[dict[str, Any]], path: Path) -> bool:
    """Train (and eval) loss against optimizer step; False when there is nothing to plot."""
    train = [(h["step"], h["loss"]) for h in log_history if "loss" in h]
    evals = [(h["step"], h["eval_loss"]) for h in log_history if "eval_loss" in h]
    if not train and not evals:
        return False
    # matplotlib loads here, not at the top: ~3 s of import for one PNG, and the Agg backend must be
    # chosen before pyplot loads (a module-level use() would change it for every importer)
    import matplotlib

    matplotlib.use("Agg")  # no display on servers
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=100)
    if train:
        ax.plot(*zip(*train, strict=True), label="train loss")
    if evals:
        ax.plot(*zip(*evals, strict=True), "o-", label="eval loss")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("cross-entropy (supervised tokens)")
    ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return True


def build_card(cfg: FinetuneConfig, plan: Plan, trainer: SupervisedTrainer, **run: Any) -> dict[str, Any]:
    """The card as a dict (see ``write_card``)."""
    state = trainer.state
    history = list(state.log_history)
    losses = [h["loss"] for h in history if "loss" in h]
    runtime = next((h["train_runtime"] for h in reversed(history) if "train_runtime" in h), None)
    seconds = run.pop("seconds")
    tokens = dict(trainer.tokens)
    train_seconds = runtime or seconds
    sources: Counter[str] = Counter()
    files = []
    for split, summaries in plan.summaries.items():
        for s in summaries:
            if split == "train":
                sources.update(s.sources)
            files.append(
                {
                    "split": split,
                    "path": s.path,
                    "sha256": s.sha256,
                    "lines": s.lines,
                    "used": s.used,
                    "bad_lines": s.bad_lines,
                    "sources": dict(s.sources),
                }
            )
    card: dict[str, Any] = {
        "status": run.pop("status"),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "base_model": cfg.base_model,
        "base_path": plan.base_path,
        "device": plan.device,
        "precision": plan.precision,
        "precision_reason": plan.reason,
        "lora": {
            "r": cfg.lora_r,
            "alpha": cfg.lora_alpha,
            "dropout": cfg.lora_dropout,
            "target_modules": cfg.target_modules,
        },  # fmt: skip
        "data": files,
        "train_counts_by_source": dict(sources),
        "train_examples": sum(s.used for s in plan.summaries["train"]),
        "steps": state.global_step,
        "max_steps": state.max_steps,
        "epochs": round(state.epoch or 0.0, 3),
        "seconds_total": round(seconds, 1),
        "seconds_training": round(train_seconds, 1),
        "tokens": tokens,  # counted in this session (after a resume: since the resume)
        "supervised_tokens_per_s": round(tokens["supervised"] / train_seconds, 1) if train_seconds else None,
        "total_tokens_per_s": round(tokens["total"] / train_seconds, 1) if train_seconds else None,
        "peak_rss_mb": round(peak_rss_mb()),
        "peak_vram_mb": round(torch.cuda.max_memory_allocated() / 2**20)
        if torch.cuda.is_available()
        else None,
        "final_train_loss": losses[-1] if losses else None,
        "mean_train_loss": run.pop("train_loss"),
        "eval_loss": run.pop("eval_loss"),
        "resumed_from": run.pop("resumed_from"),
        "config": cfg.to_dict(),
        "versions": _versions(),
        "log_history": history,
    }
    card.update(run)
    card["summary"] = (
        f"{card['status']}: {card['steps']} steps in {card['seconds_total']:.0f} s, "
        f"final train loss {_fmt(card['final_train_loss'])}, eval loss {_fmt(card['eval_loss'])}, "
        f"{_fmt(card['supervised_tokens_per_s'])} supervised tok/s, peak RSS {card['peak_rss_mb']} MB"
    )
    return card


def _fmt(x: Any) -> str:
    return "n/a" if x is None else (f"{x:.4g}" if isinstance(x, float) else str(x))


def render_markdown(card: dict[str, Any]) -> str:
    lines = [
        "# Training card",
        "",
        f"**{card['summary']}**",
        "",
        "| | |",
        "|---|---|",
        f"| base model | `{card['base_model']}` |",
        f"| device / precision | {card['device']} / {card['precision']} — {card['precision_reason']} |",
        f"| LoRA | r={card['lora']['r']}, alpha={card['lora']['alpha']}, dropout={card['lora']['dropout']}, "
        f"targets {', '.join(card['lora']['target_modules'])} |",
        f"| examples (train) | {card['train_examples']} — by source: "
        + ", ".join(f"{k} {v}" for k, v in sorted(card["train_counts_by_source"].items()))
        + " |",
        f"| steps / epochs | {card['steps']} / {card['epochs']} |",
        f"| time | {card['seconds_total']} s total, {card['seconds_training']} s training |",
        f"| tokens/s | {_fmt(card['supervised_tokens_per_s'])} supervised, "
        f"{_fmt(card['total_tokens_per_s'])} total |",
        f"| peak memory | RSS {card['peak_rss_mb']} MB"
        + (f", VRAM {card['peak_vram_mb']} MB" if card["peak_vram_mb"] is not None else "")
        + " |",
        f"| final train loss | {_fmt(card['final_train_loss'])} (mean {_fmt(card['mean_train_loss'])}) |",
        f"| eval loss | {_fmt(card['eval_loss'])} |",
        "",
        "## Data",
        "",
        "| split | file | sha256 | used / lines | bad lines |",
        "|---|---|---|---|---|",
    ]
    for f in card["data"]:
        bad = ", ".join(map(str, f["bad_lines"][:20])) or "none"
        lines.append(
            f"| {f['split']} | `{f['path']}` | `{f['sha256'][:16]}…` | {f['used']} / {f['lines']} | {bad} |"
        )
    lines += ["", "## Config", "", "```json", json.dumps(card["config"], indent=2), "```", ""]
    lines += ["![loss curve](loss_curve.png)", ""] if card.get("loss_curve") else []
    return "\n".join(lines)


def write_card(cfg: FinetuneConfig, plan: Plan, trainer: SupervisedTrainer, **run: Any) -> dict[str, Any]:
    """Write ``training_card.json``, ``training_card.md`` and ``loss_curve.png`` into ``cfg.output_dir``."""
    out = Path(cfg.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    card = build_card(cfg, plan, trainer, **run)
    card["loss_curve"] = "loss_curve.png" if plot_loss(card["log_history"], out / "loss_curve.png") else None
    (out / "training_card.json").write_text(json.dumps(card, indent=2, default=str) + "\n")
    (out / "training_card.md").write_text(render_markdown(card))
    logger.info("training card: %s", out / "training_card.md")
    return card
