"""More not-found shapes (the v10 mix, attempt 10): what a search index cannot hold, and names that look found.

The v9s soup (attempt 9) still answered questions whose subject the search seemed to find: a live figure
(an exchange rate today, yesterday's match) answered from a country record, a place named like a country
answered with that country's record, a well-known fictional place answered with a real country, a Korean
question about a province or an absent field answered with a population. Each shape here runs the real search
(what ``qreact index`` + local search returns for it), and ends ``Thought: NOT_FOUND_THOUGHT`` /
``Final Answer: not_found_answer(question)`` in at most two searches:

- ``live``: a figure that changes by the hour or day (rates, prices, scores, weather, the time now);
- ``namesake``: a river, lake, mountain, sea, canal or state named like a country; the country comes back;
- ``fiction``: a well-known fictional place; some real country (or nothing) comes back;
- ``ko_place`` / ``ko_live`` / ``ko_fiction``: the same in Korean, thought and searched in English.

Hygiene: no name or form here is one of the shipped eval sets' (``finetune/evalsets/unanswerable.jsonl`` names
Atlantis, Wakanda, Narnia, Mordor, Westeros, Elbonia, Genovia, Gotham City, Georgia the US state, Jeju,
Gyeonggi, Seoul, Busan: none is drawn here; tests/finetune/generators/test_negatives_more.py checks it). The
last form of every list and the last name of every name list are held out of train.
"""

from __future__ import annotations

import random
from typing import Any

from agent.country_names import KO_NAMES
from agent.prompt import SEARCH_NAME
from agent.tools.search import NO_RESULTS
from finetune.generators.base import Draft, Rejected, ToolRunner, build_row, forms_for, not_found

GENERATOR = "negatives_more"

