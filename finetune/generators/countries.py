"""Gold ReAct trajectories over the country pack: templated questions answered by running the real tools.

    python -m finetune.gold --out data/gold --seed 0 --evalsets finetune/evalsets

(``finetune.gold`` re-exports this module.) Every observation comes from the live Search (local
knowledge index) and Calculator tools, every model text from ``agent.prompt``'s helpers. Countries
are split train/dev/test (disjoint); some phrasings and one question kind (``HELDOUT_KINDS``) never
appear in train, so dev/test measure generalisation.
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

from agent.knowledge import country_records
from agent.prompt import CALCULATOR_NAME
from agent.trajectory import Trajectory
from finetune.generators.arithmetic import ARITHMETIC, ArithmeticTemplate, from_template
from finetune.generators.base import (
    GOLD_MAX_RESULTS,
    Built,
    Draft,
    SkipQuestion,
    ToolRunner,
    default_tools,
    plain,
    write_jsonl,
)
from finetune.generators.base import _join as _join
from finetune.scoring import is_correct

logger = logging.getLogger(__name__)

SPLITS = ("train", "dev", "test")
SPLIT_FRACTIONS = (0.7, 0.1, 0.2)  # of countries: train / dev / test
FORCED_TRAIN = ("Japan",)  # the README/acceptance demo asks about Japan: keep it in train
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

# ---------------------------------------------------------------------------------------------
# Phrasings. The LAST phrasing of every list is held out of train (dev/test only).
# ---------------------------------------------------------------------------------------------
PHRASINGS: dict[str, list[str]] = {
    "capital": [
        "What is the capital of {a}?",
        "What is the capital city of {a}?",
        "Which city is the capital of {a}?",
        "Name the capital of {a}.",
        "{a} has which city as its capital?",
        "Tell me the capital of {a}.",
        "In which city is the government of {a} seated?",
    ],
    "population": [
        "What is the population of {a}?",
        "How many people live in {a}?",
        "How many inhabitants does {a} have?",
        "What is the number of people living in {a}?",
        "Tell me the population of {a}.",
        "{a} has how many residents?",
        "How populous is {a}?",
    ],
    "area": [
        "What is the area of {a}?",
        "How large is {a} in square kilometres?",
        "What is the total area of {a} in km²?",
        "How many square kilometres does {a} cover?",
        "Tell me the land area of {a}.",
        "How big is {a}?",
        "What is the surface area of {a}?",
    ],
    "currency": [
        "What is the currency of {a}?",
        "Which currency is used in {a}?",
        "What money do people use in {a}?",
        "Name the official currency of {a}.",
        "What currency does {a} use?",
        "If I travel to {a}, which currency will I pay with?",
    ],
    "region": [
        "In which region of the world is {a}?",
        "Which region is {a} located in?",
        "Where in the world is {a}?",
        "On which continent is {a}?",
        "What part of the world is {a} in?",
        "{a} belongs to which world region?",
    ],
    "borders": [
        "Which countries border {a}?",
        "What countries share a land border with {a}?",
        "List the countries that border {a}.",
        "Name the neighbouring countries of {a}.",
        "{a} shares borders with which countries?",
        "Which nations are the neighbours of {a}?",
    ],
    "density": [
        "What is the population density of {a} in people per square kilometre, rounded to the nearest whole number?",
        "What is the population density of {a}?",
        "How many people live per square kilometre in {a}?",
        "How densely populated is {a}, in people per km²?",
        "Calculate the population density of {a}, rounded to the nearest whole number.",
        "Divide the population of {a} by its area. What do you get, to the nearest whole number?",
        "On average, how many inhabitants are there per square kilometre of {a}?",
    ],
    "population_sum": [
        "What is the combined population of {a} and {b}?",
        "Add up the populations of {a} and {b}.",
        "How many people live in {a} and {b} together?",
        "What is the total population of {a} plus {b}?",
        "If you combine {a} and {b}, how many people is that?",
        "What do the populations of {a} and {b} add up to?",
        "How many inhabitants do {a} and {b} have in total?",
    ],
    "population_difference": [
        "How many more people live in {a} than in {b}?",
        "What is the difference between the populations of {a} and {b}?",
        "By how many people does the population of {a} exceed that of {b}?",
        "How much larger is the population of {a} than the population of {b}?",
        "Subtract the population of {b} from the population of {a}.",
        "{a} has how many more inhabitants than {b}?",
        "What is the population gap between {a} and {b}?",
    ],
    "population_ratio": [
        "How many times larger is the population of {a} than that of {b}?",
        "What is the ratio of the population of {a} to the population of {b}?",
        "How many times more people live in {a} than in {b}?",
        "Divide the population of {a} by the population of {b}.",
        "The population of {a} is how many times the population of {b}?",
        "By what factor does the population of {a} exceed that of {b}?",
    ],
    "area_difference": [
        "How much larger is {a} than {b} in square kilometres?",
        "What is the difference in area between {a} and {b}?",
        "By how many square kilometres does {a} exceed {b} in area?",
        "Subtract the area of {b} from the area of {a}.",
        "How many more square kilometres does {a} cover than {b}?",
        "What is the area gap between {a} and {b} in km²?",
    ],
    "area_sum": [
        "What is the combined area of {a} and {b}?",
        "Add up the areas of {a} and {b}.",
        "How many square kilometres do {a} and {b} cover together?",
        "What is the total area of {a} plus {b} in km²?",
        "If you merged {a} and {b}, how large would the country be in square kilometres?",
    ],
}


# ---------------------------------------------------------------------------------------------
# Knowledge and tools
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Country:
    name: str
    capital: str
    population: int
    area: int
    region: str
    subregion: str
    currencies: tuple[str, ...]
    borders: tuple[str, ...]


def load_countries(records: Iterable[dict[str, Any]] | None = None) -> list[Country]:
    """Countries with every field the templates need, sorted by name."""
    if records is None:
        records = country_records()
    out: list[Country] = []
    for r in records:
        try:
            population, area = int(r.get("population") or 0), int(round(float(r.get("area_km2") or 0)))
        except (TypeError, ValueError):
            continue
        if not r.get("name") or not r.get("capital") or population < 1000 or area < 1:
            continue
        currencies = tuple(str(c) for c in (r.get("currencies") or []) if c)
        out.append(
            Country(
                name=str(r["name"]),
                capital=str(r["capital"]),
                population=population,
                area=area,
                region=str(r.get("region") or ""),
                subregion=str(r.get("subregion") or ""),
                currencies=currencies,
                borders=tuple(str(b) for b in (r.get("borders") or []) if b),
            )
        )
    return sorted(out, key=lambda c: c.name)


# ---------------------------------------------------------------------------------------------
# Kinds: each builds (steps, final answer, gold answer, rel_tol) by running the tools
# ---------------------------------------------------------------------------------------------
def _single(kind: str, d: Draft, a: Country) -> Built:
    if kind == "capital":
        d.search_text(f"I need to find the capital of {a.name}.", f"capital of {a.name}", [a.capital], a.name)
        return f"The capital of {a.name} is {a.capital}.", a.capital, None
    if kind == "population":
        pop = d.search_number(
            f"I need to find the population of {a.name}.", f"population of {a.name}", a.population, a.name
        )
        return f"The population of {a.name} is {pop}.", a.population, None
    if kind == "area":
        area = d.search_number(f"I need to find the area of {a.name}.", f"area of {a.name}", a.area, a.name)
        return f"The area of {a.name} is {area} square kilometres.", a.area, None
    if kind == "currency":
        if not a.currencies:
            raise SkipQuestion(f"{a.name}: no currency")
        d.search_text(f"I need to find the currency of {a.name}.", f"currency of {a.name}", a.currencies, a.name)
        if len(a.currencies) == 1:
            return f"The currency of {a.name} is {a.currencies[0]}.", a.currencies[0], None
        return f"The currencies of {a.name} are {_join(a.currencies)}.", list(a.currencies), None
    if kind == "region":
        if not a.region:
            raise SkipQuestion(f"{a.name}: no region")
        where = [a.region] + ([a.subregion] if a.subregion and a.subregion != a.region else [])
        d.search_text(f"I need to find the region of {a.name}.", f"region of {a.name}", where, a.name)
        if len(where) == 2:
            return f"{a.name} is in {a.subregion}, in {a.region}.", a.region, None
        return f"{a.name} is in {a.region}.", a.region, None
    if kind == "borders":
        d.search_text(f"I need to find the countries that border {a.name}.", f"borders of {a.name}", a.borders, a.name)
        if not a.borders:
            return f"{a.name} has no land borders with other countries.", "no land borders", None
        return f"{a.name} borders {_join(a.borders)}.", list(a.borders), None
    raise ValueError(kind)


def _density(d: Draft, a: Country, use_round: bool) -> Built:
    pop = d.search_number(
        f"I need to find the population of {a.name}.", f"population of {a.name}", a.population, a.name
    )
    area = d.search_number(f"Now I need to find the area of {a.name}.", f"area of {a.name}", a.area, a.name)
    expr = f"{plain(pop)} / {plain(area)}"
    result = d.calculate("Now I need to divide the population by the area.", f"round({expr})" if use_round else expr)
    value = a.population / a.area
    shown = result if use_round else str(round(float(result.replace(",", ""))))
    # the exact quotient; the tolerance also accepts the rounded whole number
    tol = max(0.01, 0.51 / max(value, 1e-9))
    return f"The population density of {a.name} is about {shown} people per square kilometre.", value, tol


def _pair(kind: str, d: Draft, a: Country, b: Country) -> Built:
    attr = "area" if kind.startswith("area") else "population"
    va, vb = getattr(a, attr), getattr(b, attr)
    ta = d.search_number(f"I need to find the {attr} of {a.name}.", f"{attr} of {a.name}", va, a.name)
    tb = d.search_number(f"Now I need to find the {attr} of {b.name}.", f"{attr} of {b.name}", vb, b.name)
    if kind.endswith("_sum"):
        result = d.calculate(f"Now I need to add the two {attr}s.", f"{plain(ta)} + {plain(tb)}")
        if attr == "area":
            return f"The combined area of {a.name} and {b.name} is {result} square kilometres.", va + vb, 1e-6
        return f"The combined population of {a.name} and {b.name} is {result}.", va + vb, 1e-6
    if kind.endswith("_difference"):
        result = d.calculate(
            f"Now I need to subtract the {attr} of {b.name} from the {attr} of {a.name}.",
            f"{plain(ta)} - {plain(tb)}",
        )
        if attr == "area":
            return f"{a.name} is {result} square kilometres larger than {b.name}.", va - vb, 1e-6
        return f"{a.name} has {result} more people than {b.name}.", va - vb, 1e-6
    if kind == "population_ratio":
        result = d.calculate(
            f"Now I need to divide the population of {a.name} by the population of {b.name}.",
            f"{plain(ta)} / {plain(tb)}",
        )
        return (
            f"The population of {a.name} is about {result} times the population of {b.name}.",
            va / vb,
            0.01,
        )
    raise ValueError(kind)


# ---------------------------------------------------------------------------------------------
# Splits and sampling
# ---------------------------------------------------------------------------------------------
def split_countries(countries: Sequence[Country], seed: int) -> dict[str, list[Country]]:
    """Country-disjoint train/dev/test; FORCED_TRAIN countries always in train."""
    rng = random.Random(f"split-{seed}")
    forced = [c for c in countries if c.name in FORCED_TRAIN]
    rest = [c for c in countries if c.name not in FORCED_TRAIN]
    rng.shuffle(rest)
    n = len(countries)
    n_dev = round(n * SPLIT_FRACTIONS[1])
    n_test = round(n * SPLIT_FRACTIONS[2])
    dev, test, train = rest[:n_dev], rest[n_dev : n_dev + n_test], rest[n_dev + n_test :] + forced
    return {"train": sorted(train, key=lambda c: c.name), "dev": dev, "test": test}


def phrasings_for(kind_phrasings: Sequence[str], split: str) -> list[tuple[int, str]]:
    """(index, phrasing) allowed in a split: train never sees the last phrasing of a list."""
    items = list(enumerate(kind_phrasings))
    return items[:-1] if split == "train" else items


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
                answer, gold, tol = _density(draft, a, self.use_round)
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
                answer, gold, tol = _pair(kind, draft, a, b)
            else:
                a = rng.choice(countries)
                if kind == "borders" and len(a.borders) > 6:
                    return None  # long lists make long answers; keep final answers short
                names = [a.name]
                question = phrasing.format(a=a.name)
                answer, gold, tol = _single(kind, draft, a)
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
