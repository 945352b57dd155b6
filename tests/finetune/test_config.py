"""FinetuneConfig: YAML defaults, flag overrides, one message listing every problem."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import yaml

from finetune.config import ConfigError, FinetuneConfig, load_yaml, make_config, parse_args

CONFIGS = Path(__file__).resolve().parents[2] / "finetune" / "configs"


@pytest.fixture
def data_file(tmp_path: Path) -> Path:
    path = tmp_path / "train.jsonl"
    path.write_text("{}\n")
    return path


def test_every_field_has_a_help_line() -> None:
    import dataclasses

    for f in dataclasses.fields(FinetuneConfig):
        assert f.metadata.get("help"), f.name


def test_flags_override_yaml(tmp_path: Path, data_file: Path) -> None:
    cfg_file = tmp_path / "c.yaml"
    values = {"train_files": [str(data_file)], "lora_r": 16, "learning_rate": 1e-3}
    cfg_file.write_text(yaml.safe_dump(values))
    argv = ["--config", str(cfg_file), "--lora-r", "32", "--gradient_checkpointing", "false"]
    cfg, resume = parse_args(argv)
    assert cfg.lora_r == 32  # flag wins, dash spelling accepted
    assert cfg.learning_rate == 1e-3  # from the file
    assert cfg.gradient_checkpointing is False
    assert cfg.lora_alpha == 16  # dataclass default (the seed's)
    assert resume is False
    cfg, resume = parse_args(["--config", str(cfg_file), "--streaming", "--max_steps", "5", "--resume"])
    assert cfg.streaming is True and resume is True  # a bare bool flag means true


def test_yaml_only_a_string_list_becomes_a_list(data_file: Path) -> None:
    cfg = make_config({"train_files": str(data_file), "max_steps": 10.0, "threads": None})
    assert cfg.train_files == [str(data_file)] and cfg.max_steps == 10 and cfg.threads is None


def test_bad_config_lists_every_problem_in_one_message(tmp_path: Path) -> None:
    values = {
        "train_files": [str(tmp_path / "missing.jsonl")],
        "lora_r": 0,
        "learning_rate": "fast",
        "precision": "fp8",
        "lora_dropout": 1.5,
        "streaming": True,  # without max_steps
        "bogus": 1,
    }
    with pytest.raises(ConfigError) as info:
        make_config(values)
    message = str(info.value)
    for needle in ("missing.jsonl does not exist", "lora_r", "learning_rate", "precision", "lora_dropout",
                   "streaming", "bogus: unknown field"):  # fmt: skip
        assert needle in message, needle
    assert message.startswith("7 problem(s)")


def test_rank_not_multiple_of_eight_warns(data_file: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="finetune.config"):
        make_config({"train_files": [str(data_file)], "lora_r": 17})
    assert "not a multiple of 8" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="finetune.config"):
        make_config({"train_files": [str(data_file)], "lora_r": 64})
    assert "multiple of 8" not in caplog.text


def test_config_is_never_executed(tmp_path: Path) -> None:
    evil = tmp_path / "evil.yaml"
    evil.write_text("!!python/object/apply:os.system ['touch pwned']\n")
    with pytest.raises(yaml.YAMLError):
        load_yaml(evil)
    assert not Path("pwned").exists()


@pytest.mark.parametrize("name", ["cpu-default", "cpu-v2", "gpu-qlora", "tiny-test"])
def test_shipped_configs_parse(name: str, data_file: Path) -> None:
    values = load_yaml(CONFIGS / f"{name}.yaml")
    values["train_files"] = [str(data_file)]  # data/ is generated, not in the repo
    values["eval_files"] = []
    values["eval_steps"] = 0
    cfg = make_config(values, source=name)
    assert cfg.lora_r % 8 == 0
    assert cfg.lora_bias == "none"
    if name == "gpu-qlora":  # the seed's QLoRA settings
        assert (cfg.lora_r, cfg.lora_alpha, cfg.lora_dropout, cfg.precision) == (64, 16, 0.05, "4bit")
        assert (cfg.per_device_train_batch_size, cfg.gradient_accumulation_steps) == (1, 16)


def test_init_adapter_must_be_a_peft_folder(tmp_path) -> None:
    import pytest as _pytest

    from finetune.config import FinetuneConfig

    data = tmp_path / "t.jsonl"
    data.write_text("{}\n")
    cfg = FinetuneConfig(train_files=[str(data)], init_adapter=str(tmp_path / "nope"))
    with _pytest.raises(Exception, match="init_adapter"):
        cfg.validate()


def test_lora_layers_parse_as_ints_and_name_the_decoder_linears(data_file: Path) -> None:
    from finetune.model import DECODER_LINEAR, build_lora_config

    cfg, _ = parse_args(["--train_files", str(data_file), "--lora_layers", "9", "17"])
    assert cfg.lora_layers == [9, 17]
    lora = build_lora_config(cfg)
    assert lora.layers_to_transform == [9, 17] and set(lora.target_modules) == set(DECODER_LINEAR)
    assert build_lora_config(make_config({"train_files": [str(data_file)]})).layers_to_transform is None
    with pytest.raises(ConfigError, match="lora_layers"):
        make_config({"train_files": [str(data_file)], "lora_layers": [-1]})
