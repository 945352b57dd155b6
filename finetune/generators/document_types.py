"""The document types of the documents family: each type's facts (how a value is drawn, stated in
a sentence, asked for, labelled and answered) and how a value is written in a document.

One table, kept whole: ``TYPES`` maps each of the six types to its facts (the ~430 lines are data, one
``Fact`` per field). The names it draws from are ``document_names``; the computations over a document's
facts are ``document_computations``; the near-miss fields of the not-found questions are
``document_near``. Data, not logic: ``finetune.generators.documents`` writes the documents and the
questions from it.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from finetune.generators.document_names import CITY, COLOURS, COMPANY_KIND, MONTHS, ROLE, number_text, person, word

YEARS = ("founded", "born", "released", "first")  # year facts: copied or counted from, never added up


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
                person,
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
                lambda r: f"{word(r)} {r.choice(COMPANY_KIND)}",
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
                lambda r: f"{word(r)} {r.choice(COMPANY_KIND)}",
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
                lambda r: f"the {word(r)} River",
                ("{e} stands on {v}.", "{v} runs through {e}."),
                ("Which river runs through {e}?", "What river is {e} on?", "Name the river of {e}."),
                "the river",
                "river",
                "{e} stands on {v}.",
                "River",
            ),
            F(
                "mayor",
                person,
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
                lambda r: f"{word(r)} Transit",
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


def value_text(rng: random.Random, fact: Fact, value: Any) -> str:
    """``value`` as a document states it: in one of the fact's unit forms, with or without separators."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        shown = number_text(rng, value) if isinstance(value, int) and fact.name not in YEARS else str(value)
        return rng.choice(fact.unit_forms).format(v=shown)
    return str(value)
