"""A weighted parameter average of two LoRA adapters of one shape (a "soup"; attempt 6 of issue 13).

    python -m finetune.soup adapters/v4-candidate adapters/v5-candidate --weight 0.5 --out adapters/v6-soup

``weight`` is the share of the first adapter: ``out = weight * a + (1 - weight) * b``, tensor by tensor (fp32
sums, stored in the first adapter's dtypes). It is meaningful when ``b`` was trained from ``a`` (v5 from v4: a
WiSE-FT-style interpolation); both adapters must have the same tensors and LoRA config (r, alpha, targets),
else it refuses. The second adapter's ``adapter_config.json`` is copied next to the weights.
"""

from __future__ import annotations

import argparse
import json
import shutil
from collections.abc import Sequence
from pathlib import Path

from safetensors.torch import load_file, save_file

WEIGHTS_FILE = "adapter_model.safetensors"
CONFIG_FILE = "adapter_config.json"
SHAPE_KEYS = ("r", "lora_alpha", "target_modules", "base_model_name_or_path", "peft_type")


class SoupError(ValueError):
    """The two adapters cannot be averaged (different tensors, shapes or LoRA config)."""


def _key(value: object) -> object:
    return sorted(value) if isinstance(value, list) else value  # target_modules: a set, saved in any order


def average(a: Path, b: Path, out: Path, weight: float = 0.5) -> Path:
    """Write ``weight * a + (1 - weight) * b`` to ``out``; returns the weights file."""
    if not 0.0 <= weight <= 1.0:
        raise SoupError(f"weight must be in [0, 1] (got {weight})")
    ca, cb = (json.loads((p / CONFIG_FILE).read_text()) for p in (a, b))
    differ = [k for k in SHAPE_KEYS if _key(ca.get(k)) != _key(cb.get(k))]
    if differ:
        raise SoupError(f"the adapters' LoRA configs differ in {', '.join(differ)}")
    ta, tb = load_file(str(a / WEIGHTS_FILE)), load_file(str(b / WEIGHTS_FILE))
    if set(ta) != set(tb):
        raise SoupError(f"the adapters hold different tensors ({len(set(ta) ^ set(tb))} not in both)")
    bad = [k for k in ta if ta[k].shape != tb[k].shape]
    if bad:
        raise SoupError(f"tensor shapes differ: {bad[0]} {tuple(ta[bad[0]].shape)} vs {tuple(tb[bad[0]].shape)}")
    mixed = {k: (weight * ta[k].float() + (1 - weight) * tb[k].float()).to(ta[k].dtype).contiguous() for k in ta}
    out.mkdir(parents=True, exist_ok=True)
    save_file(mixed, str(out / WEIGHTS_FILE), metadata={"format": "pt"})
    shutil.copyfile(b / CONFIG_FILE, out / CONFIG_FILE)
    return out / WEIGHTS_FILE


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("a", type=Path, help="the first adapter folder (share: --weight)")
    p.add_argument("b", type=Path, help="the second adapter folder (share: 1 - --weight)")
    p.add_argument("--weight", type=float, default=0.5, help="the first adapter's share, 0..1 (default 0.5)")
    p.add_argument("--out", type=Path, required=True, help="folder for the averaged adapter")
    args = p.parse_args(argv)
    try:
        print(average(args.a, args.b, args.out, args.weight))
    except (SoupError, OSError) as exc:
        p.exit(2, f"error: {exc}\n")


if __name__ == "__main__":
    main()
