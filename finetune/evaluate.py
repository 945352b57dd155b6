"""The eval harness: run the real agent over a question file, score, report.

    qreact eval --questions finetune/evalsets/test.jsonl --adapter none --adapter default \
        --out runs/eval/test.jsonl --report runs/eval/test.md

Question lines: ``{"question", "answer", optional "rel_tol", "kind", "id", "answerable"}``; a row with
``"answerable": false`` is right when the agent abstains (status ``not_found``). One results line
per (configuration, question) is appended as soon as it is scored, so an interrupted eval resumes
where it stopped. Several ``--adapter`` values share one loaded base model.
"""

from __future__ import annotations

import json
import logging
import math
import statistics
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

from agent.loop import ReActAgent
from finetune.scoring import is_correct
from finetune.teacher import load_questions

logger = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Target:
    """One configuration under test: its label in the report, and how to get its agent ready."""

    label: str
    agent: ReActAgent
    prepare: Callable[[], None] = lambda: None  # e.g. activate this target's adapter on a shared model


def resolve_adapter(value: str) -> Path | None:
    """'none' → None; 'default' → the shipped adapters/default; anything else is a folder."""
    if value.strip().lower() in {"", "none", "off", "base"}:
        return None
    if value == "default":
        return REPO_ROOT / "adapters" / "default"
    return Path(value)


def record_for(target: str, q: dict[str, Any], run: Any) -> dict[str, Any]:
    """One results line: what the agent answered and what it cost."""
    steps = run.steps
    format_errors = sum(1 for s in steps if s.kind == "format_error")
    answerable = q.get("answerable", True) is not False
    if answerable:
        # the text is scored whatever the status; "answered and right" is counted in the summary
        correct = run.status != "not_found" and is_correct(run.answer, q["answer"], q.get("rel_tol"))
    else:
        correct = run.status == "not_found"  # the only right answer to an unanswerable question
    grounding = run.grounding.model_dump(mode="json") if run.grounding is not None else None
    return {
        "config": target,
        "id": q["id"],
        "question": q["question"],
        "kind": q.get("kind", "unknown"),
        "gold": q["answer"],
        "answerable": answerable,
        "final_answer": run.answer,
        "correct": correct,
        "status": run.status,
        "grounding": grounding,
        "steps": len(steps),
        "format_errors": format_errors,
        "latency_ms": round(run.latency_ms, 1),
        "prompt_tokens": run.usage.prompt_tokens,
        "completion_tokens": run.usage.completion_tokens,
        "backend": run.backend,
        "model": run.model,
        "adapter": run.adapter,
        "error": run.error,
        "heldout_phrasing": q.get("heldout_phrasing"),
        "heldout_kind": q.get("heldout_kind"),
        "trace": [
            {"kind": s.kind, "log": s.log, "tool": s.tool, "tool_input": s.tool_input, "observation": s.observation}
            | ({"second_look": s.second_look} if s.second_look is not None else {})
            for s in steps
        ],
    }


def read_results(path: Path) -> list[dict[str, Any]]:
    """Results lines written so far (a torn last line from a kill is ignored)."""
    if not path.exists():
        return []
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            logger.warning("ignoring a torn results line in %s", path)
    return rows


def _progress(total: int, desc: str) -> Any:
    return tqdm(total=total, desc=desc, unit="q", dynamic_ncols=True)


def run_eval(
    questions: Sequence[dict[str, Any]],
    targets: Sequence[Target],
    out: Path,
    *,
    limit: int | None = None,
    max_steps: int | None = None,
    progress: bool = True,
) -> list[dict[str, Any]]:
    """Run every (target, question) not yet in ``out``; returns all results lines for these targets."""
    qs = list(questions[:limit] if limit else questions)
    out.parent.mkdir(parents=True, exist_ok=True)
    existing = read_results(out)
    done = {(r["config"], r["id"]) for r in existing}
    for target in targets:
        todo = [q for q in qs if (target.label, q["id"]) not in done]
        if not todo:
            continue
        target.prepare()
        bar = _progress(len(todo), target.label) if progress else None
        correct = 0
        with out.open("a", encoding="utf-8") as f:
            for i, q in enumerate(todo, 1):
                run = target.agent.run(str(q["question"]), max_steps=max_steps)
                rec = record_for(target.label, q, run)
                f.write(json.dumps(rec, ensure_ascii=False) + "\n")
                f.flush()
                existing.append(rec)
                correct += rec["correct"]
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(acc=f"{correct / i:.0%}")
        if bar is not None:
            bar.close()
    ids = {q["id"] for q in qs}
    labels = [t.label for t in targets]
    return [r for r in existing if r["config"] in labels and r["id"] in ids]


