"""Two-country operators by their wording (the v7 mix, attempt 7): sum, difference and ratio over the same
pair of countries, and the area copied from a record, each in a lexicon of its own.

v6's misses on the test set were the operator, not the search: "combined area" / "cover together" answered
with a subtraction (area sums 1 of 10: the kind is held out of finetune.gold's train rows, and the area rows
it did see were all differences), "by what factor ... exceed" answered with a difference, and "surface area"
answered with a not-found. So the same pair of countries is asked for the three operators in wordings of this module
(``LEXICON``; two difference forms are also trained finetune.gold phrasings, none is one of gold's held-out
last phrasings; its own last form of every operator is held out of train), and the answer runs through the
real Search and Calculator (``countries.answer_pair``), so the expression is the Calculator's own. Note for
the eval: the test set's ``area_sum`` rows (finetune.gold's held-out kind) are, for an adapter trained on
this family, held-out *phrasings* of a trained operator, no longer a held-out kind; and "By what factor is
{a} more populous" is close to gold's held-out ratio phrasing, so held-out-phrasing ratio rows are easier.
"""

from __future__ import annotations

import random
from typing import Any

from finetune.generators.base import Draft, Ending, Rejected, ToolRunner, build_row, forms_for
from finetune.generators.countries import answer_pair, answer_single, load_countries

GENERATOR = "country_ops"
# operator -> question forms over {a} {b}; the last form of each is held out of train
LEXICON: dict[str, tuple[str, ...]] = {
    "area_sum": (
        "What area do {a} and {b} add up to, in km²?",
        "Sum the areas of {a} and {b}.",
        "tell me the area of {a} and {b} combined",
        "How big are {a} and {b} put together, in square kilometres?",
        "If {a} and {b} were one country, how many km² would it have?",
        "area of {a} plus area of {b}?",
        "Together, how much land do {a} and {b} have in square kilometres?",
        "What is the joint area of {a} and {b}?",
    ),
    "population_sum": (
        "How many people do {a} and {b} have between them?",
        "Sum the populations of {a} and {b}.",
        "population of {a} plus population of {b}?",
        "If {a} and {b} were one country, how many people would live there?",
        "tell me the population of {a} and {b} combined",
        "What is the joint population of {a} and {b}?",
    ),
    "population_ratio": (
        "{a} has how many times as many people as {b}?",
        "Give the ratio of the population of {a} to that of {b}.",
        "population of {a} divided by population of {b}?",
        "By what factor is {a} more populous than {b}?",
        "How many times over does the population of {b} fit into that of {a}?",
        "What multiple of the population of {b} is the population of {a}?",
        "how many times bigger is {a}'s population than {b}'s",
        "What is the population of {a} as a multiple of the population of {b}?",
    ),
    "population_difference": (
        "How many more people live in {a} than in {b}?",
        "population of {a} minus population of {b}?",
        "By how many people does the population of {a} exceed that of {b}?",
        "What is the gap in population between {a} and {b}?",
        "how many fewer people does {b} have than {a}",
    ),
    "area_difference": (
        "How many more km² does {a} have than {b}?",
        "area of {a} minus area of {b}?",
        "By how much does {a} exceed {b} in land area?",
        "tell me how much bigger {a} is than {b} in square kilometres",
        "What is the size gap between {a} and {b} in km²?",
    ),
    "area": (
        "What is the land area of {a}?",
        "How big is {a} in km²?",
        "tell me the area of {a}",
        "{a}: how many square kilometres?",
        "What is the size of {a} in square kilometres?",
        "How large is {a}?",
        "area of {a}?",
    ),
}
OPS = tuple(LEXICON)
WEIGHTS = (30, 12, 26, 10, 10, 12)  # area_sum .. area (sums and ratios first: the misses)


