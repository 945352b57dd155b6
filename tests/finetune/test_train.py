"""The training entry point on a tiny random Gemma-3: adapter out, LoRA moved, base frozen, resume, 4-bit."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn.functional as F
import typer
from typer.testing import CliRunner

import finetune.train as train_mod
from agent.prompt import final_log, render_prompt, step_log
from finetune.callbacks import GracefulStop, ProgressFile
from finetune.config import make_config
from finetune.data import PadCollator, build_dataset
from finetune.losses import common_prefix_length, full_loss, linear_cross_entropy, supervised_loss
from finetune.model import build_lora_config, use_lean_lora_dropout
from finetune.train import run_cli

TINY_CONFIG = str(Path(__file__).resolve().parents[2] / "finetune" / "configs" / "tiny-test.yaml")
COUNTRIES = [("Australia", "Canberra"), ("France", "Paris"), ("Japan", "Tokyo"), ("Peru", "Lima"),
             ("Kenya", "Nairobi"), ("Chile", "Santiago")]  # fmt: skip


@pytest.fixture(scope="module")
def train_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("data") / "train.jsonl"
    lines = []
    for i, (country, capital) in enumerate(COUNTRIES):
        q = f"What is the capital of {country}?"
        log = step_log("I need to find the capital.", "Search", f"capital of {country}", first=True)
        record = {
            "id": str(i), "question": q, "prompt": render_prompt(q),
            "steps": [{"thought": "I need to find the capital.", "tool": "Search",
                       "tool_input": f"capital of {country}", "observation": f"{country}: capital {capital}.",
                       "log": log}],
            "final_answer": capital,
            "final_log": final_log("I now know the final answer", capital, first=False),
            "source": "gold" if i % 2 else "logged", "answer": capital, "kind": "capital", "meta": {},
        }  # fmt: skip
        lines.append(json.dumps(record))
    path.write_text("\n".join(lines) + "\n")
    return path


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


def _tiny_batch(tiny_model_dir: Path, train_file: Path) -> dict[str, torch.Tensor]:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    rows = list(build_dataset([str(train_file)], tok, max_length=512))[:3]
    return PadCollator(tok.pad_token_id)(rows)


@pytest.mark.parametrize("softcap", [None, 5.0])
def test_supervised_logits_loss_equals_full_loss(tiny_model_dir: Path, train_file: Path, softcap) -> None:
    from peft import get_peft_model
    from transformers import AutoModelForCausalLM

    batch = _tiny_batch(tiny_model_dir, train_file)
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
    from peft import get_peft_model
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32, **config)
    cfg = make_config({"train_files": [str(train_file)], "lora_r": 8, "lora_dropout": 0.0})
    model = get_peft_model(base, build_lora_config(cfg)).train()
    torch.manual_seed(0)
    for name, p in model.named_parameters():
        if "lora_B" in name:
            torch.nn.init.normal_(p, std=0.1)  # non-zero so LoRA gradients flow everywhere
    return model


@pytest.mark.parametrize("softcap", [None, 5.0])
def test_shared_prefix_and_chunked_logits_keep_loss_and_gradients(
    tiny_model_dir: Path, train_file: Path, softcap: float | None
) -> None:
    from transformers import AutoTokenizer

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


def test_lean_lora_dropout_draws_the_same_masks_and_gradients(tiny_model_dir: Path, train_file: Path) -> None:
    import copy

    from peft import get_peft_model
    from transformers import AutoModelForCausalLM

    batch = _tiny_batch(tiny_model_dir, train_file)
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


def test_progress_file_moves_at_every_step_not_only_at_logs(tmp_path: Path) -> None:
    """A job poller (GET /admin/jobs/{id}) sees step and ETA after each optimizer step."""
    from types import SimpleNamespace


    path = tmp_path / "progress.json"
    progress = ProgressFile(str(path))
    state = SimpleNamespace(global_step=0, max_steps=10, epoch=0.0, log_history=[])
    progress.on_train_begin(None, state, None)
    assert json.loads(path.read_text())["step"] == 0
    state.log_history.append({"loss": 0.5, "sup_tok_s": 30.0})
    for step in (1, 2, 3):  # logging_steps 5: no on_log yet
        state.global_step, state.epoch = step, step / 10
        progress.on_step_end(None, state, None)
        data = json.loads(path.read_text())
        assert data["step"] == step and data["max_steps"] == 10 and data["eta_s"] >= 0
    assert data["loss"] == 0.5 and data["sup_tok_s"] == 30.0
    state.log_history.append({"eval_loss": 0.4})  # an eval log, then more steps: the eval loss stays shown
    state.global_step = 4
    progress.on_step_end(None, state, None)
    data = json.loads(path.read_text())
    assert data["step"] == 4 and data["eval_loss"] == 0.4 and data["loss"] == 0.5
