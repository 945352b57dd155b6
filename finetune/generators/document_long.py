"""Long documents (the v12 mix, attempt 12): several facts of one kind per document, read as passages.

Since rule P1b the local Search shows a result of more than 400 characters as its passage about the query
(``agent.tools.search.passage``): the "# Title" heading, the sentences and list items that state a query word
other than the title's, then the first sentences, in document order, with "..." where text was left out; a
later chunk of a document (``agent.knowledge._chunks``: 800 characters) is shown as "Title: text". No earlier
mix had such observations. Each ``Scene`` here writes a document of 600-1,500 characters in 3-5 paragraphs
(some ``## `` subheadings, some ``- `` lists, some titles with a colon: "Name: Price List") that states three
or four prices of one kind (tiers), two or three people with their roles, and several counts, the facts
placed anywhere (often in the second half). Questions over a corpus of it and same-scene distractors:

* copy one fact (the answer states the value with its unit: "Brenvale Leisure's full membership costs £34 a
  month.");
* compute from one or two facts through the Calculator (a difference or a sum of two tiers, two adults and a
  child, the price of one visit of a multi-visit pass, a count per count);
* a near miss (a tier, role or count of the scene's pool the document does not state: the not-found answer),
  always paired with an answered row over the same corpus;
* an entity no document names (its search returns other documents: the not-found answer).

Every observation is the real Search tool over a fresh index of the corpus (2 results, as the eval harness
runs it) and is checked against ``format_hits(LocalIndex.search(query, 2), query=query)``; every answered row
needs its values in the target's own results and scores against its gold before it is kept. Names and values
are drawn at random (nothing to memorise); the subjects and wordings are this module's own. The last ask form
of every question is held out of train (``split='heldout'``).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.loop import format_observation
from agent.prompt import SEARCH_NAME
from agent.tools.calculator import evaluate
from agent.tools.search import LocalIndex, format_hits, passage
from finetune.generators.base import (
    OBSERVATION_MAX_CHARS,
    Draft,
    Ending,
    Rejected,
    build_row,
    find_number,
    forms_for,
    not_found,
    plain,
)
from finetune.generators.document_names import CITY, number_text, person, word
from finetune.generators.documents import Corpus, Doc

GENERATOR = "document_long"
MAX_RESULTS = 2  # the eval harness's --max-results
MIN_CHARS, MAX_CHARS = 600, 1500


@dataclass(frozen=True)
class Tier:
    """A priced option of a scene ("Full" membership, "Adult" ticket)."""

    label: str  # as the document lists it: "Full", "Off-peak"


@dataclass(frozen=True)
class Count:
    key: str
    says: tuple[str, ...]  # over {e} {v}
    asks: tuple[str, ...]  # over {e}; the last held out of train
    label: str  # thought text
    keyword: str  # what the search adds to the name
    answer: str  # over {e} {v}
    draw: tuple[int, int]
    listed: str  # "- Courts: 6"


@dataclass(frozen=True)
class Scene:
    kind: str
    name: Callable[[random.Random], str]
    titles: tuple[str, ...]  # colon suffixes: "{name}: {suffix}"
    noun: str  # "membership"
    period: str  # " a month", "" ...
    prices: tuple[int, int]  # whole units; some drawn with 50 pence / cents
    tiers: tuple[str, ...]  # the pool: 3-4 stated, a near miss asks another
    price_says: tuple[str, ...]  # over {e} {T} {t} {n} {v}
    price_asks: tuple[str, ...]  # over {e} {t} {n}
    price_answer: str  # over {e} {t} {n} {v}
    roles: tuple[str, ...]  # the pool: 2-3 stated
    counts: tuple[Count, ...]  # the pool: 2-3 stated
    fillers: tuple[str, ...]  # over {e} {city} {year} {day}
    bundle: tuple[str, str, str] | None = None  # unit ("swim"), says over {e} {k} {v}, what it is ("card")
    family: bool = False  # tiers include Adult and Child: "two adults and a child"
    ratio: tuple[str, str, str, str, str] | None = None  # counts a, b, "/" or "*", ask over {e}, answer over {e} {r}


def _gym_name(r: random.Random) -> str:
    return f"{word(r)} {r.choice(['Leisure', 'Fitness', 'Sports Club', 'Health Club'])}"


# sentences any scene's document may add (no price, role or count of a scene's pools)
GENERIC_FILLERS = (
    "Payment can be made by card or in cash at the desk.",
    "The building has step-free access and an accessible toilet.",
    "Questions can be sent by email and are answered within two working days.",
    "Opening times change on bank holidays and are posted at the entrance.",
    "A newsletter goes out at the start of each season.",
    "Prices were last reviewed in the spring and hold until further notice.",
    "Please keep to the marked paths and take litter home.",
    "Bookings can be changed once free of charge.",
    "The nearest bus stop is a short walk from the entrance.",
    "Refunds are given only when the site has to close.",
    "Photographs may be taken for personal use.",
    "Anyone under sixteen must be with an adult.",
)
_DAYS = "Monday Tuesday Wednesday Thursday Friday Saturday Sunday".split()
_STD_ROLE_SAYS = ("{p} is the {r}.", "The {r} is {p}.", "{p} works as the {r}.", "The post of {r} is held by {p}.")

SCENES: dict[str, Scene] = {
    "club": Scene(
        "club",
        _gym_name,
        ("Membership Terms", "Price List", "Member Guide"),
        "membership",
        " a month",
        (12, 90),
        ("Off-peak", "Full", "Family", "Student", "Senior", "Weekend", "Corporate"),
        ("{T} membership costs {v}.", "The {t} membership is {v}.", "{At} membership at {e} costs {v}."),
        (
            "How much is the {t} membership at {e}?",
            "What does {at} membership at {e} cost?",
            "What is the price of {e}'s {t} membership?",
        ),
        "{e}'s {t} membership costs {v}.",
        ("manager", "head coach", "swimming teacher", "membership secretary", "duty manager"),
        (
            Count(
                "studios",
                ("The club has {v} studios.", "There are {v} studios for classes."),
                ("How many studios does {e} have?", "How many class studios are there at {e}?"),
                "the number of studios",
                "studios",
                "{e} has {v} studios.",
                (2, 9),
                "Studios",
            ),
            Count(
                "courts",
                ("It has {v} squash courts.", "Members can book {v} squash courts."),
                ("How many squash courts does {e} have?", "How many squash courts can members book at {e}?"),
                "the number of squash courts",
                "squash courts",
                "{e} has {v} squash courts.",
                (2, 8),
                "Squash courts",
            ),
            Count(
                "members",
                ("{e} has {v} members.", "The club counts {v} members."),
                ("How many members does {e} have?", "How many people are members of {e}?"),
                "the number of members",
                "members",
                "{e} has {v} members.",
                (300, 6000),
                "Members",
            ),
            Count(
                "classes",
                ("It runs {v} classes a week.", "The timetable holds {v} classes a week."),
                ("How many classes a week does {e} run?", "How many weekly classes are on the timetable at {e}?"),
                "the weekly classes",
                "classes",
                "{e} runs {v} classes a week.",
                (20, 140),
                "Classes a week",
            ),
            Count(
                "lockers",
                ("The changing rooms hold {v} lockers.", "There are {v} lockers in the changing rooms."),
                ("How many lockers does {e} have?", "How many lockers are in the changing rooms at {e}?"),
                "the number of lockers",
                "lockers",
                "{e} has {v} lockers.",
                (40, 400),
                "Lockers",
            ),
        ),
        (
            "{e} opened in {year} on the edge of {city}.",
            "The club is open every day except {day}s during the winter holidays.",
            "Towels can be hired at the front desk.",
            "Members may bring a guest once a week.",
            "Parking is free for the first two hours.",
            "The café beside the pool serves breakfast until eleven.",
            "Lost property is kept at reception for a month.",
            "Notice of cancellation must be given in writing.",
            "The building was refitted after a flood in {year}.",
        ),
        bundle=("visit", "A card of {k} visits costs {v} for non-members.", "visit card"),
        ratio=(
            "members",
            "studios",
            "/",
            "How many members does {e} have per studio?",
            "{e} has {r} members per studio.",
        ),
    ),
    "ferry": Scene(
        "ferry",
        lambda r: f"{word(r)} {r.choice(['Ferry', 'Crossing', 'Island Ferries'])}",
        ("Fares and Timetable", "Fares", "Passenger Guide"),
        "fare",
        "",
        (3, 60),
        ("Adult", "Child", "Senior", "Bicycle", "Car", "Motorbike", "Dog"),
        ("The {t} fare is {v}.", "{T} fares cost {v}.", "{At} fare on {e} is {v}."),
        (
            "How much is the {t} fare on {e}?",
            "What does {e} charge for {at} fare?",
            "What is the {t} fare of {e}?",
        ),
        "The {t} fare on {e} is {v}.",
        ("captain", "harbour master", "booking clerk", "chief engineer", "deckhand"),
        (
            Count(
                "crossings",
                ("The boat makes {v} crossings a day.", "There are {v} crossings each day."),
                ("How many crossings a day does {e} make?", "How many times a day does {e} cross?"),
                "the daily crossings",
                "crossings",
                "{e} makes {v} crossings a day.",
                (3, 18),
                "Crossings a day",
            ),
            Count(
                "passengers",
                ("It carries up to {v} passengers.", "The boat has room for {v} passengers."),
                ("How many passengers can {e} carry?", "How many passengers is the boat of {e} allowed to take?"),
                "the passenger limit",
                "passengers",
                "{e} carries up to {v} passengers.",
                (40, 600),
                "Passengers",
            ),
            Count(
                "cars",
                ("The car deck takes {v} cars.", "Up to {v} cars fit on the deck."),
                ("How many cars does the deck of {e} take?", "How many cars fit on {e}?"),
                "the car spaces",
                "cars deck",
                "The car deck of {e} takes {v} cars.",
                (6, 80),
                "Car spaces",
            ),
            Count(
                "minutes",
                ("A crossing takes {v} minutes.", "The trip across lasts {v} minutes."),
                ("How long does a crossing with {e} take?", "How many minutes is the trip with {e}?"),
                "the crossing time",
                "crossing minutes",
                "A crossing with {e} takes {v} minutes.",
                (15, 95),
                "Crossing time (minutes)",
            ),
        ),
        (
            "{e} has sailed from {city} harbour since {year}.",
            "Tickets can be bought on board or at the harbour office.",
            "Sailings may be cancelled in high winds.",
            "The last boat leaves half an hour after sunset.",
            "Passengers should arrive ten minutes before departure.",
            "There is no sailing on {day} mornings in January.",
            "The waiting room at the pier has a small kiosk.",
        ),
        bundle=("crossing", "A book of {k} crossings costs {v}.", "book of crossings"),
        family=True,
        ratio=(
            "passengers",
            "crossings",
            "*",
            "How many passengers can {e} carry a day in all?",
            "{e} can carry {r} passengers a day.",
        ),
    ),
    "hall": Scene(
        "hall",
        lambda r: f"{r.choice(CITY)} {r.choice(['Village Hall', 'Community Centre', 'Parish Rooms'])}",
        ("Room Hire", "Hire Charges", "Booking Guide"),
        "room",
        " an hour",
        (6, 70),
        ("Main hall", "Small hall", "Kitchen", "Meeting room", "Stage", "Garden room", "Studio"),
        ("The {t} costs {v} to hire.", "Hire of the {t} is {v}.", "{T} hire costs {v}."),
        (
            "How much does it cost to hire the {t} at {e}?",
            "What is the hire charge for the {t} at {e}?",
            "What does {e} charge for the {t}?",
        ),
        "Hiring the {t} at {e} costs {v}.",
        ("booking secretary", "caretaker", "treasurer", "chair", "bar manager"),
        (
            Count(
                "seats",
                ("The main hall seats {v} people.", "Up to {v} people can be seated in the main hall."),
                (
                    "How many people does the main hall of {e} seat?",
                    "How many seats are there in the main hall at {e}?",
                ),
                "the seats",
                "seats",
                "The main hall of {e} seats {v} people.",
                (60, 400),
                "Seats",
            ),
            Count(
                "tables",
                ("There are {v} folding tables.", "The store holds {v} tables."),
                ("How many tables does {e} have?", "How many folding tables are there at {e}?"),
                "the number of tables",
                "tables",
                "{e} has {v} tables.",
                (8, 60),
                "Tables",
            ),
            Count(
                "parking",
                ("The car park has {v} spaces.", "There are {v} parking spaces."),
                ("How many parking spaces does {e} have?", "How many cars can park at {e}?"),
                "the parking spaces",
                "parking spaces",
                "{e} has {v} parking spaces.",
                (10, 120),
                "Parking spaces",
            ),
            Count(
                "bookings",
                ("Last year the rooms were booked {v} times.", "It took {v} bookings last year."),
                ("How many bookings did {e} take last year?", "How many times were the rooms of {e} booked last year?"),
                "the bookings",
                "bookings",
                "{e} took {v} bookings last year.",
                (120, 2400),
                "Bookings last year",
            ),
        ),
        (
            "{e} was built in {year} by public subscription.",
            "Keys are collected from the caretaker.",
            "Bookings close at midnight.",
            "Smoking is not allowed anywhere on the site.",
            "The rooms are cleaned every {day}.",
            "A deposit is returned after the rooms are checked.",
            "The hall stands next to the church in {city}.",
        ),
        bundle=("hour", "A block of {k} hours in the main hall costs {v}.", "block of hours"),
        ratio=("seats", "tables", "/", "How many seats are there per table at {e}?", "There are {r} seats per table."),
    ),
    "campsite": Scene(
        "campsite",
        lambda r: f"{word(r)} {r.choice(['Campsite', 'Camping Park', 'Holiday Park'])}",
        ("Prices", "Pitch Prices", "Visitor Information"),
        "pitch",
        " a night",
        (8, 55),
        ("Tent", "Caravan", "Campervan", "Hardstanding", "Electric", "Group", "Cabin"),
        ("{At} pitch costs {v}.", "{T} pitches are {v}.", "The {t} pitch rate is {v}."),
        (
            "How much is {at} pitch at {e}?",
            "What does {at} pitch at {e} cost?",
            "What is the {t} pitch rate at {e}?",
        ),
        "{At} pitch at {e} costs {v}.",
        ("warden", "owner", "site manager", "groundskeeper", "shop manager"),
        (
            Count(
                "pitches",
                ("The site has {v} pitches.", "There are {v} pitches in all."),
                ("How many pitches does {e} have?", "How many pitches are there at {e}?"),
                "the number of pitches",
                "pitches",
                "{e} has {v} pitches.",
                (20, 300),
                "Pitches",
            ),
            Count(
                "fields",
                ("They are spread over {v} fields.", "The pitches lie in {v} fields."),
                ("How many fields does {e} have?", "Over how many fields are the pitches of {e} spread?"),
                "the number of fields",
                "fields",
                "{e} has {v} fields.",
                (2, 9),
                "Fields",
            ),
            Count(
                "showers",
                ("The toilet block has {v} showers.", "There are {v} showers."),
                ("How many showers does {e} have?", "How many showers are in the toilet block at {e}?"),
                "the number of showers",
                "showers",
                "{e} has {v} showers.",
                (4, 30),
                "Showers",
            ),
            Count(
                "acres",
                ("The park covers {v} acres.", "Its grounds cover {v} acres."),
                ("How many acres does {e} cover?", "How big are the grounds of {e} in acres?"),
                "the size",
                "acres",
                "{e} covers {v} acres.",
                (5, 120),
                "Acres",
            ),
        ),
        (
            "{e} lies two miles outside {city}.",
            "Arrivals are welcome from two in the afternoon.",
            "Quiet hours run from ten at night to seven in the morning.",
            "Campfires are allowed only in the fire pits.",
            "The shop sells gas, milk and bread.",
            "The site has been run by one family since {year}.",
            "Bins are emptied every {day}.",
        ),
        ratio=(
            "pitches",
            "fields",
            "/",
            "How many pitches are there per field at {e}?",
            "{e} has {r} pitches per field.",
        ),
    ),
    "gardens": Scene(
        "gardens",
        lambda r: f"{word(r)} {r.choice(['Gardens', 'Castle', 'Abbey', 'Museum'])}",
        ("Admission", "Opening Times and Prices", "Visitor Guide"),
        "ticket",
        "",
        (4, 30),
        ("Adult", "Child", "Senior", "Student", "Family", "Group"),
        ("{T} tickets cost {v}.", "{At} ticket is {v}.", "The {t} ticket to {e} costs {v}."),
        (
            "How much is {at} ticket to {e}?",
            "What does {e} charge for {at} ticket?",
            "What is the price of {at} ticket for {e}?",
        ),
        "{At} ticket to {e} costs {v}.",
        ("head gardener", "curator", "director", "education officer", "estate manager"),
        (
            Count(
                "acres",
                ("The grounds cover {v} acres.", "The estate covers {v} acres."),
                ("How many acres does {e} cover?", "How big are the grounds of {e}?"),
                "the size of the grounds",
                "acres",
                "The grounds of {e} cover {v} acres.",
                (5, 300),
                "Acres",
            ),
            Count(
                "visitors",
                ("It welcomed {v} visitors last year.", "Last year {v} people visited."),
                ("How many visitors did {e} have last year?", "How many people visited {e} last year?"),
                "last year's visitors",
                "visitors",
                "{e} had {v} visitors last year.",
                (2000, 250000),
                "Visitors last year",
            ),
            Count(
                "rooms",
                ("{v} rooms are open to the public.", "Visitors can see {v} rooms."),
                ("How many rooms of {e} are open to the public?", "How many rooms can visitors see at {e}?"),
                "the rooms open to visitors",
                "rooms",
                "{e} has {v} rooms open to the public.",
                (4, 40),
                "Rooms open",
            ),
            Count(
                "volunteers",
                ("{v} volunteers help on the site.", "The site relies on {v} volunteers."),
                ("How many volunteers help at {e}?", "How many volunteers does {e} rely on?"),
                "the number of volunteers",
                "volunteers",
                "{e} has {v} volunteers.",
                (10, 200),
                "Volunteers",
            ),
        ),
        (
            "{e} was opened to the public in {year}.",
            "The tea room is in the old stables.",
            "Dogs on leads are welcome in the grounds.",
            "The last entry is an hour before closing.",
            "The site is closed on {day}s from November to February.",
            "A free bus runs from {city} station at weekends.",
            "Guided walks start at the main gate.",
        ),
        bundle=("entry", "A pass for {k} entries costs {v}.", "multi-entry pass"),
        family=True,
        ratio=(
            "visitors",
            "volunteers",
            "/",
            "How many visitors did {e} have per volunteer last year?",
            "{e} had {r} visitors per volunteer last year.",
        ),
    ),
}
_ROLE_LIST = ("- {R}: {p}", "- {p}, {r}", "- {R} — {p}")
_CURRENCIES = ("£", "$", "€")


def _cap(s: str) -> str:
    return s[0].upper() + s[1:]


def _a(word_: str) -> str:
    """The article for ``word_``: "an off-peak", "a full"."""
    return ("an " if word_[0].lower() in "aeio" else "a ") + word_


def _tier(tier: str, noun: str) -> dict[str, str]:
    """The fields a price form is written with: {t} "off-peak", {T} "Off-peak", {at} "an off-peak", {n} noun."""
    low = tier.lower()
    return {"t": low, "T": tier, "at": _a(low), "At": _cap(_a(low)), "n": noun}


def _price(rng: random.Random, lo: int, hi: int) -> float:
    v = rng.randint(lo, hi)
    return v + 0.5 if rng.random() < 0.25 else float(v)


def _money(cur: str, v: float) -> str:
    return f"{cur}{v:.2f}" if v != int(v) else f"{cur}{int(v)}"


@dataclass
class Long:
    """A long document of a scene and what it states."""

    doc: Doc
    name: str  # the entity
    title: str  # its heading: the name, or "name: suffix"
    cur: str
    prices: dict[str, float]  # tier label -> price
    people: dict[str, str]  # role -> person
    counts: dict[str, int]
    bundle: tuple[int, float] | None  # (k, price)
    style: str  # how the prices are written: prose, list_colon ("- Full: £34 a month"), list_comma, list_dash

    def price_text(self, scene: Scene, tier: str) -> str:
        return _money(self.cur, self.prices[tier]) + scene.period


def write(rng: random.Random, scene: Scene, name: str) -> Long:
    """A 600-1,500 character document of ``scene`` about ``name`` (``Rejected`` outside those lengths)."""
    cur = rng.choice(_CURRENCIES)
    tiers = rng.sample(scene.tiers, rng.randint(3, 4))
    if scene.family and rng.random() < 0.6:  # the two-adults-and-a-child computations need both tiers
        tiers = ["Adult", "Child"] + [t for t in tiers if t not in ("Adult", "Child")][: rng.randint(1, 2)]
    prices: dict[str, float] = {}
    for t in tiers:
        p = _price(rng, *scene.prices)
        while p in prices.values():
            p += 1
        prices[t] = p
    if "Adult" in prices and "Child" in prices and prices["Child"] >= prices["Adult"]:
        prices["Adult"], prices["Child"] = max(prices["Adult"], prices["Child"]), min(prices["Adult"], prices["Child"])
    roles = rng.sample(scene.roles, rng.randint(2, 3))
    people = {r: person(rng) for r in roles}
    counts = {c.key: rng.randint(*c.draw) for c in rng.sample(scene.counts, rng.randint(2, 3))}
    if scene.ratio and rng.random() < 0.5:
        for key in scene.ratio[:2]:
            if key not in counts:
                counts[key] = rng.randint(*next(c.draw for c in scene.counts if c.key == key))
    bundle = None
    if scene.bundle and rng.random() < 0.5:
        k = rng.choice([5, 6, 8, 10, 12, 20])
        bundle = (k, round(k * _price(rng, *scene.prices) * rng.uniform(0.7, 0.9)))
    fill = {"city": rng.choice(CITY), "year": rng.randint(1880, 2015), "day": rng.choice(_DAYS), "e": name}
    fillers = [f.format(**fill) for f in rng.sample(scene.fillers, len(scene.fillers))]
    fillers += rng.sample(GENERIC_FILLERS, len(GENERIC_FILLERS))

    def money(t: str) -> str:
        return _money(cur, prices[t]) + scene.period

    # the prices paragraph: a list (often with a subheading) or prose
    if rng.random() < 0.55:
        lead = rng.choice([f"{_cap(scene.noun)} prices:", f"{_cap(scene.noun)} charges are as follows.", ""])
        item = rng.choice(["- {T}: {v}", "- {T} {n}, {v}", "- {T} — {v}"])
        style = {"- {T}: {v}": "list_colon", "- {T} {n}, {v}": "list_comma", "- {T} — {v}": "list_dash"}[item]
        lines = [item.format(T=t, n=scene.noun, v=money(t)) for t in tiers]
        prices_par = "\n".join(([lead] if lead else []) + lines)
    else:
        style = "prose"
        prices_par = " ".join(
            _cap(rng.choice(scene.price_says).format(e=name, v=money(t), **_tier(t, scene.noun))) for t in tiers
        )
    if bundle and scene.bundle is not None:
        prices_par += ("\n" if prices_par.count("\n") else " ") + scene.bundle[1].format(
            e=name, k=bundle[0], v=_money(cur, bundle[1])
        )
    if rng.random() < 0.4:
        prices_par = f"## {rng.choice(['Prices', 'Charges', _cap(scene.noun) + ' prices'])}\n{prices_par}"
    # the people paragraph
    if rng.random() < 0.35:
        item = rng.choice(_ROLE_LIST)
        people_par = "\n".join(item.format(R=_cap(r), r=r, p=p) for r, p in people.items())
        people_par = f"## {rng.choice(['Staff', 'Who is who', 'Contacts'])}\n{people_par}"
    else:
        people_par = " ".join(_cap(rng.choice(_STD_ROLE_SAYS).format(p=p, r=r)) for r, p in people.items())
        if rng.random() < 0.3:
            people_par = f"## {rng.choice(['Staff', 'People'])}\n{people_par}"
    # the counts paragraph, with fillers around the facts
    by_key = {c.key: c for c in scene.counts}
    count_sents = [
        _cap(rng.choice(by_key[k].says).format(e=name, v=number_text(rng, v) if v >= 1000 else str(v)))
        for k, v in counts.items()
    ]
    counts_par = " ".join(count_sents[:1] + fillers[:1] + count_sents[1:])
    intro = " ".join(fillers[1:3])
    body = [prices_par, people_par, counts_par]
    rng.shuffle(body)
    paragraphs = [intro, *body]
    extra = fillers[3:]
    title = name if rng.random() < 0.5 else f"{name}: {rng.choice(scene.titles)}"
    target = rng.randint(MIN_CHARS, 1300)
    while True:
        text = f"# {title}\n\n" + "\n\n".join(p for p in paragraphs if p) + "\n"
        if len(text) >= target or not extra:
            break
        # longer: one more filler sentence at the end of a prose paragraph or a closing paragraph
        if rng.random() < 0.4:
            paragraphs.append(extra.pop(0))
        else:
            i = rng.randint(0, len(paragraphs) - 1)
            paragraphs[i] = f"{paragraphs[i]} {extra.pop(0)}" if not paragraphs[i].count("\n") else paragraphs[i]
    if not MIN_CHARS <= len(text) <= MAX_CHARS:
        raise Rejected(f"a document of {len(text)} characters")
    values: dict[str, Any] = {f"price:{t}": p for t, p in prices.items()}
    values.update({f"role:{r}": p for r, p in people.items()})
    values.update({f"count:{k}": v for k, v in counts.items()})
    slug = name.lower().replace(" ", "_")
    doc = Doc(scene.kind, title, values, text, f"{slug}.md")
    return Long(doc, name, title, cur, prices, people, counts, bundle, style)


def _name_of(long: Long) -> str:
    """The entity's name (the title without its colon suffix)."""
    return long.name


