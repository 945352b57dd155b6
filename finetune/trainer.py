"""The Trainer of a run: ``TrainingArguments`` from the config and plan, and ``SupervisedTrainer``, a
transformers ``Trainer`` whose loss is ``finetune.losses.supervised_loss`` and whose logs carry tokens/s
and peak memory."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch
from transformers import Trainer, TrainingArguments

from finetune.callbacks import peak_rss_mb
from finetune.config import FinetuneConfig
from finetune.data import IGNORE_INDEX
from finetune.losses import full_loss, supervised_loss
from finetune.plan import Plan


def build_training_args(cfg: FinetuneConfig, plan: Plan, streaming: bool) -> TrainingArguments:
    workers = cfg.dataloader_num_workers
    if workers is None:
        workers = 2 if plan.device == "cuda" else 0  # CPU cores are busy training
    group = cfg.group_by_length and not streaming
    return TrainingArguments(
        output_dir=str(Path(cfg.output_dir) / "checkpoints"),
        per_device_train_batch_size=cfg.per_device_train_batch_size,
        per_device_eval_batch_size=cfg.per_device_eval_batch_size,
        gradient_accumulation_steps=cfg.gradient_accumulation_steps,
        learning_rate=cfg.learning_rate,
        lr_scheduler_type=cfg.lr_scheduler_type,
        warmup_steps=cfg.warmup_ratio,  # a float < 1 is a fraction of the total steps
        weight_decay=cfg.weight_decay,
        max_grad_norm=cfg.max_grad_norm,
        num_train_epochs=cfg.num_train_epochs,
        max_steps=cfg.max_steps,
        logging_steps=cfg.logging_steps,
        save_strategy="steps",
        save_steps=cfg.save_steps,
        save_total_limit=cfg.save_total_limit,
        eval_strategy="steps" if cfg.eval_steps and plan.eval_files else "no",
        eval_steps=cfg.eval_steps or None,
        activation_checkpointing=cfg.gradient_checkpointing,
        activation_checkpointing_kwargs={"use_reentrant": False},
        bf16=plan.device == "cuda" and plan.precision in ("bf16", "4bit"),
        use_cpu=plan.device == "cpu",
        dataloader_num_workers=workers,
        torch_compile=cfg.torch_compile,
        report_to="none",
        seed=cfg.seed,
        data_seed=cfg.seed,
        train_sampling_strategy="group_by_length" if group else "random",
        length_column_name="length",
        remove_unused_columns=False,  # the collator picks its columns
        prediction_loss_only=True,
        logging_first_step=True,
    )


class SupervisedTrainer(Trainer):
    """A Trainer whose loss computes logits only at supervised positions, and logs tokens/s and memory."""

    loss_is_scaled_for_ga = (
        True  # compute_loss divides by the supervised count of the whole accumulated batch
    )

    def __init__(
        self, *args: Any, supervised_logits_only: bool = True, shared_prefix: bool = False,
        logits_chunk_rows: int = 0, **kwargs: Any,
    ) -> None:  # fmt: skip
        super().__init__(*args, **kwargs)
        self.model_accepts_loss_kwargs = True  # makes Trainer count supervised tokens across accumulation
        self.supervised_logits_only = supervised_logits_only
        self.loss_options = {"share_prefix": shared_prefix, "chunk_rows": logits_chunk_rows}
        self.tokens = {"supervised": 0, "total": 0}
        self._last_log = (time.perf_counter(), 0, 0)

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):  # type: ignore[override]
        args = (model, inputs["input_ids"], inputs["attention_mask"], inputs["labels"], num_items_in_batch)
        if self.supervised_logits_only:
            loss = supervised_loss(*args, **self.loss_options)
        else:
            loss = full_loss(*args)
        if model.training:
            self.tokens["supervised"] += int((inputs["labels"][:, 1:] != IGNORE_INDEX).sum())
            self.tokens["total"] += int(inputs["attention_mask"].sum())
        return (loss, {"loss": loss}) if return_outputs else loss

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        now = time.perf_counter()
        then, sup0, tot0 = self._last_log
        if "loss" in logs and now > then:
            logs["sup_tok_s"] = round((self.tokens["supervised"] - sup0) / (now - then), 1)
            logs["tok_s"] = round((self.tokens["total"] - tot0) / (now - then), 1)
            logs["peak_rss_mb"] = round(peak_rss_mb())
            if torch.cuda.is_available():
                logs["peak_vram_mb"] = round(torch.cuda.max_memory_allocated() / 2**20)
            self._last_log = (now, self.tokens["supervised"], self.tokens["total"])
        super().log(logs, start_time)
