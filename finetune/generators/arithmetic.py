"""Arithmetic as a grammar: operators x surface forms x contexts, the Calculator expression as the target.

Each operator draws its numbers, writes the canonical Calculator expression, and has several surface
forms (the last ones held out of train); word problems may carry an irrelevant clause (a number the
answer must not use). Two-operator combinations (``COMBOS``) are composed from the operators'
expressions; ``HELDOUT_COMBOS`` never appear in train. Every expression is run through the project's
Calculator while generating: a draw whose result is an error, huge or not a clean number is redrawn.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from agent.prompt import CALCULATOR_NAME
from finetune.generators.base import Draft, Ending, Rejected, ToolRunner, build_row, forms_for
from finetune.generators.gold_arithmetic import NAMES

GENERATOR = "arithmetic"

ITEMS = ["apples", "pens", "books", "cups", "tickets", "boxes", "stamps", "cards", "plates", "bottles"]
IRRELEVANT = [
    "It is a sunny {x}-degree day.",
    "The shop opened {x} years ago.",
    "{n} has {x} cousins.",
    "The bus ride takes {x} minutes.",
    "There are {x} trees on the street.",
    "{n}'s house number is {x}.",
]


@dataclass(frozen=True)
class Operator:
    """One operation: how to draw its numbers, the Calculator expression, and its surface forms."""

    name: str
    draw: Callable[[random.Random], dict[str, Any]]
    expression: str  # format string over the drawn values: the canonical Calculator input
    forms: tuple[str, ...]  # question surface forms; the last ``heldout`` are never in train
    word_problem: bool = False  # may take an irrelevant clause
    heldout: int = 1


def _r(lo: int, hi: int) -> Callable[[random.Random], int]:
    return lambda rng: rng.randint(lo, hi)


def _d(**spec: Callable[[random.Random], Any]) -> Callable[[random.Random], dict[str, Any]]:
    def draw(rng: random.Random) -> dict[str, Any]:
        out = {k: f(rng) for k, f in spec.items()}
        out.setdefault("n", rng.choice(NAMES))
        out.setdefault("item", rng.choice(ITEMS))
        return out

    return draw


def _pick(*values: Any) -> Callable[[random.Random], Any]:
    return lambda rng: rng.choice(values)


OPERATORS: list[Operator] = [
    Operator(
        "power",
        _d(a=_r(2, 12), b=_r(2, 9)),
        "{a} ** {b}",
        (
            "What is {a} to the power of {b}?",
            "Calculate {a} raised to the power {b}.",
            "What is {a}^{b}?",
            "Compute {a} to the exponent {b}.",
            "what is {a} to the power {b}",
            "Raise {a} to the power of {b}.",
        ),
    ),
    Operator(
        "square",
        _d(a=_r(11, 99)),
        "{a} ** 2",
        ("What is {a} squared?", "Square {a}.", "What is the square of {a}?", "{a} squared is what?"),
    ),
    Operator(
        "root",
        _d(a=_r(2, 60)),
        "sqrt({sq})",
        (
            "What is the square root of {sq}?",
            "Find the square root of {sq}.",
            "sqrt of {sq}?",
            "Calculate the square root of {sq}.",
            "What number times itself gives {sq}?",
        ),
    ),
    Operator(
        "factorial",
        _d(a=_r(3, 12)),
        "factorial({a})",
        ("What is {a} factorial?", "Compute the factorial of {a}.", "What is {a}!?", "Calculate {a}!"),
    ),
    Operator(
        "percent_of",
        _d(p=_pick(5, 8, 10, 12, 15, 20, 25, 30, 35, 40, 45, 60, 75, 80), a=lambda rng: rng.randint(2, 120) * 10),
        "{a} * {p} / 100",
        (
            "What is {p}% of {a}?",
            "Calculate {p} percent of {a}.",
            "{n} scored {p}% of {a} points. How many points is that?",
            "How much is {p} per cent of {a}?",
            "Of {a} people, {p}% ride a bike. How many ride a bike?",
            "Find {p}% of {a}.",
        ),
        word_problem=True,
    ),
    Operator(
        "increase",
        _d(p=_pick(5, 10, 15, 20, 25, 40, 50), a=lambda rng: rng.randint(2, 90) * 20),
        "{a} * (1 + {p} / 100)",
        (
            "A price of {a} dollars rises by {p}%. What is the new price?",
            "Increase {a} by {p}%.",
            "A town of {a} people grows by {p}%. What is its new population?",
            "{n}'s rent of {a} goes up {p} percent. What is the new rent?",
            "What is {a} after a {p}% increase?",
        ),
        word_problem=True,
    ),
    Operator(
        "discount",
        _d(p=_pick(10, 15, 20, 25, 30, 40, 50), a=lambda rng: rng.randint(2, 90) * 20),
        "{a} * (1 - {p} / 100)",
        (
            "A coat costs {a} dollars and is {p}% off. What is the sale price?",
            "What is {a} after a {p}% discount?",
            "{n} buys a {a}-dollar bike with {p} percent off. How much does {n} pay?",
            "Reduce {a} by {p}%.",
            "A {p}% discount is applied to a price of {a}. What is the final price?",
        ),
        word_problem=True,
    ),
    Operator(
        "average",
        _d(a=_r(10, 99), b=_r(10, 99), c=_r(10, 99), d=_r(10, 99)),
        "({a} + {b} + {c} + {d}) / 4",
        (
            "What is the average of {a}, {b}, {c} and {d}?",
            "Find the mean of {a}, {b}, {c} and {d}.",
            "{n} scored {a}, {b}, {c} and {d} in four tests. What is the average score?",
            "What is the arithmetic mean of {a}, {b}, {c}, {d}?",
            "Four boxes weigh {a}, {b}, {c} and {d} kg. What is their average weight?",
        ),
        word_problem=True,
    ),
    Operator(
        "distance",
        _d(v=lambda rng: rng.randint(3, 24) * 5, h=_r(2, 9)),
        "{v} * {h}",
        (
            "A car drives at {v} km/h for {h} hours. How far does it travel?",
            "{n} cycles at {v} km per hour for {h} hours. What distance is covered?",
            "How far does a train go in {h} hours at {v} kilometres per hour?",
            "At a speed of {v} km/h, how many kilometres are covered in {h} hours?",
            "A boat sails for {h} hours at {v} km/h. How many km does it sail?",
        ),
        word_problem=True,
    ),
    Operator(
        "unit_price",
        _d(q=_r(2, 12), u=lambda rng: rng.randint(2, 40) * 5),
        "{t} / {q}",
        (
            "{q} kg of rice cost {t} dollars. What is the price per kg?",
            "{n} pays {t} dollars for {q} {item}. How much does one cost?",
            "If {q} tickets cost {t} dollars in total, what is the price of one ticket?",
            "A pack of {q} {item} costs {t}. What is the cost per item?",
            "{t} dollars buys {q} shirts. How much is each shirt?",
        ),
        word_problem=True,
    ),
    Operator(
        "fuel",
        _d(f=_pick(5, 6, 7, 8, 9, 10, 12), dist=lambda rng: rng.randint(2, 60) * 10),
        "{f} * {dist} / 100",
        (
            "A car uses {f} litres of fuel per 100 km. How many litres does it need for {dist} km?",
            "At {f} L per 100 km, how much fuel does a {dist} km trip take?",
            "{n}'s van burns {f} litres every 100 kilometres. How many litres for {dist} kilometres?",
            "Fuel use is {f} litres per 100 km. What is the fuel needed for {dist} km?",
        ),
        word_problem=True,
    ),
    Operator(
        "convert",
        _d(
            x=_r(3, 250),
            unit=_pick(
                ("miles", "kilometres", 1.609),
                ("inches", "centimetres", 2.54),
                ("pounds", "kilograms", 0.4536),
                ("feet", "metres", 0.3048),
                ("gallons", "litres", 3.785),
            ),
        ),
        "{x} * {factor}",
        (
            "One {src1} is {factor} {dst}. How many {dst} are {x} {src}?",
            "Convert {x} {src} to {dst} (1 {src1} = {factor} {dst}).",
            "If 1 {src1} equals {factor} {dst}, what is {x} {src} in {dst}?",
            "{n} walks {x} {src}. With 1 {src1} = {factor} {dst}, how many {dst} is that?",
            "Given that a {src1} is {factor} {dst}, express {x} {src} in {dst}.",
        ),
        word_problem=True,
    ),
    Operator(
        "remainder",
        _d(a=_r(40, 500), k=_r(3, 12)),
        "{a} % {k}",
        (
            "{a} sweets are shared equally among {k} children. How many sweets are left over?",
            "What is the remainder when {a} is divided by {k}?",
            "What is {a} mod {k}?",
            "{n} packs {a} eggs into boxes of {k}. How many eggs are left over?",
            "Divide {a} by {k}. What is the remainder?",
        ),
        word_problem=True,
    ),
    Operator(
        "groups",
        _d(a=_r(40, 500), k=_r(3, 12)),
        "{a} // {k}",
        (
            "How many full groups of {k} can be made from {a} people?",
            "{a} {item} are packed {k} to a box. How many full boxes are there?",
            "{n} has {a} cards and puts {k} in each pile. How many complete piles can {n} make?",
            "How many whole teams of {k} players can be formed from {a} players?",
            "How many times does {k} go into {a} completely?",
        ),
        word_problem=True,
    ),
    Operator(
        "parentheses",
        _d(a=_r(2, 90), b=_r(2, 90), c=_r(2, 20)),
        "({a} + {b}) * {c}",
        (
            "What is ({a} + {b}) * {c}?",
            "Add {a} and {b}, then multiply the sum by {c}.",
            "Calculate ({a} plus {b}) times {c}.",
            "What is the sum of {a} and {b}, multiplied by {c}?",
            "{c} times the sum of {a} and {b} is what?",
        ),
    ),
    Operator(
        "order",
        _d(a=_r(2, 90), b=_r(2, 20), c=_r(2, 20)),
        "{a} + {b} * {c}",
        (
            "What is {a} + {b} * {c}?",
            "Calculate {a} plus {b} times {c}.",
            "What is {a} + {b} x {c}?",
            "Compute {a} + {b} × {c}.",
        ),
    ),
    Operator(
        "shopping",
        _d(a=_r(2, 15), b=_r(2, 40), c=_r(2, 15), e=_r(2, 40)),
        "{a} * {b} + {c} * {e}",
        (
            "{n} buys {a} notebooks at {b} dollars each and {c} pens at {e} dollars each. What is the total cost?",
            "A cafe sells {a} coffees at {b} and {c} cakes at {e}. How much money does it take in?",
            "What do {a} tickets at {b} dollars plus {c} tickets at {e} dollars cost together?",
            "Tickets: {a} adults at {b} dollars and {c} children at {e} dollars. What is the total?",
        ),
        word_problem=True,
    ),
]
BY_NAME = {op.name: op for op in OPERATORS}
# two-step combinations: the result of the first operator goes into the second's blank
COMBOS: dict[str, tuple[str, str]] = {
    "sum_then_percent": (
        "{a} + {b}",
        "What is {p}% of the sum of {a} and {b}?|{n} earns {a} dollars and then {b} dollars, and saves {p}% "
        "of it all. How much does {n} save?",
    ),
    "product_minus": (
        "{a} * {b} - {c}",
        "{n} has {a} bags of {b} marbles and gives away {c}. How many marbles are left?|What is {a} times {b} "
        "minus {c}?",
    ),
    "power_plus": ("{a} ** {b} + {c}", "What is {a} to the power of {b}, plus {c}?|Add {c} to {a}^{b}."),
    "average_of_three": (
        "({a} + {b} + {c}) / 3",
        "What is the average of {a}, {b} and {c}?|{n} ran {a}, {b} and {c} km on three days. What was the "
        "average distance per day?",
    ),
    # held out of train: never generated there (heldout.jsonl measures them)
    "root_times": (
        "sqrt({sq}) * {c}",
        "What is the square root of {sq}, times {c}?|Multiply the square root of {sq} by {c}.",
    ),
    "discount_then_tax": (
        "{a} * (1 - {p} / 100) * 1.1",
        "A {a}-dollar lamp is {p}% off, then 10% tax is added. What is the final price?",
    ),
}
HELDOUT_COMBOS = ("root_times", "discount_then_tax")


def _values(op: Operator, rng: random.Random) -> dict[str, Any]:
    v = op.draw(rng)
    if "a" in v:
        v["sq"] = v["a"] ** 2
    if "u" in v:
        v["t"] = v["q"] * v["u"]
    if "unit" in v:
        src, dst, factor = v.pop("unit")
        v.update(src=src, dst=dst, factor=factor, src1=src[:-1] if src != "feet" else "foot")
    return v


def _combo_values(rng: random.Random) -> dict[str, Any]:
    a = rng.randint(2, 60)
    return {
        "a": a,
        "b": rng.randint(2, 60),
        "c": rng.randint(2, 30),
        "p": rng.choice([10, 20, 25, 50]),
        "sq": rng.randint(2, 30) ** 2,
        "n": rng.choice(NAMES),
    }


def calculate_checked(run: ToolRunner, expression: str) -> float:
    """The Calculator's value of ``expression``; ``Rejected`` when it errs or is not a plain number."""
    out = run(CALCULATOR_NAME, expression)
    try:
        value = float(out.replace(",", ""))
    except ValueError as exc:
        raise Rejected(f"calculator: {expression!r} -> {out!r}") from exc
    if abs(value) > 1e12:
        raise Rejected(f"{expression!r}: {value} is too large for a word problem")
    return value


