"""Gold ReAct trajectories over the country pack: templated questions answered by running the real tools.

    python -m finetune.gold --out data/gold --seed 0 --evalsets finetune/evalsets

(``finetune.gold`` re-exports this module; the question kinds are in ``countries`` and
``gold_arithmetic``.) Every observation comes from the live Search (local knowledge index) and
Calculator tools, every model text from ``agent.prompt``'s helpers. Countries are split
train/dev/test (disjoint); some phrasings and one question kind (``HELDOUT_KINDS``) never appear in
train, so dev/test measure generalisation.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from langchain_core.tools import BaseTool

from agent.prompt import CALCULATOR_NAME
from agent.trajectory import Trajectory
from finetune.generators.base import GOLD_MAX_RESULTS, Draft, SkipQuestion, ToolRunner, default_tools, write_jsonl
from finetune.generators.countries import (
    FORCED_TRAIN,
    PHRASINGS,
    SPLITS,
    Country,
    answer_density,
    answer_pair,
    answer_single,
    load_countries,
    phrasings_for,
    split_countries,
)
from finetune.generators.gold_arithmetic import ARITHMETIC, ArithmeticTemplate, from_template
from finetune.scoring import is_correct

logger = logging.getLogger(__name__)

HELDOUT_KINDS = ("area_sum",)  # never in train: a new combination of seen skills
ACCEPTANCE_QUESTION = (  # issue 4's demo question: always in train, verbatim
    "What is the population density of Japan in people per square kilometre, rounded to the nearest whole number?"
)

# training trajectories per kind (total ≈ 1000: ~1 h of CPU LoRA at ~100 supervised tok/s)
TRAIN_COUNTS: dict[str, int] = {
    "capital": 70,
    "population": 70,
    "area": 60,
    "currency": 60,
    "region": 50,
    "borders": 60,
    "arithmetic": 200,
    "density": 150,
    "population_sum": 90,
    "population_difference": 90,
    "population_ratio": 60,
    "area_difference": 60,
}
# eval questions per kind (dev / test): every kind, held-out kind included
EVAL_COUNTS: dict[str, tuple[int, int]] = {
    "capital": (8, 16),
    "population": (8, 16),
    "area": (7, 14),
    "currency": (7, 14),
    "region": (6, 12),
    "borders": (6, 12),
    "arithmetic": (14, 28),
    "density": (12, 24),
    "population_sum": (8, 16),
    "population_difference": (8, 16),
    "population_ratio": (6, 12),
    "area_difference": (5, 10),
    "area_sum": (5, 10),
}


def _phrasings(kind: str, template: ArithmeticTemplate | None) -> list[str]:
    return template.phrasings if template is not None else PHRASINGS[kind]


@dataclass
class GoldConfig:
    seed: int = 0  # everything (splits, sampling, numbers) follows from it
    max_results: int = GOLD_MAX_RESULTS  # search results per observation
    train_scale: float = 1.0  # multiplies TRAIN_COUNTS
    eval_scale: float = 1.0  # multiplies EVAL_COUNTS
    heldout_phrasing_share: float = 0.4  # of dev/test questions, asked with a held-out phrasing


class GoldGenerator:
    """Draws questions per split and kind, runs the tools, returns trajectories."""

    def __init__(self, countries: Sequence[Country], tools: Sequence[BaseTool], config: GoldConfig) -> None:
        self.cfg = config
        self.countries = list(countries)
        self.splits = split_countries(self.countries, config.seed)
        self.run = ToolRunner(tools)
        self.use_round = self._calculator_rounds()
        self.skipped: Counter[str] = Counter()

    def _calculator_rounds(self) -> bool:
        try:
            return self.run(CALCULATOR_NAME, "round(7 / 2)").strip() in {"4", "4.0"}
        except Exception:  # noqa: BLE001 - any failure means: round in the final answer instead
            return False

    def generate(self) -> dict[str, list[dict[str, Any]]]:
        out: dict[str, list[dict[str, Any]]] = {}
        for split in SPLITS:
            counts = self._counts(split)
            rng = random.Random(f"{split}-{self.cfg.seed}")
            rows: list[dict[str, Any]] = []
            seen: set[str] = set()
            if split == "train":
                # the acceptance/demo question, verbatim (phrasing 0 of "density")
                for country in self.splits[split]:
                    if country.name in FORCED_TRAIN:
                        row = self._one(split, "density", rng, force=(0, [country]))
                        if row is not None:
                            seen.add(row["question"])
                            rows.append(row)
            for kind, count in counts.items():
                made, attempts = 0, 0
                while made < count and attempts < count * 20:
                    attempts += 1
                    row = self._one(split, kind, rng)
                    if row is None or row["question"] in seen:
                        continue
                    seen.add(row["question"])
                    rows.append(row)
                    made += 1
                if made < count:
                    logger.warning("%s/%s: made %d of %d", split, kind, made, count)
            rng.shuffle(rows)
            for i, row in enumerate(rows):
                row["id"] = f"gold-{split}-{self.cfg.seed}-{i:05d}"
            out[split] = rows
        return out

    def _counts(self, split: str) -> dict[str, int]:
        if split == "train":
            return {k: max(1, round(v * self.cfg.train_scale)) for k, v in TRAIN_COUNTS.items()}
        col = 0 if split == "dev" else 1
        return {k: max(1, round(v[col] * self.cfg.eval_scale)) for k, v in EVAL_COUNTS.items()}

    def _one(
        self, split: str, kind: str, rng: random.Random, force: tuple[int, list[Country]] | None = None
    ) -> dict[str, Any] | None:
        """One trajectory of ``kind`` (``force``: a fixed phrasing index and country list), or None."""
        template = rng.choice(ARITHMETIC) if kind == "arithmetic" else None
        allowed = phrasings_for(_phrasings(kind, template), split)
        if split != "train":
            # held-out phrasings get a fixed share of the eval questions
            heldout = rng.random() < self.cfg.heldout_phrasing_share
            allowed = allowed[-1:] if heldout else allowed[:-1]
        index, phrasing = rng.choice(allowed)
        countries = self.splits[split]
        if force is not None:
            index, countries = force
            phrasing = _phrasings(kind, template)[index]
        draft = Draft(self.run)
        names: list[str] = []
        try:
            if template is not None:
                values = template.draw(rng)
                question = phrasing.format(**values)
                answer, gold, tol = from_template(draft, template, values)
            elif kind == "density":
                a = rng.choice(countries)
                names = [a.name]
                question = phrasing.format(a=a.name)
                answer, gold, tol = answer_density(draft, a, self.use_round)
            elif kind in {
                "population_sum",
                "population_difference",
                "population_ratio",
                "area_difference",
                "area_sum",
            }:
                a, b = rng.sample(countries, 2)
                attr = "area" if kind.startswith("area") else "population"
                if kind in {"population_difference", "population_ratio", "area_difference"} and getattr(
                    a, attr
                ) < getattr(b, attr):
                    a, b = b, a  # "how many more / times larger": the first is the larger one
                names = [a.name, b.name]
                question = phrasing.format(a=a.name, b=b.name)
                answer, gold, tol = answer_pair(kind, draft, a, b)
            else:
                a = rng.choice(countries)
                if kind == "borders" and len(a.borders) > 6:
                    return None  # long lists make long answers; keep final answers short
                names = [a.name]
                question = phrasing.format(a=a.name)
                answer, gold, tol = answer_single(kind, draft, a)
        except SkipQuestion as exc:
            self.skipped[kind] += 1
            logger.debug("skip %s: %s", kind, exc)
            return None
        if not is_correct(answer, gold, tol):
            self.skipped[kind] += 1
            logger.debug("skip %s: final %r does not score against %r", kind, answer, gold)
            return None
        extras: dict[str, Any] = {} if tol is None else {"rel_tol": tol}
        row = Trajectory.build(
            question=question,
            calls=draft.calls(),
            final_answer=answer,
            source="gold",
            answer=gold,
            kind=kind,
            meta={
                "split": split,
                "template": template.name if template is not None else kind,
                "phrasing": index,
                "heldout_phrasing": index == len(_phrasings(kind, template)) - 1,
                "heldout_kind": kind in HELDOUT_KINDS,
                "countries": names,
                "seed": self.cfg.seed,
                "search_max_results": self.cfg.max_results,
            },
            **extras,
        ).to_row()
        if split == "train" and (row["meta"]["heldout_phrasing"] or row["meta"]["heldout_kind"]):
            raise AssertionError("held-out phrasing or kind leaked into train")
        return row


def training_text(row: dict[str, Any]) -> str:
    """The full text one trajectory trains on (prompt + steps + final), as the loop would build it."""
    return Trajectory.parse(row).training_text()


def eval_question(row: dict[str, Any]) -> dict[str, Any]:
    """A question-file line (the eval harness format) from a trajectory."""
    q = {"id": row["id"], "question": row["question"], "answer": row["answer"], "kind": row["kind"]}
    if "rel_tol" in row:
        q["rel_tol"] = row["rel_tol"]
    q["heldout_phrasing"] = row["meta"]["heldout_phrasing"]
    q["heldout_kind"] = row["meta"]["heldout_kind"]
    return q


def generate_gold(
    out: Path,
    config: GoldConfig,
    *,
    evalsets: Path | None = None,
    tools: Sequence[BaseTool] | None = None,
    records: Iterable[dict[str, Any]] | None = None,
    cache_dir: Path | None = None,
) -> dict[str, Any]:
    """Write ``out/{train,dev,test}.jsonl`` (+ question files under ``evalsets``); returns a summary."""
    countries = load_countries(records)
    if tools is None:
        tools = default_tools(cache_dir, config.max_results)
    gen = GoldGenerator(countries, tools, config)
    data = gen.generate()
    summary: dict[str, Any] = {
        "seed": config.seed,
        "search_max_results": config.max_results,
        "calculator_round": gen.use_round,
        "countries": {s: len(gen.splits[s]) for s in SPLITS},
        "skipped": dict(gen.skipped),
        "files": {},
    }
    for split, rows in data.items():
        path = out / f"{split}.jsonl"
        write_jsonl(path, rows)
        summary["files"][str(path)] = {"rows": len(rows), "kinds": dict(Counter(r["kind"] for r in rows))}
        if evalsets is not None and split != "train":
            qpath = evalsets / f"{split}.jsonl"
            write_jsonl(qpath, (eval_question(r) for r in rows))
            summary["files"][str(qpath)] = {"rows": len(rows)}
    (out / "splits.json").write_text(
        json.dumps({s: [c.name for c in gen.splits[s]] for s in SPLITS}, indent=1, ensure_ascii=False) + "\n"
    )
    (out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    return summary


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=Path("data/gold"), help="folder for train/dev/test.jsonl")
    p.add_argument("--seed", type=int, default=0, help="splits, sampling and numbers follow from it")
    p.add_argument("--evalsets", type=Path, default=None, help="also write dev/test question files here")
    p.add_argument("--max-results", type=int, default=GOLD_MAX_RESULTS, help="search results per observation")
    p.add_argument("--train-scale", type=float, default=1.0, help="multiply the training counts per kind")
    p.add_argument("--eval-scale", type=float, default=1.0, help="multiply the dev/test counts per kind")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    cfg = GoldConfig(
        seed=args.seed, max_results=args.max_results, train_scale=args.train_scale, eval_scale=args.eval_scale
    )
    summary = generate_gold(args.out, cfg, evalsets=args.evalsets)
    logger.info(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
