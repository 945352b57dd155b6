"""Operators by the words people use for them (the v9 mix, attempt 9): two-country sums, differences and
ratios, and plain arithmetic, each asked in a lexicon of its own and planned in the first thought.

v8's most frequent miss (37 rows of 524) was the operator, not the search: totals and gaps over two countries
answered with a division ("How many inhabitants do X and Y have in total?" -> "X is 0.31 times Y"), and
plain subtraction / equal shares / a percent amount answered by copying the question. v8's mix asked for
ratios more often than for sums or differences (country_ops.WEIGHTS) and its plain arithmetic was the v2
grammar, which has no plain minus, plus, times or share. So this family asks the four plain operators and the
two-country operators in equal measure, in wordings that name the operation in everyday words ("in all",
"altogether", "left", "take away", "gap", "per person", "how much is saved"), and every two-country
trajectory states the operation in its first thought ("to get the total I must add ..."), so the choice made
after two observations copies a decision already written down instead of the question far above it.

Hygiene: no form here is a held-out phrasing of finetune.gold, country_ops or the arithmetic grammar, and only
one repeats a trained one ("What is {a} multiplied by {b}?", gold's; tests/finetune/generators/
test_operator_words.py checks both), so the gold held-out phrasings stay unseen as templates; some
share a word with them ("gap", "take away", "in total" are ordinary operator words), which the v9 card
states. The last form of every list is held out of train.
"""

from __future__ import annotations

import random
from typing import Any

from finetune.generators.base import Draft, Ending, Rejected, ToolRunner, build_row, forms_for, plain
from finetune.generators.countries import Country, load_countries
from finetune.generators.gold_arithmetic import NAMES

GENERATOR = "operator_words"

# two-country operator -> forms over {a} {b}; the last form of each is held out of train
COUNTRY_FORMS: dict[str, tuple[str, ...]] = {
    "population_sum": (
        "How many people live in {a} and {b} altogether?",
        "What is the population of {a} and {b} taken together?",
        "Add the population of {b} to that of {a}.",
        "{a} and {b}: how many inhabitants in all?",
        "total number of people in {a} and {b}?",
        "Count everyone living in {a} and in {b}. How many is that?",
        "How many residents do {a} and {b} have altogether?",
        "What do you get if you add the populations of {a} and {b}?",
        "Combined, how many people do {a} and {b} have?",
    ),
    "area_sum": (
        "How much land do {a} and {b} cover altogether, in km²?",
        "What is the area of {a} and {b} taken together?",
        "Add the area of {b} to the area of {a}.",
        "{a} and {b}: how many square kilometres in all?",
        "total area of {a} and {b}?",
        "How large are {a} and {b} together, in km²?",
        "What do the areas of {a} and {b} come to in total?",
        "Combined, how many km² do {a} and {b} have?",
    ),
    "population_difference": (
        "What is the difference in population between {a} and {b}?",
        "How many people more does {a} have than {b}?",
        "Take the population of {b} away from the population of {a}.",
        "population gap: {a} versus {b}?",
        "How far ahead of {b} is {a} in population?",
        "{a} minus {b}, in people?",
        "By how many inhabitants does {a} outnumber {b}?",
        "How much bigger is {a}'s population than {b}'s, in people?",
    ),
    "area_difference": (
        "What is the difference in size between {a} and {b}, in km²?",
        "How many square kilometres bigger is {a} than {b}?",
        "Take the area of {b} away from the area of {a}.",
        "area gap: {a} versus {b}?",
        "How much more land does {a} have than {b}, in km²?",
        "{a} minus {b}, in square kilometres?",
        "By how many km² is {a} larger than {b}?",
        "How much smaller is {b} than {a} in area?",
    ),
    "population_ratio": (
        "How many times the population of {b} does {a} have?",
        "{a}'s population is how many times {b}'s?",
        "What is the population of {a} divided by that of {b}?",
        "How many {b}s would fit into the population of {a}?",
        "Express the population of {a} as a multiple of {b}'s.",
    ),
}
COUNTRY_OPS = tuple(COUNTRY_FORMS)
COUNTRY_WEIGHTS = (24, 24, 22, 22, 8)  # sums and differences first: v8 divided them
EVEN_WEIGHTS = (20, 20, 20, 20, 20)  # the v10 mix: v9 (COUNTRY_WEIGHTS) lost the ratios (12/12 -> 3/12 on test)
PLAN = {  # the first thought: the operation named before anything is looked up
    "sum": "The question asks for the total, so I need to add the {attr}s of {a} and {b}. First the {attr} of {a}.",
    "difference": (
        "The question asks for the difference, so I need to subtract the {attr} of {b} from the {attr} of {a}. "
        "First the {attr} of {a}."
    ),
    "ratio": (
        "The question asks how many times, so I need to divide the population of {a} by the population of {b}. "
        "First the population of {a}."
    ),
}
THEN = {
    "sum": "Now I need the {attr} of {b}, then I add the two.",
    "difference": "Now I need the {attr} of {b}, then I subtract it from the {attr} of {a}.",
    "ratio": "Now I need the population of {b}, then I divide.",
}
DO = {
    "sum": ("Now I add the two {attr}s.", "{x} + {y}"),
    "difference": ("Now I subtract the {attr} of {b} from the {attr} of {a}.", "{x} - {y}"),
    "ratio": ("Now I divide the population of {a} by the population of {b}.", "{x} / {y}"),
}


