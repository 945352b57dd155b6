"""The grounding check: a table of hand-written (question, answer, observations) cases and its verdicts
(``agent.grounding.check``); the observation texts are in ``texts.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from agent.grounding import (
    check,
)
from agent.prompt import NOT_FOUND_ANSWER, NOT_FOUND_ANSWER_KO
from tests.agent.grounding.texts import (
    ANGUILLA,
    AUSTRALIA,
    BRAZIL,
    CUBA,
    FRANCE,
    GAMBIA,
    GUINEA_BISSAU,
    JAPAN,
    KAZAKHSTAN,
    KOREA,
    KORVE,
    LUXEMBOURG,
    MALAWI,
    MEXICO,
    MONACO,
    MONGOLIA,
    NEPAL,
    NONE,
    PAKISTAN,
    SAINT_PIERRE,
    TORCOR,
    TURKMENISTAN,
    USA,
    VEWEX,
    WEXNES,
    ZAMBIA,
    ZIMBABWE,
    C,
    S,
    observations,
)


@dataclass
class Case:
    id: str
    question: str
    answer: str
    steps: list[tuple[str, str, str]]
    supported: bool
    unsupported: list[str] = field(default_factory=list)  # exactly these spans when given
    evidence: list[int] | None = None  # exactly these step indexes when given
    not_found: bool = False


CASES = [
    # --- single facts from a record
    Case("capital", "What is the capital of Australia?", "The capital of Australia is Canberra.",
         [S("capital of Australia", AUSTRALIA)], True, evidence=[0]),
    Case("capital-wrong-name", "What is the capital of Australia?", "The capital of Australia is Sydney.",
         [S("capital of Australia", AUSTRALIA)], False, ["Sydney"]),
    Case("population-exact", "What is the population of Japan?", "The population of Japan is 127,080,000.",
         [S("population of Japan", JAPAN)], True, evidence=[0]),
    Case("population-no-separators", "How many people live in Japan?", "127080000 people live in Japan.",
         [S("population of Japan", JAPAN)], True),
    Case("population-million-word", "How populous is Japan?", "Japan has about 127 million people.",
         [S("population of Japan", JAPAN)], True),
    Case("population-million-rounded-2dp", "What is the population of Japan?",
         "The population of Japan is 127.08 million.", [S("population of Japan", JAPAN)], True),
    Case("population-hedged-trailing-zero", "How many people live in Japan?", "Japan has about 130 million people.",
         [S("population of Japan", JAPAN)], True),
    Case("bare-round-number-is-exact", "What is 39 times 3?", "The answer is 120.", [C("39 * 3", "117")], False,
         ["120"]),
    Case("population-scientific", "What is the population of Japan?", "About 1.27e8 people.",
         [S("population of Japan", JAPAN)], True),
    Case("population-wrong-number", "What is the population of Japan?", "The population of Japan is 125,000,000.",
         [S("population of Japan", JAPAN)], False, ["125,000,000"]),
    Case("population-wrong-million", "What is the population of Japan?", "Japan has 135 million people.",
         [S("population of Japan", JAPAN)], False, ["135 million"]),
    Case("area-units", "How big is Australia?", "Australia covers 7,692,024 km2.",
         [S("area of Australia", AUSTRALIA)], True),
    Case("area-square-kilometres", "What is the area of Pakistan?",
         "The area of Pakistan is 881,912 square kilometres.", [S("area of Pakistan", PAKISTAN)], True),
    Case("currency-code", "Which currency is used in Brazil?", "The currency of Brazil is BRL.",
         [S("currency of Brazil", BRAZIL)], True),
    Case("currency-name-not-in-record", "Which currency does France use?", "France uses the Euro.",
         [S("currency of France", FRANCE)], False, ["Euro"]),
    Case("region-subregion-connectors", "Where in the world is Brazil?",
         "Brazil is in Latin America and the Caribbean, in the Americas.", [S("region of Brazil", BRAZIL)], True),
    Case("calling-code", "What is the calling code of Malawi?", "The calling code of Malawi is +265.",
         [S("calling code of Malawi", MALAWI)], True),
    Case("accents-ignored", "What is the capital of Brazil?", "The capital of Brazil is Brasilia.",
         [S("capital of Brazil", BRAZIL)], True),
    # --- lists
    Case("borders-list", "Which countries border Pakistan?", "Pakistan borders Afghanistan, China, India and Iran.",
         [S("borders of Pakistan", PAKISTAN)], True, evidence=[0]),
    Case("borders-list-one-invented", "Which countries border Pakistan?",
         "Pakistan borders Afghanistan, China, India, Iran and Nepal.", [S("borders of Pakistan", PAKISTAN)],
         False, ["Nepal"]),
    Case("borders-multiword-names", "What countries are next to Brazil?",
         "Brazil borders Argentina, Bolivia, French Guiana and Venezuela.", [S("Brazil borders", BRAZIL)], True),
    Case("no-land-borders", "Which countries border Japan?", "Japan has no land borders with other countries.",
         [S("borders of Japan", JAPAN)], True),
    # --- yes/no and choices
    Case("yes-no", "Is Canberra the capital of Australia?", "Yes, Canberra is the capital of Australia.",
         [S("capital of Australia", AUSTRALIA)], True, evidence=[0]),
    Case("yes-no-without-evidence", "Is Canberra the capital of Australia?", "Yes.", [S("Canberra", NONE)],
         False, ["Yes."]),
    Case("choice-from-question", "Which has more people, Japan or Australia?", "Japan",
         [S("population of Japan", JAPAN), S("population of Australia", AUSTRALIA)], True, evidence=[0, 1]),
    Case("country-name-from-question-no-search", "Which has more people, Japan or Australia?", "Japan.", [],
         False, ["Japan."]),
    Case("restates-question-after-nothing", "Who is the president of France?", "The president of France is France.",
         [S("president of France", NONE), S("France president", NONE)], False,
         ["The president of France is France."]),
    Case("restates-question-after-a-record", "Who is the president of France?", "The president of France is France.",
         [S("president of France", FRANCE)], False, ["The president of France is France."]),
    # --- a name absent from every observation, a field the record lacks
    Case("person-absent", "Who is the president of Brazil?", "The president of Brazil is Jair Bolsonaro.",
         [S("president of Brazil", BRAZIL)], False, ["Jair Bolsonaro"]),
    Case("person-absent-after-nothing", "Who wrote Hamlet?", "Hamlet was written by William Shakespeare.",
         [S("author of Hamlet", NONE)], False, ["William Shakespeare"]),
    Case("record-field-that-was-not-asked", "Who is the president of Brazil?",
         "The president of Brazil is Brasília.", [S("president of Brazil", BRAZIL)], False, ["Brasília"]),
    Case("gdp-answered-with-population", "What is the GDP of Brazil?", "The GDP of Brazil is 203,586,000.",
         [S("GDP of Brazil", BRAZIL)], False, ["203,586,000"]),
    Case("the-answer-names-another-field", "What is the life expectancy in Japan?",
         "The population of Japan is 127,080,000.", [S("life expectancy Japan", JAPAN)], False, ["127,080,000"]),
    Case("life-expectancy-with-area", "What is the life expectancy in Japan?",
         "The life expectancy in Japan is 377,930.", [S("life expectancy Japan", JAPAN)], False, ["377,930"]),
    # --- entities of another type: a city for its country
    Case("city-population-from-country-record", "What is the population of Tokyo?",
         "The population of Tokyo is 127,080,000.", [S("population of Tokyo", JAPAN)], False, ["127,080,000"]),
    Case("city-with-country-name-inside", "What is the population of Mexico City?",
         "The population of Mexico City is 119,713,203.", [S("population of Mexico City", MEXICO)], False,
         ["119,713,203"]),
    Case("city-even-when-searched-as-country", "How many people live in Tokyo?", "127,080,000 people live in Tokyo.",
         [S("population of Japan", JAPAN)], False, ["127,080,000"]),
    Case("reverse-lookup-title", "Which country has Canberra as its capital?", "Australia",
         [S("capital Canberra", AUSTRALIA)], True, evidence=[0]),
    Case("state-from-random-record", "What is the capital of Texas?", "The capital of Texas is Washington D.C.",
         [S("capital of Texas", USA)], False, ["Washington D.C"]),
    Case("title-of-a-random-record", "What is the capital of Texas?", "The capital of Texas is Åland Islands.",
         [S("capital of Texas", "Åland Islands: capital Mariehamn; population 28,875; area 1,580 km2; region Europe; "
            "subregion Northern Europe; currency EUR; languages Swedish; borders none; calling code +358; "
            "demonym Ålandish.")], False, ["Åland Islands"]),
    Case("off-topic-record-is-no-evidence", "What is the weather in Paris today?",
         "The weather in Paris is hot and sunny today.", [S("weather in Paris", FRANCE)], False,
         ["The weather in Paris is hot and sunny today."]),
    Case("reverse-lookup-by-currency", "Which country uses the currency JPY?", "Japan uses JPY.",
         [S("currency JPY", JAPAN)], True),
    Case("code-matches-only-as-written", "Who won the 2018 FIFA World Cup?", "Cuba has won the 2018 FIFA World Cup.",
         [S("who won the 2018 FIFA World Cup", "Cuba: capital Havana; population 11,210,064; area 109,884 km2; "
            "region Americas; currency CUC, CUP; languages Spanish; borders none; demonym Cuban.")], False, ["Cuba"]),
    Case("alias-usa", "What is the capital of the USA?", "The capital of the United States is Washington D.C.",
         [S("capital of the USA", USA)], True),
    Case("demonym-stem", "What language do Germans speak?", "Germans speak German.",
         [S("language of Germany", "Germany: capital Berlin; population 80,783,000; area 357,114 km2; region "
            "Europe; subregion Western Europe; currency EUR; languages German; borders Austria; calling code +49; "
            "demonym German.")], True),
    # --- Calculator
    Case("calculator-result", "What is 37 times 12 plus 5?", "The answer is 449.", [C("37 * 12 + 5", "449")], True,
         evidence=[0]),
    Case("calculator-percent-question", "A jacket costs 400 dollars. How much is a 30% discount?",
         "The discount is 120 dollars.", [C("400 * 30 / 100", "120.0")], True),
    Case("density-chain", "How many people live per square kilometre in Malawi?",
         "The population density of Malawi is about 133 people per square kilometre.",
         [S("population of Malawi", MALAWI), S("area of Malawi", MALAWI), C("15805239 / 118484", "133.395555")],
         True, evidence=[0, 2]),  # step 0 already held both numbers
    Case("density-rounded-2dp", "What is the population density of Malawi?",
         "Malawi has 133.40 people per km2.",
         [S("population of Malawi", MALAWI), S("area of Malawi", MALAWI), C("15805239 / 118484", "133.395555")],
         True),
    Case("calculator-input-invented", "What is the population density of Tokyo?",
         "The population density of Tokyo is about 6,000 people per square kilometre.",
         [S("population of Tokyo", NONE), C("14000000 / 2194", "6380.8569")], False, ["6,000"]),
    Case("calculator-laundering-city-record", "What is the population density of Tokyo?",
         "The population density of Tokyo is about 336 people per square kilometre.",
         [S("population of Tokyo", JAPAN), S("area of Tokyo", JAPAN), C("127080000 / 377930", "336.2527")],
         False, ["336"]),
    Case("sum-of-two-records", "What is the combined population of Japan and Australia?",
         "The combined population of Japan and Australia is 150,776,900.",
         [S("population of Japan", JAPAN), S("population of Australia", AUSTRALIA),
          C("127080000 + 23696900", "150776900")], True, evidence=[0, 1, 2]),
    Case("negative-difference", "How many more people live in Australia than in Japan?",
         "Australia has -103,383,100 more people than Japan.",
         [S("population of Australia", AUSTRALIA), S("population of Japan", JAPAN),
          C("23696900 - 127080000", "-103383100")], True),
    Case("difference-size-from-calculator", "How many fewer people live in Australia than in Japan?",
         "Australia has 103,383,100 fewer people than Japan.",
         [S("population of Australia", AUSTRALIA), S("population of Japan", JAPAN),
          C("23696900 - 127080000", "-103383100")], True),
    Case("ratio-about", "How many times more people live in Japan than in Australia?",
         "Japan has about 5.4 times as many people as Australia.",
         [S("population of Japan", JAPAN), S("population of Australia", AUSTRALIA),
          C("127080000 / 23696900", "5.362811")], True),
    Case("percent-of-fraction", "What share of 200 is 50?", "50 is 25% of 200.", [C("50 / 200", "0.25")], True),
    Case("math-from-memory", "What is 17 times 23?", "17 times 23 is 391.", [], False, ["391"]),
    # --- years, dates, prose documents
    Case("year-in-document", "When did the bridge open?", "The bridge opened in 1932.",
         [S("bridge opening", "Harbour Bridge: The Sydney Harbour Bridge opened on 19 March 1932 after eight "
            "years of work.")], True),
    Case("year-wrong", "When did the bridge open?", "The bridge opened in 1923.",
         [S("bridge opening", "Harbour Bridge: The Sydney Harbour Bridge opened on 19 March 1932.")], False,
         ["1923"]),
    Case("date-day-month-year", "When did the bridge open?", "It opened on 19 March 1932.",
         [S("bridge opening", "Harbour Bridge: The Sydney Harbour Bridge opened on 19 March 1932.")], True),
    Case("date-month-wrong", "When did the bridge open?", "It opened on 19 May 1932.",
         [S("bridge opening", "Harbour Bridge: The Sydney Harbour Bridge opened on 19 March 1932.")], False,
         ["May"]),
    Case("quoted-string", "What is the motto?", 'The motto is "advance britannia".',
         [S("motto", "Notes: the unofficial motto was Advance Australia Fair.")], False, ["advance britannia"]),
    Case("quoted-string-found", "What is the motto?", 'The motto is "Advance Australia Fair".',
         [S("motto", "Notes: the unofficial motto was Advance Australia Fair.")], True),
    Case("name-in-prose", "Who designed the bridge?", "John Bradfield designed the bridge.",
         [S("bridge designer", "Bridge notes: chief engineer John Bradfield oversaw the design.")], True),
    Case("temperature-negative", "What was the lowest temperature?", "The lowest temperature was -23.5 °C.",
         [S("lowest temperature", "Records: the lowest temperature measured was -23.5 °C at Charlotte Pass.")],
         True),
    Case("temperature-sign-dropped", "What was the lowest temperature?", "The lowest temperature was 23.5 °C.",
         [S("lowest temperature", "Records: the lowest temperature measured was -23.5 °C at Charlotte Pass.")],
         False, ["23.5"]),
    # --- Korean
    Case("korean-answer-number", "일본의 인구는 얼마입니까?", "일본의 인구는 127,080,000명입니다.",
         [S("population of Japan", JAPAN)], True),
    Case("korean-answer-man-eok", "일본의 인구는 얼마입니까?", "일본의 인구는 약 1억 2708만 명입니다.",
         [S("population of Japan", JAPAN)], True),
    Case("korean-question-english-answer", "호주의 수도는 어디입니까?", "The capital of Australia is Canberra.",
         [S("capital of Australia", AUSTRALIA)], True),
    Case("korean-name-not-in-evidence", "대한민국의 대통령은 누구입니까?", "대한민국의 대통령은 홍길동입니다.",
         [S("president of South Korea", KOREA)], False, ["홍길동"]),
    Case("korean-no-results", "서울의 인구는?", "서울의 인구는 9,700,000명입니다.", [S("서울 인구", NONE)], False,
         ["9,700,000"]),
    # a restatement, read by Korean stems (a live v2b run on the unanswerable set, 2026-12-01)
    Case("korean-restatement", "일본의 총리는 누구입니까?", "일본의 총리는 '일본의'입니다.",
         [S("prime minister of Japan", JAPAN)], False, ["일본의 총리는 '일본의'입니다."]),
    Case("korean-choice-is-not-a-restatement", "일본과 호주 중 인구가 더 많은 나라는 어디입니까?",
         "일본의 인구가 더 많습니다.", [S("population of Japan", JAPAN), S("population of Australia", AUSTRALIA)],
         True),
    # --- not found
    Case("not-found-fixed-form", "Who is the president of Brazil?", NOT_FOUND_ANSWER,
         [S("president of Brazil", BRAZIL)], True, not_found=True),
    Case("not-found-korean-form", "브라질의 대통령은 누구입니까?", NOT_FOUND_ANSWER_KO,
         [S("president of Brazil", NONE)], True, not_found=True),
    Case("not-found-loose", "What is the GDP of Japan?", "I couldn't find the GDP of Japan.",
         [S("GDP of Japan", JAPAN)], True, not_found=True),
    # --- observations that hold nothing
    Case("errors-are-not-evidence", "What is the population of Japan?", "The population of Japan is 127,080,000.",
         [S("population of Japan", "Error: local search unavailable (OSError: disk)."), S("Japan", NONE)], False,
         ["127,080,000"]),
    Case("auto-mode-prefix", "What is the capital of Japan?", "The capital of Japan is Tokyo.",
         [S("capital of Japan", "[local knowledge base] " + JAPAN)], True),
    Case("three-records-one-observation", "What is the capital of Pakistan?", "The capital of Pakistan is Islamabad.",
         [S("capital of Pakistan", PAKISTAN + " " + JAPAN + " " + AUSTRALIA)], True, evidence=[0]),
    Case("wrong-record-of-three", "What is the capital of Pakistan?", "The capital of Pakistan is Tokyo.",
         [S("capital of Pakistan", PAKISTAN + " " + JAPAN)], False, ["Tokyo"]),
    # --- false verdicts on right answers, found by `python -m bench.grounding_gold` over the v2 gold rows
    # Korean answer words are field and unit words, not names
    Case("korean-area-unit-word", "몽골 면적 알려줘", "몽골의 면적은 1,564,110 제곱킬로미터입니다.",
         [S("area of Mongolia", MONGOLIA)], True, evidence=[0]),
    Case("korean-field-word-not-in-question", "몽골의 넓이는 몇 제곱킬로미터인가요?",
         "몽골의 면적은 1,564,110 제곱킬로미터입니다.", [S("area of Mongolia", MONGOLIA)], True),
    Case("korean-population-word", "쿠바에는 몇 명이 살고 있나요?", "쿠바의 인구는 11,210,064명입니다.",
         [S("population of Cuba", CUBA)], True),
    Case("korean-currency-word", "쿠바에서는 어떤 화폐를 쓰나요?", "쿠바의 통화는 'CUP'입니다.",
         [S("currency of Cuba", CUBA)], True),
    Case("korean-sum-particle-wa-gwa", "대한민국과 쿠바에는 모두 몇 명이 사나요?",
         "대한민국와(과) 쿠바의 인구를 합치면 61634019명입니다.",
         [S("population of South Korea", KOREA), S("population of Cuba", CUBA), C("50423955 + 11210064", "61634019")],
         True, evidence=[0, 1, 2]),
    Case("korean-density-per-km2-asks-area", "카자흐스탄은 제곱킬로미터당 몇 명이 사나요?",
         "카자흐스탄의 인구 밀도는 제곱킬로미터당 약 6명입니다.",
         [S("population of Kazakhstan", KAZAKHSTAN), S("area of Kazakhstan", KAZAKHSTAN),
          C("round(17377800 / 2724900)", "6")], True),
    Case("korean-official-language", "네팔의 공용어는 무엇입니까?", "네팔의 공용어는 'Nepali'입니다.",
         [S("language of Nepal", NEPAL)], True),
    Case("korean-compare-with-english-name", "영국과 카자흐스탄 중 어디에 사람이 더 많이 사나요?",
         "카자흐스탄(Kazakhstan)의 인구가 더 많습니다.",
         [S("population of Kazakhstan", KAZAKHSTAN), S("population of Kazakhstan", KAZAKHSTAN)], True),
    Case("korean-invented-name-still-caught", "네팔의 수도는 어디입니까?", "네팔의 수도는 포카라입니다.",
         [S("capital of Nepal", NEPAL)], False, ["포카라"]),
    # a question in Hangul names its country: a search for another country is no evidence
    Case("korean-question-other-country-searched", "이라크의 국토 면적은 얼마나 됩니까?",
         "이라크의 면적은 2,149,690 제곱킬로미터입니다.",
         [S("area of Saudi Arabia", "Saudi Arabia: capital Riyadh; population 30,770,375; area 2,149,690 km2; "
            "region Asia; currency SAR; languages Arabic; borders Iraq, Jordan; demonym Saudi Arabian.")],
         False, ["2,149,690"]),
    Case("korean-question-other-country-named-in-english", "이집트 인구가 몇 명이야?",
         "The population of Israel is 8,268,400.",
         [S("population of Israel", "Israel: capital Jerusalem; population 8,268,400; area 20,770 km2; region "
            "Asia; currency ILS; languages Hebrew, Arabic; borders Egypt, Jordan; demonym Israeli.")],
         False, ["Israel", "8,268,400"]),
    Case("korean-question-its-country-searched", "몽골의 인구는?", "몽골의 인구는 2,987,733명입니다.",
         [S("population of Mongolia", MONGOLIA)], True, evidence=[0]),
    # a choice between entities the question names
    Case("choice-of-three-with-field-word", "Which of Zambia, Turkmenistan and Anguilla has the largest population?",
         "Zambia has the largest population.",
         [S("population of Zambia", ZAMBIA), S("population of Turkmenistan", TURKMENISTAN),
          S("population of Anguilla", ANGUILLA)], True, evidence=[0, 1, 2]),
    # "Zambia and Anguilla" is one span of the question: Zambia is then a claim, its record the evidence
    Case("choice-of-three-inside-a-list-span", "Which of Turkmenistan, Zambia and Anguilla has the largest population?",
         "Zambia has the largest population.",
         [S("population of Turkmenistan", TURKMENISTAN), S("population of Zambia", ZAMBIA),
          S("population of Anguilla", ANGUILLA)], True, evidence=[1]),
    Case("choice-between-two-documents",
         "Between the Vewex X440 backpack and the Korve V770 headset, which one has the higher battery life?",
         "The Korve V770 headset has the higher battery life.",
         [S("Vewex X440 backpack battery", VEWEX), S("Korve V770 headset battery", KORVE)], True),
    Case("choice-naming-every-option-restates",
         "Which of Turkmenistan, Zambia and Anguilla has the largest population?",
         "Turkmenistan, Zambia and Anguilla have the largest population.",
         [S("population of Zambia", ZAMBIA)], False,
         ["Turkmenistan, Zambia and Anguilla have the largest population."]),
    Case("choice-without-evidence", "Which of Zambia, Turkmenistan and Anguilla has the largest population?",
         "Zambia has the largest population.", [S("population of Zambia", NONE)], False,
         ["Zambia has the largest population."]),
    # reverse lookups: a name inside a longer name of the question is the answer's own claim
    Case("reverse-lookup-city-named-after-country", "Mexico City is the capital of which country?",
         "Mexico City is the capital of Mexico.", [S("capital Mexico City", MEXICO)], True, evidence=[0]),
    Case("reverse-lookup-city-same-name", "what country is Luxembourg the capital of",
         "Luxembourg is the capital of Luxembourg.", [S("capital Luxembourg", LUXEMBOURG)], True, evidence=[0]),
    Case("capital-inside-country-name", "tell me the Guinea-Bissau capital", "The capital of Guinea-Bissau is Bissau.",
         [S("capital of Guinea-Bissau", GUINEA_BISSAU)], True, evidence=[0]),
    Case("capital-inside-country-name-wrong", "tell me the Guinea-Bissau capital",
         "The capital of Guinea-Bissau is Conakry.", [S("capital of Guinea-Bissau", GUINEA_BISSAU)], False,
         ["Conakry"]),
    Case("city-question-answered-with-country", "Who is the mayor of Mexico City?",
         "The mayor of Mexico City is Mexico.",
         [S("mayor of Mexico City", MEXICO)], False, ["Mexico"]),
    Case("capital-same-as-country", "Monaco has which city as its capital?", "The capital of Monaco is Monaco.",
         [S("capital of Monaco", MONACO)], True, evidence=[0]),
    Case("capital-same-as-country-not-asked", "Who is the prince of Monaco?", "The prince of Monaco is Monaco.",
         [S("prince of Monaco", MONACO)], False, ["The prince of Monaco is Monaco."]),
    Case("capital-inside-a-list-like-country-name", "What is the capital of Saint Pierre and Miquelon?",
         "The capital of Saint Pierre and Miquelon is Saint-Pierre.",
         [S("capital of Saint Pierre and Miquelon", SAINT_PIERRE)], True, evidence=[0]),
    Case("capital-as-seat-of-government", "In which city is the government of Pakistan seated?",
         "The capital of Pakistan is Islamabad.", [S("capital of Pakistan", PAKISTAN)], True, evidence=[0]),
    # other fields of the record count only once the answer states the asked one
    Case("other-field-after-the-asked-one", "In which city is the government of Pakistan seated?",
         "The capital of Pakistan is Islamabad, in Southern Asia.", [S("capital of Pakistan", PAKISTAN)], True),
    Case("other-field-instead-of-the-asked-one", "In which city is the government of Pakistan seated?",
         "The government of Pakistan is in India.", [S("capital of Pakistan", PAKISTAN)], False, ["India"]),
    Case("other-field-spelled-apart-instead", "In which city is the government of Pakistan seated?",
         "The government of Pakistan is in Southern Asia.", [S("capital of Pakistan", PAKISTAN)], False,
         ["Southern Asia"]),
    # Calculator inputs: a number written with a scale word, a percent as a factor
    Case("calculator-abs-of-millions-from-two-documents",
         "What is the difference in revenue between Wexnes Brewing and Torcor Studios?", "The answer is 130.",
         [S("Wexnes revenue", WEXNES), S("Torcor revenue", TORCOR), C("abs(480 - 350)", "130")], True,
         evidence=[0, 1, 2]),
    Case("calculator-invented-input-from-documents",
         "What is the difference in revenue between Wexnes Brewing and Torcor Studios?", "The answer is 150.",
         [S("Wexnes revenue", WEXNES), S("Torcor revenue", TORCOR), C("abs(500 - 350)", "150")], False, ["150"]),
    Case("calculator-percent-as-factor", "A 58-dollar lamp is 50% off, then 10% tax is added. What is the final price?",
         "The answer is 31.9.", [C("58 * (1 - 50 / 100) * 1.1", "31.9")], True),
    # field words of the question
    Case("population-as-headcount", "Look up the headcount of The Gambia.",
         "The population of The Gambia is 1,882,450.", [S("population of The Gambia", GAMBIA)], True),
    Case("demonym-as-a-person-from", "what is the name for a person from Zimbabwe",
         "People from Zimbabwe are called Zimbabwean.", [S("demonym of Zimbabwe", ZIMBABWE)], True),
    # a capitalised sentence start is no part of a name ("Together", "Overall"); place-name prefixes are
    Case("sentence-start-word-before-names", "How many inhabitants do Japan and Australia have in total?",
         "Together Japan and Australia have 150776900 people.",
         [S("population of Japan", JAPAN), S("population of Australia", AUSTRALIA),
          C("127080000 + 23696900", "150776900")], True, evidence=[0, 1, 2]),
    Case("sentence-start-word-before-a-wrong-name", "What is the capital of Australia?",
         "Overall Sydney is the capital of Australia.", [S("capital of Australia", AUSTRALIA)], False,
         ["Overall Sydney"]),
    Case("sentence-start-place-prefix-stays", "What is the capital of Australia?",
         "North Canberra is the capital of Australia.", [S("capital of Australia", AUSTRALIA)], False,
         ["North Canberra"]),
]  # fmt: skip


def test_enough_cases() -> None:
    assert len(CASES) >= 40
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_case(case: Case) -> None:
    g = check(case.question, case.answer, observations(case.steps))
    assert g.supported is case.supported, g
    assert g.not_found is case.not_found, g
    if case.supported:
        assert g.unsupported == []
    else:
        assert g.unsupported, "an unsupported answer always says which span lacks evidence"
        assert g.unsupported == case.unsupported, g
    if case.evidence is not None:
        assert g.evidence == case.evidence, g


def test_empty_answer_is_unsupported() -> None:
    g = check("What is the capital of Japan?", None, observations([S("capital of Japan", JAPAN)]))
    assert not g.supported and not g.not_found


def test_sentence_tail_drops_only_a_plain_word_found_nowhere() -> None:
    from agent.grounding.names import name_claims, sentence_tail

    answer = "Together Japan and Australia have 150776900 people. Overall Tokyo is big."
    question = "How many people live in Japan and Australia, and is Tokyo big?"
    first, second = (c for c in name_claims(answer) if c.span.startswith(("Together", "Overall")))
    tail = sentence_tail(first, answer, question, [question])
    assert tail is not None and (tail.span, answer[tail.start :].startswith("Japan")) == ("Japan and Australia", True)
    assert sentence_tail(second, answer, question, []) is not None  # a sentence start after a full stop
    assert sentence_tail(second, answer, question, ["Overall rank: 1"]) is None  # the word is in the evidence
    assert sentence_tail(second, answer, "Is Kyoto big?", []) is None  # "Tokyo" is no name of the question
    mid = name_claims("The figure for Together Japan is 3.")[0]
    assert sentence_tail(mid, "The figure for Together Japan is 3.", question, []) is None  # not a sentence start


def test_a_yes_or_no_is_a_whole_word() -> None:
    from agent.grounding.verdict import _YES_NO

    for answer in ("Yes, it is.", "No.", "no, it does not", "Nope", "네, 맞습니다.", "예.", "아니요."):
        assert _YES_NO.match(answer), answer
    for answer in ("Norway has 5 million people.", "nova mobile was founded in 2023.", "Yesterday's count is 4.",
                   "네팔의 수도는 카트만두입니다.", "예멘의 인구는 ..."):  # fmt: skip
        assert not _YES_NO.match(answer), answer
    # an echo is no yes/no: "Norway's ..." restating the question is unsupported without evidence
    from agent.grounding import Observation

    rec = [Observation(0, "Search", "norway", "Norway: capital Oslo; population 5,379,475; area 323,802 km2.")]
    g = check("What is the capital of Norway?", "Norway's capital is the capital of Norway.", rec)
    assert not g.supported  # read as "No ..." before: supported by the record it does not quote


RAIL = (
    "Northwind Rail: # Northwind Rail Northwind Rail runs trains between Dalby and Port Ellen. The line is 184 "
    "kilometres long and has 11 stations. Dr. Amina Sato: # Dr. Amina Sato Dr. Amina Sato is a marine biologist at "
    "the Coral Institute in Kelso Bay. She was born in 1979 and joined the institute in 2008."
)


def test_a_quantity_question_is_no_choice_among_its_names() -> None:
    from agent.grounding import Observation

    obs = [Observation(0, "Search", "northwind rail trains", RAIL)]
    q = "How many trains a day does Northwind Rail run between Dalby and Port Ellen?"
    g = check(q, "Northwind Rail runs 184 trains a day.", obs, documents=True, attributes=True)
    assert not g.supported and g.unsupported[0].startswith("184 (the sentence holding it does not state")
    q2 = "How many stations does Northwind Rail have between Dalby and Port Ellen?"
    assert check(q2, "Northwind Rail has 11 stations.", obs, documents=True, attributes=True).supported
    # a choice still is one: the answer picks one of the question's names
    q3 = "Which is the start of the line, Dalby or Port Ellen?"
    assert check(q3, "Dalby.", obs, documents=True, attributes=True).supported


def test_who_and_where_want_a_name_the_question_does_not_hold() -> None:
    from agent.grounding import Observation

    obs = [Observation(0, "Search", "amina sato", RAIL)]
    g = check("Tell me where Dr. Amina Sato was born.", "Dr. Amina Sato was born in 1979.", obs, attributes=True)
    assert not g.supported and "asked where" in g.unsupported[0]
    assert check("Tell me where Dr. Amina Sato was born.", "Dr. Amina Sato was born in 1979.", obs).supported  # off
    assert check(
        "Where does Dr. Amina Sato work?", "At the Coral Institute in Kelso Bay.", obs, attributes=True
    ).supported
    g = check("Who runs trains between Dalby and Port Ellen?", "Trains run between Dalby and Port Ellen.", obs,
              attributes=True)  # fmt: skip
    assert not g.supported and "asked who" in g.unsupported[0]
    assert check("Who runs trains between Dalby and Port Ellen?", "Northwind Rail.", obs, attributes=True).supported
    # the first wh-word decides: a number answers "what ... where"
    q = "What year was the biologist born who works where the Coral Institute is?"
    assert check(q, "1979.", obs, attributes=True).supported
