"""The harder near-miss facts of the documents family (the v5 mix, attempt 5): v4 learnt the v4 neighbours
(``document_near.NEAR``: one neighbour in a sentence of its own, "Its founder is X.") but still answered every
unanswerable question of the hand-written corpus with a neighbouring fact, because the corpus buries it: a
person in a clause with the entity and another name ("set up by X together with Y"), a field named in words
close to the asked one (the chief operating officer for the chief executive), a number of the same unit
(apprentices for employees, research spending for revenue). ``finetune.generators.documents`` draws two
question types from it: ``missing_near_hard`` (the asked field absent, one or two of these neighbours
stated, same-type distractors that do state the field in the results) and ``copy_near`` (the field stated
*and* the neighbours: read the right one, never abstain when it is there).

Data, not logic, like ``document_types``. Keyed by document type, then by the asked field; every neighbour
is a fact no question asks (no ask forms).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from finetune.generators.document_names import CITY, COMPANY_KIND, ROLE, number_text, person, word
from finetune.generators.document_types import Fact


def _year(r: random.Random) -> str:
    return str(r.randint(1950, 2022))


def _near(name: str, draw: Callable[[random.Random], Any], says: tuple[str, ...], listed: str) -> Fact:
    return Fact(name, draw, says, (), "", "", "", listed)


def _two_people(r: random.Random) -> str:
    return f"{person(r)} and {person(r)}"


def _company(r: random.Random) -> str:
    return f"{word(r)} {r.choice(COMPANY_KIND)}"


HARD: dict[str, dict[str, tuple[Fact, ...]]] = {
    "company": {
        "ceo": (
            _near("cofounders", _two_people, ("{e} was set up by {v}.", "{v} started {e} together."), "Co-founders"),
            _near(
                "coo",
                person,
                ("The chief operating officer of {e} is {v}.", "{v} is chief operating officer at {e}."),
                "Chief operating officer",
            ),
            _near("chair", person, ("The board of {e} is chaired by {v}.", "{v} chairs the board of {e}."), "Chair"),
        ),
        "employees": (
            _near(
                "apprentices",
                lambda r: number_text(r, r.randint(10, 900)),
                ("{e} trains {v} apprentices every year.", "Every year {v} apprentices join {e} for training."),
                "Apprentices a year",
            ),
            _near(
                "applicants",
                lambda r: number_text(r, r.randint(100, 9000)),
                ("{v} people applied for jobs at {e} last year.", "Last year {e} received {v} job applications."),
                "Job applications",
            ),
        ),
        "revenue": (
            _near(
                "research",
                lambda r: f"{r.randint(1, 90)} million dollars",
                ("{e} spent {v} on research last year.", "Its research budget was {v}."),
                "Research budget",
            ),
            _near(
                "loan",
                lambda r: f"{r.randint(2, 90)} million dollars",
                ("{e} took out a bank loan of {v}.", "A loan of {v} paid for the new plant of {e}."),
                "Bank loan",
            ),
        ),
        "founded": (
            _near(
                "second_office",
                _year,
                ("{e} opened its second office in {v}.", "The second site of {e} opened in {v}."),
                "Second office",
            ),
            _near("renamed", _year, ("{e} took its current name in {v}.", "It was renamed {e} in {v}."), "Renamed"),
        ),
        "headquarters": (
            _near(
                "regional",
                lambda r: r.choice(CITY),
                ("{e} opened a regional office in {v}.", "Most customers of {e} live in {v}."),
                "Regional office",
            ),
        ),
    },
    "product": {
        "price": (
            _near(
                "case",
                lambda r: f"{r.randint(5, 60)} dollars",
                ("A case for the {e} costs {v}.", "The carrying case of the {e} is sold separately for {v}."),
                "Case",
            ),
            _near(
                "repair",
                lambda r: f"{r.randint(20, 200)} dollars",
                ("A screen repair of the {e} costs {v}.", "Repairs of the {e} start at {v}."),
                "Repairs from",
            ),
        ),
        "maker": (
            _near(
                "supplier",
                _company,
                ("{v} supplies the parts of the {e}.", "The parts of the {e} come from {v}."),
                "Parts supplier",
            ),
            _near(
                "repairer",
                _company,
                ("The {e} is serviced by {v}.", "{v} services and repairs the {e}."),
                "Service partner",
            ),
        ),
        "warranty": (
            _near(
                "updates",
                lambda r: f"{r.randint(2, 7)} years",
                ("The {e} gets software updates for {v}.", "Software support for the {e} lasts {v}."),
                "Software updates",
            ),
        ),
        "released": (
            _near(
                "discontinued",
                _year,
                ("The predecessor of the {e} was discontinued in {v}.", "Its predecessor came out in {v}."),
                "Predecessor",
            ),
        ),
    },
    "person": {
        "employer": (
            _near(
                "client",
                _company,
                ("{e} consults for {v} on weekends.", "{e}'s biggest client is {v}."),
                "Client",
            ),
            _near(
                "sibling_employer",
                _company,
                ("The sister of {e} works at {v}.", "{e}'s brother is employed by {v}."),
                "Sibling's employer",
            ),
        ),
        "hometown": (
            _near(
                "studied",
                lambda r: r.choice(CITY),
                ("{e} studied in {v}.", "{e} went to university in {v}."),
                "Studied in",
            ),
        ),
        "role": (
            _near(
                "manager_role",
                lambda r: r.choice(ROLE),
                ("{e} reports to the {v}.", "{e} hopes to become {v} one day."),
                "Reports to",
            ),
        ),
    },
    "place": {
        "mayor": (
            _near(
                "candidate",
                person,
                ("{v} ran for mayor of {e} but lost.", "{v} chairs the town council of {e}."),
                "Council chair",
            ),
            _near(
                "founder_town",
                _two_people,
                ("{e} was settled by {v}.", "The first settlers of {e} were {v}."),
                "First settlers",
            ),
        ),
        "population": (
            _near(
                "students",
                lambda r: number_text(r, r.randint(2000, 90000)),
                ("The university of {e} has {v} students.", "{v} students study in {e}."),
                "Students",
            ),
            _near(
                "commuters",
                lambda r: number_text(r, r.randint(2000, 400000)),
                ("{v} people commute into {e} every day.", "Every day {v} commuters travel to {e}."),
                "Commuters a day",
            ),
        ),
        "elevation": (
            _near(
                "tower",
                lambda r: f"{r.randint(40, 400)} metres",
                ("The tallest building in {e} is {v} tall.", "The old tower of {e} stands {v} high."),
                "Tallest building",
            ),
        ),
    },
    "event": {
        "visitors": (
            _near(
                "volunteers",
                lambda r: number_text(r, r.randint(20, 3000)),
                ("{v} volunteers help run the {e}.", "The {e} relies on {v} volunteers."),
                "Volunteers",
            ),
            _near(
                "online",
                lambda r: number_text(r, r.randint(100, 20000)),
                ("The {e} sold {v} tickets online in its first hour.", "{v} people follow the {e} online."),
                "Online followers",
            ),
        ),
        "ticket": (
            _near(
                "workshop",
                lambda r: f"{r.randint(3, 40)} dollars",
                ("A workshop at the {e} costs {v}.", "The after-party of the {e} costs {v}."),
                "Workshop",
            ),
        ),
        "city": (
            _near(
                "organiser_city",
                lambda r: r.choice(CITY),
                ("The organisers of the {e} are based in {v}.", "The {e} is run from an office in {v}."),
                "Organiser based in",
            ),
        ),
    },
}
