"""Observation texts for the grounding tests: records copied from the local knowledge pack
(``agent.knowledge.country_document``), prose documents of a user's index, and the step makers."""

from __future__ import annotations

from agent.grounding import (
    Observation,
)

JAPAN = (
    "Japan: capital Tokyo; population 127,080,000; area 377,930 km2; region Asia; subregion Eastern Asia; "
    "currency JPY; languages Japanese; borders none; calling code +81; demonym Japanese."
)


AUSTRALIA = (
    "Australia: capital Canberra; population 23,696,900; area 7,692,024 km2; region Oceania; subregion "
    "Australia and New Zealand; currency AUD; languages English; borders none; calling code +61; demonym "
    "Australian."
)


PAKISTAN = (
    "Pakistan: capital Islamabad; population 188,410,000; area 881,912 km2; region Asia; subregion Southern "
    "Asia; currency PKR; languages English, Urdu; borders Afghanistan, China, India, Iran; calling code +92; "
    "demonym Pakistani."
)


BRAZIL = (
    "Brazil: capital Brasília; population 203,586,000; area 8,515,767 km2; region Americas; subregion Latin "
    "America and the Caribbean; currency BRL; languages Portuguese; borders Argentina, Bolivia, Colombia, "
    "French Guiana, Guyana, Paraguay, Peru, Suriname, Uruguay, Venezuela; calling code +55; demonym Brazilian."
)


USA = (
    "United States: capital Washington D.C.; population 319,259,000; area 9,629,091 km2; region Americas; "
    "subregion Northern America; currency USD, USN, USS; languages English; borders Canada, Mexico; calling "
    "code +1; demonym American."
)


MEXICO = (
    "Mexico: capital Mexico City; population 119,713,203; area 1,964,375 km2; region Americas; subregion "
    "Latin America and the Caribbean; currency MXN; languages Spanish; borders Belize, Guatemala, United "
    "States; calling code +52; demonym Mexican."
)


FRANCE = (
    "France: capital Paris; population 66,078,000; area 640,679 km2; region Europe; subregion Western Europe; "
    "currency EUR; languages French; borders Andorra, Belgium, Germany, Italy, Luxembourg, Monaco, Spain, "
    "Switzerland; calling code +33; demonym French."
)


KOREA = (
    "South Korea: capital Seoul; population 50,423,955; area 100,210 km2; region Asia; subregion Eastern Asia; "
    "currency KRW; languages Korean; borders North Korea; calling code +82; demonym South Korean."
)


MALAWI = (
    "Malawi: capital Lilongwe; population 15,805,239; area 118,484 km2; region Africa; subregion Sub-Saharan "
    "Africa; currency MWK; languages English, Chichewa; borders Mozambique, Tanzania, Zambia; calling code "
    "+265; demonym Malawian."
)


MONGOLIA = (
    "Mongolia: capital Ulaanbaatar; population 2,987,733; area 1,564,110 km2; region Asia; subregion Eastern Asia; "
    "currency MNT; languages Mongolian; borders China, Russia; calling code +976; demonym Mongolian."
)


KAZAKHSTAN = (
    "Kazakhstan: capital Nur-Sultan; population 17,377,800; area 2,724,900 km2; region Asia; subregion Central "
    "Asia; currency KZT; languages Kazakh, Russian; borders China, Kyrgyzstan, Russia, Turkmenistan, Uzbekistan; "
    "calling code +76; demonym Kazakhstani."
)


CUBA = (
    "Cuba: capital Havana; population 11,210,064; area 109,884 km2; region Americas; subregion Latin America and "
    "the Caribbean; currency CUC, CUP; languages Spanish; borders none; calling code +53; demonym Cuban."
)


NEPAL = (
    "Nepal: capital Kathmandu; population 27,646,053; area 147,181 km2; region Asia; subregion Southern Asia; "
    "currency NPR; languages Nepali; borders China, India; calling code +977; demonym Nepalese."
)


TURKMENISTAN = (
    "Turkmenistan: capital Ashgabat; population 5,838,064; area 488,100 km2; region Asia; subregion Central Asia; "
    "currency TMT; languages Turkmen, Russian; borders Afghanistan, Iran, Kazakhstan, Uzbekistan; calling code "
    "+993; demonym Turkmen."
)


ZAMBIA = (
    "Zambia: capital Lusaka; population 15,023,315; area 752,612 km2; region Africa; subregion Sub-Saharan "
    "Africa; currency ZMK; languages English; borders Angola, Botswana, Malawi, Mozambique, Namibia, Tanzania, "
    "Zimbabwe; calling code +260; demonym Zambian."
)


ANGUILLA = (
    "Anguilla: capital The Valley; population 13,452; area 91 km2; region Americas; subregion Latin America and "
    "the Caribbean; currency XCD; languages English; borders none; calling code +1264; demonym Anguillian."
)


GUINEA_BISSAU = (
    "Guinea-Bissau: capital Bissau; population 1,746,000; area 36,125 km2; region Africa; subregion Sub-Saharan "
    "Africa; currency XOF; languages Portuguese; borders Guinea, Senegal; calling code +245; demonym "
    "Guinea-Bissauan."
)


LUXEMBOURG = (
    "Luxembourg: capital Luxembourg; population 549,700; area 2,586 km2; region Europe; subregion Western Europe; "
    "currency EUR; languages French, German, Luxembourgish; borders Belgium, France, Germany; calling code +352; "
    "demonym Luxembourger."
)


ZIMBABWE = (
    "Zimbabwe: capital Harare; population 13,061,239; area 390,757 km2; region Africa; subregion Sub-Saharan "
    "Africa; currency USD; languages English, Shona, Northern Ndebele; borders Botswana, Mozambique, South "
    "Africa, Zambia; calling code +263; demonym Zimbabwean."
)


GAMBIA = (
    "The Gambia: capital Banjul; population 1,882,450; area 11,295 km2; region Africa; subregion Sub-Saharan "
    "Africa; currency GMD; languages English; borders Senegal; calling code +220; demonym Gambian."
)


MONACO = (
    "Monaco: capital Monaco; population 36,950; area 2.02 km2; region Europe; subregion Western Europe; currency "
    "EUR; languages French; borders France; calling code +377; demonym Monegasque."
)


SAINT_PIERRE = (
    "Saint Pierre and Miquelon: capital Saint-Pierre; population 6,081; area 242 km2; region Americas; subregion "
    "Northern America; currency EUR; languages French; borders none; calling code +508; demonym French."
)


# prose documents of a user's index (the shape of finetune.generators.documents)
VEWEX = "vewex x440 backpack: Its battery lasts 13 hours, and its warranty lasts 6 years. It is sold in orange."


KORVE = (
    "Korve V770 headset: # Korve V770 headset The Korve V770 headset comes with a 1-year warranty, and the Korve "
    "V770 headset runs for 16 hours on one charge. It is sold in silver, and it sells for $301."
)


WEXNES = "Wexnes Brewing: # Wexnes Brewing Annual revenue was 480 million dollars, and wexnes Brewing runs 40 offices."


TORCOR = (
    "Torcor Studios: # Torcor Studios Torcor Studios was founded in 1982, and torcor Studios reported revenue of "
    "350 million dollars last year."
)


NONE = "No good search result found."


def S(query: str, text: str) -> tuple[str, str, str]:
    return ("Search", query, text)


def C(expr: str, result: str) -> tuple[str, str, str]:
    return ("Calculator", expr, result)


def observations(steps: list[tuple[str, str, str]]) -> list[Observation]:
    return [Observation(i, tool, tool_input, text) for i, (tool, tool_input, text) in enumerate(steps)]
