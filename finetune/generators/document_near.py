"""The near-miss facts of the documents family (the v4 mix, attempt 4): for a field of a document type, a
neighbouring fact a document may state *instead* — the founder when the CEO is asked, shipping when the
price is, the deputy mayor when the mayor is. ``finetune.generators.documents`` draws the ``missing_near``
question type from it: the asked field is absent, the neighbour is in the observation, the answer is not-found.

Data, not logic, like ``document_types``.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from finetune.generators.document_names import CITY, COMPANY_KIND, ROLE, number_text, person, word
from finetune.generators.document_types import Fact


def _year(r: random.Random) -> str:  # a year stated by a decoy (text: never written with a separator)
    return str(r.randint(1950, 2022))


def _decoy(name: str, draw: Callable[[random.Random], Any], says: tuple[str, ...], listed: str) -> Fact:
    """A fact a document may state *instead of* the one asked: never asked itself (no ask forms)."""
    return Fact(name, draw, says, (), "", "", "", listed)


# The near-miss not-found rows (the v4 mix, attempt 4): the asked field is absent but the document states a
# neighbouring one in the words of the asked one — founder for CEO, shipping for price, deputy mayor for
# mayor. v3 answered 9 of 10 such questions of the hand-written corpus with the neighbour ("The CEO of
# Tandem Software is Lars Brekke." — its founder). Keyed by document type, then by the asked field.
NEAR: dict[str, dict[str, Fact]] = {
    "company": {
        "ceo": _decoy(
            "founder", person, ("{e} was founded by {v}.", "Its founder is {v}.", "{v} founded {e}."), "Founder"
        ),
        "headquarters": _decoy(
            "warehouse",
            lambda r: r.choice(CITY),
            ("Its main warehouse is in {v}.", "{e} runs a factory in {v}."),
            "Warehouse",
        ),
        "founded": _decoy(
            "listed",
            _year,
            ("{e} was listed on the stock exchange in {v}.", "It moved into its current offices in {v}."),
            "Listed",
        ),
        "employees": _decoy(
            "contractors",
            lambda r: number_text(r, r.randint(20, 3000)),
            ("{e} also works with {v} contractors.", "It hires {v} seasonal workers each summer."),
            "Contractors",
        ),
        "revenue": _decoy(
            "profit",
            lambda r: f"{r.randint(1, 90)} million dollars",
            ("Its profit last year was {v}.", "{e} made a profit of {v}."),
            "Profit",
        ),
        "offices": _decoy(
            "shops", lambda r: str(r.randint(2, 60)), ("{e} runs {v} retail shops.", "It also has {v} shops."), "Shops"
        ),
    },
    "product": {
        "price": _decoy(
            "shipping",
            lambda r: f"{r.randint(3, 40)} dollars",
            ("Shipping for the {e} costs {v}.", "Delivery of the {e} is {v}."),
            "Shipping",
        ),
        "maker": _decoy(
            "seller",
            lambda r: f"{word(r)} {r.choice(COMPANY_KIND)}",
            ("The {e} is sold by {v}.", "{v} distributes the {e}."),
            "Seller",
        ),
        "released": _decoy(
            "announced", _year, ("The {e} was announced in {v}.", "Work on the {e} began in {v}."), "Announced"
        ),
        "warranty": _decoy(
            "returns",
            lambda r: f"{r.randint(14, 60)} days",
            ("The {e} can be returned within {v}.", "Returns are accepted for {v}."),
            "Returns",
        ),
        "battery": _decoy(
            "charging",
            lambda r: f"{r.randint(1, 8)} hours",
            ("The {e} charges fully in {v}.", "A full charge takes {v}."),
            "Charging time",
        ),
    },
    "person": {
        "employer": _decoy(
            "former_employer",
            lambda r: f"{word(r)} {r.choice(COMPANY_KIND)}",
            ("{e} previously worked at {v}.", "Before that, {e} spent ten years at {v}."),
            "Former employer",
        ),
        "hometown": _decoy(
            "lives", lambda r: r.choice(CITY), ("{e} now lives in {v}.", "These days {e} lives in {v}."), "Lives in"
        ),
        "born": _decoy("started", _year, ("{e} started working in {v}.", "{e} graduated in {v}."), "Career start"),
        "role": _decoy(
            "former_role", lambda r: r.choice(ROLE), ("{e} used to work as {v}.", "{e} began as {v}."), "Former role"
        ),
    },
    "place": {
        "mayor": _decoy(
            "deputy", person, ("The deputy mayor of {e} is {v}.", "{v} serves as deputy mayor of {e}."), "Deputy mayor"
        ),
        "population": _decoy(
            "tourists",
            lambda r: number_text(r, r.randint(2000, 900000)),
            ("{e} welcomes {v} tourists a year.", "About {v} visitors come to {e} every year."),
            "Tourists a year",
        ),
        "founded": _decoy(
            "charter", _year, ("{e} received its town charter in {v}.", "Its town hall was built in {v}."), "Charter"
        ),
        "river": _decoy(
            "lake",
            lambda r: f"Lake {word(r)}",
            ("{v} lies just outside {e}.", "The nearest lake to {e} is {v}."),
            "Lake",
        ),
        "elevation": _decoy(
            "hill",
            lambda r: f"{r.randint(200, 3000)} metres",
            ("The hill above {e} rises to {v}.", "A nearby peak reaches {v}."),
            "Nearby peak",
        ),
    },
    "event": {
        "city": _decoy(
            "previous_city",
            lambda r: r.choice(CITY),
            ("The previous edition was held in {v}.", "Last year it was in {v}."),
            "Previous host",
        ),
        "ticket": _decoy(
            "parking",
            lambda r: f"{r.randint(3, 30)} dollars",
            ("Parking at the {e} costs {v}.", "A parking pass costs {v}."),
            "Parking",
        ),
        "visitors": _decoy(
            "exhibitors",
            lambda r: number_text(r, r.randint(20, 900)),
            ("{v} exhibitors take part in the {e}.", "The {e} hosts {v} exhibitors."),
            "Exhibitors",
        ),
        "first": _decoy(
            "latest",
            _year,
            ("The most recent {e} was held in {v}.", "The {e} was last renamed in {v}."),
            "Latest edition",
        ),
    },
}
