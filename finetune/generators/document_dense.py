"""Dense documents (the v7 mix, attempt 7): several numbers of one subject side by side, read one at a time.

v6 read the right document and then took the wrong number from it (a "stations and bicycles" sentence gave
the stations; "animals of N species" gave the animals; a menu gave its first price) or computed where a copy
was asked (loaves x price), and it computed from a document without the Calculator or with the wrong
operands (a child's half fare, a total for several items, a count per person, dollars from "million
dollars", years between two dates of one document). Each ``Scene`` here is a document type whose sentences
state two or three numbers each; its questions copy one of them (``copies``), compute from them with the
Calculator (``computes``: totals of several items, per-unit, fractions, cents and dollars, durations, years
between), or ask for a field the document does not state while it states its neighbours (``missing``). A
not-found question always comes with a copy question over the SAME corpus (``pair``), so "it says X" and
"it does not say Y" are learned from one text.

Observations are the real local Search over a fresh index (``documents.Corpus``), every expression runs
through the real Calculator, and every answer is scored against its gold before it becomes a row. The
subjects, names and wordings are this module's own (none of the hand-written corpus's); the last ask form of
every question is held out of train (``split='heldout'``).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from agent.prompt import SEARCH_NAME
from agent.tools.calculator import evaluate
from finetune.generators.base import Draft, Ending, Rejected, build_row, forms_for, not_found, plain
from finetune.generators.document_names import CITY, number_text, word
from finetune.generators.documents import Corpus, Doc

GENERATOR = "document_dense"
Draw = Callable[[random.Random], float]


def _int(lo: int, hi: int) -> Draw:
    return lambda r: r.randint(lo, hi)


def _price(lo: int, hi: int) -> Draw:  # dollars with cents, drawn in cents (written with two decimals)
    return lambda r: r.randint(lo, hi) / 100


def _even(lo: int, hi: int) -> Draw:  # an even number (halves stay whole)
    return lambda r: 2 * r.randint(lo // 2, hi // 2)


@dataclass(frozen=True)
class Copy:
    slot: str
    asks: tuple[str, ...]  # over {e}; the last held out of train
    label: str  # "the number of screens"
    keyword: str  # what the search adds to the name
    answer: str  # over {e} {v}
    scale: float = 1  # the gold over the value as written ("52 million dollars": 1e6)


@dataclass(frozen=True)
class Compute:
    name: str
    asks: tuple[str, ...]  # over {e} {k}
    uses: tuple[str, ...]  # slots read (each searched for once: one search finds them all in a dense document)
    keyword: str
    expression: str  # over the slots and {k}
    answer: str  # over {e} {r} {k}


@dataclass(frozen=True)
class Missing:
    asks: tuple[str, ...]
    label: str
    keyword: str


@dataclass(frozen=True)
class Scene:
    kind: str
    name: Callable[[random.Random], str]
    slots: dict[str, Draw]
    sentences: tuple[tuple[str, ...], ...]  # each a set of alternatives over {e} and slot names
    copies: tuple[Copy, ...]
    computes: tuple[Compute, ...]
    missing: tuple[Missing, ...]


SCENES: dict[str, Scene] = {
    "cinema": Scene(
        "cinema",
        lambda r: f"{word(r)} Cinema",
        {"screens": _int(2, 14), "seats": _int(60, 480), "adult": _even(8, 24), "shows": _int(3, 7)},
        (
            (
                "{e} has {screens} screens with {seats} seats each.",
                "There are {screens} screens at {e}, and every one seats {seats} people.",
            ),
            (
                "An adult ticket costs {adult} dollars, and children pay half the adult price.",
                "Adults pay {adult} dollars a ticket; a child pays half of that.",
            ),
            ("Each screen runs {shows} shows a day.", "Every screen shows {shows} films a day."),
        ),
        (
            Copy(
                "screens",
                ("How many screens does {e} have?", "How many screens are there at {e}?", "screens at {e}?"),
                "the number of screens",
                "screens",
                "{e} has {v} screens.",
            ),
            Copy(
                "seats",
                ("How many seats does each screen at {e} have?", "How many people does one screen at {e} seat?"),
                "the seats per screen",
                "seats",
                "Each screen at {e} has {v} seats.",
            ),
            Copy(
                "adult",
                ("What does an adult ticket at {e} cost?", "How much do adults pay at {e}?", "adult price at {e}?"),
                "the adult ticket price",
                "ticket",
                "An adult ticket at {e} costs {v} dollars.",
            ),
        ),
        (
            Compute(
                "child",
                ("What does a child pay for a ticket at {e}?", "How much is a child ticket at {e}?"),
                ("adult",),
                "ticket",
                "{adult} / 2",
                "A child ticket at {e} costs {r} dollars.",
            ),
            Compute(
                "family",
                (
                    "What do {k} adult tickets and one child ticket at {e} cost together?",
                    "How much do {k} adults and a child pay at {e}?",
                ),
                ("adult",),
                "ticket",
                "{k} * {adult} + {adult} / 2",
                "Together they pay {r} dollars.",
            ),
            Compute(
                "capacity",
                ("How many seats does {e} have in all?", "What is the total seating of {e} across its screens?"),
                ("screens", "seats"),
                "screens seats",
                "{screens} * {seats}",
                "{e} has {r} seats in all.",
            ),
            Compute(
                "shows",
                ("How many shows does {e} run a day across all its screens?", "Total daily shows at {e}?"),
                ("screens", "shows"),
                "screens shows",
                "{screens} * {shows}",
                "{e} runs {r} shows a day.",
            ),
        ),
        (
            Missing(
                ("What does a student ticket at {e} cost?", "How much is a senior ticket at {e}?"),
                "the student ticket price",
                "ticket",
            ),
            Missing(
                ("How many people work at {e}?", "How many staff does {e} employ?"), "the number of staff", "staff"
            ),
            Missing(("When did {e} open?", "In what year was {e} opened?"), "the opening year", "opened"),
        ),
    ),
    "pool": Scene(
        "pool",
        lambda r: f"{r.choice(CITY)} {r.choice(['Swimming Pool', 'Lido', 'Aquatics Centre'])}",
        {"lanes": _int(4, 10), "length": _int(25, 50), "entry": _price(250, 900), "locker": _int(20, 95)},
        (
            (
                "{e} has {lanes} lanes, each {length} metres long.",
                "The pool at {e} is {length} metres long and has {lanes} lanes.",
            ),
            (
                "Entry costs {entry} dollars and a locker costs {locker} cents.",
                "A swim is {entry} dollars; lockers take {locker} cents.",
            ),
        ),
        (
            Copy(
                "lanes",
                ("How many lanes does {e} have?", "How many swimming lanes are at {e}?", "lanes at {e}?"),
                "the number of lanes",
                "lanes",
                "{e} has {v} lanes.",
            ),
            Copy(
                "length",
                ("How long is the pool at {e}?", "What is the length of a lane at {e}?"),
                "the pool length",
                "metres long",
                "The pool at {e} is {v} metres long.",
            ),
            Copy(
                "entry",
                ("What does entry to {e} cost?", "How much is a swim at {e}?", "entry price at {e}?"),
                "the entry price",
                "entry",
                "A swim at {e} costs {v} dollars.",
            ),
        ),
        (
            Compute(
                "locker_dollars",
                ("How much is a locker at {e} in dollars?", "What does a locker at {e} cost, in dollars?"),
                ("locker",),
                "locker",
                "{locker} / 100",
                "A locker at {e} costs {r} dollars.",
            ),
            Compute(
                "entry_cents",
                ("How many cents does entry to {e} cost?", "What is the entry price at {e} in cents?"),
                ("entry",),
                "entry",
                "{entry} * 100",
                "A swim at {e} costs {r} cents.",
            ),
            Compute(
                "visit",
                (
                    "What do {k} swims and one locker at {e} cost, in dollars?",
                    "How many dollars do {k} entries and a locker at {e} come to?",
                ),
                ("entry", "locker"),
                "entry locker",
                "{k} * {entry} + {locker} / 100",
                "That costs {r} dollars.",
            ),
            Compute(
                "distance",
                ("How many metres is {k} lengths of the pool at {e}?", "How far do you swim in {k} lengths at {e}?"),
                ("length",),
                "metres long",
                "{k} * {length}",
                "{k} lengths at {e} are {r} metres.",
            ),
        ),
        (
            Missing(("How deep is the pool at {e}?", "What is the depth of the water at {e}?"), "the depth", "deep"),
            Missing(
                ("What does a swimming lesson at {e} cost?", "How much is a lesson at {e}?"),
                "the lesson price",
                "lesson",
            ),
            Missing(("What time does {e} open?", "When does {e} open in the morning?"), "the opening time", "open"),
        ),
    ),
    "orchard": Scene(
        "orchard",
        lambda r: f"{word(r)} Orchard",
        {"apple": _int(120, 900), "pear": _int(40, 400), "per_tree": _int(30, 140), "crate": _int(10, 25)},
        (
            (
                "{e} grows {apple} apple trees and {pear} pear trees.",
                "At {e} there are {pear} pear trees and {apple} apple trees.",
            ),
            (
                "Each apple tree gives about {per_tree} kilograms of fruit a year.",
                "An apple tree here yields some {per_tree} kilograms a season.",
            ),
            ("The fruit is packed in crates of {crate} kilograms.", "One crate holds {crate} kilograms of fruit."),
        ),
        (
            Copy(
                "apple",
                ("How many apple trees does {e} have?", "How many apple trees grow at {e}?", "apple trees at {e}?"),
                "the number of apple trees",
                "apple trees",
                "{e} has {v} apple trees.",
            ),
            Copy(
                "pear",
                ("How many pear trees does {e} have?", "How many pear trees grow at {e}?", "pear trees at {e}?"),
                "the number of pear trees",
                "pear trees",
                "{e} has {v} pear trees.",
            ),
            Copy(
                "crate",
                ("How many kilograms does a crate at {e} hold?", "What does one crate at {e} hold?"),
                "the crate size",
                "crate",
                "A crate at {e} holds {v} kilograms.",
            ),
        ),
        (
            Compute(
                "trees",
                ("How many fruit trees does {e} have in total?", "How many trees of both kinds grow at {e}?"),
                ("apple", "pear"),
                "trees",
                "{apple} + {pear}",
                "{e} has {r} fruit trees.",
            ),
            Compute(
                "more",
                (
                    "How many more apple trees than pear trees does {e} have?",
                    "By how many do apple trees outnumber pear trees at {e}?",
                ),
                ("apple", "pear"),
                "trees",
                "{apple} - {pear}",
                "{e} has {r} more apple trees.",
            ),
            Compute(
                "harvest",
                ("How many kilograms of apples does {e} harvest a year?", "What is the yearly apple harvest of {e}?"),
                ("apple", "per_tree"),
                "apple trees",
                "{apple} * {per_tree}",
                "{e} harvests about {r} kilograms of apples a year.",
            ),
            Compute(
                "crates",
                (
                    "How many crates does the fruit of {k} apple trees at {e} fill?",
                    "How many crates do {k} apple trees at {e} fill in a year?",
                ),
                ("per_tree", "crate"),
                "apple tree crate",
                "round({k} * {per_tree} / {crate}, 2)",
                "They fill about {r} crates.",
            ),
        ),
        (
            Missing(
                ("How many cherry trees does {e} have?", "How many plum trees grow at {e}?"),
                "the cherry trees",
                "trees",
            ),
            Missing(("How many hectares does {e} cover?", "How big is {e} in hectares?"), "the size", "hectares"),
            Missing(("Who owns {e}?", "Who runs {e}?"), "the owner", "owner"),
        ),
    ),
    "school": Scene(
        "school",
        lambda r: f"{word(r)} {r.choice(['Primary School', 'High School', 'Academy'])}",
        {"students": _int(180, 1600), "teachers": _int(12, 90), "classes": _int(8, 48), "founded": _int(1890, 1990)},
        (
            (
                "{e} has {students} students and {teachers} teachers.",
                "There are {teachers} teachers and {students} pupils at {e}.",
            ),
            ("The students are taught in {classes} classes.", "Lessons are given in {classes} classes."),
            ("The school was founded in {founded}.", "{e} opened its doors in {founded}."),
        ),
        (
            Copy(
                "students",
                ("How many students does {e} have?", "How many pupils go to {e}?", "students at {e}?"),
                "the number of students",
                "students",
                "{e} has {v} students.",
            ),
            Copy(
                "teachers",
                ("How many teachers work at {e}?", "How many teachers does {e} have?", "teachers at {e}?"),
                "the number of teachers",
                "teachers",
                "{e} has {v} teachers.",
            ),
            Copy(
                "founded",
                ("When was {e} founded?", "In what year did {e} open?"),
                "the founding year",
                "founded",
                "{e} was founded in {v}.",
            ),
        ),
        (
            Compute(
                "per_teacher",
                ("How many students are there per teacher at {e}?", "What is the student-to-teacher ratio at {e}?"),
                ("students", "teachers"),
                "students teachers",
                "round({students} / {teachers}, 2)",
                "There are about {r} students per teacher.",
            ),
            Compute(
                "per_class",
                ("On average, how many students are in a class at {e}?", "How big is an average class at {e}?"),
                ("students", "classes"),
                "students classes",
                "round({students} / {classes}, 2)",
                "An average class at {e} has about {r} students.",
            ),
            Compute(
                "age",
                ("How many years had {e} been open in 2024?", "How old was {e} in 2024?"),
                ("founded",),
                "founded",
                "2024 - {founded}",
                "{e} had been open {r} years in 2024.",
            ),
        ),
        (
            Missing(("Who is the head teacher of {e}?", "Who runs {e} as principal?"), "the head teacher", "head"),
            Missing(
                ("What are the school fees at {e}?", "How much does a year at {e} cost?"), "the school fees", "fees"
            ),
            Missing(("How many classrooms does {e} have?", "How many rooms does {e} have?"), "the classrooms", "rooms"),
        ),
    ),
    "course": Scene(
        "course",
        lambda r: f"{word(r)} {r.choice(['pottery', 'cooking', 'painting', 'coding'])} course",
        {"sessions": _int(4, 16), "minutes": _int(45, 150), "fee": _int(12, 60), "places": _int(6, 24)},
        (
            (
                "The {e} runs for {sessions} sessions of {minutes} minutes each.",
                "It has {sessions} sessions, and each lasts {minutes} minutes.",
            ),
            ("Each session costs {fee} dollars.", "The fee is {fee} dollars per session."),
            ("There are {places} places on the {e}.", "The {e} takes at most {places} people."),
        ),
        (
            Copy(
                "sessions",
                ("How many sessions does the {e} have?", "How many sessions are in the {e}?"),
                "the number of sessions",
                "sessions",
                "The {e} has {v} sessions.",
            ),
            Copy(
                "minutes",
                ("How long is one session of the {e}?", "How many minutes does a session of the {e} last?"),
                "the session length",
                "minutes",
                "A session of the {e} lasts {v} minutes.",
            ),
            Copy(
                "places",
                ("How many places are there on the {e}?", "How many people can join the {e}?"),
                "the number of places",
                "places",
                "The {e} has {v} places.",
            ),
        ),
        (
            Compute(
                "hours",
                ("How many hours does the whole {e} take?", "In hours, how long is the {e} altogether?"),
                ("sessions", "minutes"),
                "sessions minutes",
                "round({sessions} * {minutes} / 60, 2)",
                "The {e} takes {r} hours in all.",
            ),
            Compute(
                "cost",
                ("What does the whole {e} cost?", "How much do all the sessions of the {e} cost together?"),
                ("sessions", "fee"),
                "sessions fee",
                "{sessions} * {fee}",
                "The whole {e} costs {r} dollars.",
            ),
            Compute(
                "income",
                (
                    "How much does a full {e} bring in per session?",
                    "What do all the places of the {e} pay for one session?",
                ),
                ("fee", "places"),
                "fee places",
                "{fee} * {places}",
                "A full session brings in {r} dollars.",
            ),
        ),
        (
            Missing(("Who teaches the {e}?", "Who is the teacher of the {e}?"), "the teacher", "teacher"),
            Missing(("When does the {e} start?", "On what date does the {e} begin?"), "the start date", "start"),
            Missing(("Where is the {e} held?", "In which building is the {e}?"), "the place", "held"),
        ),
    ),
    "fund": Scene(
        "fund",
        lambda r: f"{word(r)} {r.choice(['Foundation', 'Trust', 'Fund'])}",
        {"budget": _int(2, 90), "grants": _int(20, 400), "staff": _int(5, 120), "since": _int(1960, 2015)},
        (
            (
                "{e} has a yearly budget of {budget} million dollars and {staff} staff.",
                "With {staff} staff, {e} spends {budget} million dollars a year.",
            ),
            ("It gave {grants} grants last year.", "Last year it awarded {grants} grants."),
            ("{e} was set up in {since}.", "It has been running since {since}."),
        ),
        (
            Copy(
                "budget",
                ("What is the yearly budget of {e}?", "How much does {e} spend a year?"),
                "the budget",
                "budget",
                "{e} has a yearly budget of {v} million dollars.",
                1e6,
            ),
            Copy(
                "grants",
                ("How many grants did {e} give last year?", "How many grants did {e} award?"),
                "the number of grants",
                "grants",
                "{e} gave {v} grants last year.",
            ),
            Copy(
                "staff",
                ("How many staff does {e} have?", "How many people work for {e}?"),
                "the number of staff",
                "staff",
                "{e} has {v} staff.",
            ),
        ),
        (
            Compute(
                "per_grant",
                (
                    "On average, how many dollars was each grant of {e}?",
                    "What was the average grant of {e} in dollars?",
                ),
                ("budget", "grants"),
                "budget grants",
                "round({budget} * 1000000 / {grants}, 2)",
                "The average grant was about {r} dollars.",
            ),
            Compute(
                "per_staff",
                (
                    "How many dollars of budget does {e} have per staff member?",
                    "What is the budget of {e} per employee, in dollars?",
                ),
                ("budget", "staff"),
                "budget staff",
                "round({budget} * 1000000 / {staff}, 2)",
                "{e} has about {r} dollars per staff member.",
            ),
            Compute(
                "years",
                ("For how many years had {e} been running in 2024?", "How many years old was {e} in 2024?"),
                ("since",),
                "since",
                "2024 - {since}",
                "{e} had been running for {r} years in 2024.",
            ),
        ),
        (
            Missing(("Who chairs {e}?", "Who is the chair of {e}?"), "the chair", "chair"),
            Missing(("Where is {e} based?", "In which city is {e}?"), "the city", "based"),
            Missing(
                ("How many people applied to {e} last year?", "How many applications did {e} get?"),
                "the applications",
                "applications",
            ),
        ),
    ),
}
QUESTION_TYPES = ("copy", "compute", "pair")  # pair: a not-found and a copy over one corpus
WEIGHTS = (15, 55, 30)  # per corpus; a pair adds a copy: rows ~35 % copy, 42 % compute, 23 % not-found


YEAR_SLOTS = ("founded", "since", "built", "started")  # written without a thousands separator


def _text(rng: random.Random, slot: str, value: float) -> str:
    if isinstance(value, float):
        return f"{value:.2f}"  # money
    return str(value) if slot in YEAR_SLOTS else number_text(rng, int(value))


def write(rng: random.Random, scene: Scene, name: str) -> tuple[Doc, dict[str, str]]:
    """A dense document of ``scene`` about ``name``; the values and the text of each as written."""
    values = {s: d(rng) for s, d in scene.slots.items()}
    shown = {s: _text(rng, s, v) for s, v in values.items()}
    sentences = [rng.choice(alts).format(e=name, **shown) for alts in scene.sentences]
    rng.shuffle(sentences)
    body = " ".join(s[0].upper() + s[1:] for s in sentences)
    heading = rng.random() < 0.75
    slug = name.lower().replace(" ", "_")
    text = f"# {name}\n\n{body}\n" if heading else f"{body}\n"
    return Doc(scene.kind, name, values, text, f"{slug}.md" if heading else f"{slug}.txt"), shown


def _corpus(
    rng: random.Random, scene: Scene, scenes: dict[str, Scene] = SCENES
) -> tuple[Corpus, Doc, dict[str, str], int]:
    target, shown = write(rng, scene, scene.name(rng))
    if len({v for v in target.values.values()}) < len(target.values):
        raise Rejected("two slots with one value")
    docs = [target] + [write(rng, scene, scene.name(rng))[0] for _ in range(rng.randint(1, 2))]
    other = scenes[rng.choice([k for k in scenes if k != scene.kind])]
    docs.append(write(rng, other, other.name(rng))[0])
    if len({d.name for d in docs}) < len(docs):
        raise Rejected("a name drawn twice")
    max_results = rng.choice([1, 2, 2, 3])
    return Corpus(docs, max_results), target, shown, max_results


def _search(draft: Draft, doc: Doc, label: str, keyword: str, needles: list[str], first: bool = True) -> str:
    lead = "I need to find" if first else "Now I need to find"
    obs = draft.act(f"{lead} {label} of {doc.name}.", SEARCH_NAME, f"{doc.name} {keyword}")
    part = _result_of(obs, doc.name)
    missing = [n for n in needles if n not in part]
    if missing:
        raise Rejected(f"{missing} not in the result of {doc.name}: {obs[:100]!r}")
    return obs


def _result_of(observation: str, name: str) -> str:
    """The observation's text from the first place that names the entity (its own result)."""
    i = observation.lower().find(name.lower())
    return observation[i : i + 600] if i >= 0 else ""