# live figures over a country {a} (and a second one {b}); (what, query words, form); the last is held out
LIVE: tuple[tuple[str, str, str], ...] = (
    (
        "today's exchange rate of the currency of {a}",
        "{a} exchange rate today",
        "How much is the money of {a} worth in dollars today?",
    ),
    ("the current petrol price in {a}", "{a} petrol price", "What does a litre of petrol cost in {a} at the moment?"),
    (
        "the result of the last match between {a} and {b}",
        "{a} {b} match result",
        "Who won the last football game between {a} and {b}?",
    ),
    ("the weather in {a} now", "{a} weather now", "Is it raining in {a} right now?"),
    ("the local time in {a} now", "{a} current time", "what time is it in {a} at this moment"),
    (
        "this month's inflation figure for {a}",
        "{a} inflation this month",
        "What was the inflation rate in {a} last month?",
    ),
    ("the latest election polls in {a}", "{a} election poll", "Who is ahead in the polls in {a} this week?"),
    ("today's stock market index of {a}", "{a} stock market today", "How did the stock market of {a} close today?"),
    (
        "the current number of tourists in {a}",
        "{a} tourists this year",
        "How many tourists have visited {a} so far this year?",
    ),
    ("today's headline news in {a}", "{a} news today", "What is the top news story in {a} today?"),
    ("the price of bread in {a} today", "{a} bread price", "How much does a loaf of bread cost in {a} now?"),
    (
        "the score of the game in {a} last night",
        "{a} game score last night",
        "tell me last night's basketball score in {a}",
    ),
)
# places named like a country: (place, country it is named after, what it is); the last of each kind held out
NAMESAKES: tuple[tuple[str, str, str], ...] = (
    ("the Niger River", "Niger", "river"),
    ("the Congo River", "Republic of the Congo", "river"),
    ("the Jordan River", "Jordan", "river"),
    ("Lake Chad", "Chad", "lake"),
    ("Lake Malawi", "Malawi", "lake"),
    ("Mount Kenya", "Kenya", "mountain"),
    ("the Gulf of Mexico", "Mexico", "sea"),
    ("the Sea of Japan", "Japan", "sea"),
    ("the Gulf of Oman", "Oman", "sea"),
    ("the Panama Canal", "Panama", "canal"),
    ("New Mexico", "Mexico", "state"),
    ("Luxembourg Province", "Luxembourg", "state"),
    ("the Mexican state of Mexico", "Mexico", "state"),
)
NAMESAKE_ASKS: dict[str, tuple[tuple[str, str, str], ...]] = {  # kind -> (what, query word, form); last held out
    "river": (
        ("the length", "length", "How long is {x}?"),
        ("where it reaches the sea", "mouth", "Where does {x} flow into the sea?"),
        ("the length", "length", "how many kilometres long is {x}"),
    ),
    "lake": (
        ("the depth", "depth", "How deep is {x}?"),
        ("the surface area", "area", "What is the surface area of {x}?"),
        ("the area", "area", "How big is {x} in km²?"),
    ),
    "mountain": (
        ("the height", "height", "How high is {x}?"),
        ("the first ascent", "first ascent", "When was {x} first climbed?"),
        ("the height", "height", "What is the elevation of {x} in metres?"),
    ),
    "sea": (
        ("the depth", "depth", "How deep is {x}?"),
        ("the area", "area", "What is the area of {x}?"),
        ("the depth", "depth", "What is the deepest point of {x}?"),
    ),
    "canal": (
        ("the length", "length", "How long is {x}?"),
        ("the opening year", "opened", "When did {x} open?"),
        ("the number of ships", "ships", "How many ships pass through {x} each year?"),
    ),
    "state": (
        ("the population", "population", "What is the population of {x}?"),
        ("the capital", "capital", "What is the capital of {x}?"),
        ("the area", "area", "How large is {x}?"),
        ("the population", "population", "How many people live in {x}?"),
    ),
}
# well-known fictional places (none of the eval sets'); the last three are held out
FICTION = (
    "El Dorado",
    "Shangri-La",
    "Lilliput",
    "Utopia",
    "Oz",
    "Gondor",
    "Ruritania",
    "Freedonia",
    "Latveria",
    "Zubrowka",
    "Sokovia",
    "Florin",
    "Agrabah",
    "Arendelle",
    "Neverland",
    "Camelot",
    "Lemuria",
    "Hyrule",
    "Panem",
    "Zamunda",
    "Wadiya",
    "Brobdingnag",
)
HELDOUT_FICTION = 3
FICTION_ASKS: tuple[tuple[str, str, str], ...] = (
    ("the capital", "capital", "What is the capital city of {x}?"),
    ("the population", "population", "How many people live in {x}?"),
    ("the currency", "currency", "What money do they use in {x}?"),
    ("the area", "area", "How big is {x}?"),
    ("the language", "language", "Which language is spoken in {x}?"),
    ("the neighbours", "borders", "What countries are next to {x}?"),
    ("the population", "population", "population of {x}"),
)
# Korean: places that are not countries (English name for the thought and search); the last two are held out
KO_PLACES: tuple[tuple[str, str], ...] = (
    ("강원도", "Gangwon Province"),
    ("충청북도", "North Chungcheong Province"),
    ("전라남도", "South Jeolla Province"),
    ("경상북도", "North Gyeongsang Province"),
    ("인천", "Incheon"),
    ("대구", "Daegu"),
    ("광주", "Gwangju"),
    ("대전", "Daejeon"),
    ("울산", "Ulsan"),
    ("오사카", "Osaka"),
    ("상하이", "Shanghai"),
    ("바르셀로나", "Barcelona"),
    ("토론토", "Toronto"),
    ("밀라노", "Milan"),
)
KO_PLACE_ASKS: tuple[tuple[str, str, str], ...] = (
    ("the population", "population", "{k}의 인구는 몇 명입니까?"),
    ("the area", "area", "{k}의 면적은 얼마나 됩니까?"),
    ("the population", "population", "{k}에는 몇 명이 삽니까?"),
    ("the area", "area", "{k} 면적 알려줘"),
    ("the population", "population", "{k}에 사는 사람은 모두 몇 명인가요?"),
)
KO_LIVE: tuple[tuple[str, str, str], ...] = (
    ("today's exchange rate of the currency of {a}", "{a} exchange rate today", "오늘 {k} 돈의 환율은 얼마입니까?"),
    ("the weather in {a} now", "{a} weather now", "지금 {k}에는 비가 옵니까?"),
    ("the local time in {a} now", "{a} current time", "지금 {k}은 몇 시입니까?"),
    ("the result of yesterday's match of {a}", "{a} match result", "어제 {k} 축구 경기는 누가 이겼습니까?"),
    ("this month's inflation figure for {a}", "{a} inflation this month", "이번 달 {k}의 물가 상승률은 얼마입니까?"),
)  # fmt: skip
KO_FICTION: tuple[tuple[str, str], ...] = (
    ("엘도라도", "El Dorado"),
    ("샹그릴라", "Shangri-La"),
    ("릴리풋", "Lilliput"),
    ("유토피아", "Utopia"),
    ("곤도르", "Gondor"),
    ("아렌델", "Arendelle"),
    ("네버랜드", "Neverland"),
    ("하이랄", "Hyrule"),
)
KO_FICTION_ASKS: tuple[tuple[str, str, str], ...] = (
    ("the capital", "capital", "{k}의 수도는 어디인가요?"),
    ("the population", "population", "{k}에는 사람이 몇 명 삽니까?"),
    ("the currency", "currency", "{k}에서는 어떤 돈을 씁니까?"),
    ("the population", "population", "{k}의 인구를 알려줘"),
)
SHAPES = ("live", "namesake", "fiction", "ko_place", "ko_live", "ko_fiction")
WEIGHTS = (24, 22, 14, 16, 12, 12)
SECOND_SEARCH = 0.3  # the share of rows that search once more before giving up (at most two searches)


