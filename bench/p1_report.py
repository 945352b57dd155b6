"""P1's summary and report: per-stack numbers, the seed / qreact ratios and the Markdown table
(``bench/p1_ask_vs_seed.py`` measures and calls these)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.common import env_markdown, md_table, median


def summarize(rows: list[dict[str, Any]], stack: str) -> dict[str, Any]:
    runs = [r[stack] for r in rows if stack in r]
    if not runs:
        return {}
    statuses: dict[str, int] = {}
    for run in runs:
        statuses[run["status"]] = statuses.get(run["status"], 0) + 1
    return {
        "questions": len(runs),
        "accuracy": sum(run["correct"] for run in runs) / len(runs),
        "median_latency_s": round(median([run["latency_s"] for run in runs]), 2),
        "mean_latency_s": round(sum(run["latency_s"] for run in runs) / len(runs), 2),
        "median_cpu_s": round(median([run.get("cpu_s", 0.0) for run in runs]), 2),
        "median_completion_tokens": median([run["completion_tokens"] for run in runs]),
        "completion_tokens": sum(run["completion_tokens"] for run in runs),
        "prefilled_tokens": sum(run["prefilled_tokens"] for run in runs),
        "mean_steps": round(sum(run["steps"] for run in runs) / len(runs), 2),
        "statuses": statuses,
        "capped": statuses.get("capped", 0),
    }


def compare(summary: dict[str, dict[str, Any]]) -> dict[str, Any]:
    q, s = summary.get("qreact"), summary.get("seed")
    if not q or not s:
        return {}
    ratio = s["median_latency_s"] / q["median_latency_s"] if q["median_latency_s"] else float("nan")
    tokens = s["completion_tokens"] / q["completion_tokens"] if q["completion_tokens"] else float("nan")
    cpu = s["median_cpu_s"] / q["median_cpu_s"] if q.get("median_cpu_s") else float("nan")
    return {
        "median_latency_ratio": round(ratio, 2),  # seed / qreact: how many times faster qreact is
        "median_cpu_ratio": round(cpu, 2),  # the same in CPU time
        "completion_tokens_ratio": round(tokens, 2),
        "accuracy_delta": round(q["accuracy"] - s["accuracy"], 3),
        "goal_4x_met": ratio >= 4.0 and q["accuracy"] >= s["accuracy"],
    }


def render_markdown(data: dict[str, Any]) -> str:
    cfg, summary, ratios = data["config"], data["summary"], data["comparison"]
    stacks = [s for s in ("qreact", "seed") if summary.get(s)]
    lines = [
        f"# P1: /ask on the agent, qreact vs the seed stack ({cfg['device']})\n",
        env_markdown(data["environment"]),
        f"Model `{cfg['model']}` + adapter `{cfg['adapter']}`, {data['dtype']}; "
        f"{len(data['rows'])} questions "
        f"from `{Path(cfg['questions']).name}`; max_new_tokens {cfg['max_new_tokens']}, "
        f"{cfg['max_steps']} steps, seed cap {cfg['seed_cap_s']:g} s.\n",
    ]
    if not data.get("complete", True):
        lines.append(f"**Incomplete run: {len(data['rows'])} of {cfg['n']} questions so far.**\n")
    metrics = [
        ("accuracy", lambda s: f"{100 * s['accuracy']:.0f}%"),
        ("median latency (s)", lambda s: f"{s['median_latency_s']:.2f}"),
        ("mean latency (s)", lambda s: f"{s['mean_latency_s']:.2f}"),
        ("median CPU time (s)", lambda s: f"{s['median_cpu_s']:.2f}"),
        ("tokens generated (all questions)", lambda s: str(s["completion_tokens"])),
        ("prompt tokens prefilled (all questions)", lambda s: str(s["prefilled_tokens"])),
        ("mean steps", lambda s: f"{s['mean_steps']:.2f}"),
        ("statuses", lambda s: ", ".join(f"{k} {v}" for k, v in sorted(s["statuses"].items()))),
    ]
    lines.append(
        md_table(["metric", *stacks], [[m, *(fmt(summary[s]) for s in stacks)] for m, fmt in metrics])
    )
    if ratios:
        lines.append(
            f"\n**qreact is {ratios['median_latency_ratio']}× faster** (median latency, seed / qreact), "
            f"({ratios['median_cpu_ratio']}× in CPU time), "
            f"generates {ratios['completion_tokens_ratio']}× fewer tokens, accuracy delta "
            f"{100 * ratios['accuracy_delta']:+.0f} points. Goal ≥4× with equal or better accuracy: "
            f"{'met' if ratios['goal_4x_met'] else 'NOT met'}.\n"
        )
    lines.append("\n## Per question\n")
    header = ["id", "kind"]
    for s in stacks:
        header += [f"{s} s", f"{s} tok", f"{s} status", f"{s} ok"]
    body = []
    for row in data["rows"]:
        cells = [row["id"], row["kind"]]
        for s in stacks:
            run = row[s]
            cells += [
                f"{run['latency_s']:.1f}",
                run["completion_tokens"],
                run["status"],
                "✓" if run["correct"] else "✗",
            ]
        body.append(cells)
    lines.append(md_table(header, body))
    return "\n".join(lines)
