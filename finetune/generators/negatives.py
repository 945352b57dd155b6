"""Negatives over the country pack: the search finds nothing, or something that lacks the answer.

Shapes (every one ends ``Thought: NOT_FOUND_THOUGHT`` / ``Final Answer: not_found_answer(question)``
in at most two searches):

- ``absent_field``: the right country's record, which has no such field (president, GDP, anthem...);
- ``city``: a city asked about, its country's record (or another country's) comes back;
- ``state``: a state or province, another entity's record comes back;
- ``fictional``: a made-up country, another country's record comes back;
- ``nothing``: a search whose words are in no document: "No good search result found."

The last ask form of every absent field and the last name list entries are held out of train.
"""

from __future__ import annotations

import random
from typing import Any

from agent.prompt import SEARCH_NAME
from agent.tools.search import NO_RESULTS
from finetune.generators.base import Draft, Rejected, ToolRunner, build_row, not_found

GENERATOR = "negatives"

# field -> (label for the thought, search keyword, ask forms over {a}; the last is held out)
ABSENT: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "president": (
        "the president",
        "president",
        (
            "Who is the president of {a}?",
            "Name the president of {a}.",
            "who is {a}'s president",
            "Who is the current president of {a}?",
        ),
    ),
    "prime_minister": (
        "the prime minister",
        "prime minister",
        ("Who is the prime minister of {a}?", "Who leads the government of {a}?", "Name {a}'s prime minister."),
    ),
    "leader": (
        "the head of state",
        "head of state",
        ("Who is the head of state of {a}?", "Who rules {a}?", "Who is the leader of {a}?"),
    ),
    "gdp": (
        "the GDP",
        "GDP",
        (
            "What is the GDP of {a}?",
            "What is {a}'s gross domestic product?",
            "How big is the economy of {a}?",
            "What is the GDP per capita of {a}?",
        ),
    ),
    "anthem": (
        "the national anthem",
        "national anthem",
        ("What is the national anthem of {a}?", "What is {a}'s anthem called?", "Name the anthem of {a}."),
    ),
    "animal": (
        "the national animal",
        "national animal",
        ("What is the national animal of {a}?", "Which animal is the symbol of {a}?", "What is {a}'s national animal?"),
    ),
    "mountain": (
        "the highest mountain",
        "highest mountain",
        (
            "What is the highest mountain in {a}?",
            "How high is the tallest peak of {a}?",
            "Name the highest point of {a}.",
        ),
    ),
    "timezone": (
        "the time zone",
        "time zone",
        ("What time zone is {a} in?", "What is the time zone of {a}?", "Which UTC offset does {a} use?"),
    ),
    "dish": (
        "the national dish",
        "national dish",
        ("What is the national dish of {a}?", "What food is {a} famous for?", "Name the national dish of {a}."),
    ),
    "independence": (
        "the independence year",
        "independence",
        (
            "When did {a} become independent?",
            "In what year did {a} gain independence?",
            "What is the independence day of {a}?",
        ),
    ),
    "life": (
        "the life expectancy",
        "life expectancy",
        (
            "What is the life expectancy in {a}?",
            "How long do people live in {a} on average?",
            "What is the average lifespan in {a}?",
        ),
    ),
    "religion": (
        "the main religion",
        "religion",
        (
            "What is the main religion of {a}?",
            "Which religion is most common in {a}?",
            "What is the state religion of {a}?",
        ),
    ),
    "largest_city": (
        "the largest city",
        "largest city",
        ("What is the largest city of {a}?", "Which city in {a} has the most people?", "Name the biggest city in {a}."),
    ),
    "literacy": (
        "the literacy rate",
        "literacy rate",
        ("What is the literacy rate of {a}?", "What share of adults in {a} can read?", "How literate is {a}?"),
    ),
    "unemployment": (
        "the unemployment rate",
        "unemployment rate",
        (
            "What is the unemployment rate in {a}?",
            "How many people in {a} are unemployed?",
            "What is {a}'s jobless rate?",
        ),
    ),
    "export": (
        "the main export",
        "main export",
        (
            "What is the main export of {a}?",
            "What does {a} export most?",
            "Which product does {a} sell abroad the most?",
        ),
    ),
    "domain": (
        "the internet domain",
        "internet domain",
        (
            "What is the internet domain of {a}?",
            "Which top-level domain does {a} use?",
            "What is {a}'s country code top-level domain?",
        ),
    ),
    "sport": (
        "the national sport",
        "national sport",
        ("What is the national sport of {a}?", "Which sport is most popular in {a}?", "What is {a}'s favourite sport?"),
    ),
    "temperature": (
        "the average temperature",
        "average temperature",
        (
            "What is the average temperature in {a}?",
            "How hot does {a} get in summer?",
            "What is the climate of {a} like?",
        ),
    ),
    "founded": (
        "the founding year",
        "founded",
        ("When was {a} founded?", "In what year was {a} founded?", "Who founded {a}?"),
    ),
    "airports": (
        "the number of airports",
        "airports",
        (
            "How many airports does {a} have?",
            "What is the main airport of {a}?",
            "How many international airports are in {a}?",
        ),
    ),
    "flag": (
        "the flag colours",
        "flag colours",
        ("What colours are on the flag of {a}?", "What does the flag of {a} look like?", "Describe {a}'s flag."),
    ),
}
CITY_ASKS = (
    "What is the population of {x}?",
    "How many people live in {x}?",
    "What is the area of {x}?",
    "How big is {x} in square kilometres?",
    "Who is the mayor of {x}?",
    "When was {x} founded?",
    "How many inhabitants does the city of {x} have?",
)
# big cities that are not countries (and not the capital of theirs); the last five are held out
CITIES = (
    "Osaka Barcelona Chicago Mumbai Sydney Toronto Milan Munich Istanbul Shanghai Lagos Johannesburg "
    "Casablanca Marseille Hamburg Manchester Busan Auckland Karachi Alexandria Dubai Zurich Krakow Porto "
    "Seville Naples Kyoto Melbourne Vancouver Montreal Houston Lyon Frankfurt Rotterdam Antwerp "
    "Gothenburg Bergen Edinburgh Glasgow Kolkata Chennai Bangalore Guangzhou Shenzhen Yokohama Surabaya "
    "Cebu Medellin Cordoba Valparaiso Guadalajara Monterrey Mombasa Durban Benghazi Aleppo Izmir Odessa "
    "Gdansk Salzburg Geneva Basel Bordeaux Nagoya Incheon Daegu"
).split()
HELDOUT_CITIES = 5
STATES = (
    "Texas California Florida Bavaria Ontario Quebec Queensland Catalonia Tuscany Siberia Hokkaido Kerala "
    "Alberta Saxony Andalusia Provence Normandy Sicily Sardinia Tasmania Patagonia Yukon Lombardy Flanders "
    "Wallonia Bohemia Transylvania Kashmir Bengal Gujarat Ohio Nevada Oregon Alaska Hawaii Manitoba"
).split()
STATE_ASKS = (
    "What is the capital of {x}?",
    "What is the population of {x}?",
    "How large is {x}?",
    "Which currency is used in {x}?",
    "Who is the governor of {x}?",
    "What is the area of {x} in km²?",
)
FICTION_ASKS = (
    "What is the capital of {x}?",
    "What is the population of {x}?",
    "What currency does {x} use?",
    "Which countries border {x}?",
    "What is the area of {x}?",
    "What language is spoken in {x}?",
    "Who is the president of {x}?",
)
_SYL = "bra zu vor kel an dri mon tar ess ul quo rin sol vek ab"
NOTHING_ASKS = (
    "Who founded the {x} movement?",
    "When was the {x} treaty signed?",
    "What is the {x} anthem?",
    "How tall is the {x} tower?",
    "What does the {x} festival celebrate?",
)


