"""``qreact finetune``, ``qreact data gold|teacher|export`` and ``qreact eval``: the fine-tuning area's
commands, registered on the main CLI (``app.cli``) by ``register``.

    qreact finetune --config finetune/configs/cpu-default.yaml --max_steps 20 --output_dir /tmp/adapter
    qreact data gold --out data/gold --seed 0 --evalsets finetune/evalsets
    qreact eval --questions finetune/evalsets/dev.jsonl --adapter none --adapter default --report report.md

``finetune/`` works on trajectories and files; here the service's settings and run store are handed
to it (the agent to distill or evaluate, the runs to export). Each command imports what it runs
when it runs (torch, transformers, langchain: seconds), so ``qreact --help`` stays instant
(the numbers are in ``app.cli``'s docstring).
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from agent.backends import resolve_adapter
from app.settings import Settings, get_settings
from finetune.config import FinetuneConfig

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel
    from langchain_core.tools import BaseTool

    from finetune.teacher import TeacherStats

logger = logging.getLogger(__name__)

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


# ------------------------------------------------------------------ qreact finetune


def export_store_runs(
    url: str, out: Path, *, since: str | None = None, only_confirmed: bool = True, qa_out: Path | None = None
) -> dict[str, int]:
    """``finetune.export.export_runs`` over the run store at ``url`` (opened and closed here)."""
    from app.store.runs import RunStore
    from finetune.export import export_runs

    store = RunStore(url)
    try:
        return export_runs(store, out, since=since, only_confirmed=only_confirmed, qa_out=qa_out)
    finally:
        store.close()


def _export_for_training(cfg: FinetuneConfig, out: Path) -> Path:
    """``from_runs``: the store's confirmed runs (``store_url``, else the service's) as trajectory JSONL."""
    from sqlalchemy.engine import make_url

    url = cfg.store_url or get_settings().resolved_store_url
    counts = export_store_runs(url, out, only_confirmed=True)
    shown = make_url(url).render_as_string(hide_password=True)
    logger.info("from_runs: exported %s from %s to %s", counts, shown, out)
    return out


def finetune(
    ctx: typer.Context,
    config: Annotated[str | None, typer.Option(help="YAML config (see finetune/configs/)")] = None,
    resume: Annotated[bool, typer.Option(help="continue from the last checkpoint in output_dir")] = False,
    from_runs: Annotated[bool, typer.Option(help="also train on confirmed runs from the run store")] = False,
) -> None:
    """Train an adapter on trajectory JSONL; any config field can follow as --field value.

    Every field of ``finetune.config.FinetuneConfig`` is a flag (``--learning_rate 1e-4`` or
    ``--learning-rate 1e-4``); ``python -m finetune.train --help`` lists them all with their help lines.
    """
    from finetune.train import run_cli

    if not logging.getLogger().handlers:
        from app.logging import basic_logging

        basic_logging(logging.INFO, LOG_FORMAT)  # a job's train.log: secrets scrubbed
    argv = list(ctx.args)
    if config:
        argv = ["--config", config, *argv]
    if resume:
        argv.append("--resume")
    if from_runs:
        argv += ["--from_runs", "true"]
    code = run_cli(argv, prog="qreact finetune", cache_dir=get_settings().cache_dir, export_runs=_export_for_training)
    if code:
        raise typer.Exit(code)


# ------------------------------------------------------------------ qreact data


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
    summary = generate_gold(out, cfg, evalsets=evalsets, cache_dir=get_settings().cache_dir)
    for path, info in summary["files"].items():
        kinds = ", ".join(f"{k} {v}" for k, v in sorted(info.get("kinds", {}).items()))
        typer.echo(f"{path}: {info['rows']} rows" + (f" ({kinds})" if kinds else ""))
    typer.echo(f"countries per split: {json.dumps(summary['countries'])}; skipped: {json.dumps(summary['skipped'])}")


class TeacherUnavailable(RuntimeError):
    """No OpenAI-compatible endpoint is configured; the message says what to set."""


def check_openai_configured(settings: Settings) -> None:
    """Raise TeacherUnavailable unless a key or a base URL is set."""
    if settings.openai_api_key is None and not os.environ.get("OPENAI_API_KEY") and not settings.openai_base_url:
        raise TeacherUnavailable(
            "teacher distillation needs an OpenAI-compatible model: set QREACT_OPENAI_API_KEY "
            "(or OPENAI_API_KEY), or QREACT_OPENAI_BASE_URL for a local server (vLLM, Ollama); "
            "nothing was run."
        )


def run_teacher(
    questions: Path,
    out: Path,
    settings: Settings,
    *,
    limit: int | None = None,
    chat_model: BaseChatModel | None = None,
    tools: Sequence[BaseTool] | None = None,
) -> TeacherStats:
    """Build the openai-backed agent (unless a chat model is given) and distill ``questions`` into ``out``."""
    from app.wiring import build_agent
    from finetune.teacher import distill, load_questions

    settings = settings.model_copy(update={"backend": "openai"})
    if chat_model is None:
        check_openai_configured(settings)
    agent = build_agent(settings, chat_model=chat_model, tools=tools)
    return distill(agent, load_questions(questions), out, limit)


@data_app.command("teacher")
def teacher_command(
    questions: Annotated[Path, typer.Option(help="question file (JSONL: question, answer, ...)")],
    out: Annotated[Path, typer.Option(help="trajectory JSONL to append to")] = Path("data/teacher/teacher.jsonl"),
    limit: Annotated[int | None, typer.Option(help="only the first N questions")] = None,
    search: Annotated[str | None, typer.Option(help="override QREACT_SEARCH: local, duckduckgo or auto")] = None,
) -> None:
    """Distill: run the openai-backed agent, keep runs whose answer matches gold."""
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


@data_app.command("export")
def export_command(
    out: Annotated[Path, typer.Option("--out", "-o", help="trajectory JSONL to write")] = Path("runs.jsonl"),
    since: Annotated[
        str | None, typer.Option(help="only runs created since: 2026-01-31, an ISO date-time, or 7d/12h/30m")
    ] = None,
    only_confirmed: Annotated[
        bool,
        typer.Option(
            "--only-confirmed/--all",
            help="confirmed or replayably corrected runs only (default); --all adds unreviewed answered runs",
        ),
    ] = True,
    store_url: Annotated[
        str | None, typer.Option(help="run store URL (default: QREACT_STORE_URL or SQLite in the cache)")
    ] = None,
    qa_out: Annotated[
        Path | None, typer.Option(help="also write corrected answers the trace cannot support as Q/A pairs")
    ] = None,
) -> None:
    """Export logged runs from the run store as fine-tuning trajectories (de-duplicated)."""
    url = store_url or get_settings().resolved_store_url
    try:
        counts = export_store_runs(url, out, since=since, only_confirmed=only_confirmed, qa_out=qa_out)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    typer.echo(json.dumps({"out": str(out), **counts}))


# ------------------------------------------------------------------ qreact eval


def eval_command(
    questions: Annotated[Path, typer.Option(help="question file (JSONL: question, answer, optional rel_tol, kind)")],
    backend: Annotated[list[str] | None, typer.Option(help="local or openai; repeat for a side-by-side table")] = None,
    adapter: Annotated[
        list[str] | None,
        typer.Option(help="local adapters: 'none', 'default' or a folder; repeat to compare on one loaded model"),
    ] = None,
    out: Annotated[Path | None, typer.Option(help="results JSONL (appended; a rerun skips done questions)")] = None,
    report: Annotated[Path | None, typer.Option(help="markdown report to write")] = None,
    limit: Annotated[int | None, typer.Option(help="only the first N questions")] = None,
    max_steps: Annotated[int | None, typer.Option(help="model steps per question")] = None,
    search: Annotated[str | None, typer.Option(help="override QREACT_SEARCH: local, duckduckgo or auto")] = "local",
    max_results: Annotated[
        int | None, typer.Option(help="override QREACT_SEARCH_MAX_RESULTS (the gold data uses 1)")
    ] = None,
    index: Annotated[
        Path | None, typer.Option(help="search this index from `qreact index` (overrides QREACT_SEARCH_INDEX)")
    ] = None,
    corpus: Annotated[
        Path | None,
        typer.Option(help="index this folder of .md/.txt/.jsonl first (a temporary index) and search it"),
    ] = None,
) -> None:
    """Evaluate the agent on a question file: accuracy by kind, format-valid steps, latency."""
    from app.wiring import agent_maker
    from finetune.evaluate import eval_command as run_eval

    settings = get_settings()
    if search:
        settings = settings.model_copy(update={"search": search})
    if max_results is not None:
        settings = settings.model_copy(update={"search_max_results": max_results})
    if index is not None and corpus is not None:
        typer.echo("error: give --index or --corpus, not both", err=True)
        raise typer.Exit(2)
    scratch = tempfile.TemporaryDirectory(prefix="qreact-eval-") if corpus is not None else None
    if corpus is not None and scratch is not None:
        from agent.knowledge import index_folder

        try:
            index = Path(scratch.name) / "corpus.db"
            count = index_folder(corpus, index)
        except (OSError, ValueError) as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from None
        typer.echo(f"indexed {count} documents from {corpus}", err=True)
    if index is not None:
        if not index.expanduser().is_file():
            typer.echo(f"error: search index {index} does not exist (build it with `qreact index`)", err=True)
            raise typer.Exit(1)
        settings = settings.model_copy(update={"search_index": index.expanduser(), "search": "local"})
    backends = backend or [settings.backend]
    try:
        if not questions.is_file():
            raise FileNotFoundError(f"question file {questions} does not exist")
        if not adapter:
            # no --adapter: what serving would load (QREACT_ADAPTER; 'default' only if it is there)
            resolved = resolve_adapter(settings.adapter) if "local" in backends else None
            adapter = ["none"] if resolved is None else ["default" if resolved[0] == "default" else str(resolved[1])]
        text = run_eval(
            questions,
            agent_maker(settings),
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
    finally:
        if scratch is not None:
            scratch.cleanup()
    typer.echo(text)


def register(app: typer.Typer) -> None:
    """Add ``finetune``, ``data`` (gold, teacher, export) and ``eval`` to the main CLI."""
    app.command(
        "finetune",
        context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
        help="Train a LoRA/QLoRA adapter on ReAct trajectories (flags override the YAML config).",
    )(finetune)
    app.add_typer(data_app, name="data")
    app.command("eval")(eval_command)