def one(records: list[dict[str, Any]], run: ToolRunner, rng: random.Random, split: str) -> dict[str, Any]:
    """One trajectory over two of ``records`` (the split's countries), the operator named by the question."""
    countries = load_countries(records)
    kind = rng.choices(OPS, weights=WEIGHTS)[0]
    a, b = rng.sample(countries, 2)
    forms = forms_for(LEXICON[kind], split, 1)
    form = rng.choice(forms)
    question = form.format(a=a.name, b=b.name)
    if kind == "population_ratio" and a.population <= b.population:
        a, b = b, a  # "how many times as many": the larger over the smaller, as the questions read
        question = form.format(a=a.name, b=b.name)
    draft = Draft(run)
    answer, gold, tol = answer_single(kind, draft, a) if kind == "area" else answer_pair(kind, draft, a, b)
    if kind == "area":
        tol = 1e-6
        gold = float(gold)
    if not draft.steps:
        raise Rejected("no steps")
    return build_row(
        question=question,
        draft=draft,
        ending=Ending(answer, gold, tol),
        kind=f"ops_{kind}",
        generator=GENERATOR,
        template=f"{kind}:{LEXICON[kind].index(form)}",
        split=split,
        meta={"operator": kind},
    )


# The v8 mix (attempt 8): one country's field asked by its synonyms. v7 answered "What is the surface area of
# X?" (finetune.gold's held-out area phrasing) with a not-found on all 10 test rows: its area copies never said
# "surface area", while its dense documents taught that a neighbouring word is not the asked field. So each
# field a record states is also asked by the names people give it ("surface area", "land area", "size",
# "territory"; "inhabitants", "residents", "head count"; "capital city", "seat of government"; "money",
# "legal tender"), answered by the record. None is one of finetune.gold's phrasings (the gold held-out form
# "What is the surface area of {a}?" is excluded by the test below); the last form of each is held out of
# train. Note for the eval: the test set's held-out "surface area" rows are, for an adapter trained on this
# family, near-trained phrasings of a trained field.
SYNONYMS: dict[str, tuple[str, ...]] = {
    "area": (
        "Give me the surface area of {a}.",
        "surface area of {a}?",
        "How much surface area does {a} have, in km²?",
        "What is {a}'s land area in square kilometres?",
        "land area of {a}?",
        "What size is {a}, in km²?",
        "How big is the territory of {a}?",
        "{a}'s surface area, please",
        "How many square kilometres of land does {a} have?",
        "Tell me how large the surface of {a} is",
    ),
    "population": (
        "How many residents does {a} have?",
        "number of inhabitants of {a}?",
        "What is the total population of {a}?",
        "How many people call {a} home?",
        "What is the population count of {a}?",
        "{a}'s population, please",
        "how many people are there in {a}",
        "Tell me how many inhabitants {a} counts",
    ),
    "capital": (
        "Name {a}'s capital city.",
        "{a}'s capital?",
        "Which city does {a} have as its capital?",
        "Where is the seat of government of {a}?",
        "name the capital city of {a}",
        "What city serves as {a}'s capital?",
    ),
    "currency": (
        "What is the legal tender in {a}?",
        "Which money is used in {a}?",
        "{a}'s currency?",
        "What do people pay with in {a}?",
        "currency used by {a}?",
        "Which currency circulates in {a}?",
    ),
}
SYNONYM_FIELDS = tuple(SYNONYMS)
SYNONYM_WEIGHTS = (45, 25, 15, 15)  # area first: the miss


def synonym_one(records: list[dict[str, Any]], run: ToolRunner, rng: random.Random, split: str) -> dict[str, Any]:
    """One country's field asked by a synonym (``SYNONYMS``), answered from the record by the Search."""
    countries = load_countries(records)
    kind = rng.choices(SYNONYM_FIELDS, weights=SYNONYM_WEIGHTS)[0]
    a = rng.choice(countries)
    form = rng.choice(forms_for(SYNONYMS[kind], split, 1))
    question = form.format(a=a.name)
    draft = Draft(run)
    answer, gold, tol = answer_single(kind, draft, a)
    if kind in ("area", "population"):
        gold, tol = float(gold), 1e-6
    if not draft.steps:
        raise Rejected("no steps")
    return build_row(
        question=question,
        draft=draft,
        ending=Ending(answer, gold, tol),
        kind=f"synonym_{kind}",
        generator="country_synonyms",
        template=f"synonym:{kind}:{SYNONYMS[kind].index(form)}",
        split=split,
        meta={"field": kind},
    )
