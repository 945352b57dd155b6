"""The document types of the documents family: each type's facts (how a value is drawn, stated in
a sentence and asked for), the computations over one document, and the names of the entities.

Data, not logic: ``finetune.generators.documents`` writes the documents and the questions from it.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

YEARS = ("founded", "born", "released", "first")  # year facts: copied or counted from, never added up

_SYL = (
    "ka lo ve mi ra tor sen dal fin gar hel ix jun kor lum mar nes or pel quin ros tal ur vin wex yor zan bel cor dru"
).split()
FIRST = (
    "Alice Bruno Carla Dmitri Elena Felix Greta Hugo Irene Jonas Kira Leo Marta Nils Olga "
    "Pavel Rosa Sven Tara Umar Vera Yusuf Zoe Amir Bea Cato Dana Emil"
).split()
CITY = (
    "Arlen Brightwater Calder Dunmore Eastvale Fairhaven Glenrock Harlow Ivybridge Kestrel "
    "Lindell Marsh Norwick Oakmere Pinecrest Ravenna Stoneford Thornbury Westmoor Yarrow"
).split()
COMPANY_KIND = (
    "Logistics Foods Robotics Textiles Energy Software Pharma Motors Studios Analytics Outfitters Brewing".split()
)
PRODUCT_KIND = "blender kettle drone scooter headset camera lamp backpack router speaker tent toaster".split()
ROLE = (
    "chief engineer|head of marketing|lead designer|finance director|head librarian|"
    "senior nurse|project manager|data analyst|school principal|chief chemist"
).split("|")
EVENT_KIND = "Festival|Fair|Marathon|Conference|Expo|Regatta".split("|")
MONTHS = "January February March April May June July August September October November December".split()
COLOURS = "red blue green black white silver orange grey".split()


def _word(rng: random.Random, n: int = 2) -> str:
    return "".join(rng.choice(_SYL) for _ in range(n)).capitalize()


def _person(rng: random.Random) -> str:
    return f"{rng.choice(FIRST)} {_word(rng, 2)}"


def _num(rng: random.Random, value: int) -> str:
    """A whole number as prose writes it: with or without thousands separators."""
    return f"{value:,}" if value >= 1000 and rng.random() < 0.7 else str(value)


@dataclass(frozen=True)
class Fact:
    """One field of a document type."""

    name: str
    draw: Callable[[random.Random], Any]  # the value: int/float (numeric) or str
    says: tuple[str, ...]  # sentence forms over {e} (entity) and {v} (value text)
    asks: tuple[str, ...]  # question forms over {e}; the last is held out of train
    label: str  # thought text: "I need to find {label} of {e}."
    keyword: str  # what a search for it adds to the name
    answer: str  # final answer over {e}, {v}
    listed: str  # the list-style label ("Employees")
    unit_forms: tuple[str, ...] = ("{v}",)  # how a number is written ("{v} kg", "{v} kilograms")


F = Fact
TYPES: dict[str, dict[str, Fact]] = {
    "company": {
        f.name: f
        for f in [
            F(
                "founded",
                lambda r: r.randint(1950, 2020),
                ("{e} was founded in {v}.", "It was established in {v}.", "The company dates from {v}."),
                ("When was {e} founded?", "In what year was {e} established?", "What year did {e} start?"),
                "the founding year",
                "founded",
                "{e} was founded in {v}.",
                "Founded",
            ),
            F(
                "employees",
                lambda r: r.randint(40, 25000),
                ("{e} employs {v} people.", "It has {v} employees.", "The staff numbers {v}."),
                ("How many employees does {e} have?", "How many people work at {e}?", "What is the headcount of {e}?"),
                "the number of employees",
                "employees",
                "{e} has {v} employees.",
                "Employees",
            ),
            F(
                "headquarters",
                lambda r: r.choice(CITY),
                ("{e} is headquartered in {v}.", "Its head office is in {v}.", "The headquarters are in {v}."),
                (
                    "Where is {e} headquartered?",
                    "In which city is the head office of {e}?",
                    "Where are the headquarters of {e}?",
                ),
                "the headquarters",
                "headquarters",
                "{e} is headquartered in {v}.",
                "Headquarters",
            ),
            F(
                "ceo",
                _person,
                ("The chief executive of {e} is {v}.", "{v} runs {e} as CEO.", "{e} is led by CEO {v}."),
                ("Who is the CEO of {e}?", "Who runs {e}?", "Who is the chief executive of {e}?"),
                "the CEO",
                "CEO",
                "The CEO of {e} is {v}.",
                "CEO",
            ),
            F(
                "revenue",
                lambda r: r.randint(3, 900),
                ("{e} reported revenue of {v} million dollars last year.", "Annual revenue was {v} million dollars."),
                (
                    "What is the annual revenue of {e}?",
                    "How much revenue did {e} report?",
                    "How much money does {e} make a year?",
                ),
                "the revenue",
                "revenue",
                "The annual revenue of {e} is {v} million dollars.",
                "Revenue (million dollars)",
            ),
            F(
                "offices",
                lambda r: r.randint(2, 60),
                ("{e} runs {v} offices.", "It operates {v} offices worldwide."),
                (
                    "How many offices does {e} have?",
                    "How many offices does {e} operate?",
                    "What is the number of offices of {e}?",
                ),
                "the number of offices",
                "offices",
                "{e} has {v} offices.",
                "Offices",
            ),
        ]
    },
    "product": {
        f.name: f
        for f in [
            F(
                "price",
                lambda r: r.randint(9, 1900),
                ("The {e} costs {v}.", "It sells for {v}.", "The {e} is priced at {v}."),
                ("How much does the {e} cost?", "What is the price of the {e}?", "What does the {e} sell for?"),
                "the price",
                "price",
                "The {e} costs {v}.",
                "Price",
                ("${v}", "{v} dollars"),
            ),
            F(
                "weight",
                lambda r: round(r.uniform(0.3, 9.5), 1),
                ("The {e} weighs {v}.", "Its weight is {v}."),
                ("How much does the {e} weigh?", "What is the weight of the {e}?", "How heavy is the {e}?"),
                "the weight",
                "weight",
                "The {e} weighs {v}.",
                "Weight",
                ("{v} kg", "{v} kilograms"),
            ),
            F(
                "warranty",
                lambda r: r.randint(1, 6),
                ("The {e} comes with a {v}-year warranty.", "Its warranty lasts {v} years."),
                (
                    "How long is the warranty on the {e}?",
                    "How many years of warranty does the {e} have?",
                    "What warranty does the {e} come with?",
                ),
                "the warranty",
                "warranty",
                "The {e} has a {v}-year warranty.",
                "Warranty (years)",
            ),
            F(
                "battery",
                lambda r: r.randint(3, 40),
                ("Its battery lasts {v} hours.", "The {e} runs for {v} hours on one charge."),
                (
                    "How long does the battery of the {e} last?",
                    "How many hours does the {e} run on a charge?",
                    "What is the battery life of the {e}?",
                ),
                "the battery life",
                "battery",
                "The battery of the {e} lasts {v} hours.",
                "Battery (hours)",
            ),
            F(
                "maker",
                lambda r: f"{_word(r)} {r.choice(COMPANY_KIND)}",
                ("The {e} is made by {v}.", "{v} makes the {e}."),
                ("Who makes the {e}?", "Which company makes the {e}?", "Who is the manufacturer of the {e}?"),
                "the maker",
                "maker",
                "The {e} is made by {v}.",
                "Maker",
            ),
            F(
                "released",
                lambda r: r.randint(2008, 2024),
                ("The {e} was released in {v}.", "It came out in {v}."),
                ("When was the {e} released?", "In what year did the {e} come out?", "What year was the {e} launched?"),
                "the release year",
                "released",
                "The {e} was released in {v}.",
                "Released",
            ),
            F(
                "colour",
                lambda r: r.choice(COLOURS),
                ("The {e} comes in {v}.", "It is sold in {v}."),
                ("What colour is the {e}?", "Which colour does the {e} come in?", "In what colour is the {e} sold?"),
                "the colour",
                "colour",
                "The {e} comes in {v}.",
                "Colour",
            ),
        ]
    },
    "person": {
        f.name: f
        for f in [
            F(
                "role",
                lambda r: r.choice(ROLE),
                ("{e} works as {v}.", "{e} is the {v}.", "By trade, {e} is a {v}."),
                ("What is the job of {e}?", "What does {e} do for a living?", "What is {e}'s role?"),
                "the job",
                "job",
                "{e} works as {v}.",
                "Role",
            ),
            F(
                "employer",
                lambda r: f"{_word(r)} {r.choice(COMPANY_KIND)}",
                ("{e} works for {v}.", "{e} is employed at {v}."),
                ("Who does {e} work for?", "Which company employs {e}?", "Where does {e} work?"),
                "the employer",
                "employer",
                "{e} works for {v}.",
                "Employer",
            ),
            F(
                "born",
                lambda r: r.randint(1945, 2002),
                ("{e} was born in {v}.", "Born in {v}, {e} grew up by the sea."),
                ("When was {e} born?", "In what year was {e} born?", "What is the birth year of {e}?"),
                "the birth year",
                "born",
                "{e} was born in {v}.",
                "Born",
            ),
            F(
                "hometown",
                lambda r: r.choice(CITY),
                ("{e} comes from {v}.", "{e}'s home town is {v}."),
                ("Where does {e} come from?", "What is the home town of {e}?", "Which town is {e} from?"),
                "the home town",
                "home town",
                "{e} comes from {v}.",
                "Home town",
            ),
            F(
                "height",
                lambda r: r.randint(150, 200),
                ("{e} is {v} tall.", "{e} stands {v} tall."),
                ("How tall is {e}?", "What is the height of {e}?", "How tall does {e} stand?"),
                "the height",
                "height",
                "{e} is {v} tall.",
                "Height",
                ("{v} cm", "{v} centimetres"),
            ),
        ]
    },
    "place": {
        f.name: f
        for f in [
            F(
                "population",
                lambda r: r.randint(300, 900000),
                ("{e} has {v} inhabitants.", "About {v} people live in {e}.", "Its population is {v}."),
                (
                    "What is the population of {e}?",
                    "How many people live in {e}?",
                    "How many inhabitants does {e} have?",
                ),
                "the population",
                "population",
                "The population of {e} is {v}.",
                "Population",
            ),
            F(
                "elevation",
                lambda r: r.randint(5, 3200),
                ("{e} lies {v} above sea level.", "The town sits at an elevation of {v}."),
                ("How high above sea level is {e}?", "What is the elevation of {e}?", "At what altitude does {e} lie?"),
                "the elevation",
                "elevation",
                "{e} lies {v} above sea level.",
                "Elevation",
                ("{v} m", "{v} metres"),
            ),
            F(
                "area",
                lambda r: r.randint(3, 900),
                ("{e} covers {v}.", "Its area is {v}."),
                ("What is the area of {e}?", "How large is {e}?", "How many square kilometres does {e} cover?"),
                "the area",
                "area",
                "The area of {e} is {v}.",
                "Area",
                ("{v} km²", "{v} square kilometres"),
            ),
            F(
                "founded",
                lambda r: r.randint(900, 1990),
                ("{e} was founded in {v}.", "The town dates back to {v}."),
                ("When was {e} founded?", "In what year was {e} founded?", "How old is the founding of {e}, in years?"),
                "the founding year",
                "founded",
                "{e} was founded in {v}.",
                "Founded",
            ),
            F(
                "river",
                lambda r: f"the {_word(r)} River",
                ("{e} stands on {v}.", "{v} runs through {e}."),
                ("Which river runs through {e}?", "What river is {e} on?", "Name the river of {e}."),
                "the river",
                "river",
                "{e} stands on {v}.",
                "River",
            ),
            F(
                "mayor",
                _person,
                ("The mayor of {e} is {v}.", "{v} is the mayor of {e}."),
                ("Who is the mayor of {e}?", "Who leads the town of {e}?", "Who is {e}'s mayor?"),
                "the mayor",
                "mayor",
                "The mayor of {e} is {v}.",
                "Mayor",
            ),
        ]
    },
    "event": {
        f.name: f
        for f in [
            F(
                "month",
                lambda r: r.choice(MONTHS),
                ("The {e} takes place every {v}.", "It is held each year in {v}."),
                ("In which month is the {e} held?", "When does the {e} take place?", "What month is the {e}?"),
                "the month",
                "month",
                "The {e} takes place in {v}.",
                "Month",
            ),
            F(
                "days",
                lambda r: r.randint(2, 14),
                ("The {e} lasts {v} days.", "It runs for {v} days."),
                ("How many days does the {e} last?", "How long is the {e}?", "For how many days does the {e} run?"),
                "the duration",
                "days",
                "The {e} lasts {v} days.",
                "Duration (days)",
            ),
            F(
                "visitors",
                lambda r: r.randint(800, 400000),
                ("The {e} draws {v} visitors.", "Last year {v} people attended."),
                (
                    "How many visitors does the {e} have?",
                    "How many people attend the {e}?",
                    "What is the attendance of the {e}?",
                ),
                "the number of visitors",
                "visitors",
                "The {e} has {v} visitors.",
                "Visitors",
            ),
            F(
                "city",
                lambda r: r.choice(CITY),
                ("The {e} is held in {v}.", "It takes place in {v}."),
                ("Where is the {e} held?", "In which town is the {e}?", "Which city hosts the {e}?"),
                "the city",
                "city",
                "The {e} is held in {v}.",
                "City",
            ),
            F(
                "ticket",
                lambda r: r.randint(5, 250),
                ("A ticket costs {v}.", "Entry to the {e} costs {v}."),
                (
                    "How much is a ticket for the {e}?",
                    "What does entry to the {e} cost?",
                    "What is the ticket price of the {e}?",
                ),
                "the ticket price",
                "ticket",
                "A ticket for the {e} costs {v}.",
                "Ticket",
                ("${v}", "{v} dollars"),
            ),
            F(
                "first",
                lambda r: r.randint(1900, 2015),
                ("The {e} was first held in {v}.", "It began in {v}."),
                ("When was the {e} first held?", "In what year did the {e} begin?", "Since when has the {e} existed?"),
                "the first year",
                "first held",
                "The {e} was first held in {v}.",
                "First held",
            ),
        ]
    },
    "route": {
        f.name: f
        for f in [
            F(
                "length",
                lambda r: r.randint(4, 300),
                ("The {e} is {v} long.", "The line runs {v}."),
                ("How long is the {e}?", "What is the length of the {e}?", "How many kilometres does the {e} cover?"),
                "the length",
                "length",
                "The {e} is {v} long.",
                "Length",
                ("{v} km", "{v} kilometres"),
            ),
            F(
                "stops",
                lambda r: r.randint(3, 40),
                ("The {e} has {v} stops.", "It calls at {v} stops."),
                (
                    "How many stops does the {e} have?",
                    "At how many stops does the {e} call?",
                    "What is the number of stops on the {e}?",
                ),
                "the number of stops",
                "stops",
                "The {e} has {v} stops.",
                "Stops",
            ),
            F(
                "fare",
                lambda r: r.randint(1, 40),
                ("A single fare on the {e} is {v}.", "One ride costs {v}."),
                (
                    "How much is a fare on the {e}?",
                    "What does one ride on the {e} cost?",
                    "What is the fare of the {e}?",
                ),
                "the fare",
                "fare",
                "A fare on the {e} costs {v}.",
                "Fare",
                ("${v}", "{v} dollars"),
            ),
            F(
                "minutes",
                lambda r: r.randint(10, 240),
                ("A trip on the {e} takes {v} minutes.", "End to end, the {e} takes {v} minutes."),
                (
                    "How long does a trip on the {e} take?",
                    "How many minutes is a ride on the {e}?",
                    "What is the travel time of the {e}?",
                ),
                "the travel time",
                "minutes",
                "A trip on the {e} takes {v} minutes.",
                "Travel time (minutes)",
            ),
            F(
                "operator",
                lambda r: f"{_word(r)} Transit",
                ("The {e} is run by {v}.", "{v} operates the {e}."),
                ("Who runs the {e}?", "Which company operates the {e}?", "Who is the operator of the {e}?"),
                "the operator",
                "operator",
                "The {e} is run by {v}.",
                "Operator",
            ),
        ]
    },
}
# computations over one document: (name, two fields, question over {e}, expression over {x} {y}, answer over {e} {r})
PAIRS: dict[str, list[tuple[str, str, str, str, str, str]]] = {
    "company": [
        (
            "per_office",
            "employees",
            "offices",
            "On average, how many employees does {e} have per office?",
            "{x} / {y}",
            "{e} has about {r} employees per office.",
        ),
        (
            "revenue_per_office",
            "revenue",
            "offices",
            "How much revenue does {e} make per office, in million dollars?",
            "{x} / {y}",
            "{e} makes about {r} million dollars per office.",
        ),
    ],
    "product": [
        (
            "price_per_year",
            "price",
            "warranty",
            "What does the {e} cost per year of warranty?",
            "{x} / {y}",
            "The {e} costs {r} per year of warranty.",
        ),
        (
            "price_per_hour",
            "price",
            "battery",
            "What does the {e} cost per hour of battery life?",
            "{x} / {y}",
            "The {e} costs {r} per hour of battery life.",
        ),
    ],
    "place": [
        (
            "density",
            "population",
            "area",
            "What is the population density of {e} per square kilometre?",
            "{x} / {y}",
            "The population density of {e} is {r} people per square kilometre.",
        )
    ],
    "event": [
        (
            "per_day",
            "visitors",
            "days",
            "How many visitors per day does the {e} have on average?",
            "{x} / {y}",
            "The {e} has about {r} visitors per day.",
        ),
        (
            "ticket_per_day",
            "ticket",
            "days",
            "What does a ticket for the {e} cost per day of the event?",
            "{x} / {y}",
            "A ticket for the {e} costs {r} per day.",
        ),
    ],
    "route": [
        (
            "per_stop",
            "minutes",
            "stops",
            "How many minutes per stop does the {e} take on average?",
            "{x} / {y}",
            "The {e} takes {r} minutes per stop.",
        ),
        (
            "speed",
            "length",
            "minutes",
            "What is the average speed of the {e} in km/h?",
            "{x} / ({y} / 60)",
            "The {e} averages {r} km/h.",
        ),
    ],
}
# computations over one numeric fact: (name, field, question, expression over {x} (and {k}), answer)
SINGLES: dict[str, list[tuple[str, str, str, str, str]]] = {
    "company": [
        ("age", "founded", "How many years old was {e} in 2025?", "2025 - {x}", "{e} was {r} years old in 2025."),
        (
            "grow",
            "employees",
            "If {e} hired {k} more people, how many employees would it have?",
            "{x} + {k}",
            "{e} would have {r} employees.",
        ),
        (
            "more_offices",
            "offices",
            "If {e} opened {k} new offices, how many offices would it have?",
            "{x} + {k}",
            "{e} would have {r} offices.",
        ),
        (
            "revenue_growth",
            "revenue",
            "If the revenue of {e} grew by {k}0 percent, what would it be, in million dollars?",
            "{x} * (1 + {k}0 / 100)",
            "The revenue of {e} would be {r} million dollars.",
        ),
    ],
    "product": [
        ("many", "price", "How much do {k} units of the {e} cost?", "{k} * {x}", "{k} units of the {e} cost {r}."),
        (
            "age",
            "released",
            "How many years before 2025 was the {e} released?",
            "2025 - {x}",
            "The {e} was released {r} years before 2025.",
        ),
        (
            "weight",
            "weight",
            "How much do {k} units of the {e} weigh together?",
            "{k} * {x}",
            "{k} units of the {e} weigh {r}.",
        ),
        (
            "discount",
            "price",
            "What does the {e} cost after a {k}0 percent discount?",
            "{x} * (1 - {k}0 / 100)",
            "After the discount the {e} costs {r}.",
        ),
    ],
    "person": [
        ("age", "born", "How old was {e} in 2025?", "2025 - {x}", "{e} was {r} years old in 2025."),
        ("metres", "height", "How tall is {e} in metres?", "{x} / 100", "{e} is {r} metres tall."),
    ],
    "place": [
        (
            "age",
            "founded",
            "How many years before 2025 was {e} founded?",
            "2025 - {x}",
            "{e} was founded {r} years before 2025.",
        ),
        (
            "feet",
            "elevation",
            "What is the elevation of {e} in feet, at 3.28 feet per metre?",
            "{x} * 3.28",
            "{e} lies at {r} feet.",
        ),
        (
            "grow",
            "population",
            "If {k}000 people moved to {e}, what would its population be?",
            "{x} + {k}000",
            "The population of {e} would be {r}.",
        ),
    ],
    "event": [
        (
            "group",
            "ticket",
            "How much do {k} tickets for the {e} cost?",
            "{k} * {x}",
            "{k} tickets for the {e} cost {r}.",
        ),
        (
            "since_first",
            "first",
            "How many years before 2025 was the first {e} held?",
            "2025 - {x}",
            "The first {e} was held {r} years before 2025.",
        ),
    ],
    "route": [
        ("return", "fare", "How much do {k} rides on the {e} cost?", "{k} * {x}", "{k} rides on the {e} cost {r}.")
    ],
}


def entity(rng: random.Random, kind: str) -> str:
    """A made-up name for an entity of document type ``kind``."""
    if kind == "company":
        return f"{_word(rng)} {rng.choice(COMPANY_KIND)}"
    if kind == "product":
        return f"{_word(rng)} {rng.choice('XKZRV')}{rng.randint(2, 9)}{rng.randint(0, 9)}0 {rng.choice(PRODUCT_KIND)}"
    if kind == "person":
        return _person(rng)
    if kind == "place":
        return _word(rng) + rng.choice(["ville", "burg", "ford", "mouth", "stead", " Falls", " Harbour"])
    if kind == "event":
        return f"{_word(rng)} {rng.choice(EVENT_KIND)}"
    return f"{_word(rng)} {rng.choice(['Line', 'Express', 'Loop', 'Shuttle'])}"


def value_text(rng: random.Random, fact: Fact, value: Any) -> str:
    """``value`` as a document states it: in one of the fact's unit forms, with or without separators."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        shown = _num(rng, value) if isinstance(value, int) and fact.name not in YEARS else str(value)
        return rng.choice(fact.unit_forms).format(v=shown)
    return str(value)
