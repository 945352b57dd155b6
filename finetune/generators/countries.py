"""The v1 gold set's country kinds: the pack's countries, the phrasings of each kind (the LAST of
every list is held out of train), how each kind is answered by running the live tools, and the
country-disjoint train/dev/test split. ``finetune.generators.gold_set`` draws the questions.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from agent.knowledge import country_records
from finetune.generators.base import Built, Draft, SkipQuestion, _join, plain

SPLITS = ("train", "dev", "test")
SPLIT_FRACTIONS = (0.7, 0.1, 0.2)  # of countries: train / dev / test
FORCED_TRAIN = ("Japan",)  # the README/acceptance demo asks about Japan: keep it in train

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
def answer_single(kind: str, d: Draft, a: Country) -> Built:
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


def answer_density(d: Draft, a: Country, use_round: bool) -> Built:
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


def answer_pair(kind: str, d: Draft, a: Country, b: Country) -> Built:
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