class LongCorpus:
    """A corpus of long documents with the live tools (2 results) and an index to check observations against."""

    def __init__(self, docs: list[Doc]) -> None:
        self.corpus = Corpus(docs, MAX_RESULTS)
        self.index = LocalIndex(Path(self.corpus._dir.name) / "index.db")

    def search(self, draft: Draft, thought: str, query: str) -> list[tuple[str, str]]:
        """Run the Search step; (title, shown text) per result, as the observation shows them."""
        obs = draft.act(thought, SEARCH_NAME, query)
        hits = self.index.search(query, MAX_RESULTS)
        expected = format_observation(format_hits(hits, query=query), OBSERVATION_MAX_CHARS)
        if obs != expected:  # the generator renders exactly what the shipped tool shows
            raise AssertionError(f"observation differs from format_hits: {obs[:80]!r} vs {expected[:80]!r}")
        parts = []
        for h in hits:
            text = " ".join(h.body.split())
            prefix = "" if text.lower().startswith(h.title.lower()) else f"{h.title}: "
            parts.append((h.title, passage(h.title, text, query, 400 - len(prefix))))
        return parts

    def close(self) -> None:
        self.corpus.close()


def _own(parts: list[tuple[str, str]], title: str) -> str:
    return " ".join(t for ti, t in parts if ti == title)