def _form(asks: tuple[str, ...], split: str, rng: random.Random) -> tuple[int, str]:
    form = rng.choice(forms_for(asks, split if split in ("train", "heldout") else "train", 1))
    return asks.index(form), form


def _copy(rng: random.Random, split: str, scene: Scene, target: Doc, shown: dict[str, str], run: Any) -> dict[str, Any]:
    c = rng.choice(scene.copies)
    i, form = _form(c.asks, split, rng)
    draft = Draft(run)
    _search(draft, target, c.label, c.keyword, [shown[c.slot]])
    ending = Ending(c.answer.format(e=target.name, v=shown[c.slot]), float(target.values[c.slot]) * c.scale, 1e-6)
    return _row(form.format(e=target.name), draft, ending, "dense_copy", f"{scene.kind}:copy:{c.slot}:{i}", split)


def _compute(
    rng: random.Random, split: str, scene: Scene, target: Doc, shown: dict[str, str], run: Any
) -> dict[str, Any]:
    c = rng.choice(scene.computes)
    i, form = _form(c.asks, split, rng)
    k = rng.randint(2, 6)
    draft = Draft(run)
    label = " and ".join(c.uses)
    _search(draft, target, f"the {label}", c.keyword, [shown[s] for s in c.uses])
    expression = c.expression.format(k=k, **{s: plain(shown[s]) for s in c.uses})
    result = draft.calculate(f"Now I need to calculate {expression}.", expression)
    gold = float(evaluate(expression))
    ending = Ending(c.answer.format(e=target.name, r=result, k=k), gold, 1e-6)
    question = form.format(e=target.name, k=k)
    return _row(question, draft, ending, "dense_compute", f"{scene.kind}:compute:{c.name}:{i}", split)


