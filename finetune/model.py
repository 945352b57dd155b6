"""The model a run trains: the tokenizer, the base model in the planned precision with LoRA adapters
attached (a peft ``LoraConfig`` built from the config), and LoRA dropout folded into the A matrices
(``lean_lora_dropout``: same values and gradients, far less kept for backward)."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from peft import LoraConfig, PeftModel, get_peft_model, prepare_model_for_kbit_training
from transformers import AutoModelForCausalLM, AutoTokenizer

from agent.backends.loading import nf4_config
from finetune.config import FinetuneConfig
from finetune.plan import Plan


def build_tokenizer(base_path: str) -> Any:
    tokenizer = AutoTokenizer.from_pretrained(base_path)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "right"
    return tokenizer


# the linear layers of a Llama/Gemma-style decoder block (what all-linear adapts there)
DECODER_LINEAR = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


def build_lora_config(cfg: FinetuneConfig) -> Any:
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
    kwargs: dict[str, Any] = {}
    if plan.precision == "4bit":
        compute = torch.bfloat16 if plan.device == "cuda" else torch.float32
        kwargs["quantization_config"] = nf4_config(compute)
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