def _has_number(text: str, value: float) -> bool:
    return find_number(text, value) is not None


def _form(asks: Sequence[str], split: str, rng: random.Random) -> tuple[int, str]:
    form = rng.choice(forms_for(asks, split if split in ("train", "heldout") else "train", 1))
    return list(asks).index(form), form


def _row(question: str, draft: Draft, ending: Ending, kind: str, template: str, split: str) -> dict[str, Any]:
    return build_row(
        question=question, draft=draft, ending=ending, kind=kind, generator=GENERATOR, template=template, split=split
    )


def _the(role: str, name: str) -> str:
    return f"the {role} of {name}"


def _copy(rng: random.Random, split: str, scene: Scene, t: Long, c: LongCorpus) -> dict[str, Any]:
    e, title = _name_of(t), t.title
    what = rng.choices(["price", "role", "count"], weights=(45, 30, 25))[0]
    draft = Draft(c.corpus.run)
    if what == "price":
        tier = rng.choice(list(t.prices))
        i, form = _form(scene.price_asks, split, rng)
        q = form.format(e=e, **_tier(tier, scene.noun))
        parts = c.search(
            draft,
            f"I need to find the price of the {tier.lower()} {scene.noun} at {e}.",
            f"{e} {tier.lower()} {scene.noun} price",
        )
        if not _has_number(_own(parts, title), t.prices[tier]):
            raise Rejected("the price is not in the target's passage")
        v = t.price_text(scene, tier)
        ending = Ending(scene.price_answer.format(e=e, v=v, **_tier(tier, scene.noun)), t.prices[tier], 1e-6)
        return _row(q, draft, ending, "long_copy", f"{scene.kind}:copy:price:{i}", split)
    if what == "role":
        role = rng.choice(list(t.people))
        asks = (f"Who is the {role} at {{e}}?", f"Who works as the {role} at {{e}}?", f"Name the {role} of {{e}}.")
        i, form = _form(asks, split, rng)
        q = form.format(e=e)
        parts = c.search(draft, f"I need to find {_the(role, e)}.", f"{e} {role}")
        if t.people[role].lower() not in _own(parts, title).lower():
            raise Rejected("the person is not in the target's passage")
        ending = Ending(f"The {role} of {e} is {t.people[role]}.", t.people[role])
        return _row(q, draft, ending, "long_copy", f"{scene.kind}:copy:role:{i}", split)
    key = rng.choice(list(t.counts))
    cnt = next(x for x in scene.counts if x.key == key)
    i, form = _form(cnt.asks, split, rng)
    parts = c.search(draft, f"I need to find {cnt.label} of {e}.", f"{e} {cnt.keyword}")
    own = _own(parts, title)
    shown = find_number(own, t.counts[key])
    if shown is None:
        raise Rejected("the count is not in the target's passage")
    ending = Ending(cnt.answer.format(e=e, v=shown), float(t.counts[key]), 1e-6)
    return _row(form.format(e=e), draft, ending, "long_copy", f"{scene.kind}:copy:count:{key}:{i}", split)


