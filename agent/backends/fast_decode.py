"""Fast decode: the hand-written Gemma 3 forward of the local backend (fused, adapter-merged weights,
preallocated keys/values). One name for it everywhere: this module, ``FastDecoder``, the
``fast_decode`` option (``QREACT_FAST_DECODE``) and ``LocalChatModel.decode_path == "fast_decode"``.

The Hugging Face forward spends most of a one-token decode step on per-op overhead, not on reading
weights: Gemma 3 270M has ~100 M layer parameters (~400 MB fp32, ~13 ms at ~30 GB/s) but the step
took ~40 ms. ``FastDecoder`` runs the same math with far fewer ops:

- q/k/v and gate/up projections fused into one matrix each (one GEMV instead of three / two);
- the q and k RMS norms and rotary embedding applied to all heads at once, cos/sin from a table;
- the four query heads of the single key/value head attend as four rows of one head (no mask in
  decode; a sliding window is a slice of the cache);
- keys/values written into preallocated buffers (``KVBuffers``) instead of concatenated per token;
- a LoRA adapter merged into the fused copies (W + scale·B·A, peft's own ``get_delta_weight``).
  The model's own weights are never modified, so swapping adapters cannot drift: every rebuild
  starts from the untouched base weights.

It covers ``Gemma3ForCausalLM`` (text) on CPU with plain ``nn.Linear`` layers; ``FastDecoder.unsupported``
names why another model or adapter (4-bit, DoRA, soft-capping, ...) must take the Hugging Face path.
Greedy outputs match the Hugging Face path token for token on the tested prompts (tests/agent/test_fast_decode.py).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

logger = logging.getLogger(__name__)

# Matrices stored (in, out) so a row is multiplied as x @ W: for q/k/v and gate/up (more outputs than
# inputs) that runs ~1.5-2x faster than F.linear's x @ W.T on one row on these CPUs (bench/p2_decode.py)
TRANSPOSED = ("qkv", "gate_up")

_FUSED = ("q_proj", "k_proj", "v_proj", "gate_proj", "up_proj", "o_proj", "down_proj")


class KVBuffers:
    """Keys and values of one sequence, per layer ``(1, kv_heads, capacity, head_dim)``; ``length`` are valid."""

    def __init__(self, layers: int, kv_heads: int, head_dim: int, capacity: int, dtype: Any, device: Any) -> None:
        shape = (1, kv_heads, max(1, capacity), head_dim)
        self.keys = [torch.empty(shape, dtype=dtype, device=device) for _ in range(layers)]
        self.values = [torch.empty(shape, dtype=dtype, device=device) for _ in range(layers)]
        self.length = 0

    @property
    def capacity(self) -> int:
        return int(self.keys[0].shape[2]) if self.keys else 0

    def reserve(self, total: int) -> None:
        """Make room for ``total`` positions (doubling, so appends stay amortized O(1))."""
        if total <= self.capacity:
            return
        capacity = max(total, 2 * self.capacity, 64)
        for buffers in (self.keys, self.values):
            for i, old in enumerate(buffers):
                new = torch.empty((*old.shape[:2], capacity, old.shape[3]), dtype=old.dtype, device=old.device)
                new[:, :, : self.length] = old[:, :, : self.length]
                buffers[i] = new

    def prefix_copy(self, length: int) -> KVBuffers:
        """A private copy of the first ``length`` positions (room for more)."""
        length = min(length, self.length)
        first = self.keys[0]
        out = KVBuffers(len(self.keys), first.shape[1], first.shape[3], length + 128, first.dtype, first.device)
        for src, dst in ((self.keys, out.keys), (self.values, out.values)):
            for s, d in zip(src, dst, strict=True):
                d[:, :, :length] = s[:, :, :length]
        out.length = length
        return out


@dataclass(slots=True)
class _Layer:
    """One decoder layer's tensors, ready for fast decode."""

    qkv: torch.Tensor
    o: torch.Tensor
    gate_up: torch.Tensor
    down: torch.Tensor
    ln_in: torch.Tensor
    qk_norm: torch.Tensor
    ln_post_attn: torch.Tensor
    ln_pre_ffn: torch.Tensor
    ln_post_ffn: torch.Tensor
    sliding: bool


