"""The LoRA model of a run (finetune/model.py): LoRA dropout folded into the A matrices keeps peft's
draws, values and gradients."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import torch
from peft import get_peft_model
from transformers import AutoModelForCausalLM

from finetune.config import make_config
from finetune.losses import supervised_loss
from finetune.model import build_lora_config, use_lean_lora_dropout


def test_lean_lora_dropout_draws_the_same_masks_and_gradients(
    tiny_model_dir: Path, train_file: Path, tiny_batch: dict[str, torch.Tensor]
) -> None:
    batch = tiny_batch
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32)
    cfg = make_config({"train_files": [str(train_file)], "lora_r": 8, "lora_dropout": 0.3})
    peft_model = get_peft_model(base, build_lora_config(cfg)).train()
    for name, p in peft_model.named_parameters():
        if "lora_B" in name:
            torch.nn.init.normal_(p, std=0.1)
    lean = copy.deepcopy(peft_model)
    assert use_lean_lora_dropout(lean) == 2 * 7  # q, k, v, o, gate, up, down in each of the 2 layers
    assert {k for k, _ in lean.named_parameters()} == {k for k, _ in peft_model.named_parameters()}

    def loss_and_grads(model: Any, seed: int) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        model.zero_grad()
        torch.manual_seed(seed)
        loss = supervised_loss(model, batch["input_ids"], batch["attention_mask"], batch["labels"])
        loss.backward()
        return loss.detach(), {k: p.grad.clone() for k, p in model.named_parameters() if p.requires_grad}

    ref, ref_grads = loss_and_grads(peft_model, 1)
    out, grads = loss_and_grads(lean, 1)
    assert torch.allclose(out, ref, rtol=1e-6, atol=1e-7)
    for k in ref_grads:
        assert torch.allclose(grads[k], ref_grads[k], rtol=1e-5, atol=1e-7), k
    other, _ = loss_and_grads(lean, 2)
    assert not torch.allclose(other, out)  # dropout really is applied (another seed, another loss)
    lean.eval()
    peft_model.eval()
    with torch.no_grad():  # no dropout in eval
        assert torch.allclose(lean(**batch).loss, peft_model(**batch).loss)
