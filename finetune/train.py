"""Train a LoRA / QLoRA adapter on ReAct trajectories (the function behind ``qreact finetune``).

    python -m finetune.train --config finetune/configs/cpu-default.yaml

Flags override the YAML (``--max_steps 20 --output_dir /tmp/adapter``); ``--resume`` continues from
the last checkpoint in ``output_dir/checkpoints``; Ctrl-C (or SIGTERM) saves a checkpoint at the end
of the current optimizer step and exits with status 130. The output is a standard peft adapter folder
plus ``training_card.json`` / ``training_card.md`` and ``loss_curve.png``.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shutil
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from transformers import Trainer, TrainerCallback, TrainingArguments
from transformers.trainer_utils import get_last_checkpoint

from agent.backends.gguf import ensure_default_model
from agent.config import default_cache_dir
from finetune.card import peak_rss_mb, write_card
from finetune.config import DEFAULT_BASE_MODEL, ConfigError, FinetuneConfig, parse_args
from finetune.data import IGNORE_INDEX, DataError, FileSummary, PadCollator, build_dataset, scan_files

logger = logging.getLogger(__name__)

EXIT_INTERRUPTED = 130  # the shell convention for "stopped by SIGINT"


@dataclass
class Plan:
    """What the run resolved from the config: where, how and why."""

    device: str
    precision: str
    reason: str
    base_path: str
    train_files: list[str]
    eval_files: list[str]
    summaries: dict[str, list[FileSummary]] = field(default_factory=dict)


# ---------------------------------------------------------------- resolving


def resolve_device(cfg: FinetuneConfig) -> str:
    if cfg.device == "cuda" and not torch.cuda.is_available():
        raise ConfigError(
            "1 problem(s) in the fine-tuning config:\n  - device: cuda requested but no CUDA device"
        )
    if cfg.device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return cfg.device


def resolve_precision(cfg: FinetuneConfig, device: str) -> tuple[str, str]:
    """(precision, reason) — the reason is printed at start and written to the training card."""
    cpu_fp32 = (
        "fp32 LoRA on CPU (bf16 training is >10x slower on CPUs without native bf16; "
        "NF4 is no faster and lowers top-1 agreement, see MEASURED.md)"
    )
    qlora = "4-bit NF4 QLoRA with double quantization and bf16 compute (the seed recipe, least VRAM)"
    if cfg.precision == "auto":
        return ("4bit", f"auto on CUDA: {qlora}") if device == "cuda" else ("fp32", f"auto: {cpu_fp32}")
    if device == "cpu":
        if cfg.precision == "bf16":
            logger.warning("bf16 on CPU: expect >10x slower training than fp32 on CPUs without native bf16")
            return "bf16", "bf16 requested on CPU (slow; fp32 is the CPU default)"
        if cfg.precision == "4bit":
            return "4bit", "4bit on CPU: NF4 base with fp32 compute (bf16 compute is ~16x slower on CPU)"
        return "fp32", cpu_fp32
    reasons = {"4bit": qlora, "bf16": "bf16 LoRA on CUDA (no quantization)", "fp32": "fp32 LoRA on CUDA"}
    return cfg.precision, reasons[cfg.precision]


def resolve_base_model(cfg: FinetuneConfig) -> str:
    """A folder or hub id; the default name converts the packaged GGUF once into the qreact cache."""
    if cfg.base_model != DEFAULT_BASE_MODEL:
        return cfg.base_model
    return str(ensure_default_model(_cache_dir(cfg)))


def _cache_dir(cfg: FinetuneConfig) -> Path:
    return Path(cfg.cache_dir).expanduser() if cfg.cache_dir else default_cache_dir()


# Confirmed runs of the service's run store → a trajectory JSONL at the given path (returned).
# The caller that owns the store passes it in (``qreact finetune``, training jobs: ``app.cli``).
RunsExporter = Callable[[FinetuneConfig, Path], Path]


def export_from_runs(cfg: FinetuneConfig, out_path: Path, export_runs: RunsExporter | None) -> Path:
    """Write confirmed runs from the run store as trajectory JSONL (``finetune.export.export_runs``)."""
    if export_runs is None:
        raise ConfigError(
            "1 problem(s) in the fine-tuning config:\n  - from_runs: the run store is the service's: "
            "train with `qreact finetune --from-runs`, or export runs with `qreact data export` and "
            "pass the file in train_files"
        )
    out_path.parent.mkdir(parents=True, exist_ok=True)
    return export_runs(cfg, out_path)


# ---------------------------------------------------------------- building


def build_tokenizer(base_path: str) -> Any:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(base_path)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "right"
    return tokenizer


# the linear layers of a Llama/Gemma-style decoder block (what all-linear adapts there)
DECODER_LINEAR = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


def build_lora_config(cfg: FinetuneConfig) -> Any:
    from peft import LoraConfig

    targets: Any = cfg.target_modules
    if targets == ["all-linear"]:
        # peft's shorthand: every nn.Linear except the output layer; with a layer subset peft needs names
        targets = list(DECODER_LINEAR) if cfg.lora_layers else "all-linear"
    return LoraConfig(
        r=cfg.lora_r,
        lora_alpha=cfg.lora_alpha,
        lora_dropout=cfg.lora_dropout,
        bias=cfg.lora_bias,
        task_type="CAUSAL_LM",
        target_modules=targets,
        layers_to_transform=list(cfg.lora_layers) or None,
    )


def build_model(cfg: FinetuneConfig, plan: Plan) -> Any:
    """The base model in the planned precision with LoRA adapters attached (peft PeftModel)."""
    from peft import get_peft_model, prepare_model_for_kbit_training
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    kwargs: dict[str, Any] = {}
    if plan.precision == "4bit":
        compute = torch.bfloat16 if plan.device == "cuda" else torch.float32
        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_use_double_quant=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_compute_dtype=compute,
        )
        kwargs["device_map"] = "auto" if plan.device == "cuda" else {"": "cpu"}
        kwargs["dtype"] = compute
    else:
        kwargs["dtype"] = torch.bfloat16 if plan.precision == "bf16" else torch.float32
    model = AutoModelForCausalLM.from_pretrained(plan.base_path, **kwargs)
    model.config.use_cache = False  # no KV cache while training
    if plan.precision == "4bit":
        model = prepare_model_for_kbit_training(
            model,
            use_gradient_checkpointing=cfg.gradient_checkpointing,
            gradient_checkpointing_kwargs={"use_reentrant": False},
        )
    if cfg.init_adapter:  # continue training an existing adapter (its own r/alpha/targets apply)
        from peft import PeftModel

        peft_model: Any = PeftModel.from_pretrained(model, cfg.init_adapter, is_trainable=True)
    else:
        peft_model = get_peft_model(model, build_lora_config(cfg))
    if cfg.lean_lora_dropout:
        use_lean_lora_dropout(peft_model)
    return peft_model


class _DropoutLinear(torch.autograd.Function):
    """``linear(dropout(x), weight)`` keeping only ``x`` (already kept by the base layer) and a 1-byte mask.

    ``F.dropout`` on CPU keeps a float noise tensor and LoRA A keeps the dropped-out copy of ``x``: 8 bytes
    per element of every adapted layer's input, ~40% of a step's activations. The mask is drawn exactly as
    ``F.dropout`` draws it (a float ``bernoulli_`` on the same generator), so values and gradients match.
    """

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, weight: torch.Tensor, p: float) -> torch.Tensor:  # type: ignore[override]
        noise = torch.empty_like(x).bernoulli_(1 - p)
        mask = noise.bool()
        out = F.linear(x * noise.div_(1 - p), weight)
        ctx.p = p
        ctx.save_for_backward(x, mask, weight)
        return out

    @staticmethod
    def backward(ctx: Any, grad_out: torch.Tensor) -> tuple[Any, ...]:  # type: ignore[override]
        x, mask, weight = ctx.saved_tensors
        noise = mask.to(x.dtype).div_(1 - ctx.p)
        grad_x = grad_w = None
        if ctx.needs_input_grad[0]:
            grad_x = (grad_out @ weight) * noise
        if ctx.needs_input_grad[1]:
            grad_w = grad_out.reshape(-1, grad_out.size(-1)).T @ (x * noise).reshape(-1, x.size(-1))
        return grad_x, grad_w, None


class DropoutLinear(torch.nn.Linear):
    """A LoRA A matrix with its input dropout folded in (``lean_lora_dropout``); same parameter names."""

    dropout_p: float = 0.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and self.dropout_p > 0):
            return F.linear(x, self.weight, self.bias)
        if self.bias is not None or not torch.is_grad_enabled():
            return F.linear(F.dropout(x, self.dropout_p, True), self.weight, self.bias)
        return _DropoutLinear.apply(x, self.weight, self.dropout_p)


def use_lean_lora_dropout(model: Any) -> int:
    """Fold each LoRA layer's input dropout into its A matrix (``DropoutLinear``); returns how many.

    Same draws, values and gradients as peft's ``lora_B(lora_A(dropout(x)))``; the dropped-out copy of
    ``x`` and the float noise are no longer kept for backward (a bool mask is).
    """
    count = 0
    for module in model.modules():
        drops, lora_a = getattr(module, "lora_dropout", None), getattr(module, "lora_A", None)
        if not isinstance(drops, torch.nn.ModuleDict) or not isinstance(lora_a, torch.nn.ModuleDict):
            continue
        for name, drop in list(drops.items()):
            a = lora_a[name] if name in lora_a else None
            if isinstance(drop, torch.nn.Dropout) and drop.p > 0 and type(a) is torch.nn.Linear:
                lean: Any = a
                lean.__class__ = DropoutLinear
                lean.dropout_p = float(drop.p)
                drops[name] = torch.nn.Identity()
                count += 1
    return count


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


# ---------------------------------------------------------------- loss

LOGITS_CHUNK_ROWS = 64  # rows of [rows x vocab] fp32 logits at once: 64 MiB for Gemma's 262,144 entries


class _LinearCrossEntropy(torch.autograd.Function):
    """Summed cross-entropy of ``hidden @ weight.T`` against ``targets``, ``chunk`` rows at a time.

    The [rows x vocab] logits never exist whole: each chunk's logits, log-sum-exp and softmax are computed,
    and since the loss is a scalar its gradient w.r.t. ``hidden`` is computed right there (softmax minus
    one-hot, times the weight) and kept (rows x hidden, tiny); backward only scales it. No recompute, so
    the same matmuls as a plain forward + backward. ``weight`` must be frozen (LoRA: the tied embedding).
    """

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any, hidden: torch.Tensor, weight: torch.Tensor, targets: torch.Tensor, chunk: int, softcap: float
    ) -> torch.Tensor:
        grad = torch.empty_like(hidden) if ctx.needs_input_grad[0] else None
        total = torch.zeros((), dtype=torch.float32, device=hidden.device)
        for start in range(0, hidden.size(0), chunk):
            h, t = hidden[start : start + chunk], targets[start : start + chunk]
            logits = (h @ weight.T).float()
            capped = None
            if softcap:
                capped = torch.tanh(logits / softcap)
                logits = capped * softcap
            lse = torch.logsumexp(logits, dim=-1)
            total += (lse - logits.gather(1, t[:, None]).squeeze(1)).sum()
            if grad is not None:
                probs = logits.sub_(lse[:, None]).exp_()  # softmax, in place: one [chunk x vocab] buffer
                probs[torch.arange(len(t), device=t.device), t] -= 1.0
                if capped is not None:
                    probs.mul_(1.0 - capped * capped)  # d(cap * tanh(z / cap)) / dz
                grad[start : start + chunk] = (probs.to(weight.dtype) @ weight).to(grad.dtype)
            del logits, capped
        ctx.save_for_backward(grad if grad is not None else torch.empty(0))
        return total

    @staticmethod
    def backward(ctx: Any, grad_output: torch.Tensor) -> tuple[Any, ...]:  # type: ignore[override]
        (grad,) = ctx.saved_tensors
        return grad * grad_output.to(grad.dtype), None, None, None, None


def linear_cross_entropy(
    hidden: torch.Tensor, weight: torch.Tensor, targets: torch.Tensor, chunk: int = LOGITS_CHUNK_ROWS,
    softcap: float | None = None, bias: torch.Tensor | None = None,
) -> torch.Tensor:  # fmt: skip
    """Sum over rows of cross-entropy(softcap(hidden @ weight.T + bias), targets); chunked when ``chunk`` > 0.

    ``chunk`` <= 0, a trainable ``weight`` or a bias computes the logits of all rows at once (plain autograd).
    """
    if chunk > 0 and not weight.requires_grad and bias is None:
        return _LinearCrossEntropy.apply(hidden, weight, targets, chunk, float(softcap or 0.0))
    logits = F.linear(hidden, weight, bias)
    if softcap:
        logits = torch.tanh(logits / softcap) * softcap
    return F.cross_entropy(logits.float(), targets, reduction="sum")


def common_prefix_length(input_ids: torch.Tensor, attention_mask: torch.Tensor) -> int:
    """Tokens every row of a right-padded batch starts with, leaving each row at least one token of its own."""
    if input_ids.size(0) < 2:
        return 0
    differs = (input_ids != input_ids[:1]).any(dim=0)
    first = int(differs.nonzero()[0]) if bool(differs.any()) else input_ids.size(1)
    shortest = int(attention_mask.sum(dim=1).min())
    n = max(0, min(first, shortest - 1))
    if n and not bool(attention_mask[:, :n].all()):
        return 0  # left padding: no shared real prefix
    return n


def decoder_hidden(
    base: Any, input_ids: torch.Tensor, attention_mask: torch.Tensor, share_prefix: bool = False,
    min_prefix: int = 8,
) -> torch.Tensor:  # fmt: skip
    """Final hidden states [batch, seq, hidden] of the decoder (after its last norm).

    With ``share_prefix``, the tokens every example starts with (the ReAct prompt up to the question,
    ~160 tokens) run once, and the rest of each example runs against their keys/values expanded to the
    batch (gradients flow back through the expand): the same values as running every row in full, for
    ~40% fewer tokens at batch 4. Needs gradient checkpointing off (a checkpointed layer drops the cache).
    """
    decoder = base.get_decoder()
    n = common_prefix_length(input_ids, attention_mask) if share_prefix else 0
    if n < min_prefix or getattr(base, "is_activation_checkpointing", False):
        return decoder(input_ids=input_ids, attention_mask=attention_mask, use_cache=False)[0]
    from transformers import DynamicCache

    batch, length = input_ids.shape
    cache = DynamicCache(config=base.config)
    prefix = decoder(input_ids=input_ids[:1, :n], attention_mask=attention_mask[:1, :n], cache=cache,
                     use_cache=True)[0]  # fmt: skip
    layer: Any
    for layer in cache.layers:
        layer.keys = layer.keys.expand(batch, -1, -1, -1)
        layer.values = layer.values.expand(batch, -1, -1, -1)
    positions = torch.arange(n, length, device=input_ids.device).unsqueeze(0).expand(batch, -1)
    rest = decoder(input_ids=input_ids[:, n:], attention_mask=attention_mask, position_ids=positions, cache=cache,
                   use_cache=True)[0]  # fmt: skip
    return torch.cat([prefix.expand(batch, -1, -1), rest], dim=1)


def supervised_loss(
    model: Any,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    labels: torch.Tensor,
    num_items: Any = None,
    *,
    share_prefix: bool = False,
    chunk_rows: int = 0,
) -> torch.Tensor:
    """Causal-LM cross-entropy with the output layer applied only where the shifted labels are supervised.

    Same value and gradients as the full loss: positions whose label is -100 contribute nothing, so
    their 262k-wide logits never need computing. Sum over tokens / ``num_items`` (the supervised
    count over the whole accumulated batch) or / this batch's count when ``num_items`` is None.
    ``share_prefix`` runs the batch's common prefix once (``decoder_hidden``); ``chunk_rows`` > 0
    computes the output layer + cross-entropy that many rows at a time (``linear_cross_entropy``).
    """
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    hidden = decoder_hidden(base, input_ids, attention_mask, share_prefix)
    targets = labels[:, 1:]
    mask = targets != IGNORE_INDEX
    cap = getattr(base.config, "final_logit_softcapping", None)
    head = base.get_output_embeddings()
    total = linear_cross_entropy(hidden[:, :-1][mask], head.weight, targets[mask], chunk_rows, cap, head.bias)
    denom = num_items if num_items is not None else mask.sum().clamp(min=1)
    return total / denom


def full_loss(
    model: Any,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    labels: torch.Tensor,
    num_items: Any = None,
) -> torch.Tensor:
    """The plain recipe: logits at every position, then the same masked cross-entropy."""
    logits = model(input_ids=input_ids, attention_mask=attention_mask, use_cache=False).logits
    targets = labels[:, 1:]
    total = F.cross_entropy(
        logits[:, :-1].float().reshape(-1, logits.size(-1)),
        targets.reshape(-1),
        ignore_index=IGNORE_INDEX,
        reduction="sum",
    )
    denom = num_items if num_items is not None else (targets != IGNORE_INDEX).sum().clamp(min=1)
    return total / denom


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


# ---------------------------------------------------------------- callbacks


class GracefulStop(TrainerCallback):
    """First Ctrl-C / SIGTERM: save a checkpoint at the end of this optimizer step and stop. Second: abort."""

    def __init__(self) -> None:
        self.requested = False

    def request(self, signum: int = signal.SIGINT, frame: Any = None) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        logger.warning("stop requested: saving a checkpoint after this step (press Ctrl-C again to abort)")

    def on_step_end(self, args, state, control, **kwargs):  # type: ignore[no-untyped-def]
        if self.requested:
            control.should_save = True
            control.should_training_stop = True
        return control


class ProgressFile(TrainerCallback):
    """Rewrites a small JSON file at every step and log: state, step, loss, ETA (for job pollers, app/jobs.py)."""

    def __init__(self, path: str | None) -> None:
        self.path = Path(path) if path else None
        self.started = time.time()
        self.first_step: int | None = None

    def write(self, **fields: Any) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(self.path.suffix + ".tmp")
        tmp.write_text(json.dumps({**fields, "updated": time.time()}))
        os.replace(tmp, self.path)  # atomic: a poller never reads half a file

    def on_train_begin(self, args, state, control, **kwargs):  # type: ignore[no-untyped-def]
        self.started = time.time()
        self.first_step = state.global_step
        self.write(state="running", step=state.global_step, max_steps=state.max_steps)

    def on_step_end(self, args, state, control, **kwargs):  # type: ignore[no-untyped-def]
        self._update(state)  # every optimizer step, not only every logging_steps: pollers see it move

    def on_log(self, args, state, control, logs=None, **kwargs):  # type: ignore[no-untyped-def]
        self._update(state)  # the Trainer appends ``logs`` to ``state.log_history`` before this call

    def _update(self, state: Any) -> None:
        done = state.global_step - (self.first_step or 0)
        elapsed = time.time() - self.started
        eta = elapsed / done * (state.max_steps - state.global_step) if done > 0 else None

        def last(key: str) -> Any:
            return next((h[key] for h in reversed(state.log_history) if key in h), None)

        self.write(
            state="running",
            step=state.global_step,
            max_steps=state.max_steps,
            epoch=state.epoch,
            loss=last("loss"),
            eval_loss=last("eval_loss"),
            eta_s=round(eta, 1) if eta is not None else None,
            sup_tok_s=last("sup_tok_s"),
        )


# ---------------------------------------------------------------- main


def plan_run(cfg: FinetuneConfig, export_runs: RunsExporter | None = None) -> Plan:
    device = resolve_device(cfg)
    precision, reason = resolve_precision(cfg, device)
    logger.info("device %s, precision %s: %s", device, precision, reason)
    train_files = list(cfg.train_files)
    if cfg.from_runs:
        train_files.append(str(export_from_runs(cfg, Path(cfg.output_dir) / "from_runs.jsonl", export_runs)))
    plan = Plan(device, precision, reason, "", train_files, list(cfg.eval_files))
    plan.summaries = {
        "train": scan_files(train_files, cfg.on_bad_line),
        "eval": scan_files(plan.eval_files, cfg.on_bad_line),
    }
    if not sum(s.used for s in plan.summaries["train"]):
        raise DataError(f"no usable trajectories in {', '.join(train_files)}")
    plan.base_path = resolve_base_model(cfg)
    return plan


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

    handlers = _install_signal_handlers(stop)
    try:
        result = trainer.train(resume_from_checkpoint=checkpoint)
    except BaseException:
        progress.write(state="failed", step=trainer.state.global_step)
        raise
    finally:
        _restore_signal_handlers(handlers)

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


def _install_signal_handlers(stop: GracefulStop) -> dict[int, Any]:
    if threading.current_thread() is not threading.main_thread():
        return {}  # signal handlers can only be set from the main thread
    old: dict[int, Any] = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        old[sig] = signal.signal(sig, stop.request)
    return old


def _restore_signal_handlers(old: dict[int, Any]) -> None:
    for sig, handler in old.items():
        signal.signal(sig, handler)


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