def _missing(
    rng: random.Random,
    split: str,
    scene: Scene,
    target: Doc,
    shown: dict[str, str],
    run: Any,
    missing: tuple[Missing, ...] = (),
) -> dict[str, Any]:
    m = rng.choice(missing or scene.missing)
    i, form = _form(m.asks, split, rng)
    question = form.format(e=target.name)
    draft = Draft(run)
    obs = draft.act(f"I need to find {m.label} of {target.name}.", SEARCH_NAME, f"{target.name} {m.keyword}")
    if not _result_of(obs, target.name):
        raise Rejected("the target's document is not in the results")  # the neighbours must be in view
    return _row(question, draft, not_found(question), "dense_missing", f"{scene.kind}:missing:{i}", split)


def _row(question: str, draft: Draft, ending: Ending, kind: str, template: str, split: str) -> dict[str, Any]:
    return build_row(
        question=question, draft=draft, ending=ending, kind=kind, generator=GENERATOR, template=template, split=split
    )


def rows(rng: random.Random, split: str, weights: tuple[float, ...] = WEIGHTS) -> list[dict[str, Any]]:
    """One corpus and its rows: one copy or compute row, or a pair (a not-found row, then a copy row)."""
    scene = SCENES[rng.choice(sorted(SCENES))]
    qtype = rng.choices(QUESTION_TYPES, weights=weights)[0]
    corpus, target, shown, max_results = _corpus(rng, scene)
    try:
        if qtype == "copy":
            out = [_copy(rng, split, scene, target, shown, corpus.run)]
        elif qtype == "compute":
            out = [_compute(rng, split, scene, target, shown, corpus.run)]
        else:
            out = [
                _missing(rng, split, scene, target, shown, corpus.run),
                _copy(rng, split, scene, target, shown, corpus.run),
            ]
    finally:
        corpus.close()
    for r in out:
        r["meta"]["max_results"] = max_results
        r["meta"]["doc_type"] = scene.kind
    return out


