"""Write a model folder with the architecture of another one and random weights (for speed-only runs).

    .venv/bin/python -m bench.random_model ~/.cache/qreact/models/gemma-3-270m /tmp/gemma-random

Decode and training speed do not depend on the weights' values, only on their shapes and dtype, so
a GPU machine that cannot receive the 1 GB of real weights can still time the same architecture:
``config.json`` and the tokenizer files are copied (``tokenizer.json.gz`` is unpacked), weights are
drawn from the config's initializer and saved as safetensors.
"""

from __future__ import annotations

import gzip
import shutil
import sys
from pathlib import Path


def make_random_model(src: Path, out: Path, seed: int = 0) -> Path:
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    out.mkdir(parents=True, exist_ok=True)
    for name in (
        "tokenizer.json",
        "tokenizer_config.json",
        "generation_config.json",
        "special_tokens_map.json",
    ):
        if (src / name).exists():
            shutil.copy(src / name, out / name)
    if (src / "tokenizer.json.gz").exists():
        with gzip.open(src / "tokenizer.json.gz", "rb") as f_in, (out / "tokenizer.json").open("wb") as f_out:
            shutil.copyfileobj(f_in, f_out)
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(src))
    model.save_pretrained(out)
    return out


if __name__ == "__main__":
    make_random_model(Path(sys.argv[1]).expanduser(), Path(sys.argv[2]).expanduser())
