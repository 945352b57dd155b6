"""agent/backends/loading.py: the 4-bit config serving and QLoRA training share."""

from __future__ import annotations

import torch

from agent.backends.loading import nf4_config


def test_nf4_config_is_double_quantized_nf4_in_the_compute_dtype() -> None:
    config = nf4_config(torch.bfloat16)
    assert config.load_in_4bit and not config.load_in_8bit
    assert config.bnb_4bit_quant_type == "nf4" and config.bnb_4bit_use_double_quant
    assert config.bnb_4bit_compute_dtype == torch.bfloat16