def _find_prices(draft: Draft, c: LongCorpus, t: Long, scene: Scene, tiers: Sequence[str]) -> None:
    """One search naming both tiers; a second for whichever the first passage did not show."""
    e, title = _name_of(t), t.title
    low = [x.lower() for x in tiers]
    parts = c.search(
        draft,
        f"I need to find the {' and '.join(low)} {scene.noun} prices at {e}.",
        f"{e} {' '.join(low)} {scene.noun} prices",
    )
    missing = [x for x in tiers if not _has_number(_own(parts, title), t.prices[x])]
    if missing:
        if len(missing) > 1:
            raise Rejected("neither price in the passage")
        x = missing[0]
        parts = c.search(
            draft, f"Now I need to find the {x.lower()} {scene.noun} price at {e}.", f"{e} {x.lower()} {scene.noun}"
        )
        if not _has_number(_own(parts, title), t.prices[x]):
            raise Rejected("the second price is not in the passage")


def _p(v: float) -> str:
    return f"{v:.2f}" if v != int(v) else str(int(v))


def _compute(rng: random.Random, split: str, scene: Scene, t: Long, c: LongCorpus) -> dict[str, Any]:
    e, title = _name_of(t), t.title
    options = ["difference", "sum"]
    if scene.family and "Adult" in t.prices and "Child" in t.prices:
        options += ["family", "family"]
    if t.bundle:
        options.append("bundle")
    if scene.ratio and all(k in t.counts for k in scene.ratio[:2]):
        options.append("ratio")
    op = "family" if "family" in options and rng.random() < 0.5 else rng.choice(options)
    draft = Draft(c.corpus.run)
    n, cur, per = scene.noun, t.cur, scene.period
    if op in ("difference", "sum"):
        a, b = rng.sample(list(t.prices), 2)
        if t.prices[a] < t.prices[b]:
            a, b = b, a
        al, bl = a.lower(), b.lower()
        if op == "difference":
            asks = (
                f"How much more does the {al} {n} cost than the {bl} {n} at {{e}}?",
                f"What is the difference between the {al} and the {bl} {n} prices at {{e}}?",
                f"By how much is the {al} {n} at {{e}} dearer than the {bl} one?",
            )
            expression = f"{_p(t.prices[a])} - {_p(t.prices[b])}"
        else:
            asks = (
                f"What do one {al} {n} and one {bl} {n} at {{e}} cost together?",
                f"What is the total of the {al} and {bl} {n} prices at {{e}}?",
                f"How much would {_a(al)} and {_a(bl)} {n} at {{e}} cost in all?",
            )
            expression = f"{_p(t.prices[a])} + {_p(t.prices[b])}"
        i, form = _form(asks, split, rng)
        _find_prices(draft, c, t, scene, [a, b])
        r = draft.calculate(f"Now I need to calculate {expression}.", expression)
        if op == "difference":
            ans = f"The {al} {n} at {e} costs {cur}{r}{per} more than the {bl} {n}."
        else:
            ans = f"One {al} and one {bl} {n} at {e} cost {cur}{r}{per} together."
    elif op == "family":
        asks = (
            f"What do two adults and a child pay for {n}s at {{e}}?",
            f"How much are {n}s at {{e}} for two adults and one child?",
            f"What is the total {n} cost at {{e}} for two adults and a child?",
        )
        i, form = _form(asks, split, rng)
        _find_prices(draft, c, t, scene, ["Adult", "Child"])
        expression = f"2 * {_p(t.prices['Adult'])} + {_p(t.prices['Child'])}"
        r = draft.calculate(f"Now I need to calculate {expression}.", expression)
        ans = f"Two adults and a child pay {cur}{r} for {n}s at {e}."
    elif op == "bundle":
        unit, _says, what = scene.bundle or ("", "", "")
        k, p = t.bundle or (0, 0.0)
        asks = (
            f"With the {what} at {{e}}, what does one {unit} cost?",
            f"How much is each {unit} on the {what} of {{e}}?",
            f"What is the price per {unit} with the {what} at {{e}}?",
        )
        i, form = _form(asks, split, rng)
        parts = c.search(draft, f"I need to find the price of the {what} at {e}.", f"{e} {what} {unit}s")
        if not _has_number(_own(parts, title), p) or not _has_number(_own(parts, title), k):
            raise Rejected("the bundle is not in the passage")
        expression = f"round({_p(p)} / {k}, 2)"
        r = draft.calculate(f"Now I need to calculate {expression}.", expression)
        ans = f"With the {what}, one {unit} at {e} costs {cur}{r}."
    else:
        ka, kb, operator, ask, answer = scene.ratio or ("", "", "", "", "")
        ca = next(x for x in scene.counts if x.key == ka)
        cb = next(x for x in scene.counts if x.key == kb)
        i, form = 0, ask
        parts = c.search(draft, f"I need to find {ca.label} and {cb.label} of {e}.", f"{e} {ca.keyword} {cb.keyword}")
        own = _own(parts, title)
        xa, xb = find_number(own, t.counts[ka]), find_number(own, t.counts[kb])
        if xa is None or xb is None:
            raise Rejected("a count is not in the passage")
        expression = f"{plain(xa)} * {plain(xb)}" if operator == "*" else f"round({plain(xa)} / {plain(xb)}, 2)"
        r = draft.calculate(f"Now I need to calculate {expression}.", expression)
        ans = answer.format(e=e, r=r)
    ending = Ending(ans, float(evaluate(expression)), 1e-6)
    return _row(form.format(e=e), draft, ending, "long_compute", f"{scene.kind}:compute:{op}:{i}", split)


