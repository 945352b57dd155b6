"""``qreact data gold|teacher|export`` and ``qreact eval``: registered on the main CLI by ``register``.

qreact data gold --out data/gold --seed 0 --evalsets finetune/evalsets
qreact eval --questions finetune/evalsets/dev.jsonl --adapter none --adapter default --report report.md
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Annotated

import typer

logger = logging.getLogger(__name__)

data_app = typer.Typer(help="Fine-tuning data: gold trajectories, teacher distillation, logged-run export.")


@data_app.command("gold")
def gold_command(
    out: Annotated[Path, typer.Option(help="folder for train/dev/test.jsonl")] = Path("data/gold"),
    seed: Annotated[int, typer.Option(help="splits, sampling and numbers follow from it")] = 0,
    evalsets: Annotated[
        Path | None, typer.Option(help="also write dev/test question files here (e.g. finetune/evalsets)")
    ] = None,
    max_results: Annotated[int, typer.Option(help="search results per observation in the gold data")] = 1,
    train_scale: Annotated[float, typer.Option(help="multiply the training trajectories per kind")] = 1.0,
    eval_scale: Annotated[float, typer.Option(help="multiply the dev/test questions per kind")] = 1.0,
) -> None:
    """Generate gold trajectories by running the real local Search and Calculator."""
    from finetune.gold import GoldConfig, generate_gold

    cfg = GoldConfig(seed=seed, max_results=max_results, train_scale=train_scale, eval_scale=eval_scale)
    summary = generate_gold(out, cfg, evalsets=evalsets)
    for path, info in summary["files"].items():
        kinds = ", ".join(f"{k} {v}" for k, v in sorted(info.get("kinds", {}).items()))
        typer.echo(f"{path}: {info['rows']} rows" + (f" ({kinds})" if kinds else ""))
    typer.echo(
        f"countries per split: {json.dumps(summary['countries'])}; skipped: {json.dumps(summary['skipped'])}"
    )


@data_app.command("teacher")
def teacher_command(
    questions: Annotated[Path, typer.Option(help="question file (JSONL: question, answer, ...)")],
    out: Annotated[Path, typer.Option(help="trajectory JSONL to append to")] = Path(
        "data/teacher/teacher.jsonl"
    ),
    limit: Annotated[int | None, typer.Option(help="only the first N questions")] = None,
    search: Annotated[
        str | None, typer.Option(help="override QREACT_SEARCH: local, duckduckgo or auto")
    ] = None,
) -> None:
    """Distill: run the openai-backed agent, keep runs whose answer matches gold."""
    from app.settings import get_settings
    from finetune.teacher import TeacherUnavailable
    from finetune.teacher import teacher_command as run_teacher

    settings = get_settings()
    if search:
        settings = settings.model_copy(update={"search": search})
    try:
        stats = run_teacher(questions, out, settings, limit=limit)
    except TeacherUnavailable as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    except (OSError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"asked {stats.asked}, kept {stats.kept}, dropped {stats.wrong_or_unclean} -> {out}")


def _register_export() -> None:
    try:
        from finetune.export import export_command
    except ImportError as exc:  # the self-improvement module is optional here
        reason = str(exc)

        @data_app.command("export")
        def export_unavailable() -> None:
            """Export logged runs (needs finetune.export)."""
            typer.echo(f"error: export is not available in this install ({reason})", err=True)
            raise typer.Exit(1)

        return
    data_app.command("export")(export_command)


_register_export()


def eval_command(
    questions: Annotated[
        Path, typer.Option(help="question file (JSONL: question, answer, optional rel_tol, kind)")
    ],
    backend: Annotated[
        list[str] | None, typer.Option(help="local or openai; repeat for a side-by-side table")
    ] = None,
    adapter: Annotated[
        list[str] | None,
        typer.Option(
            help="local adapters: 'none', 'default' or a folder; repeat to compare on one loaded model"
        ),
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="results JSONL (appended; a rerun skips done questions)")
    ] = None,
    report: Annotated[Path | None, typer.Option(help="markdown report to write")] = None,
    limit: Annotated[int | None, typer.Option(help="only the first N questions")] = None,
    max_steps: Annotated[int | None, typer.Option(help="model steps per question")] = None,
    search: Annotated[
        str | None, typer.Option(help="override QREACT_SEARCH: local, duckduckgo or auto")
    ] = "local",
    max_results: Annotated[
        int | None, typer.Option(help="override QREACT_SEARCH_MAX_RESULTS (the gold data uses 1)")
    ] = None,
) -> None:
    """Evaluate the agent on a question file: accuracy by kind, format-valid steps, latency."""
    from app.settings import get_settings
    from finetune.evaluate import eval_command as run_eval

    settings = get_settings()
    if search:
        settings = settings.model_copy(update={"search": search})
    if max_results is not None:
        settings = settings.model_copy(update={"search_max_results": max_results})
    backends = backend or [settings.backend]
    try:
        if not questions.is_file():
            raise FileNotFoundError(f"question file {questions} does not exist")
        if not adapter:
            # no --adapter: what serving would load (QREACT_ADAPTER; 'default' only if it is there)
            from agent.backends import resolve_adapter

            resolved = resolve_adapter(settings.adapter) if "local" in backends else None
            adapter = (
                ["none"]
                if resolved is None
                else ["default" if resolved[0] == "default" else str(resolved[1])]
            )
        text = run_eval(
            questions,
            settings,
            backends=backends,
            adapters=adapter,
            out=out,
            report=report,
            limit=limit,
            max_steps=max_steps,
        )
    except (OSError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(text)


def register(app: typer.Typer) -> None:
    """Add ``data`` (gold, teacher, export) and ``eval`` to the main CLI."""
    app.add_typer(data_app, name="data")
    app.command("eval")(eval_command)
