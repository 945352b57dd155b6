"""Train a LoRA / QLoRA adapter on ReAct trajectories (the function behind ``qreact finetune``).

    python -m finetune.train --config finetune/configs/cpu-default.yaml

Flags override the YAML (``--max_steps 20 --output_dir /tmp/adapter``); ``--resume`` continues from
the last checkpoint in ``output_dir/checkpoints``; Ctrl-C (or SIGTERM) saves a checkpoint at the end
of the current optimizer step and exits with status 130. The output is a standard peft adapter folder
plus ``training_card.json`` / ``training_card.md`` and ``loss_curve.png``.
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import torch
from transformers.trainer_utils import get_last_checkpoint

from finetune.callbacks import GracefulStop, ProgressFile, install_signal_handlers, restore_signal_handlers
from finetune.card import write_card
from finetune.config import ConfigError, FinetuneConfig, parse_args
from finetune.data import DataError, PadCollator, build_dataset
from finetune.model import build_model, build_tokenizer
from finetune.plan import RunsExporter, plan_run
from finetune.trainer import SupervisedTrainer, build_training_args

logger = logging.getLogger(__name__)

EXIT_INTERRUPTED = 130  # the shell convention for "stopped by SIGINT"


def main(cfg: FinetuneConfig, resume: bool = False, export_runs: RunsExporter | None = None) -> dict[str, Any]:
    """Train as configured; returns the training card (``status`` is "completed" or "interrupted")."""
    cfg.validate()
    started = time.time()
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    plan = plan_run(cfg, export_runs)
    progress = ProgressFile(cfg.progress_file)
    progress.write(state="loading", step=0)
    tokenizer = build_tokenizer(plan.base_path)
    hashes = {s.path: s.sha256 for s in plan.summaries["train"] + plan.summaries["eval"]}
    train_ds = build_dataset(
        plan.train_files, tokenizer, cfg.max_length, cfg.streaming, [hashes[p] for p in plan.train_files]
    )
    eval_ds = (
        build_dataset(plan.eval_files, tokenizer, cfg.max_length, False, [hashes[p] for p in plan.eval_files])
        if plan.eval_files
        else None
    )
    model = build_model(cfg, plan)
    trainable, total = model.get_nb_trainable_parameters()
    logger.info("LoRA r=%d: %s trainable of %s parameters", cfg.lora_r, f"{trainable:,}", f"{total:,}")

    args = build_training_args(cfg, plan, cfg.streaming)
    ckpt_dir = Path(cfg.output_dir) / "checkpoints"  # = args.output_dir
    stop = GracefulStop()
    trainer = SupervisedTrainer(
        model=model,
        args=args,
        train_dataset=train_ds,
        eval_dataset=eval_ds,
        data_collator=PadCollator(tokenizer.pad_token_id),
        callbacks=[stop, progress],
        supervised_logits_only=cfg.supervised_logits_only,
        shared_prefix=cfg.shared_prefix,
        logits_chunk_rows=cfg.logits_chunk_rows,
    )
    checkpoint = None
    if resume:
        checkpoint = get_last_checkpoint(str(ckpt_dir)) if ckpt_dir.is_dir() else None
        if checkpoint is None:
            logger.warning("--resume: no checkpoint in %s, starting from scratch", ckpt_dir)
        else:
            logger.info("resuming from %s", checkpoint)

    handlers = install_signal_handlers(stop)
    try:
        result = trainer.train(resume_from_checkpoint=checkpoint)
    except BaseException:
        progress.write(state="failed", step=trainer.state.global_step)
        raise
    finally:
        restore_signal_handlers(handlers)

    status = "interrupted" if stop.requested else "completed"
    eval_loss = None
    if status == "completed":
        if eval_ds is not None:
            eval_loss = trainer.evaluate().get("eval_loss")
        out = Path(cfg.output_dir)
        model.peft_config["default"].base_model_name_or_path = cfg.base_model  # not a local cache path
        model.save_pretrained(out)
        weights = out / "adapter_model.safetensors"
        if weights.is_file():
            weights.chmod(0o644)  # safetensors writes 0600; servers and containers run as other users
        if not cfg.keep_checkpoints:
            shutil.rmtree(ckpt_dir, ignore_errors=True)
    else:
        logger.warning(
            "interrupted at step %d; checkpoint in %s; continue with --resume",
            trainer.state.global_step,
            ckpt_dir,
        )
    card = write_card(
        cfg,
        plan,
        trainer,
        status=status,
        seconds=time.time() - started,
        train_loss=result.training_loss,
        eval_loss=eval_loss,
        resumed_from=checkpoint,
    )
    progress.write(state=status, step=trainer.state.global_step, max_steps=trainer.state.max_steps)
    return card


def run_cli(
    argv: list[str] | None = None,
    prog: str = "python -m finetune.train",
    *,
    cache_dir: Path | None = None,
    export_runs: RunsExporter | None = None,
) -> int:
    """Parse flags, train, and return the exit status (0 done, 130 interrupted, 2 bad config/data).

    ``cache_dir`` stands in for an unset ``cache_dir`` option (the service's cache); ``export_runs``
    serves ``from_runs`` (see ``RunsExporter``)."""
    try:
        cfg, resume = parse_args(argv, prog=prog)
        if cfg.cache_dir is None and cache_dir is not None:
            cfg = dataclasses.replace(cfg, cache_dir=str(cache_dir))
        card = main(cfg, resume=resume, export_runs=export_runs)
    except (ConfigError, DataError) as exc:
        logger.error("%s", exc)
        return 2
    if card["status"] == "interrupted":
        return EXIT_INTERRUPTED
    logger.info("adapter written to %s (%s)", cfg.output_dir, card["summary"])
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    sys.exit(run_cli())
