"""The training loss: causal-LM cross-entropy with the output layer applied only where labels are
supervised (``supervised_loss``), optionally chunked (``linear_cross_entropy``) and with the batch's
shared prompt prefix run once (``decoder_hidden``); ``full_loss`` is the plain recipe it matches."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from transformers import DynamicCache

from finetune.data import IGNORE_INDEX

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