def _answer(op: str, attr: str, a: Country, b: Country, result: str) -> str:
    unit = " square kilometres" if attr == "area" else ""
    if op == "sum":
        return f"Together {a.name} and {b.name} have {result}{unit if attr == 'area' else ' people'}."
    if op == "difference":
        return f"{a.name} has {result}{unit if attr == 'area' else ' people'} more than {b.name}."
    return f"The population of {a.name} is about {result} times the population of {b.name}."


def country_one(
    records: list[dict[str, Any]],
    run: ToolRunner,
    rng: random.Random,
    split: str,
    weights: tuple[float, ...] = COUNTRY_WEIGHTS,
) -> dict[str, Any]:
    """One two-country trajectory whose first thought names the operation the question's words ask for
    (``weights`` over ``COUNTRY_OPS``)."""
    countries = load_countries(records)
    kind = rng.choices(COUNTRY_OPS, weights=weights)[0]
    attr, op = kind.split("_", 1)
    a, b = rng.sample(countries, 2)
    va, vb = getattr(a, attr), getattr(b, attr)
    if op in ("difference", "ratio") and va <= vb:
        a, b, va, vb = b, a, vb, va  # the larger first, as the questions read
    form = rng.choice(forms_for(COUNTRY_FORMS[kind], split, 1))
    question = form.format(a=a.name, b=b.name)
    names = {"attr": attr, "a": a.name, "b": b.name}
    d = Draft(run)
    ta = d.search_number(PLAN[op].format(**names), f"{attr} of {a.name}", va, a.name)
    tb = d.search_number(THEN[op].format(**names), f"{attr} of {b.name}", vb, b.name)
    thought, expr = DO[op]
    result = d.calculate(thought.format(**names), expr.format(x=plain(ta), y=plain(tb)))
    gold = {"sum": va + vb, "difference": va - vb, "ratio": va / vb}[op]
    return build_row(
        question=question,
        draft=d,
        ending=Ending(_answer(op, attr, a, b, result), gold, 0.01 if op == "ratio" else 1e-6),
        kind=f"words_{kind}",
        generator=GENERATOR,
        template=f"{kind}:{COUNTRY_FORMS[kind].index(form)}",
        split=split,
        meta={"operator": kind},
    )


# plain arithmetic: name -> (how the numbers are drawn, the Calculator expression, the answer, forms)
def _two(rng: random.Random) -> dict[str, Any]:
    a = rng.randint(60, 2500)
    return {"a": a, "b": rng.randint(3, a - 1), "n": rng.choice(NAMES)}


def _share(rng: random.Random) -> dict[str, Any]:
    k = rng.randint(2, 12)
    return {"k": k, "t": k * rng.randint(3, 250), "n": rng.choice(NAMES)}


def _times(rng: random.Random) -> dict[str, Any]:
    return {"a": rng.randint(3, 60), "b": rng.randint(3, 99), "n": rng.choice(NAMES)}


def _percent(rng: random.Random) -> dict[str, Any]:
    return {"p": rng.choice([5, 10, 12, 15, 20, 25, 30, 40, 50]), "a": rng.randint(2, 120) * 20, "n": rng.choice(NAMES)}


