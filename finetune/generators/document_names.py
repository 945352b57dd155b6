"""The made-up names of the documents family: syllables, first names, cities, kinds of company, product
and event, roles, months and colours; a word, a person, a whole number as prose writes it, and an
entity of each document type."""

from __future__ import annotations

import random

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


def word(rng: random.Random, n: int = 2) -> str:
    return "".join(rng.choice(_SYL) for _ in range(n)).capitalize()


def person(rng: random.Random) -> str:
    return f"{rng.choice(FIRST)} {word(rng, 2)}"


def number_text(rng: random.Random, value: int) -> str:
    """A whole number as prose writes it: with or without thousands separators."""
    return f"{value:,}" if value >= 1000 and rng.random() < 0.7 else str(value)


def entity(rng: random.Random, kind: str) -> str:
    """A made-up name for an entity of document type ``kind``."""
    if kind == "company":
        return f"{word(rng)} {rng.choice(COMPANY_KIND)}"
    if kind == "product":
        return f"{word(rng)} {rng.choice('XKZRV')}{rng.randint(2, 9)}{rng.randint(0, 9)}0 {rng.choice(PRODUCT_KIND)}"
    if kind == "person":
        return person(rng)
    if kind == "place":
        return word(rng) + rng.choice(["ville", "burg", "ford", "mouth", "stead", " Falls", " Harbour"])
    if kind == "event":
        return f"{word(rng)} {rng.choice(EVENT_KIND)}"
    return f"{word(rng)} {rng.choice(['Line', 'Express', 'Loop', 'Shuttle'])}"
