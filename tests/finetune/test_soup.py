"""finetune.soup: a weighted average of two adapters of one shape, refused for adapters of different shapes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from finetune import soup

CONFIG = {"peft_type": "LORA", "r": 2, "lora_alpha": 4, "base_model_name_or_path": "m", "target_modules": ["q", "v"]}


def _adapter(path: Path, tensors: dict[str, torch.Tensor], **config: object) -> Path:
    path.mkdir()
    save_file(tensors, str(path / soup.WEIGHTS_FILE))
    (path / soup.CONFIG_FILE).write_text(json.dumps({**CONFIG, **config}))
    return path


def test_the_average_is_weighted_tensor_by_tensor_and_keeps_the_dtype(tmp_path: Path) -> None:
    a = _adapter(tmp_path / "a", {"x": torch.tensor([1.0, 2.0]), "y": torch.tensor([[4.0]], dtype=torch.bfloat16)})
    b = _adapter(
        tmp_path / "b",
        {"x": torch.tensor([3.0, 6.0]), "y": torch.tensor([[0.0]], dtype=torch.bfloat16)},
        target_modules=["v", "q"],  # the same set in another order
    )
    out = load_file(str(soup.average(a, b, tmp_path / "out", weight=0.25)))
    assert out["x"].tolist() == [2.5, 5.0]  # 0.25 * a + 0.75 * b
    assert out["y"].dtype == torch.bfloat16 and out["y"].tolist() == [[1.0]]
    assert json.loads((tmp_path / "out" / soup.CONFIG_FILE).read_text())["target_modules"] == ["v", "q"]


def test_adapters_of_different_shapes_are_refused(tmp_path: Path) -> None:
    a = _adapter(tmp_path / "a", {"x": torch.zeros(2)})
    with pytest.raises(soup.SoupError, match="r"):
        soup.average(a, _adapter(tmp_path / "r4", {"x": torch.zeros(2)}, r=4), tmp_path / "o1")
    with pytest.raises(soup.SoupError, match="different tensors"):
        soup.average(a, _adapter(tmp_path / "more", {"x": torch.zeros(2), "z": torch.zeros(1)}), tmp_path / "o2")
    with pytest.raises(soup.SoupError, match="shapes differ"):
        soup.average(a, _adapter(tmp_path / "wide", {"x": torch.zeros(3)}), tmp_path / "o3")
    with pytest.raises(soup.SoupError, match="weight"):
        soup.average(a, a, tmp_path / "o4", weight=1.5)
    assert not (tmp_path / "o1").exists()