def _linear_weight(module: Any, adapter: str | None) -> torch.Tensor:
    """The effective weight of a (possibly peft-wrapped) linear layer with ``adapter`` merged (a new tensor)."""
    base = getattr(module, "base_layer", module)
    weight = base.weight.detach()
    if adapter is not None and adapter in getattr(module, "lora_A", {}):
        return weight + module.get_delta_weight(adapter).to(weight.dtype)
    return weight


def _holds(module: Any, attr: str, adapter: str) -> bool:
    """Whether peft layer attribute ``attr`` (a ModuleDict/dict keyed by adapter name) has ``adapter``."""
    table = getattr(module, attr, None)
    return isinstance(table, nn.ModuleDict | nn.ParameterDict | dict) and adapter in table


def _norm_scale(norm: Any) -> torch.Tensor:
    # Gemma3RMSNorm multiplies by (1 + weight) in float32; precomputed here (same float addition)
    return 1.0 + norm.weight.detach().float()


class FastDecoder:
    """Fast decode over a Gemma 3 text model; see the module docstring."""

    def __init__(self, model: Any, transposed: Sequence[str] = TRANSPOSED) -> None:
        self.model = model
        self.transposed = frozenset(transposed)
        cfg = model.config
        self.cfg = cfg
        self.heads = int(cfg.num_attention_heads)
        self.kv_heads = int(cfg.num_key_value_heads)
        self.head_dim = int(cfg.head_dim)
        self.hidden = int(cfg.hidden_size)
        self.inter = int(cfg.intermediate_size)
        self.eps = float(cfg.rms_norm_eps)
        self.scaling = float(cfg.query_pre_attn_scalar) ** -0.5
        self.window = int(cfg.sliding_window or 0)
        self.layer_types = list(cfg.layer_types)
        inner = model.model
        self.embed = inner.embed_tokens
        self.dtype = self.embed.weight.dtype
        self.device = self.embed.weight.device
        self.layers: list[_Layer] = []
        self.adapter: str | None = None
        self._rope: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
        self._rope_len = 0
        self.rebuild(None)

    # ----------------------------------------------------------------- support checks

    @staticmethod
    def unsupported(model: Any) -> str | None:
        """Why ``model`` cannot use fast decode (None: it can)."""
        cfg = getattr(model, "config", None)
        if cfg is None or getattr(cfg, "model_type", None) != "gemma3_text":
            return f"model type {getattr(cfg, 'model_type', None)!r} (only gemma3_text)"
        if type(model).__name__ != "Gemma3ForCausalLM":
            return f"model class {type(model).__name__}"
        if getattr(cfg, "use_bidirectional_attention", False):
            return "bidirectional attention"
        if getattr(cfg, "attn_logit_softcapping", None) or getattr(cfg, "final_logit_softcapping", None):
            return "logit soft-capping"
        if getattr(cfg, "attention_bias", False):
            return "attention bias"
        if getattr(cfg, "hidden_activation", None) != "gelu_pytorch_tanh":
            return f"activation {getattr(cfg, 'hidden_activation', None)!r}"
        if getattr(model, "hf_quantizer", None) is not None:
            return "quantized weights"
        if model.model.embed_tokens.weight.device.type != "cpu":  # measured and tested on CPU only so far
            return f"device {model.model.embed_tokens.weight.device.type}"
        for layer in model.model.layers:
            for name in _FUSED:
                parent = layer.self_attn if name.endswith(("q_proj", "k_proj", "v_proj", "o_proj")) else layer.mlp
                module = getattr(parent, name)
                base = getattr(module, "base_layer", module)
                if type(base) is not nn.Linear or base.bias is not None:
                    return f"{name} is a {type(base).__name__}"
                if not base.weight.dtype.is_floating_point:
                    return f"{name} weights are {base.weight.dtype}"
        return None

    @staticmethod
    def adapter_unsupported(model: Any, adapter: str) -> str | None:
        """Why peft adapter ``adapter`` cannot be merged into fast decode's copies (None: it can)."""
        wrapped = 0
        for name, module in model.named_modules():
            if _holds(module, "lora_A", adapter) or _holds(module, "lora_embedding_A", adapter):
                if not name.endswith(_FUSED):
                    return f"it adapts {name}"
                if (getattr(module, "use_dora", None) or {}).get(adapter, False):
                    return "DoRA"
                if (getattr(module, "lora_bias", None) or {}).get(adapter, False):
                    return "LoRA bias"
                if not hasattr(module, "get_delta_weight"):
                    return f"{name} has no mergeable delta"
                wrapped += 1
            if isinstance(module, nn.Module) and (
                _holds(module, "modules_to_save", adapter) or _holds(module, "trainable_tokens_delta", adapter)
            ):
                return f"it trains {name}"
        return None if wrapped else "no LoRA layers found"

    # ----------------------------------------------------------------- weights

    def rebuild(self, adapter: str | None) -> None:
        """Recompute the fused weights from the model's untouched base weights (+ ``adapter`` merged)."""
        layers: list[_Layer] = []
        with torch.no_grad():
            for i, layer in enumerate(self.model.model.layers):
                attn, mlp = layer.self_attn, layer.mlp
                q, k, v = (_linear_weight(getattr(attn, n), adapter) for n in ("q_proj", "k_proj", "v_proj"))
                gate, up = _linear_weight(mlp.gate_proj, adapter), _linear_weight(mlp.up_proj, adapter)
                o, down = _linear_weight(attn.o_proj, adapter), _linear_weight(mlp.down_proj, adapter)
                qk_norm = torch.cat(
                    [
                        _norm_scale(attn.q_norm).expand(self.heads, -1),
                        _norm_scale(attn.k_norm).expand(self.kv_heads, -1),
                    ]
                )
                layers.append(
                    _Layer(
                        qkv=self._layout("qkv", torch.cat([q, k, v])),
                        o=self._layout("o", o),
                        gate_up=self._layout("gate_up", torch.cat([gate, up])),
                        down=self._layout("down", down),
                        ln_in=_norm_scale(layer.input_layernorm),
                        qk_norm=qk_norm,
                        ln_post_attn=_norm_scale(layer.post_attention_layernorm),
                        ln_pre_ffn=_norm_scale(layer.pre_feedforward_layernorm),
                        ln_post_ffn=_norm_scale(layer.post_feedforward_layernorm),
                        sliding=self.layer_types[i] == "sliding_attention" and self.window > 0,
                    )
                )
            self.final_norm = _norm_scale(self.model.model.norm)
        self.layers = layers
        self.adapter = adapter

    def _layout(self, name: str, weight: torch.Tensor) -> torch.Tensor:
        return weight.t().contiguous() if name in self.transposed else weight.contiguous()

    def _mm(self, name: str, x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        return torch.matmul(x, weight) if name in self.transposed else F.linear(x, weight)

    def _rope_tables(self, needed: int) -> None:
        """cos/sin per position and layer type, from the model's own rotary module (so identical values)."""
        if needed <= self._rope_len:
            return
        length = max(needed, 2 * self._rope_len, 1024)
        rotary = self.model.model.rotary_emb
        probe = torch.empty(1, dtype=self.dtype, device=self.device)
        positions = torch.arange(length, device=self.device)[None]
        with torch.no_grad():
            for kind in set(self.layer_types):
                cos, sin = rotary(probe, positions, kind)
                self._rope[kind] = (cos[0].contiguous(), sin[0].contiguous())
        self._rope_len = length

    def new_cache(self, capacity: int = 512) -> KVBuffers:
        return KVBuffers(len(self.layers), self.kv_heads, self.head_dim, capacity, self.dtype, self.device)

    # ----------------------------------------------------------------- forward

    def _rms(self, x: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
        xf = x.float()
        out = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps) * scale
        return out.type_as(x)

    def hidden_last(self, ids: Sequence[int], cache: KVBuffers) -> torch.Tensor:
        """Feed ``ids`` after the cached positions; the final-norm hidden state of the last one ``(1, hidden)``."""
        n = len(ids)
        start = cache.length
        total = start + n
        cache.reserve(total)
        self._rope_tables(total)
        heads, kv_heads, hd = self.heads, self.kv_heads, self.head_dim
        qk_heads = heads + kv_heads
        x = F.embedding(torch.tensor(ids, dtype=torch.long, device=self.device), self.embed.weight)
        x = x * self.embed.embed_scale.to(self.dtype)
        rope = {kind: (cos[start:total, None], sin[start:total, None]) for kind, (cos, sin) in self._rope.items()}
        masks: dict[bool, torch.Tensor | None] = {}
        if n > 1:
            q_pos = torch.arange(start, total, device=self.device)[:, None]
            k_pos = torch.arange(total, device=self.device)[None, :]
            causal = k_pos <= q_pos
            masks[False] = causal
            if self.window:
                masks[True] = causal & (k_pos > q_pos - self.window)
        half = hd // 2
        groups = heads // kv_heads
        for i, layer in enumerate(self.layers):
            residual = x
            h = self._rms(x, layer.ln_in)
            qkv = self._mm("qkv", h, layer.qkv).view(n, qk_heads + kv_heads, hd)
            qk = self._rms(qkv[:, :qk_heads], layer.qk_norm)
            cos, sin = rope[self.layer_types[i]]
            qk = qk * cos + torch.cat((-qk[..., half:], qk[..., :half]), dim=-1) * sin
            k_buf, v_buf = cache.keys[i], cache.values[i]
            k_buf[0, :, start:total] = qk[:, heads:].transpose(0, 1)
            v_buf[0, :, start:total] = qkv[:, qk_heads:].transpose(0, 1)
            if n == 1:
                lo = max(0, total - self.window) if layer.sliding else 0
                # one position: the query heads of a key/value head are rows of one attention (no mask)
                q = qk[0, :heads].view(1, kv_heads, groups, hd)
                att = F.scaled_dot_product_attention(
                    q, k_buf[:, :, lo:total], v_buf[:, :, lo:total], scale=self.scaling
                )
                att = att.reshape(1, heads * hd)
            else:
                q = qk[:, :heads].transpose(0, 1)[None]
                att = F.scaled_dot_product_attention(
                    q,
                    k_buf[:, :, :total],
                    v_buf[:, :, :total],
                    attn_mask=masks.get(layer.sliding, masks[False]),
                    scale=self.scaling,
                    enable_gqa=groups > 1,
                )
                att = att[0].transpose(0, 1).reshape(n, heads * hd)
            h = self._rms(self._mm("o", att, layer.o), layer.ln_post_attn)
            x = residual + h
            residual = x
            h = self._mm("gate_up", self._rms(x, layer.ln_pre_ffn), layer.gate_up)
            h = F.gelu(h[:, : self.inter], approximate="tanh") * h[:, self.inter :]
            h = self._rms(self._mm("down", h, layer.down), layer.ln_post_ffn)
            x = residual + h
        cache.length = total
        return self._rms(x[-1:], self.final_norm)

    def logits_last(self, ids: Sequence[int], cache: KVBuffers) -> torch.Tensor:
        """Next-token logits (float32, ``(vocab,)``) after feeding ``ids``; the output layer is the model's own
        (the int8-screened one when installed and enabled)."""
        hidden = self.hidden_last(ids, cache)
        return self.model.get_output_embeddings()(hidden)[0].float()


def decoder_for(model: Any) -> FastDecoder | None:
    """A ``FastDecoder`` over ``model`` when it is supported (else None, with the reason logged)."""
    reason = FastDecoder.unsupported(model)
    if reason is not None:
        logger.info("fast decode off (%s): using the Hugging Face forward", reason)
        return None
    return FastDecoder(model)


__all__ = ["FastDecoder", "KVBuffers", "decoder_for"]