def _near_miss(rng: random.Random, split: str, scene: Scene, t: Long, c: LongCorpus) -> dict[str, Any]:
    """A tier, role or count of the scene's pool that the document does not state."""
    e, title = _name_of(t), t.title
    text = t.doc.text.lower()
    draft = Draft(c.corpus.run)
    choices = []
    tiers = [x for x in scene.tiers if x not in t.prices and x.lower() not in text]
    roles = [r for r in scene.roles if r not in t.people and r not in text]
    counts = [x for x in scene.counts if x.key not in t.counts and x.keyword.split()[0] not in text]
    choices += ["price"] * bool(tiers) * 3 + ["role"] * bool(roles) * 2 + ["count"] * bool(counts) * 2
    if not choices:
        raise Rejected("nothing left to ask")
    what = rng.choice(choices)
    if what == "price":
        tier = rng.choice(tiers).lower()
        i, form = _form(scene.price_asks, split, rng)
        q = form.format(e=e, **_tier(tier, scene.noun))
        label, query = f"the price of the {tier} {scene.noun} at {e}", f"{e} {tier} {scene.noun} price"
    elif what == "role":
        role = rng.choice(roles)
        asks = (f"Who is the {role} at {{e}}?", f"Who works as the {role} at {{e}}?", f"Name the {role} of {{e}}.")
        i, form = _form(asks, split, rng)
        q, label, query = form.format(e=e), _the(role, e), f"{e} {role}"
    else:
        cnt = rng.choice(counts)
        i, form = _form(cnt.asks, split, rng)
        q, label, query = form.format(e=e), f"{cnt.label} of {e}", f"{e} {cnt.keyword}"
    parts = c.search(draft, f"I need to find {label}.", query)
    own = _own(parts, title)
    neighbours = {
        "price": any(_has_number(own, p) for p in t.prices.values()),
        "role": any(p.lower() in own.lower() for p in t.people.values()),
        "count": any(_has_number(own, v) for v in t.counts.values()),
    }
    if not neighbours[what]:
        raise Rejected("no stated neighbour in the target's passage")  # "it states X, not the asked Y"
    if rng.random() < 0.25:
        c.search(
            draft, f"The result does not give {label}. I will search again.", f"{e} {what}s" if what != "count" else e
        )
    return _row(q, draft, not_found(q), "long_missing", f"{scene.kind}:near:{what}:{i}", split)


