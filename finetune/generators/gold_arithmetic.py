"""The v1 gold set's arithmetic kind: six word-problem templates with fixed phrasings (the LAST
phrasing of every template is held out of train), each answered by one Calculator call.

``finetune.generators.gold_set`` draws them next to the country kinds; ``NAMES`` also fill the v2
grammar's word problems (``finetune.generators.arithmetic``).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from finetune.generators.base import Built, Draft

# ---------------------------------------------------------------------------------------------
NAMES = [
    "Anna",
    "Ben",
    "Chloe",
    "David",
    "Emma",
    "Farid",
    "Grace",
    "Hiro",
    "Ines",
    "Jamal",
    "Kofi",
    "Lena",
    "Mia",
    "Noah",
]


@dataclass(frozen=True)
class ArithmeticTemplate:
    """A word problem: phrasings, how to draw its numbers, the Calculator expression."""

    name: str
    phrasings: list[str]
    draw: Callable[[random.Random], dict[str, Any]]
    expression: str  # format string over the drawn values


def _draw_shop(rng: random.Random) -> dict[str, Any]:
    return {"a": rng.randint(3, 60), "b": rng.randint(2, 48), "c": rng.randint(1, 30), "n": rng.choice(NAMES)}


def _draw_two(rng: random.Random) -> dict[str, Any]:
    return {"a": rng.randint(12, 999), "b": rng.randint(2, 99), "n": rng.choice(NAMES)}


def _draw_percent(rng: random.Random) -> dict[str, Any]:
    return {
        "p": rng.choice([5, 10, 12, 15, 20, 25, 30, 40, 60, 75]),
        "a": rng.randint(2, 90) * 20,
        "n": rng.choice(NAMES),
    }


def _draw_speed(rng: random.Random) -> dict[str, Any]:
    h = rng.randint(2, 9)
    return {"h": h, "d": h * rng.randint(30, 120), "n": rng.choice(NAMES)}


def _draw_spend(rng: random.Random) -> dict[str, Any]:
    a = rng.randint(50, 2000)
    return {"a": a, "b": rng.randint(1, a - 1), "c": rng.randint(1, 40), "n": rng.choice(NAMES)}


def _draw_three(rng: random.Random) -> dict[str, Any]:
    return {
        "a": rng.randint(10, 5000),
        "b": rng.randint(10, 5000),
        "c": rng.randint(10, 5000),
        "n": rng.choice(NAMES),
    }


ARITHMETIC: list[ArithmeticTemplate] = [
    ArithmeticTemplate(
        "boxes",
        [
            "A shop has {a} boxes with {b} apples in each box and {c} loose apples. How many apples does it have?",
            "{n} buys {a} packs of {b} pencils and {c} single pencils. How many pencils does {n} have?",
            "There are {a} rows of {b} chairs and {c} extra chairs. How many chairs are there in total?",
            "What is {a} times {b} plus {c}?",
            "A farmer packs {a} crates of {b} eggs and has {c} eggs left over. How many eggs are there altogether?",
            "Multiply {a} by {b} and then add {c}.",
        ],
        _draw_shop,
        "{a} * {b} + {c}",
    ),
    ArithmeticTemplate(
        "product",
        [
            "What is {a} multiplied by {b}?",
            "A cinema sells {a} tickets a day. How many tickets does it sell in {b} days?",
            "{n} reads {b} pages a day for {a} days. How many pages is that?",
            "Calculate {a} times {b}.",
            "Each of {a} buses carries {b} passengers. How many passengers are there in total?",
            "What is the product of {a} and {b}?",
        ],
        _draw_two,
        "{a} * {b}",
    ),
    ArithmeticTemplate(
        "percent",
        [
            "What is {p}% of {a}?",
            "A jacket costs {a} dollars. How much is a {p}% discount?",
            "{n} earns {a} dollars and saves {p}% of it. How much does {n} save?",
            "Calculate {p} percent of {a}.",
            "A town of {a} people: {p}% of them are children. How many children is that?",
            "How much is {p} per cent of {a}?",
        ],
        _draw_percent,
        "{a} * {p} / 100",
    ),
    ArithmeticTemplate(
        "speed",
        [
            "A train travels {d} km in {h} hours. What is its average speed in km per hour?",
            "{n} drives {d} kilometres in {h} hours. How fast is that on average, in km/h?",
            "What is {d} divided by {h}?",
            "A cyclist covers {d} km in {h} hours. What is the average speed?",
            "If {d} litres are shared equally among {h} tanks, how many litres go in each tank?",
            "Split {d} into {h} equal parts. How big is each part?",
        ],
        _draw_speed,
        "{d} / {h}",
    ),
    ArithmeticTemplate(
        "spend",
        [
            "{n} had {a} dollars and spent {b} dollars. How much money is left?",
            "What is {a} minus {b}?",
            "A library had {a} books and lent out {b}. How many books are still there?",
            "Subtract {b} from {a}.",
            "A tank holds {a} litres and {b} litres leak out. How many litres remain?",
            "How much is {a} take away {b}?",
        ],
        _draw_spend,
        "{a} - {b}",
    ),
    ArithmeticTemplate(
        "sum3",
        [
            "What is the sum of {a}, {b} and {c}?",
            "{n} walked {a} metres, then {b} metres, then {c} metres. How far did {n} walk in total?",
            "Add {a}, {b} and {c}.",
            "A school counts {a} visitors in the morning, {b} at noon and {c} in the evening. "
            "How many visitors is that altogether?",
            "Three shops sold {a}, {b} and {c} items. How many items did they sell together?",
            "What do {a}, {b} and {c} add up to?",
        ],
        _draw_three,
        "{a} + {b} + {c}",
    ),
]


def from_template(d: Draft, template: ArithmeticTemplate, values: dict[str, Any]) -> Built:
    expr = template.expression.format(**values)
    result = d.calculate("I need to calculate " + expr + ".", expr)
    gold = float(result.replace(",", ""))
    return f"The answer is {result}.", gold, 1e-6
