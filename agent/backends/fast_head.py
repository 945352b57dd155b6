"""A faster output layer for greedy decoding on CPU: int8 screening, exact fp32 rescoring.

Gemma 3's output layer is a 262144 x 640 matrix: in fp32 it is ~55 ms of the ~105 ms a decode
step costs on one core (it reads 671 MB per token). For greedy decoding only the argmax matters,
so ``ScreenedHead`` computes approximate logits with a per-row int8 copy of the matrix (fbgemm
dynamic quantization, ~11 ms), takes the top ``k`` candidates, and recomputes those ``k`` logits
exactly in fp32. Every other logit is returned as -inf, so argmax (and stop/EOS logic) works on
the returned tensor unchanged. Sampling (temperature > 0) and prefill of several positions use
the exact full layer.

On Gemma 3 270M the exact argmax was never below rank 3 of the int8 order (196 positions of a
ReAct trajectory), so k=64 leaves a wide margin; docs/backends.md has the numbers.
"""

from __future__ import annotations

import logging
import warnings
from typing import Any

import torch
from torch import nn
from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

logger = logging.getLogger(__name__)

DEFAULT_TOP_K = 64  # candidates rescored exactly; the true argmax was within the int8 top 3


class ScreenedHead(nn.Module):
    """Wraps an ``nn.Linear`` output layer; see the module docstring."""

    def __init__(self, linear: nn.Linear, top_k: int = DEFAULT_TOP_K) -> None:
        super().__init__()
        self.linear = linear
        self.top_k = min(top_k, linear.out_features)
        self.enabled = False  # LocalChatModel switches it on for each greedy generation
        self.screened_calls = 0  # how often the fast path ran (tests, metrics)
        copy = nn.Linear(linear.in_features, linear.out_features, bias=linear.bias is not None)
        copy.weight = nn.Parameter(linear.weight.detach(), requires_grad=False)
        if linear.bias is not None:
            copy.bias = nn.Parameter(linear.bias.detach(), requires_grad=False)
        with warnings.catch_warnings():  # torch.ao's eager quantization warns it is moving to torchao
            warnings.simplefilter("ignore")
            quantized = quantize_dynamic(
                nn.Sequential(copy), {nn.Linear: per_channel_dynamic_qconfig}, dtype=torch.qint8
            )
        # kept outside the module tree: state_dict/load_state_dict (peft loading an adapter) and
        # named_modules must not see the quantized copy
        self.__dict__["_int8"] = quantized[0]

    @property
    def weight(self) -> torch.Tensor:
        return self.linear.weight

    @weight.setter
    def weight(self, value: torch.Tensor) -> None:  # transformers' tie_weights assigns here
        self.linear.weight = value

    @property
    def in_features(self) -> int:
        return self.linear.in_features

    @property
    def out_features(self) -> int:
        return self.linear.out_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rows = x.reshape(-1, x.shape[-1])
        if not self.enabled or rows.shape[0] != 1 or torch.is_grad_enabled():
            return self.linear(x)
        self.screened_calls += 1
        row = rows.float().contiguous()  # a strided view makes the kernels take a slow path
        int8: Any = self.__dict__["_int8"]
        approx = int8(row)[0]
        candidates = torch.topk(approx, self.top_k).indices
        exact = nn.functional.linear(row, self.linear.weight[candidates])[0]
        if self.linear.bias is not None:
            exact = exact + self.linear.bias[candidates]
        out = torch.full((self.linear.out_features,), float("-inf"), dtype=exact.dtype)
        out[candidates] = exact
        return out.view(*x.shape[:-1], -1)


def install_screened_head(
    model: Any, top_k: int = DEFAULT_TOP_K, min_vocab: int = 32768
) -> ScreenedHead | None:
    """Swap ``model``'s output layer for a ScreenedHead where it is safe and worth it; else None.

    Requires a plain fp32 ``nn.Linear`` head on CPU, no logit soft-capping, and a vocabulary of
    at least ``min_vocab`` (below that the full layer is cheap anyway).
    """
    head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    if isinstance(head, ScreenedHead):
        return head
    if type(head) is not nn.Linear or head.weight.dtype != torch.float32 or head.weight.device.type != "cpu":
        return None
    if head.out_features < min_vocab:
        return None
    config = getattr(model, "config", None)
    if getattr(config, "final_logit_softcapping", None) or getattr(config, "logit_scale", None):
        return None
    try:
        screened = ScreenedHead(head, top_k)
    except Exception as exc:  # no fbgemm/x86 quantized engine in this torch build
        logger.info("screened output layer unavailable (%s): using the full fp32 layer", exc)
        return None
    model.set_output_embeddings(screened)
    return screened