def one(run: ToolRunner, rng: random.Random, split: str) -> dict[str, Any]:
    """One arithmetic trajectory for ``split`` (``heldout``: held-out forms and combinations only)."""
    if rng.random() < 0.2:
        names = [c for c in COMBOS if (c in HELDOUT_COMBOS) == (split == "heldout")]
        if split in ("dev", "test"):
            names = [c for c in COMBOS if c not in HELDOUT_COMBOS]
        name = rng.choice(names)
        expr_t, forms_text = COMBOS[name]
        values = _combo_values(rng)
        form = rng.choice(forms_text.split("|"))
        template, irrelevant = f"combo:{name}", False
    else:
        op = rng.choice(OPERATORS)
        values = _values(op, rng)
        form = rng.choice(forms_for(op.forms, split, op.heldout))
        expr_t, template = op.expression, f"{op.name}:{op.forms.index(form)}"
        irrelevant = op.word_problem and rng.random() < 0.3
    question = form.format(**values)
    if irrelevant:
        question += " " + rng.choice(IRRELEVANT).format(x=rng.randint(3, 40), n=values.get("n", "Anna"))
    expression = expr_t.format(**values)
    value = calculate_checked(run, expression)
    draft = Draft(run)
    result = draft.calculate("I need to calculate " + expression + ".", expression)
    ending = Ending(f"The answer is {result}.", value, 1e-6)
    return build_row(
        question=question,
        draft=draft,
        ending=ending,
        kind="arithmetic",
        generator=GENERATOR,
        template=template,
        split=split,
        meta={"irrelevant_clause": irrelevant, "expression": expression},
    )
