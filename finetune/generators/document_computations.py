"""The computations over one document of the documents family: over two of its fields (``PAIRS``) and
over one numeric field (``SINGLES``), each with its question, expression and answer forms."""

from __future__ import annotations

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