ARITHMETIC: dict[str, tuple[Any, str, str, tuple[str, ...]]] = {
    "minus": (
        _two,
        "{a} - {b}",
        "{r} are left.",
        (
            "If you take {b} away from {a}, what is left?",
            "{n} had {a} marbles and gave away {b}. How many are left?",
            "What remains when {b} is taken from {a}?",
            "{a} less {b}?",
            "Take away {b} from {a}.",
            "A jar holds {a} sweets; {b} are eaten. How many sweets remain in the jar?",
            "What do you get when you subtract {b} from {a}?",
            "{n} owes {a} dollars and pays back {b}. How much is still owed?",
            "Deduct {b} from {a}.",
        ),
    ),
    "plus": (
        _two,
        "{a} + {b}",
        "The total is {r}.",
        (
            "{a} and {b} make how many altogether?",
            "{n} has {a} stamps and gets {b} more. How many stamps does {n} have now?",
            "What is {a} added to {b}?",
            "Put {a} and {b} together. How much is that?",
            "A school has {a} girls and {b} boys. How many pupils in all?",
            "{a} plus {b} equals what?",
            "Increase {a} by {b}.",
        ),
    ),
    "times": (
        _times,
        "{a} * {b}",
        "The total is {r}.",
        (
            "{a} boxes hold {b} cups each. How many cups in all?",
            "What is {a} multiplied by {b}?",
            "{n} saves {b} dollars a week for {a} weeks. How much is saved altogether?",
            "{a} lots of {b}?",
            "There are {a} shelves with {b} books on each. How many books are there?",
            "Multiply {b} by {a}.",
        ),
    ),
    "share": (
        _share,
        "{t} / {k}",
        "Each gets {r}.",
        (
            "{t} dollars are shared equally by {k} friends. How much does each friend get?",
            "Divide {t} equally among {k} people. What is each share?",
            "{n} cuts a {t} cm ribbon into {k} equal pieces. How long is each piece in cm?",
            "What is one {k}th of {t}?",
            "{t} apples go into {k} bags with the same number in each. How many per bag?",
            "If {k} people split a bill of {t} dollars evenly, what does each pay?",
            "Share {t} between {k} equally.",
        ),
    ),
    "percent_amount": (
        _percent,
        "{a} * {p} / 100",
        "It is {r}.",
        (
            "A {a}-dollar phone is {p}% off. How many dollars is the reduction?",
            "How much money is saved with a {p}% discount on {a} dollars?",
            "{n} puts {p}% of a {a}-dollar salary aside. How much is put aside?",
            "A waiter gets a {p}% tip on a {a}-dollar bill. How much is the tip?",
            "What is the tax at {p}% on {a} dollars?",
            "A {p} percent discount on a {a} dollar sofa is worth how much?",
            "{n} pays {p}% of {a} dollars as a deposit. How big is the deposit?",
            "How many dollars is {p}% of a {a}-dollar price?",
        ),
    ),
}
ARITHMETIC_OPS = tuple(ARITHMETIC)
ARITHMETIC_WEIGHTS = (26, 14, 14, 20, 26)
THOUGHT = {
    "minus": "The question asks what is left, so I subtract: {e}.",
    "plus": "The question asks for the total, so I add: {e}.",
    "times": "The question asks for the total of equal groups, so I multiply: {e}.",
    "share": "The question asks for one equal share, so I divide: {e}.",
    "percent_amount": "The question asks for the percent amount itself, so I calculate {e}.",
}


def arithmetic_one(run: ToolRunner, rng: random.Random, split: str) -> dict[str, Any]:
    """One plain-operator word problem, its operation named in the thought, answered by the Calculator."""
    name = rng.choices(ARITHMETIC_OPS, weights=ARITHMETIC_WEIGHTS)[0]
    draw, expr_t, answer_t, forms = ARITHMETIC[name]
    values = draw(rng)
    form = rng.choice(forms_for(forms, split, 1))
    expression = expr_t.format(**values)
    d = Draft(run)
    result = d.calculate(THOUGHT[name].format(e=expression), expression)
    try:
        gold = float(result.replace(",", ""))
    except ValueError as exc:
        raise Rejected(f"calculator: {expression!r} -> {result!r}") from exc
    return build_row(
        question=form.format(**values),
        draft=d,
        ending=Ending(answer_t.format(r=result), gold, 1e-6),
        kind="arithmetic",
        generator=GENERATOR,
        template=f"{name}:{forms.index(form)}",
        split=split,
        meta={"operator": name, "expression": expression},
    )