def _names(names: list[Any], split: str, heldout: int) -> list[Any]:
    return names[-heldout:] if split == "heldout" else names[:-heldout]


def _first_title(observation: str) -> str:
    return observation.split(":", 1)[0].strip().lower()


def one(records: list[dict[str, Any]], run: ToolRunner, rng: random.Random, split: str) -> dict[str, Any]:
    """One not-found trajectory of a drawn shape over the split's country ``records``."""
    shape = rng.choices(SHAPES, weights=WEIGHTS)[0]
    draft = Draft(run)
    if shape in ("live", "ko_live"):
        recs = [r for r in records if shape == "live" or r["name"] in KO_NAMES]
        if len(recs) < 2:
            raise Rejected("too few countries")
        ra, rb = rng.sample(recs, 2)
        what, query, form = rng.choice(forms_for(LIVE if shape == "live" else KO_LIVE, split))
        what, query = what.format(a=ra["name"], b=rb["name"]), query.format(a=ra["name"], b=rb["name"])
        question = form.format(a=ra["name"], b=rb["name"], k=KO_NAMES.get(ra["name"], ""))
        obs = draft.act(f"I need to find {what}.", SEARCH_NAME, query)
        why = f"The result is a reference record about {ra['name']}; it does not give {what}."
        subject, template = ra["name"], f"{shape}:{form}"
    elif shape == "namesake":
        pool = [n for kind in NAMESAKE_ASKS for n in _names([n for n in NAMESAKES if n[2] == kind], split, 1)]
        place, country, kind = rng.choice(pool)
        what, word, form = rng.choice(forms_for(NAMESAKE_ASKS[kind], split))
        question = form.format(x=place)
        question = question[0].upper() + question[1:]
        obs = draft.act(f"I need to find {what} of {place}.", SEARCH_NAME, f"{place.removeprefix('the ')} {word}")
        if _first_title(obs) == place.removeprefix("the ").lower():
            raise Rejected(f"{place} is the title of the first result")
        kind_word = {"state": "region", "sea": "sea"}.get(kind, kind)
        bare = place.removeprefix("the ")
        why = f"The result is about the country {country}, not the {kind_word} {bare}; it does not give {what} of it."
        subject, template = place, f"namesake:{kind}:{form}"
    else:
        if shape == "fiction":
            x = rng.choice(_names(list(FICTION), split, HELDOUT_FICTION))
            en, asks = x, FICTION_ASKS
        elif shape == "ko_fiction":
            x, en = rng.choice(_names(list(KO_FICTION), split, 1))
            asks = KO_FICTION_ASKS
        else:
            x, en = rng.choice(_names(list(KO_PLACES), split, 2))
            asks = KO_PLACE_ASKS
        what, word, form = rng.choice(forms_for(asks, split))
        question = form.format(x=x, k=x)
        obs = draft.act(f"I need to find {what} of {en}.", SEARCH_NAME, f"{en} {word}")
        if _first_title(obs) == en.lower():
            raise Rejected(f"{en} is the title of the first result")
        place_word = "a place in a story, not a country" if "fiction" in shape else "not a country"
        why = f"{en} is {place_word}, and no result is about {en}; none gives {what} of it."
        subject, template = en, f"{shape}:{form}"
    if obs != NO_RESULTS and rng.random() < SECOND_SEARCH:
        draft.act(
            f"{why} I will search once more.", SEARCH_NAME, f"{subject} {rng.choice(['facts', 'official', 'latest'])}"
        )
    return build_row(
        question=question,
        draft=draft,
        ending=not_found(question),
        kind=f"neg_{shape}",
        generator=GENERATOR,
        template=template,
        split=split,
        meta={"shape": shape},
    )
