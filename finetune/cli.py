"""``qreact finetune``: train a LoRA/QLoRA adapter from a YAML config plus flag overrides.

    qreact finetune --config finetune/configs/cpu-default.yaml --max_steps 20 --output_dir /tmp/adapter

Every field of ``finetune.config.FinetuneConfig`` is a flag (``--learning_rate 1e-4`` or
``--learning-rate 1e-4``); ``python -m finetune.train --help`` lists them all with their help lines.
"""

from __future__ import annotations

import logging
import sys
from typing import Annotated

import typer

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def finetune(
    ctx: typer.Context,
    config: Annotated[str | None, typer.Option(help="YAML config (see finetune/configs/)")] = None,
    resume: Annotated[bool, typer.Option(help="continue from the last checkpoint in output_dir")] = False,
    from_runs: Annotated[bool, typer.Option(help="also train on confirmed runs from the run store")] = False,
) -> None:
    """Train an adapter on trajectory JSONL; any config field can follow as --field value."""
    from finetune.train import run_cli

    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, stream=sys.stderr, format=LOG_FORMAT)
    argv = list(ctx.args)
    if config:
        argv = ["--config", config, *argv]
    if resume:
        argv.append("--resume")
    if from_runs:
        argv += ["--from_runs", "true"]
    code = run_cli(argv, prog="qreact finetune")
    if code:
        raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    """Add ``qreact finetune`` to the main CLI (called by agent/cli.py)."""
    app.command(
        "finetune",
        context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
        help="Train a LoRA/QLoRA adapter on ReAct trajectories (flags override the YAML config).",
    )(finetune)
