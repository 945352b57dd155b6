"""The training loss (finetune/losses.py): supervised-only logits, the shared prompt prefix and chunked
cross-entropy keep the full loss's value and gradients, on the tiny random Gemma-3 and on random tensors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from peft import get_peft_model
from transformers import AutoModelForCausalLM, AutoTokenizer

from finetune.config import make_config
from finetune.data import PadCollator, build_dataset
from finetune.losses import common_prefix_length, full_loss, linear_cross_entropy, supervised_loss
from finetune.model import build_lora_config


@pytest.mark.parametrize("softcap", [None, 5.0])
def test_supervised_logits_loss_equals_full_loss(
    tiny_model_dir: Path, train_file: Path, tiny_batch: dict[str, torch.Tensor], softcap: float | None
) -> None:
    batch = tiny_batch
    assert (batch["attention_mask"] == 0).any()  # padding is exercised
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32)
    base.config.final_logit_softcapping = softcap
    cfg = make_config({"train_files": [str(train_file)], "lora_r": 8, "lora_dropout": 0.0})
    model = get_peft_model(base, build_lora_config(cfg)).train()
    for name, p in model.named_parameters():
        if "lora_B" in name:
            torch.nn.init.normal_(p, std=0.1)  # non-zero so LoRA gradients flow everywhere

    def loss_and_grads(fn):  # noqa: ANN001, ANN202
        model.zero_grad()
        loss = fn(model, batch["input_ids"], batch["attention_mask"], batch["labels"])
        loss.backward()
        return loss.detach(), {k: p.grad.clone() for k, p in model.named_parameters() if p.requires_grad}

    fast, fast_grads = loss_and_grads(supervised_loss)
    full, full_grads = loss_and_grads(full_loss)
    assert torch.allclose(fast, full, rtol=1e-5, atol=1e-6)
    # and the full loss is the model's own (transformers) causal-LM loss
    hf = model(**batch).loss
    assert torch.allclose(full, hf, rtol=1e-5, atol=1e-6)
    for k in full_grads:
        assert torch.allclose(fast_grads[k], full_grads[k], rtol=1e-4, atol=1e-6), k
    # with gradient accumulation the divisor is the supervised count of the whole accumulated batch
    n = int((batch["labels"][:, 1:] != -100).sum())
    halved = supervised_loss(model, batch["input_ids"], batch["attention_mask"], batch["labels"], 2 * n)
    assert torch.allclose(halved, fast / 2)


def _lora_model(tiny_model_dir: Path, train_file: Path, **config: Any) -> Any:
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32, **config)
    cfg = make_config({"train_files": [str(train_file)], "lora_r": 8, "lora_dropout": 0.0})
    model = get_peft_model(base, build_lora_config(cfg)).train()
    torch.manual_seed(0)
    for name, p in model.named_parameters():
        if "lora_B" in name:
            torch.nn.init.normal_(p, std=0.1)  # non-zero so LoRA gradients flow everywhere
    return model


@pytest.mark.timeout(900)  # ~14 forward/backward passes over a 262k vocabulary: ~3 min alone, more on a loaded box
@pytest.mark.parametrize("softcap", [None, 5.0])
def test_shared_prefix_and_chunked_logits_keep_loss_and_gradients(
    tiny_model_dir: Path, train_file: Path, softcap: float | None
) -> None:
    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    rows = list(build_dataset([str(train_file)], tok, max_length=512))[:4]
    batch = PadCollator(tok.pad_token_id)(rows)
    assert (batch["attention_mask"] == 0).any()  # padding is exercised
    shared = common_prefix_length(batch["input_ids"], batch["attention_mask"])
    assert shared > 50 and shared < int(batch["attention_mask"].sum(1).min())  # the prompt, not the question
    # a sliding window shorter than the examples and the shared prefix, and a full-attention layer: the reused
    # keys/values must be masked exactly as in the plain forward
    model = _lora_model(
        tiny_model_dir, train_file, sliding_window=16, layer_types=["sliding_attention", "full_attention"]
    )
    model.get_base_model().config.final_logit_softcapping = softcap
    assert batch["input_ids"].size(1) > 16

    def loss_and_grads(**kwargs: Any) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        model.zero_grad()
        loss = supervised_loss(model, batch["input_ids"], batch["attention_mask"], batch["labels"], **kwargs)
        loss.backward()
        return loss.detach(), {k: p.grad.clone() for k, p in model.named_parameters() if p.requires_grad}

    plain, plain_grads = loss_and_grads()
    full = full_loss(model, batch["input_ids"], batch["attention_mask"], batch["labels"]).detach()
    assert torch.allclose(plain, full, rtol=1e-5, atol=1e-6)
    for kwargs in ({"share_prefix": True}, {"chunk_rows": 7}, {"share_prefix": True, "chunk_rows": 3}):
        fast, fast_grads = loss_and_grads(**kwargs)
        assert torch.allclose(fast, plain, rtol=1e-5, atol=1e-6), kwargs
        assert fast_grads.keys() == plain_grads.keys()
        for k in plain_grads:
            assert plain_grads[k].abs().max() > 0, k  # every LoRA matrix gets a gradient
            assert torch.allclose(fast_grads[k], plain_grads[k], rtol=1e-4, atol=1e-6), (kwargs, k)
    # gradient checkpointing drops a layer's cache: the shared prefix falls back to the plain forward
    model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    ckpt, ckpt_grads = loss_and_grads(share_prefix=True, chunk_rows=3)
    model.gradient_checkpointing_disable()
    assert torch.allclose(ckpt, plain, rtol=1e-5, atol=1e-6)
    assert all(torch.allclose(ckpt_grads[k], plain_grads[k], rtol=1e-4, atol=1e-6) for k in plain_grads)
    # no gradient needed (eval): the chunked loss is the same value
    with torch.no_grad():
        ev = supervised_loss(model, batch["input_ids"], batch["attention_mask"], batch["labels"],
                             share_prefix=True, chunk_rows=5)  # fmt: skip
    assert torch.allclose(ev, plain, rtol=1e-5, atol=1e-6)


def test_common_prefix_length_leaves_every_row_a_token() -> None:
    ids = torch.tensor([[5, 6, 7, 8, 0], [5, 6, 7, 9, 4], [5, 6, 7, 8, 3]])
    mask = torch.tensor([[1, 1, 1, 1, 0], [1, 1, 1, 1, 1], [1, 1, 1, 1, 1]])
    assert common_prefix_length(ids, mask) == 3
    same = torch.tensor([[5, 6, 7, 0, 0], [5, 6, 7, 8, 9]])
    assert common_prefix_length(same, torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]])) == 2  # not all of row 0
    assert common_prefix_length(ids[:1], mask[:1]) == 0  # a batch of one has nothing to share
    assert common_prefix_length(torch.tensor([[0, 5, 6], [5, 5, 6]]), torch.tensor([[0, 1, 1], [1, 1, 1]])) == 0


def test_chunked_cross_entropy_matches_full_logits() -> None:
    torch.manual_seed(0)
    hidden = torch.randn(11, 8, requires_grad=True)
    weight = torch.randn(50, 8)
    targets = torch.randint(0, 50, (11,))
    for softcap in (None, 3.0):
        ref = linear_cross_entropy(hidden, weight, targets, chunk=0, softcap=softcap)
        (ref_grad,) = torch.autograd.grad(ref * 0.5, hidden)
        out = linear_cross_entropy(hidden, weight, targets, chunk=4, softcap=softcap)
        (grad,) = torch.autograd.grad(out * 0.5, hidden)
        assert torch.allclose(out, ref, rtol=1e-5) and torch.allclose(grad, ref_grad, rtol=1e-4, atol=1e-6)
    expected = F.cross_entropy(hidden @ weight.T, targets, reduction="sum")
    assert torch.allclose(linear_cross_entropy(hidden, weight, targets, chunk=3), expected, rtol=1e-5)