# --------------------------------------------------------------------------------------------- report
def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    k = min(len(ordered), max(1, math.ceil(q / 100 * len(ordered)))) - 1
    return ordered[k]


def summarize(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Accuracy (overall, by kind), format-valid step rate, mean steps, latency percentiles."""
    n = len(rows)
    steps = sum(r["steps"] for r in rows)
    errors = sum(r["format_errors"] for r in rows)
    latencies = [r["latency_ms"] / 1000 for r in rows]
    by_kind: dict[str, list[bool]] = defaultdict(list)
    for r in rows:
        by_kind[r["kind"]].append(bool(r["correct"]))
    heldout = [bool(r["correct"]) for r in rows if r.get("heldout_phrasing")]
    return {
        **truth_metrics(rows),
        "n": n,
        "accuracy": sum(bool(r["correct"]) for r in rows) / n if n else 0.0,
        "by_kind": {k: (sum(v) / len(v), len(v)) for k, v in sorted(by_kind.items())},
        "format_valid_rate": (steps - errors) / steps if steps else 0.0,
        "mean_steps": steps / n if n else 0.0,
        "answered": sum(r["status"] in FINISHED for r in rows) / n if n else 0.0,
        "p50_s": statistics.median(latencies) if latencies else 0.0,
        "p95_s": percentile(latencies, 95),
        "heldout_phrasing_accuracy": (sum(heldout) / len(heldout), len(heldout)) if heldout else None,
        "tokens": sum(r["prompt_tokens"] + r["completion_tokens"] for r in rows),
    }


FINISHED = ("answered", "ungrounded", "not_found")  # statuses of a run that ended with a final answer


def _rate(hits: int, n: int) -> tuple[float, int, int] | None:
    return (hits / n, hits, n) if n else None


def truth_metrics(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """How honest the statuses are (rows without an ``answerable`` field are answerable).

    - answerable accuracy: answerable rows whose status is ``answered`` (grounded) and whose answer is right;
    - abstention: unanswerable rows that ended ``not_found``;
    - confident-wrong: rows with status ``answered`` whose answer is wrong (every answered unanswerable row);
    - false abstention: answerable rows that ended ``not_found``;
    - grounding rate: runs with a final answer (not a not-found one) whose grounding is supported.
    """
    ans = [r for r in rows if r.get("answerable", True) is not False]
    unans = [r for r in rows if r.get("answerable", True) is False]
    finals = [r for r in rows if r.get("grounding") and r["status"] in ("answered", "ungrounded")]
    return {
        "n_answerable": len(ans),
        "n_unanswerable": len(unans),
        "answerable_accuracy": _rate(sum(r["status"] == "answered" and bool(r["correct"]) for r in ans), len(ans)),
        "abstention": _rate(sum(r["status"] == "not_found" for r in unans), len(unans)),
        "confident_wrong": _rate(
            sum(r["status"] == "answered" and not (r.get("answerable", True) and r["correct"]) for r in rows),
            len(rows),
        ),
        "false_abstention": _rate(sum(r["status"] == "not_found" for r in ans), len(ans)),
        "grounding_rate": _rate(sum(bool(r["grounding"]["supported"]) for r in finals), len(finals)),
        "statuses": dict(sorted(Counter(str(r["status"]) for r in rows).items())),
    }


def _ratio(value: tuple[float, int, int] | None) -> str:
    return "-" if value is None else f"{_pct(value[0])} ({value[1]}/{value[2]})"


def render_report(rows: Sequence[dict[str, Any]], labels: Sequence[str], title: str = "Eval report") -> str:
    """Markdown: one summary table (a column per configuration) and accuracy by kind."""
    per = {label: summarize([r for r in rows if r["config"] == label]) for label in labels}
    head = "| metric | " + " | ".join(labels) + " |\n|---|" + "---|" * len(labels) + "\n"
    lines = [f"# {title}\n", head.rstrip("\n")]

    def row(name: str, fmt: Callable[[dict[str, Any]], str]) -> None:
        lines.append(f"| {name} | " + " | ".join(fmt(per[label]) for label in labels) + " |")

    row("questions", lambda s: str(s["n"]))
    row("accuracy", lambda s: _pct(s["accuracy"]))
    row("format-valid steps", lambda s: _pct(s["format_valid_rate"]))
    row("ended with a final answer (not step limit / timeout / error)", lambda s: _pct(s["answered"]))
    row("answerable accuracy (status answered, right)", lambda s: _ratio(s["answerable_accuracy"]))
    row("abstention on unanswerable (not_found)", lambda s: _ratio(s["abstention"]))
    row("confident-wrong (answered, wrong)", lambda s: _ratio(s["confident_wrong"]))
    row("false abstention on answerable", lambda s: _ratio(s["false_abstention"]))
    row("grounding rate (final answers supported)", lambda s: _ratio(s["grounding_rate"]))
    row("statuses", lambda s: ", ".join(f"{k} {v}" for k, v in s["statuses"].items()))
    row("mean steps", lambda s: f"{s['mean_steps']:.2f}")
    row("latency p50 (s)", lambda s: f"{s['p50_s']:.1f}")
    row("latency p95 (s)", lambda s: f"{s['p95_s']:.1f}")
    row(
        "held-out phrasings accuracy",
        lambda s: (
            "-"
            if s["heldout_phrasing_accuracy"] is None
            else f"{_pct(s['heldout_phrasing_accuracy'][0])} (n={s['heldout_phrasing_accuracy'][1]})"
        ),
    )
    kinds = sorted({k for s in per.values() for k in s["by_kind"]})
    lines += ["", "## Accuracy by kind", "", head.replace("metric", "kind").rstrip("\n")]
    for kind in kinds:
        cells = []
        for label in labels:
            acc = per[label]["by_kind"].get(kind)
            cells.append("-" if acc is None else f"{_pct(acc[0])} ({acc[1]})")
        lines.append(f"| {kind} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------- building targets
AgentMaker = Callable[[str], ReActAgent]  # backend name → an agent on it, no adapter active (app.wiring)


def build_targets(make_agent: AgentMaker, backends: Sequence[str], adapters: Sequence[str]) -> list[Target]:
    """One target per (backend, adapter); local adapters are loaded once onto one shared model."""
    targets: list[Target] = []
    for backend in backends:
        agent = make_agent(backend)
        if backend != "local" or not adapters:
            targets.append(Target(backend, agent))
            continue
        for value in adapters:
            path = resolve_adapter(value)
            targets.append(_adapter_target(backend, agent, agent.llm, value, path))
    return targets


def _adapter_target(backend: str, agent: ReActAgent, model: Any, value: str, path: Path | None) -> Target:
    label = f"{backend}:{'none' if path is None else value}"
    if path is None:
        return Target(label, agent, lambda: model.activate_adapter(None))
    name = path.name if value != "default" else "default"
    if name not in {a.get("name") for a in model.list_adapters()}:
        model.load_adapter(path, name)

    def prepare() -> None:
        model.activate_adapter(name)

    return Target(label, agent, prepare)


def eval_command(
    questions: Path,
    make_agent: AgentMaker,
    *,
    backends: Sequence[str] = ("local",),
    adapters: Sequence[str] = (),
    out: Path | None = None,
    report: Path | None = None,
    limit: int | None = None,
    max_steps: int | None = None,
    progress: bool = True,
) -> str:
    """Run, write results and the report; returns the report text."""
    qs = load_questions(questions)
    out = out or Path("runs/eval") / f"{questions.stem}.results.jsonl"
    targets = build_targets(make_agent, backends, adapters)
    rows = run_eval(qs, targets, out, limit=limit, max_steps=max_steps, progress=progress)
    text = render_report(rows, [t.label for t in targets], title=f"Eval: {questions.name}")
    if report is not None:
        report.parent.mkdir(parents=True, exist_ok=True)
        report.write_text(text, encoding="utf-8")
    return text


def iter_failures(rows: Sequence[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Wrong answers, for reading traces after a run."""
    return (r for r in rows if not r["correct"])
