"""The training entry point on a tiny random Gemma-3: adapter out, LoRA moved, base frozen, resume, 4-bit."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from typing import Any

import pytest
import torch
import typer
from typer.testing import CliRunner

import finetune.train as train_mod
from finetune.callbacks import GracefulStop
from finetune.train import run_cli

TINY_CONFIG = str(Path(__file__).resolve().parents[2] / "finetune" / "configs" / "tiny-test.yaml")


def _cli(argv: list[str]) -> Any:
    from app.cli_finetune import register

    app = typer.Typer()
    register(app)
    app.command("noop")(lambda: None)  # a second command keeps "finetune" a named subcommand
    return CliRunner().invoke(app, ["finetune", *argv])


@pytest.fixture
def captured(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Keep the model the entry point builds, with a copy of its weights before training."""
    seen: dict[str, Any] = {}
    original = train_mod.build_model

    def build_model(cfg, plan):  # noqa: ANN001, ANN202
        model = original(cfg, plan)
        seen["model"] = model
        seen["before"] = {k: v.detach().clone() for k, v in model.named_parameters()}
        return model

    monkeypatch.setattr(train_mod, "build_model", build_model)
    return seen


def test_cli_trains_an_adapter(
    tiny_model_dir: Path, train_file: Path, tmp_path: Path, captured: dict
) -> None:
    out = tmp_path / "adapter"
    result = _cli(["--config", TINY_CONFIG, "--base_model", str(tiny_model_dir),
                   "--train_files", str(train_file), "--eval_files", str(train_file),
                   "--output_dir", str(out), "--progress_file", str(tmp_path / "progress.json")])  # fmt: skip
    assert result.exit_code == 0, result.output
    for name in ("adapter_config.json", "adapter_model.safetensors", "training_card.json", "training_card.md",
                 "loss_curve.png"):  # fmt: skip
        assert (out / name).is_file(), name
    assert not (out / "checkpoints").exists()  # removed after a successful run
    card = json.loads((out / "training_card.json").read_text())
    assert card["status"] == "completed" and card["steps"] == 3
    assert card["device"] == "cpu" and card["precision"] == "fp32"
    assert card["train_counts_by_source"] == {"gold": 3, "logged": 3}
    assert (
        card["data"][0]["sha256"] and card["eval_loss"] is not None and card["final_train_loss"] is not None
    )
    assert (
        card["tokens"]["supervised"] > 0 and card["supervised_tokens_per_s"] > 0 and card["peak_rss_mb"] > 0
    )
    assert json.loads((out / "adapter_config.json").read_text())["r"] == 8
    assert json.loads((tmp_path / "progress.json").read_text())["state"] == "completed"

    model, before = captured["model"], captured["before"]
    lora = {k: v for k, v in model.named_parameters() if "lora_" in k}
    base = {k: v for k, v in model.named_parameters() if "lora_" not in k}
    assert lora and all(v.requires_grad for v in lora.values())
    assert all(not torch.equal(v, before[k]) for k, v in lora.items() if "lora_B" in k)  # LoRA moved
    assert all(torch.equal(v, before[k]) for k, v in base.items())  # base did not

    # the saved adapter loads with peft onto the base model and holds the trained weights
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    reloaded = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_model_dir), out)
    saved = {k: v for k, v in reloaded.named_parameters() if "lora_" in k}
    assert set(saved) == set(lora)
    assert all(torch.allclose(saved[k], lora[k]) for k in lora)


