"""Country questions with breadth: a composed lexicon of surface forms, new structures, more fields.

Surface forms are composed from a field's noun phrases ("the capital of {a}", "{a}'s capital") and
frames ("What is {c}?", "tell me {c}", "{c}", "Could you look up {c}?"), giving >= 20 forms per field;
the last noun phrase and the last ``HELDOUT_FRAMES`` frames never appear in train. Structures: one
field of one country (capital, population, area, currency, region, subregion, languages, calling
code, demonym), comparisons of two or three countries, reverse lookup by capital, three-country
sums and two/three-country averages. Observations are the live local Search over the country pack.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from agent.prompt import SEARCH_NAME
from finetune.generators.base import TRAIN, Draft, Ending, Rejected, ToolRunner, build_row, find_number, plain

GENERATOR = "countries_broad"

FRAMES: tuple[str, ...] = (
    "What is {c}?",
    "what is {c}",
    "What's {c}?",
    "Tell me {c}.",
    "tell me {c}",
    "{C}?",
    "{c}",
    "Give me {c}.",
    "Do you know {c}?",
    "Please find {c}.",
    "Look up {c}.",
    "Quick question: what is {c}?",
    "I'd like to know {c}.",
    "Can you find {c} for me?",
    "Search for {c}.",
    "I need {c}, please.",
    # held out of train (the last HELDOUT_FRAMES)
    "Could you look up {c}?",
    "Any idea what {c} is?",
    "Find out {c} for me.",
)
HELDOUT_FRAMES = 3


@dataclass(frozen=True)
class Field:
    key: str  # the record key
    label: str  # "the capital"
    phrases: tuple[str, ...]  # noun phrases over {a}; the last is held out of train
    answer: str  # over {a}, {v}
    numeric: bool = False


FIELDS: dict[str, Field] = {
    f.key: f
    for f in [
        Field(
            "capital",
            "the capital",
            (
                "the capital of {a}",
                "{a}'s capital",
                "the capital city of {a}",
                "the {a} capital",
                "the seat of government of {a}",
            ),
            "The capital of {a} is {v}.",
        ),
        Field(
            "population",
            "the population",
            (
                "the population of {a}",
                "{a}'s population",
                "the number of people in {a}",
                "the {a} population",
                "the headcount of {a}",
            ),
            "The population of {a} is {v}.",
            True,
        ),
        Field(
            "area_km2",
            "the area",
            (
                "the area of {a}",
                "{a}'s area",
                "the size of {a} in km²",
                "the {a} land area",
                "the surface of {a} in square kilometres",
            ),
            "The area of {a} is {v} square kilometres.",
            True,
        ),
        Field(
            "currencies",
            "the currency",
            (
                "the currency of {a}",
                "{a}'s currency",
                "the money used in {a}",
                "the {a} currency",
                "the legal tender of {a}",
            ),
            "The currency of {a} is {v}.",
        ),
        Field(
            "region",
            "the region",
            ("the region of {a}", "{a}'s region", "the world region of {a}", "the continent of {a}"),
            "{a} is in {v}.",
        ),
        Field(
            "subregion",
            "the subregion",
            ("the subregion of {a}", "{a}'s subregion", "the part of the world {a} is in", "the sub-region of {a}"),
            "{a} is in {v}.",
        ),
        Field(
            "languages",
            "the languages",
            (
                "the languages of {a}",
                "{a}'s official languages",
                "the languages spoken in {a}",
                "the official language of {a}",
            ),
            "The languages of {a} are {v}.",
        ),
        Field(
            "calling_code",
            "the calling code",
            (
                "the calling code of {a}",
                "{a}'s dialling code",
                "the phone code of {a}",
                "the international dialling code of {a}",
            ),
            "The calling code of {a} is {v}.",
        ),
        Field(
            "demonym",
            "the demonym",
            (
                "the demonym of {a}",
                "what people from {a} are called",
                "the word for people from {a}",
                "the name for a person from {a}",
            ),
            "People from {a} are called {v}.",
        ),
    ]
}


def forms_for_split(field: Field, split: str) -> list[tuple[str, str]]:
    """(phrase, frame) pairs of a split; ``heldout`` gets only pairs with a held-out part."""
    phrases, frames = list(field.phrases), list(FRAMES)
    train = [(p, f) for p in phrases[:-1] for f in frames[:-HELDOUT_FRAMES]]
    if split == TRAIN or split in ("dev", "test"):
        return train
    return [(p, f) for p in phrases for f in frames if (p, f) not in set(train)]


def compose(phrase: str, frame: str, country: str) -> str:
    c = phrase.format(a=country)
    text = frame.replace("{C}", c[0].upper() + c[1:]).replace("{c}", c)
    return text[0].upper() + text[1:] if not frame.startswith(("what", "tell")) else text


def _text(rec: dict[str, Any], key: str) -> Any:
    value = rec.get(key)
    if isinstance(value, list):
        return ", ".join(value) if value else None
    return value


class Lookup:
    """Searches the country pack the way the loop does and checks the record answers."""

    def __init__(self, run: ToolRunner) -> None:
        self.run = run

    def record(self, draft: Draft, rec: dict[str, Any], field: Field, first: bool, query: str | None = None) -> str:
        lead = "I need to find" if first else "Now I need to find"
        name = rec["name"]
        obs = draft.act(
            f"{lead} {field.label} of {name}.", SEARCH_NAME, query or f"{field.label.removeprefix('the ')} of {name}"
        )
        if not obs.startswith(f"{name}:"):
            raise Rejected(f"first result is not {name}: {obs[:60]!r}")
        value = rec[field.key]
        if field.numeric:
            text = find_number(obs, float(value))
            if text is None:
                raise Rejected(f"{value} not in {obs[:80]!r}")
            return text
        want = _text(rec, field.key)
        if not want or str(want).lower() not in obs.lower():
            raise Rejected(f"{want!r} not in {obs[:80]!r}")
        return str(want)


def _gold(rec: dict[str, Any], field: Field) -> Any:
    value = rec[field.key]
    if isinstance(value, list):
        return list(value)
    return float(value) if field.numeric else value


STRUCTURES = ("field", "field", "field", "compare2", "compare3", "reverse", "sum3", "average")
COMPARE2 = (
    "Which has more people, {a} or {b}?",
    "Which country is more populous: {a} or {b}?",
    "Who has the larger population, {a} or {b}?",
    "{a} or {b}: which has more inhabitants?",
    "Is the population of {a} or of {b} larger?",
)
COMPARE2_AREA = (
    "Which is bigger in area, {a} or {b}?",
    "Which country is larger: {a} or {b}?",
    "{a} or {b}, which covers more square kilometres?",
    "Which has the larger area, {a} or {b}?",
)
COMPARE3 = (
    "Which of {a}, {b} and {c} has the largest population?",
    "Among {a}, {b} and {c}, which is the most populous?",
    "Which country has the most people: {a}, {b} or {c}?",
    "Of {a}, {b} and {c}, which has the biggest population?",
)
REVERSE = (
    "Which country has {x} as its capital?",
    "{x} is the capital of which country?",
    "Of which country is {x} the capital?",
    "Which nation's capital is {x}?",
    "what country is {x} the capital of",
    "Name the country whose capital is {x}.",
)
SUM3 = (
    "What is the combined population of {a}, {b} and {c}?",
    "Add up the populations of {a}, {b} and {c}.",
    "How many people live in {a}, {b} and {c} together?",
    "What is the total population of {a}, {b} and {c}?",
)
AVERAGE = (
    "What is the average population of {a} and {b}?",
    "On average, how many people live in {a} and {b}?",
    "What is the mean area of {a} and {b} in square kilometres?",
    "What is the average area of {a}, {b} and {c}?",
    "What is the mean population of {a}, {b} and {c}?",
)


def _split_forms(forms: tuple[str, ...], split: str) -> list[str]:
    return list(forms[-1:]) if split == "heldout" else list(forms[:-1])


def one(records: list[dict[str, Any]], run: ToolRunner, rng: random.Random, split: str) -> dict[str, Any]:
    """One broad country trajectory over ``records`` (the split's countries)."""
    look = Lookup(run)
    draft = Draft(run)
    structure = rng.choice(STRUCTURES)
    pop, area = FIELDS["population"], FIELDS["area_km2"]
    meta: dict[str, Any] = {"structure": structure}
    if structure == "field":
        field = rng.choice(list(FIELDS.values()))
        rec = rng.choice([r for r in records if r.get(field.key)])
        phrase, frame = rng.choice(forms_for_split(field, split))
        question = compose(phrase, frame, rec["name"])
        shown = look.record(draft, rec, field, True)
        ending = Ending(field.answer.format(a=rec["name"], v=shown), _gold(rec, field), 1e-6 if field.numeric else None)
        template = f"field:{field.key}:{field.phrases.index(phrase)}:{FRAMES.index(frame)}"
        kind = f"broad_{field.key}"
    elif structure in ("compare2", "compare3"):
        n = 2 if structure == "compare2" else 3
        field = pop if structure == "compare3" or rng.random() < 0.6 else area
        recs = rng.sample([r for r in records if r.get(field.key)], n)
        forms = COMPARE3 if n == 3 else (COMPARE2 if field is pop else COMPARE2_AREA)
        form = rng.choice(_split_forms(forms, split))
        question = form.format(a=recs[0]["name"], b=recs[1]["name"], c=recs[-1]["name"])
        for i, rec in enumerate(recs):
            look.record(draft, rec, field, i == 0)
        best = max(recs, key=lambda r: r[field.key])
        what = "the largest population" if field is pop else "the larger area"
        ending = Ending(f"{best['name']} has {what}.", best["name"])
        template, kind = f"{structure}:{field.key}:{forms.index(form)}", f"broad_{structure}"
    elif structure == "reverse":
        rec = rng.choice([r for r in records if r.get("capital")])
        form = rng.choice(_split_forms(REVERSE, split))
        question = form.format(x=rec["capital"])
        obs = draft.act(
            f"I need to find the country whose capital is {rec['capital']}.", SEARCH_NAME, f"capital {rec['capital']}"
        )
        if not obs.startswith(f"{rec['name']}:") or f"capital {rec['capital']}".lower() not in obs.lower():
            raise Rejected(f"reverse lookup of {rec['capital']!r} found {obs[:60]!r}")
        ending = Ending(f"{rec['capital']} is the capital of {rec['name']}.", rec["name"])
        template, kind = f"reverse:{REVERSE.index(form)}", "broad_reverse"
    else:
        if structure == "sum3":
            form = rng.choice(_split_forms(SUM3, split))
            field, n = pop, 3
        else:
            form = rng.choice(_split_forms(AVERAGE, split))
            field = area if "area" in form else pop
            n = 3 if "{c}" in form else 2
        recs = rng.sample([r for r in records if r.get(field.key)], n)
        question = form.format(a=recs[0]["name"], b=recs[1]["name"], c=recs[-1]["name"])
        numbers = [plain(look.record(draft, rec, field, i == 0)) for i, rec in enumerate(recs)]
        total = " + ".join(numbers)
        expression = total if structure == "sum3" else f"({total}) / {n}"
        thought = (
            f"Now I need to add the {n} numbers." if structure == "sum3" else f"Now I need to average the {n} numbers."
        )
        result = draft.calculate(thought, expression)
        values = [float(r[field.key]) for r in recs]
        gold = sum(values) if structure == "sum3" else sum(values) / n
        noun = "population" if field is pop else "area"
        word = "combined" if structure == "sum3" else "average"
        ending = Ending(f"The {word} {noun} is {result}.", gold, 1e-6)
        forms = SUM3 if structure == "sum3" else AVERAGE
        template, kind = f"{structure}:{forms.index(form)}", f"broad_{structure}"
    meta["countries"] = [r["name"] for r in records if r["name"] in question]
    return build_row(
        question=question,
        draft=draft,
        ending=ending,
        kind=kind,
        generator=GENERATOR,
        template=template,
        split=split,
        meta=meta,
    )