# ---------------------------------------------------------------------------------------------
# The v8 mix (attempt 8): one near-miss not-found per answered row, its neighbour worded like the asked field
# ---------------------------------------------------------------------------------------------
# v7 answered the hand-written corpus's near-misses off a neighbouring number: "How wide is Halden Bridge?"
# from its length, "How many visitors does Brookfield Zoo get?" from its animals, "How many employees does
# Copperleaf have?" from its kinds of tea, a founder from a founding year. Its dense family had 54 not-founds
# against 196 answered rows, and most of its missing fields were far from the stated ones (an owner, an
# opening time). So for v8 every answered dense row comes with a not-found over the SAME corpus (``pair`` with
# a copy, ``pair_compute`` with a computation), and most of those not-founds (``NEAR_SHARE``) ask a field
# worded like one the document states (``NEAR_MISSING``: width beside length, visitors beside animals,
# founder beside founding year, a pear tree's yield beside an apple tree's, a season pass beside a day
# ticket). Three scenes are added (``EXTRA_SCENES``: a bridge, a wildlife park, a firm) whose stated numbers
# have such neighbours; their subjects, names and sentences are this module's own.
EXTRA_SCENES: dict[str, Scene] = {
    "bridge": Scene(
        "bridge",
        lambda r: f"{word(r)} {r.choice(['Bridge', 'Viaduct', 'Crossing'])}",
        {"length": _int(120, 2400), "piers": _int(3, 40), "built": _int(1880, 2015), "cars": _int(2000, 60000)},
        (
            (
                "{e} runs {length} metres from bank to bank on {piers} piers.",
                "Resting on {piers} piers, {e} is {length} metres long.",
            ),
            ("Work on it ended in {built}.", "{e} opened to traffic in {built}."),
            ("Traffic counts show {cars} cars a day on {e}.", "Each day {cars} cars drive over it."),
        ),
        (
            Copy(
                "length",
                ("How long is {e}?", "What is the length of {e} in metres?", "length of {e}?"),
                "the length",
                "metres",
                "{e} is {v} metres long.",
            ),
            Copy(
                "piers",
                ("How many piers does {e} rest on?", "How many piers hold up {e}?"),
                "the number of piers",
                "piers",
                "{e} rests on {v} piers.",
            ),
            Copy(
                "built",
                ("When was {e} finished?", "In what year did {e} open to traffic?"),
                "the year it opened",
                "opened",
                "{e} opened in {v}.",
            ),
            Copy(
                "cars",
                ("How many cars cross {e} a day?", "How many cars drive over {e} each day?"),
                "the daily cars",
                "cars",
                "{v} cars cross {e} a day.",
            ),
        ),
        (
            Compute(
                "km",
                ("How long is {e} in kilometres?", "What is the length of {e}, in km?"),
                ("length",),
                "metres",
                "{length} / 1000",
                "{e} is {r} kilometres long.",
            ),
            Compute(
                "week",
                ("How many cars cross {e} in {k} days?", "How many cars drive over {e} in {k} days?"),
                ("cars",),
                "cars",
                "{k} * {cars}",
                "{r} cars cross {e} in {k} days.",
            ),
            Compute(
                "age",
                ("How many years had {e} been open in 2024?", "How old was {e} in 2024?"),
                ("built",),
                "opened",
                "2024 - {built}",
                "{e} had been open {r} years in 2024.",
            ),
        ),
        (
            Missing(("Who designed {e}?", "Which engineer designed {e}?"), "the designer", "designed"),
            Missing(("What did {e} cost to build?", "How much did building {e} cost?"), "the building cost", "cost"),
        ),
    ),
    "park": Scene(
        "park",
        lambda r: f"{word(r)} {r.choice(['Wildlife Park', 'Safari Park', 'Animal Reserve'])}",
        {"animals": _int(150, 4000), "species": _int(20, 300), "hectares": _int(10, 900), "ticket": _even(10, 40)},
        (
            (
                "{e} keeps {animals} animals of {species} species.",
                "Some {species} species live at {e}, {animals} animals in all.",
            ),
            ("The park spreads over {hectares} hectares.", "Its grounds cover {hectares} hectares."),
            ("A day ticket costs {ticket} dollars, and under-fives go free.", "Day tickets are {ticket} dollars."),
        ),
        (
            Copy(
                "animals",
                ("How many animals live at {e}?", "How many animals does {e} keep?", "animals at {e}?"),
                "the number of animals",
                "animals",
                "{e} keeps {v} animals.",
            ),
            Copy(
                "species",
                ("How many species does {e} have?", "How many species live at {e}?"),
                "the number of species",
                "species",
                "{e} has {v} species.",
            ),
            Copy(
                "hectares",
                ("How many hectares does {e} cover?", "How big are the grounds of {e} in hectares?"),
                "the size",
                "hectares",
                "{e} covers {v} hectares.",
            ),
            Copy(
                "ticket",
                ("What does a day ticket to {e} cost?", "How much is a day at {e}?"),
                "the day ticket price",
                "ticket",
                "A day ticket to {e} costs {v} dollars.",
            ),
        ),
        (
            Compute(
                "per_species",
                ("On average, how many animals of each species does {e} keep?", "How many animals per species at {e}?"),
                ("animals", "species"),
                "animals species",
                "round({animals} / {species}, 2)",
                "{e} keeps about {r} animals per species.",
            ),
            Compute(
                "group",
                ("What do {k} day tickets to {e} cost?", "How much do {k} people pay for a day at {e}?"),
                ("ticket",),
                "ticket",
                "{k} * {ticket}",
                "{k} day tickets cost {r} dollars.",
            ),
            Compute(
                "km2",
                ("How many square kilometres does {e} cover?", "What is the area of {e} in km²?"),
                ("hectares",),
                "hectares",
                "{hectares} / 100",
                "{e} covers {r} square kilometres.",
            ),
        ),
        (
            Missing(("When did {e} open?", "In what year was {e} opened?"), "the opening year", "opened"),
            Missing(("Who owns {e}?", "Who runs {e}?"), "the owner", "owner"),
        ),
    ),
    "firm": Scene(
        "firm",
        lambda r: f"{word(r)} {r.choice(['Company', 'Works', 'Traders'])}",
        {"started": _int(1850, 2010), "shops": _int(2, 60), "products": _int(5, 120), "sales": _int(2, 400)},
        (
            ("{e} was started in {started}.", "{e} has been trading since {started}."),
            (
                "It runs {shops} shops and sells {products} products.",
                "Its {products} products are sold in {shops} shops.",
            ),
            ("Last year its sales came to {sales} million dollars.", "Sales last year were {sales} million dollars."),
        ),
        (
            Copy(
                "started",
                ("When was {e} started?", "In what year was {e} started?", "since when has {e} been trading?"),
                "the year it started",
                "started",
                "{e} was started in {v}.",
            ),
            Copy(
                "shops",
                ("How many shops does {e} run?", "How many shops does {e} have?"),
                "the number of shops",
                "shops",
                "{e} runs {v} shops.",
            ),
            Copy(
                "products",
                ("How many products does {e} sell?", "How many different products does {e} offer?"),
                "the number of products",
                "products",
                "{e} sells {v} products.",
            ),
            Copy(
                "sales",
                ("What were the sales of {e} last year?", "How much did {e} sell last year?"),
                "the sales",
                "sales",
                "Sales of {e} last year were {v} million dollars.",
                1e6,
            ),
        ),
        (
            Compute(
                "age",
                ("For how many years had {e} been trading in 2024?", "How old was {e} in 2024?"),
                ("started",),
                "started",
                "2024 - {started}",
                "{e} had been trading for {r} years in 2024.",
            ),
            Compute(
                "per_shop",
                (
                    "On average, how many dollars of sales did each shop of {e} make last year?",
                    "What were the sales per shop of {e} in dollars?",
                ),
                ("sales", "shops"),
                "sales shops",
                "round({sales} * 1000000 / {shops}, 2)",
                "Each shop made about {r} dollars of sales.",
            ),
        ),
        (
            Missing(("Where is {e} based?", "In which city is {e}?"), "the city", "based"),
            Missing(("Who runs {e} today?", "Who is the chief executive of {e}?"), "the chief executive", "chief"),
        ),
    ),
}
# per scene kind: not-founds whose asked field is worded like a field the document states (the near-miss shape)
NEAR_MISSING: dict[str, tuple[Missing, ...]] = {
    "cinema": (
        Missing(
            ("How many visitors does {e} get a year?", "How many people go to {e} each year?"),
            "the visitors",
            "visitors",
        ),
        Missing(
            ("What does a ticket for a 3D film at {e} cost?", "How much is a late-night ticket at {e}?"),
            "the 3D ticket price",
            "ticket",
        ),
        Missing(
            ("How many parking spaces does {e} have?", "How many cars can park at {e}?"),
            "the parking spaces",
            "parking",
        ),
    ),
    "pool": (
        Missing(("How wide is the pool at {e}?", "What is the width of the pool at {e}?"), "the width", "wide"),
        Missing(
            ("How many swimmers visit {e} each day?", "How many people swim at {e} a day?"),
            "the daily swimmers",
            "swimmers",
        ),
        Missing(("What does a towel at {e} cost?", "How much is a swim cap at {e}?"), "the towel price", "towel"),
    ),
    "orchard": (
        Missing(
            (
                "How many kilograms of fruit does a pear tree at {e} give?",
                "What does one pear tree at {e} yield a year?",
            ),
            "the pear tree yield",
            "pear trees",
        ),
        Missing(
            ("What does a crate of apples from {e} cost?", "How much is one crate of fruit from {e}?"),
            "the crate price",
            "crate",
        ),
        Missing(("How many people work at {e}?", "How many pickers does {e} employ?"), "the workers", "workers"),
    ),
    "school": (
        Missing(("Who founded {e}?", "Who was the founder of {e}?"), "the founder", "founded"),
        Missing(
            ("How many teaching assistants work at {e}?", "How many support staff does {e} have?"),
            "the teaching assistants",
            "teachers",
        ),
        Missing(
            ("How many students left {e} last year?", "How many pupils graduated from {e} last year?"),
            "the leavers",
            "students",
        ),
    ),
    "course": (
        Missing(
            ("How many people are on the waiting list for the {e}?", "How long is the waiting list of the {e}?"),
            "the waiting list",
            "places",
        ),
        Missing(
            (
                "How long is the break in a session of the {e}?",
                "How many minutes of break does a session of the {e} have?",
            ),
            "the break",
            "minutes",
        ),
        Missing(
            ("What do the materials for the {e} cost?", "How much is the materials fee of the {e}?"),
            "the materials fee",
            "fee",
        ),
    ),
    "fund": (
        Missing(("Who set up {e}?", "Which person set up {e}?"), "the founder", "since"),
        Missing(("How many volunteers does {e} have?", "How many volunteers help {e}?"), "the volunteers", "staff"),
        Missing(
            ("What was the largest grant {e} gave last year?", "How big was the biggest grant of {e}?"),
            "the largest grant",
            "grants",
        ),
    ),
    "bridge": (
        Missing(("How wide is {e}?", "What is the width of {e}?"), "the width", "metres"),
        Missing(
            ("How many cyclists cross {e} a day?", "How many trucks drive over {e} each day?"),
            "the daily cyclists",
            "cars",
        ),
        Missing(("How high is {e} above the water?", "How tall are the piers of {e}?"), "the height", "piers"),
    ),
    "park": (
        Missing(
            ("How many visitors does {e} get each year?", "How many people visit {e} a year?"),
            "the visitors",
            "animals",
        ),
        Missing(
            ("How many keepers work at {e}?", "How many keepers look after the animals at {e}?"),
            "the keepers",
            "animals",
        ),
        Missing(
            ("What does a season pass for {e} cost?", "How much is a yearly pass to {e}?"),
            "the season pass price",
            "ticket",
        ),
    ),
    "firm": (
        Missing(("Who started {e}?", "Which family started {e}?"), "the founder", "started"),
        Missing(("How many employees does {e} have?", "How many people work for {e}?"), "the employees", "shops"),
        Missing(
            ("What was the profit of {e} last year?", "How much profit did {e} make last year?"), "the profit", "sales"
        ),
    ),
}
ALL_SCENES: dict[str, Scene] = {**SCENES, **EXTRA_SCENES}
QUESTION_TYPES_V8 = ("copy", "compute", "pair", "pair_compute")  # pair*: a not-found, then a copy / computation
# per corpus; rows: ~47 % not-found, ~0.9 not-found per answered row (each paired one: one)
WEIGHTS_V8 = (3, 7, 45, 45)
NEAR_SHARE = 0.75  # of the not-founds: a near-miss (NEAR_MISSING); the rest the scene's own missing fields