def _missing_entity(rng: random.Random, split: str, scene: Scene, c: LongCorpus, names: set[str]) -> dict[str, Any]:
    """An entity of the scene that no document names: the search shows others."""
    e = scene.name(rng)
    if e in names or any(e.split()[0] == n.split()[0] for n in names):
        raise Rejected("the missing name is in the corpus")
    draft = Draft(c.corpus.run)
    what = rng.choice(["price", "role"])
    if what == "price":
        tier = rng.choice(scene.tiers).lower()
        i, form = _form(scene.price_asks, split, rng)
        q = form.format(e=e, **_tier(tier, scene.noun))
        obs_parts = c.search(
            draft, f"I need to find the price of the {tier} {scene.noun} at {e}.", f"{e} {tier} {scene.noun} price"
        )
    else:
        role = rng.choice(scene.roles)
        asks = (f"Who is the {role} at {{e}}?", f"Who works as the {role} at {{e}}?", f"Name the {role} of {{e}}.")
        i, form = _form(asks, split, rng)
        q = form.format(e=e)
        obs_parts = c.search(draft, f"I need to find {_the(role, e)}.", f"{e} {role}")
    if any(e.lower() in text.lower() for _, text in obs_parts):
        raise Rejected("the missing entity is named in the observation")
    return _row(q, draft, not_found(q), "long_missing_entity", f"{scene.kind}:entity:{what}:{i}", split)


