"""app.jobs.config: a /admin/finetune request -> the trainer's confined config, its file, argv and environment."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from app.jobs.config import (
    OUTSIDE_DATA_ROOTS,
    default_train_command,
    override_problems,
    train_env,
    validate_spec,
    write_train_config,
)
from app.jobs.job import Job, JobInvalid, JobSpec
from app.settings import Settings


def test_validate_spec_lists_every_problem(tmp_path: Path) -> None:
    settings = Settings(cache_dir=tmp_path)
    job = Job(id="x", name="job-x", spec=JobSpec(), dir=tmp_path / "j", adapter_dir=tmp_path / "a")
    job.spec = JobSpec(overrides={"nonsense": 1, "output_dir": "/tmp/x"}, config="/missing.yaml")
    with pytest.raises(JobInvalid) as err:
        validate_spec(settings, job.spec, job)
    message = str(err.value)
    assert "nonsense" in message and "output_dir" in message and "config: outside the data roots" in message
    job.spec = JobSpec(
        config="finetune/configs/tiny-test.yaml", train_files=["data/nope.jsonl"], overrides={"lora_r": 0}
    )
    with pytest.raises(JobInvalid, match="data/nope.jsonl does not exist.*lora_r: must be >= 1"):
        validate_spec(settings, job.spec, job)  # the trainer's own checks, every problem at once
    job.spec = JobSpec(config="finetune/configs/tiny-test.yaml", overrides={"max_steps": 5})
    values = validate_spec(settings, job.spec, job)  # from_runs alone is a valid job
    assert values["max_steps"] == 5 and values["output_dir"] == str(job.adapter_dir)
    assert values["from_runs"] is True and "store_url" not in values


@pytest.mark.parametrize(
    "overrides,problem",
    [
        ({"max_steps": 5, "learning_rate": 1, "lora_layers": [0, 1], "precision": "fp32"}, None),
        ({"target_modules": ["q_proj", "v_proj"]}, None),
        ({"target_modules": ["q_proj", "--output_dir", "/tmp/evil"]}, "overrides.target_modules"),
        ({"target_modules": ["--store_url=postgresql://x"]}, "overrides.target_modules"),
        ({"lr_scheduler_type": "--output_dir"}, "overrides.lr_scheduler_type"),
        ({"max_steps": "5"}, "overrides.max_steps: must be a whole number"),
        ({"max_steps": True}, "overrides.max_steps: must be a whole number"),
        ({"max_steps": 2.5}, "overrides.max_steps"),
        ({"gradient_checkpointing": "false"}, "overrides.gradient_checkpointing: must be true or false"),
        ({"precision": "fp64"}, "overrides.precision: must be one of"),
        ({"lora_layers": ["0"]}, "overrides.lora_layers"),
        ({"train_files": "data/x.jsonl"}, "overrides.train_files: must be a list"),
        ({"store_url": "sqlite:///x"}, "overrides.store_url: set by the job itself"),
        ({"cache_dir": "/"}, "overrides.cache_dir: set by the job itself"),
        ({"base_model": "/etc"}, "overrides.base_model: set by the job itself"),
        ({"--output_dir": "/tmp"}, "unknown fine-tuning option"),
    ],
)
def test_override_types_follow_the_config_dataclass(overrides: dict, problem: str | None) -> None:
    problems = override_problems(overrides)
    assert problems == [] if problem is None else (len(problems) == 1 and problem in problems[0]), problems


def test_job_paths_are_confined_and_file_content_never_echoed(tmp_path: Path) -> None:
    settings = Settings(cache_dir=tmp_path, data_roots=[tmp_path / "mine"])
    job = Job(id="x", name="job-x", spec=JobSpec(), dir=tmp_path / "j", adapter_dir=tmp_path / "a")
    secret = tmp_path / "secret.yaml"  # outside every root
    secret.write_text("lora_r: hunter2-SECRET\n")
    for spec in (
        JobSpec(config="/etc/passwd"),
        JobSpec(config=str(secret)),
        JobSpec(config="../../../../etc/passwd"),
        JobSpec(train_files=["/etc/shadow"]),
        JobSpec(overrides={"train_files": ["/etc/shadow"]}),
        JobSpec(overrides={"eval_files": ["/proc/self/environ"]}),
        JobSpec(eval_questions="/etc/shadow"),
        JobSpec(overrides={"init_adapter": "/etc"}),
    ):
        with pytest.raises(JobInvalid) as err:
            validate_spec(settings, spec, job)
        text = str(err.value)
        assert "outside the" in text and "hunter2" not in text and "root:" not in text, (spec, text)
    inside = tmp_path / "mine" / "bad.yaml"  # inside a root: its values are not echoed either
    inside.parent.mkdir()
    inside.write_text("lora_r: hunter2-SECRET\nstore_url: postgresql://u:pw-SECRET@db/x\n")
    with pytest.raises(JobInvalid) as err:
        validate_spec(settings, JobSpec(config=str(inside), promote=False), job)
    assert "lora_r" in str(err.value) and "SECRET" not in str(err.value)
    (inside.parent / "bin.yaml").write_bytes(b"\xff\xfe: [")
    with pytest.raises(JobInvalid, match="config: not a YAML mapping"):
        validate_spec(settings, JobSpec(config=str(inside.parent / "bin.yaml")), job)
    assert OUTSIDE_DATA_ROOTS in str(JobInvalid(OUTSIDE_DATA_ROOTS))


def test_the_trainer_gets_one_private_config_file_and_the_store_url_in_its_environment(tmp_path: Path) -> None:
    url = "postgresql+psycopg://qreact:pw-SECRET@db:5432/qreact"
    settings = Settings(cache_dir=tmp_path, store_url=url)
    job = Job(id="x", name="job-x", spec=JobSpec(), dir=tmp_path / "j", adapter_dir=tmp_path / "a")
    spec = JobSpec(config="finetune/configs/tiny-test.yaml", overrides={"target_modules": ["q_proj"]})
    path = write_train_config(job, validate_spec(settings, spec, job))
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert "pw-SECRET" not in path.read_text()
    argv = default_train_command(settings, job)
    assert argv[-2:] == ["--config", str(path)] and not any("SECRET" in a for a in argv)
    assert train_env(settings)["QREACT_STORE_URL"] == url
