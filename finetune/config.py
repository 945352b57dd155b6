"""Fine-tuning options: one typed dataclass, defaults from YAML, flags override, one parser for both.

    python -m finetune.train --config finetune/configs/tiny-test.yaml --max_steps 2

A config file is plain YAML mapping field names to values (never executed). Every field can be
given as a flag, ``--learning_rate 1e-4`` or ``--learning-rate 1e-4``; flags win over the file.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import logging
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

logger = logging.getLogger(__name__)

DEFAULT_BASE_MODEL = "gemma-3-270m"


class ConfigError(ValueError):
    """A config that cannot be used; the message lists every problem found."""


def _problems_message(problems: list[str]) -> str:
    return f"{len(problems)} problem(s) in the fine-tuning config:\n  - " + "\n  - ".join(problems)


def _f(default: Any, help: str, **kwargs: Any) -> Any:
    """A dataclass field with its help line (shown by ``--help`` and in the training card)."""
    if isinstance(default, list):
        return field(default_factory=functools.partial(list, default), metadata={"help": help, **kwargs})
    return field(default=default, metadata={"help": help, **kwargs})


@dataclass
class FinetuneConfig:
    """Everything one training run needs; see ``finetune/configs/*.yaml`` for worked examples."""

    # --- model and data
    base_model: str = _f(DEFAULT_BASE_MODEL, "gemma-3-270m (the PyPI model), an HF id or a folder")
    train_files: list[str] = _f([], "trajectory JSONL files to train on (one run per line)")
    eval_files: list[str] = _f([], "trajectory JSONL files for the eval loss (optional)")
    output_dir: str = _f("outputs/adapter", "where the adapter, training card and loss curve go")
    cache_dir: str | None = _f(None, "qreact cache (converted default model); default: Settings.cache_dir")
    from_runs: bool = _f(False, "also train on confirmed runs exported from the run store (finetune.export)")
    store_url: str | None = _f(None, "run store URL for from_runs; default: Settings.resolved_store_url")
    on_bad_line: Literal["skip", "fail"] = _f("skip", "a bad JSONL line: skip it (warned) or fail")
    streaming: bool = _f(False, "stream the JSONL instead of materialising it (large files; needs max_steps)")
    max_length: int = _f(512, "tokens per example after truncation (prompt ~174 tokens)")

    # --- device and precision
    device: Literal["auto", "cpu", "cuda"] = _f("auto", "auto: CUDA when available, else CPU")
    precision: Literal["auto", "fp32", "bf16", "4bit"] = _f(
        "auto", "auto: CUDA -> 4bit QLoRA with bf16 compute; CPU -> fp32 LoRA (bf16 is >10x slower on CPU)"
    )
    threads: int | None = _f(None, "torch CPU threads (default: torch's choice)")

    # --- LoRA
    init_adapter: str | None = _f(
        None, "start from this peft adapter folder instead of a fresh LoRA (continued training)"
    )
    lora_r: int = _f(64, "LoRA rank (seed: 64); multiples of 8 map best onto matrix units")
    lora_alpha: int = _f(16, "LoRA scaling numerator (scale = alpha / r; seed: 16)")
    lora_dropout: float = _f(0.05, "dropout on the LoRA input (seed: 0.05)")
    target_modules: list[str] = _f(["all-linear"], "modules to adapt; all-linear = all but the output layer")
    lora_layers: list[int] = _f(
        [], "decoder layer indices to adapt (empty: all); upper layers only makes backward stop early"
    )
    lean_lora_dropout: bool = _f(
        True, "apply the LoRA dropout inside LoRA A, keeping a 1-byte mask instead of two float copies (same values)"
    )
    lora_bias: Literal["none", "all", "lora_only"] = _f("none", "which biases to train (seed: none)")

    # --- optimisation
    per_device_train_batch_size: int = _f(1, "examples per forward pass (seed: 1)")
    per_device_eval_batch_size: int = _f(4, "examples per eval forward pass")
    gradient_accumulation_steps: int = _f(16, "forward passes per optimizer step (seed: 16)")
    learning_rate: float = _f(2e-4, "peak learning rate")
    lr_scheduler_type: str = _f("cosine", "transformers scheduler name (linear, cosine, constant, ...)")
    warmup_ratio: float = _f(0.03, "fraction of the optimizer steps spent warming up")
    weight_decay: float = _f(0.0, "AdamW weight decay")
    max_grad_norm: float = _f(1.0, "gradient clipping norm")
    num_train_epochs: float = _f(1.0, "epochs over the training data (ignored when max_steps > 0)")
    max_steps: int = _f(-1, "optimizer steps; -1 = from num_train_epochs")
    group_by_length: bool = _f(True, "batch examples of similar length together (less padding)")
    supervised_logits_only: bool = _f(
        True, "compute the output layer + loss only where labels are supervised (same loss, ~2x faster)"
    )
    gradient_checkpointing: bool = _f(True, "recompute activations in backward (less memory, ~30% slower)")
    shared_prefix: bool = _f(
        True,
        "run the tokens every example of a batch starts with (the ReAct prompt, ~160 tokens) once per batch and "
        "reuse their keys/values, gradients kept (same loss; ignored with gradient_checkpointing)",
    )
    logits_chunk_rows: int = _f(
        64, "rows of output layer + cross-entropy at once (the [rows x vocab] logits never exist whole); 0 = all"
    )
    torch_compile: bool = _f(False, "torch.compile the model (GPU; compile time is minutes)")
    seed: int = _f(42, "random seed (data order, LoRA init, dropout)")

    # --- bookkeeping
    logging_steps: int = _f(10, "log loss / tokens per second every N optimizer steps (seed: 10)")
    save_steps: int = _f(500, "save a checkpoint every N optimizer steps (seed: 500)")
    save_total_limit: int = _f(2, "keep at most N checkpoints (seed: 2)")
    eval_steps: int = _f(0, "eval loss every N optimizer steps; 0 = only at the end (needs eval_files)")
    dataloader_num_workers: int | None = _f(None, "data loader processes; default 2 on GPU, 0 on CPU")
    keep_checkpoints: bool = _f(False, "keep output_dir/checkpoints after a successful run")
    progress_file: str | None = _f(None, "JSON rewritten at every log: step, loss, ETA (job pollers)")

    def validate(self) -> FinetuneConfig:
        """Check every field; raise one ``ConfigError`` listing every problem. Returns self."""
        problems: list[str] = []
        hints = _field_types()
        for f in dataclasses.fields(self):
            choices = _literal_choices(hints[f.name])
            if choices and getattr(self, f.name) not in choices:
                allowed = ", ".join(map(str, choices))
                problems.append(f"{f.name}: {getattr(self, f.name)!r} is not one of {allowed}")
        if not self.train_files and not self.from_runs:
            problems.append("train_files: give at least one JSONL file (or from_runs: true)")
        for name in ("train_files", "eval_files"):
            for path in getattr(self, name):
                if not Path(path).is_file():
                    problems.append(f"{name}: {path} does not exist")
        if self.init_adapter and not (Path(self.init_adapter) / "adapter_config.json").is_file():
            problems.append(f"init_adapter: {self.init_adapter} has no adapter_config.json (not a peft adapter)")
        positive = (
            "max_length", "lora_r", "per_device_train_batch_size", "per_device_eval_batch_size",
            "gradient_accumulation_steps", "logging_steps", "save_steps", "save_total_limit",
        )  # fmt: skip
        for name in positive:
            if getattr(self, name) < 1:
                problems.append(f"{name}: must be >= 1 (got {getattr(self, name)})")
        if self.lora_alpha <= 0:
            problems.append(f"lora_alpha: must be > 0 (got {self.lora_alpha})")
        if not 0 <= self.lora_dropout < 1:
            problems.append(f"lora_dropout: must be in [0, 1) (got {self.lora_dropout})")
        if not self.learning_rate > 0:
            problems.append(f"learning_rate: must be > 0 (got {self.learning_rate})")
        if not 0 <= self.warmup_ratio < 1:
            problems.append(f"warmup_ratio: must be in [0, 1) (got {self.warmup_ratio})")
        if self.max_steps == 0 or self.max_steps < -1:
            problems.append(f"max_steps: must be -1 (use epochs) or >= 1 (got {self.max_steps})")
        if self.max_steps == -1 and not self.num_train_epochs > 0:
            problems.append(f"num_train_epochs: must be > 0 with max_steps -1 (got {self.num_train_epochs})")
        if self.streaming and self.max_steps < 1:
            problems.append("streaming: a streamed dataset has no length, so set max_steps >= 1")
        if self.logits_chunk_rows < 0:
            problems.append(f"logits_chunk_rows: must be >= 0 (got {self.logits_chunk_rows})")
        if self.eval_steps < 0:
            problems.append(f"eval_steps: must be >= 0 (got {self.eval_steps})")
        if self.eval_steps and not self.eval_files:
            problems.append("eval_steps: set but eval_files is empty")
        if self.threads is not None and self.threads < 1:
            problems.append(f"threads: must be >= 1 (got {self.threads})")
        if self.dataloader_num_workers is not None and self.dataloader_num_workers < 0:
            problems.append(f"dataloader_num_workers: must be >= 0 (got {self.dataloader_num_workers})")
        if not self.target_modules:
            problems.append("target_modules: at least one module name (or all-linear)")
        if any(i < 0 for i in self.lora_layers):
            problems.append(f"lora_layers: layer indices are >= 0 (got {self.lora_layers})")
        if not str(self.base_model).strip():
            problems.append("base_model: empty")
        if problems:
            raise ConfigError(_problems_message(problems))
        if self.lora_r % 8:
            logger.warning(
                "lora_r=%d is not a multiple of 8: it works, but aligned ranks map better onto matrix units "
                "(measure with bench/rank_alignment.py)",
                self.lora_r,
            )
        return self

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


# ---------------------------------------------------------------- parsing


def _unwrap_optional(tp: Any) -> tuple[Any, bool]:
    """``X | None`` -> (X, True); anything else -> (tp, False)."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0], True
    return tp, False


def _literal_choices(tp: Any) -> tuple[Any, ...]:
    tp, _ = _unwrap_optional(tp)
    return typing.get_args(tp) if typing.get_origin(tp) is Literal else ()


def _field_types() -> dict[str, Any]:
    return typing.get_type_hints(FinetuneConfig)


def _str2bool(text: str) -> bool:
    value = text.strip().lower()
    if value in ("1", "true", "yes", "y", "on"):
        return True
    if value in ("0", "false", "no", "n", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true/false, got {text!r}")


def _optional(conv: Any) -> Any:
    def parse(text: str) -> Any:
        return None if text.strip().lower() in ("none", "null", "") else conv(text)

    parse.__name__ = getattr(conv, "__name__", "value")
    return parse


def build_parser(prog: str = "qreact finetune") -> argparse.ArgumentParser:
    """An argparse parser with ``--config``, ``--resume`` and one flag per config field."""
    parser = argparse.ArgumentParser(prog=prog, description="Train a LoRA adapter on ReAct trajectories.")
    parser.add_argument("--config", type=str, default=None, help="YAML file with defaults for the fields")
    parser.add_argument("--resume", action="store_true", help="continue from the last checkpoint")
    hints = _field_types()
    for f in dataclasses.fields(FinetuneConfig):
        tp, optional = _unwrap_optional(hints[f.name])
        flags = [f"--{f.name}"] + ([f"--{f.name.replace('_', '-')}"] if "_" in f.name else [])
        kwargs: dict[str, Any] = {"dest": f.name, "default": argparse.SUPPRESS, "help": f.metadata["help"]}
        if tp is bool:
            # --flag alone means true; --flag false / --no-flag style both accepted
            kwargs.update(type=_str2bool, nargs="?", const=True, metavar="BOOL")
        elif typing.get_origin(tp) is list:
            kwargs.update(nargs="+", type=str, metavar="VALUE")
        elif typing.get_origin(tp) is Literal:
            kwargs.update(type=str, choices=list(typing.get_args(tp)))
        else:
            kwargs.update(type=_optional(tp) if optional else tp, metavar=tp.__name__.upper())
        parser.add_argument(*flags, **kwargs)
    return parser


def _coerce(name: str, value: Any, tp: Any, problems: list[str]) -> Any:
    """YAML value -> field type (ints for floats, a string for a one-element list)."""
    tp, optional = _unwrap_optional(tp)
    if value is None:
        if not optional:
            problems.append(f"{name}: null is not allowed")
        return value
    try:
        if tp is bool:
            return value if isinstance(value, bool) else _str2bool(str(value))
        if typing.get_origin(tp) is list:
            items = value if isinstance(value, list) else [value]
            (item_type,) = typing.get_args(tp) or (str,)
            return [int(v) for v in items] if item_type is int else [str(v) for v in items]
        if tp in (int, float):
            if isinstance(value, bool):
                raise ValueError("a boolean")
            converted = tp(value)
            if tp is int and isinstance(value, float) and value != converted:
                raise ValueError("not a whole number")
            return converted
        if tp is str:
            return str(value)
    except (TypeError, ValueError, argparse.ArgumentTypeError) as exc:
        problems.append(f"{name}: {value!r} is not a valid {getattr(tp, '__name__', tp)} ({exc})")
        return value
    return value


def load_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML config file (safe_load) into a dict of field values."""
    text = Path(path).read_text(encoding="utf-8")
    data = yaml.safe_load(text) or {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of field: value, got {type(data).__name__}")
    return data


def make_config(values: dict[str, Any], source: str = "config") -> FinetuneConfig:
    """Build and validate a config from a dict; unknown keys and bad types are reported together."""
    hints = _field_types()
    names = {f.name for f in dataclasses.fields(FinetuneConfig)}
    problems = [f"{key}: unknown field (in {source})" for key in values if key.replace("-", "_") not in names]
    kwargs: dict[str, Any] = {}
    for key, value in values.items():
        name = key.replace("-", "_")
        if name not in names:
            continue
        before = len(problems)
        converted = _coerce(key, value, hints[name], problems)
        if len(problems) == before:  # a value that did not convert keeps the default, so validate() can run
            kwargs[name] = converted
    cfg = FinetuneConfig(**kwargs)
    try:
        cfg.validate()
    except ConfigError as exc:
        problems.extend(str(exc).split("\n  - ")[1:])
    if problems:
        raise ConfigError(_problems_message(problems))
    return cfg


def parse_args(argv: list[str] | None = None, prog: str = "qreact finetune") -> tuple[FinetuneConfig, bool]:
    """Parse ``--config FILE`` plus flag overrides. Returns (validated config, resume)."""
    parser = build_parser(prog)
    ns = parser.parse_args(argv)
    values: dict[str, Any] = load_yaml(ns.config) if ns.config else {}
    flags = {k: v for k, v in vars(ns).items() if k not in ("config", "resume")}
    values.update(flags)
    return make_config(values, source=ns.config or "flags"), bool(ns.resume)