def test_bad_config_exits_2_listing_every_problem(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    code = run_cli(["--train_files", str(tmp_path / "none.jsonl"), "--lora_r", "0", "--precision", "4bit",
                    "--learning_rate", "-1"])  # fmt: skip
    assert code == 2
    assert "3 problem(s)" in caplog.text
    assert (
        "none.jsonl does not exist" in caplog.text
        and "lora_r" in caplog.text
        and "learning_rate" in caplog.text
    )


def test_ctrl_c_saves_a_checkpoint_and_resume_continues(
    tiny_model_dir: Path, train_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "adapter"
    argv = ["--config", TINY_CONFIG, "--base_model", str(tiny_model_dir), "--train_files", str(train_file),
            "--output_dir", str(out), "--max_steps", "4", "--save_steps", "100"]  # fmt: skip
    original = GracefulStop.on_step_end

    def press_ctrl_c_at_step_2(self, args, state, control, **kwargs):  # noqa: ANN001, ANN202
        if state.global_step == 2 and not self.requested:
            os.kill(os.getpid(), signal.SIGINT)  # a real SIGINT, handled by the trainer's handler
        return original(self, args, state, control, **kwargs)

    monkeypatch.setattr(GracefulStop, "on_step_end", press_ctrl_c_at_step_2)
    previous = signal.getsignal(signal.SIGINT)
    assert run_cli(argv) == train_mod.EXIT_INTERRUPTED
    assert signal.getsignal(signal.SIGINT) is previous  # handler restored
    assert (out / "checkpoints" / "checkpoint-2").is_dir()  # saved although save_steps is 100
    assert not (out / "adapter_model.safetensors").exists()
    assert json.loads((out / "training_card.json").read_text())["status"] == "interrupted"

    monkeypatch.setattr(GracefulStop, "on_step_end", original)
    assert run_cli([*argv, "--resume"]) == 0
    card = json.loads((out / "training_card.json").read_text())
    assert card["status"] == "completed" and card["steps"] == 4
    assert card["resumed_from"].endswith("checkpoint-2")
    assert [h["step"] for h in card["log_history"] if "loss" in h] == [1, 2, 3, 4]
    assert (out / "adapter_model.safetensors").is_file()


def test_4bit_nf4_path_on_cpu(tiny_model_dir: Path, train_file: Path, tmp_path: Path, captured: dict) -> None:
    pytest.importorskip("bitsandbytes")
    out = tmp_path / "adapter4"
    code = run_cli(["--config", TINY_CONFIG, "--base_model", str(tiny_model_dir),
                    "--train_files", str(train_file), "--output_dir", str(out),
                    "--precision", "4bit", "--max_steps", "1"])  # fmt: skip
    assert code == 0
    model = captured["model"]
    kinds = {type(m).__name__ for m in model.modules()}
    assert "Linear4bit" in kinds  # the base really is NF4
    quant = model.get_base_model().config.quantization_config
    assert quant.bnb_4bit_quant_type == "nf4" and quant.bnb_4bit_use_double_quant
    assert quant.bnb_4bit_compute_dtype == torch.float32  # fp32 compute on CPU (bf16 is ~16x slower)
    assert (out / "adapter_model.safetensors").is_file()
    card = json.loads((out / "training_card.json").read_text())
    assert card["precision"] == "4bit" and "NF4" in card["precision_reason"]


def test_streaming_dataset_trains(tiny_model_dir: Path, train_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "adapter-stream"
    code = run_cli(["--config", TINY_CONFIG, "--base_model", str(tiny_model_dir),
                    "--train_files", str(train_file), "--output_dir", str(out),
                    "--streaming", "true", "--max_steps", "2"])  # fmt: skip
    assert code == 0
    card = json.loads((out / "training_card.json").read_text())
    assert card["steps"] == 2 and card["config"]["streaming"] is True
    assert (out / "adapter_model.safetensors").is_file()


def test_init_adapter_continues_from_an_existing_adapter(
    tiny_model_dir: Path, train_file: Path, tmp_path: Path
) -> None:
    from safetensors.torch import load_file

    first, second = tmp_path / "first", tmp_path / "second"
    base = ["--config", TINY_CONFIG, "--base_model", str(tiny_model_dir), "--train_files", str(train_file)]
    assert run_cli([*base, "--output_dir", str(first), "--max_steps", "2"]) == 0
    # a different rank on the command line is ignored: the existing adapter's own config applies
    assert run_cli([*base, "--output_dir", str(second), "--max_steps", "1", "--init_adapter", str(first),
                    "--lora_r", "4"]) == 0  # fmt: skip
    a = load_file(first / "adapter_model.safetensors")
    b = load_file(second / "adapter_model.safetensors")
    assert a.keys() == b.keys()
    lora_b = [k for k in a if "lora_B" in k]
    assert lora_b and all(a[k].shape == b[k].shape for k in a)  # same rank as the first adapter
    assert any(not torch.equal(a[k], b[k]) for k in lora_b)  # and it trained on from there