QUESTION_TYPES = ("copy", "compute", "pair_copy", "pair_compute", "missing_entity")
# per corpus: rows per 96 corpora ~132, not-found ~46 (a pair: 1 of 2) before rejections; a near miss needs a stated
# neighbour in view and is rejected more often than an answered row: ~30 % not-found kept
WEIGHTS = (26, 24, 18, 18, 10)


def rows(rng: random.Random, split: str, weights: Sequence[float] = WEIGHTS) -> list[dict[str, Any]]:
    """One corpus (the target, 1-2 documents of its scene, one of another) and its rows."""
    kind = rng.choice(sorted(SCENES))
    scene = SCENES[kind]
    qtype = rng.choices(QUESTION_TYPES, weights=weights)[0]
    target = write(rng, scene, scene.name(rng))
    others = [write(rng, scene, scene.name(rng)) for _ in range(rng.randint(1, 2))]
    other_scene = SCENES[rng.choice([k for k in sorted(SCENES) if k != kind])]
    others.append(write(rng, other_scene, other_scene.name(rng)))
    longs = [target, *others]
    names = [_name_of(x) for x in longs]
    if len({n.split()[0] for n in names}) < len(names):
        raise Rejected("a name drawn twice")
    docs = [x.doc for x in (others if qtype == "missing_entity" else longs)]
    c = LongCorpus(docs)
    try:
        if qtype == "copy":
            out = [_copy(rng, split, scene, target, c)]
        elif qtype == "compute":
            out = [_compute(rng, split, scene, target, c)]
        elif qtype == "missing_entity":
            out = [_missing_entity(rng, split, scene, c, set(names[1:]))]
        else:
            miss = _near_miss(rng, split, scene, target, c)
            answer = (_copy if qtype == "pair_copy" else _compute)(rng, split, scene, target, c)
            out = [miss, answer]
    finally:
        c.close()
    for r in out:
        r["meta"].update(
            doc_type=kind, max_results=MAX_RESULTS, doc_chars=len(target.doc.text), price_style=target.style
        )
    return out