def rows_v8(rng: random.Random, split: str, weights: tuple[float, ...] = WEIGHTS_V8) -> list[dict[str, Any]]:
    """One corpus over ``ALL_SCENES`` and its rows: a copy or a computation alone, or a pair (a not-found,
    mostly a near-miss, then a copy or a computation over the same corpus)."""
    scene = ALL_SCENES[rng.choice(sorted(ALL_SCENES))]
    qtype = rng.choices(QUESTION_TYPES_V8, weights=weights)[0]
    corpus, target, shown, max_results = _corpus(rng, scene, ALL_SCENES)
    try:
        if qtype == "copy":
            out = [_copy(rng, split, scene, target, shown, corpus.run)]
        elif qtype == "compute":
            out = [_compute(rng, split, scene, target, shown, corpus.run)]
        else:
            near = rng.random() < NEAR_SHARE
            missing = NEAR_MISSING[scene.kind] if near else scene.missing
            miss = _missing(rng, split, scene, target, shown, corpus.run, missing)
            miss["meta"]["near_miss"] = near
            answer = (_copy if qtype == "pair" else _compute)(rng, split, scene, target, shown, corpus.run)
            out = [miss, answer]
    finally:
        corpus.close()
    for r in out:
        r["meta"]["max_results"] = max_results
        r["meta"]["doc_type"] = scene.kind
    return out