def fictional_name(rng: random.Random) -> str:
    syl = _SYL.split()
    return (
        "".join(rng.choice(syl) for _ in range(rng.randint(2, 3))) + rng.choice(["ia", "stan", "land", "ova", "ar"])
    ).capitalize()


def _forms(forms: tuple[str, ...], split: str) -> list[str]:
    return list(forms[-1:]) if split == "heldout" else list(forms[:-1])


def one(
    records: list[dict[str, Any]], run: ToolRunner, rng: random.Random, split: str, names: set[str]
) -> dict[str, Any]:
    """One not-found trajectory over the split's ``records``; ``names``: every country title and alias."""
    shape = rng.choices(
        ["absent_field", "capital_city", "city", "state", "fictional", "nothing"], weights=[40, 14, 14, 10, 12, 10]
    )[0]
    draft = Draft(run)
    meta: dict[str, Any] = {"shape": shape}
    if shape == "absent_field":
        key = rng.choice(sorted(ABSENT))
        label, keyword, asks = ABSENT[key]
        rec = rng.choice(records)
        name = rec["name"]
        form = rng.choice(_forms(asks, split))
        question = form.format(a=name)
        obs = draft.act(
            f"I need to find {label} of {name}.", SEARCH_NAME, rng.choice([f"{keyword} of {name}", f"{name} {keyword}"])
        )
        if not obs.startswith(f"{name}:"):
            raise Rejected(f"first result is not {name}")
        template = f"absent:{key}:{asks.index(form)}"
        second = f"{name} {keyword} {rng.choice(['name', 'official', 'current', 'list'])}"
        subject = name
    else:
        if shape == "capital_city":  # the capital's country record comes back: its numbers are the country's
            rec = rng.choice(
                [
                    r
                    for r in records
                    if r.get("capital") and r["name"] not in r["capital"] and r["capital"] not in r["name"]
                ]
            )
            x, asks = rec["capital"], CITY_ASKS
        elif shape == "city":
            pool = CITIES[-HELDOUT_CITIES:] if split == "heldout" else CITIES[:-HELDOUT_CITIES]
            x, asks = rng.choice(pool), CITY_ASKS
        elif shape == "state":
            x, asks = rng.choice(STATES), STATE_ASKS
        elif shape == "fictional":
            x, asks = fictional_name(rng), FICTION_ASKS
        else:
            x, asks = fictional_name(rng), NOTHING_ASKS
        if x in names:
            raise Rejected(f"{x} is a country title or alias")
        form = rng.choice(_forms(asks, split))
        question = form.format(x=x)
        what = _what(form)
        query = f"{x} {_keyword(form)}" if shape != "nothing" else f"{x} {_keyword(form)}"
        obs = draft.act(f"I need to find {what} of {x}.", SEARCH_NAME, query)
        if shape == "nothing" and obs != NO_RESULTS:
            raise Rejected(f"expected no results, got {obs[:60]!r}")
        if x.lower() == obs.split(":", 1)[0].strip().lower():
            raise Rejected(f"{x} is the title of the first result")
        template = f"{shape}:{asks.index(form)}"
        second, subject = x, x
    if rng.random() < 0.3 and draft.steps[0]["observation"] != NO_RESULTS:
        draft.act(f"The result does not give what I need about {subject}. I will search again.", SEARCH_NAME, second)
    return build_row(
        question=question,
        draft=draft,
        ending=not_found(question),
        kind=f"neg_{shape}",
        generator=GENERATOR,
        template=template,
        split=split,
        meta=meta,
    )


def _keyword(form: str) -> str:
    low = form.lower()
    for word in (
        "population",
        "area",
        "mayor",
        "founded",
        "capital",
        "currency",
        "governor",
        "border",
        "language",
        "president",
        "inhabitants",
        "anthem",
        "treaty",
        "tower",
        "festival",
        "movement",
    ):
        if word in low:
            return {"inhabitants": "population", "border": "borders"}.get(word, word)
    return "population" if "people" in low else "size"


def _what(form: str) -> str:
    return "the " + _keyword(form).replace("founded", "founding year")
