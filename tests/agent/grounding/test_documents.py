"""The document step of the check (``agent.grounding.documents``, ``check(..., documents=True)``)."""

from __future__ import annotations

import random

import pytest

from agent.grounding import Observation, check
from agent.grounding.documents import attribute_words, documents_of, entity_forms, run_entities

BAKERY = (
    "Northwind Rail: # Northwind Rail Northwind Rail runs trains between Dalby and Port Ellen. The line is 184 "
    "kilometres long and has 11 stations. A one-way ticket costs 27 dollars. Harbor Street Bakery: # Harbor "
    "Street Bakery Harbor Street Bakery opened in 1998. The owner, Teresa Okafor, bakes about 350 loaves of "
    "bread every morning. A sourdough loaf costs 6 dollars and a croissant costs 3 dollars."
)
ZOO = "Brookfield Zoo: # Brookfield Zoo Brookfield Zoo opened in 1934. It is home to 1,900 animals."


def _obs(text: str, query: str = "q") -> list[Observation]:
    return [Observation(0, "Search", query, text)]


def test_another_entity_document_does_not_support_the_value() -> None:
    q, a = "How much does a croissant cost at Orbit Coffee?", "A croissant costs 3 dollars."
    assert check(q, a, _obs(BAKERY)).supported  # today's check: the number is in an observation
    g = check(q, a, _obs(BAKERY), documents=True)
    assert not g.supported
    assert g.unsupported == ["3 (no document about orbit coffee states it)"]


def test_the_asked_entity_document_supports_it() -> None:
    q = "How much does a croissant cost at Harbor Street Bakery?"
    assert check(q, "A croissant costs 3 dollars.", _obs(BAKERY), documents=True).supported
    # possessive, case and "the" in the question
    q2 = "What is the price of a croissant at the harbor street bakery's shop?"
    assert entity_forms("How much is a croissant at the Harbor Street Bakery's?") == ["harbor street bakery"]
    assert check(q2, "3 dollars.", _obs(BAKERY), documents=False).supported


def test_a_sentence_that_does_not_state_the_asked_attribute() -> None:
    q = "How many visitors does Brookfield Zoo get each year?"
    assert attribute_words(q, entity_forms(q)) == ["visitors"]
    g = check(q, "Brookfield Zoo gets 1,900 visitors each year.", _obs(ZOO), documents=True)
    assert not g.supported and "does not state the asked visitors" in g.unsupported[0]
    ok = check("How many animals live at Brookfield Zoo?", "1,900 animals.", _obs(ZOO), documents=True)
    assert ok.supported


def test_synonyms_and_word_forms_state_the_attribute() -> None:
    text = "Vintor Pharma: # Vintor Pharma Vintor Pharma was founded in 1967. The staff numbers 11151."
    assert check("How many employees does Vintor Pharma have?", "11151.", _obs(text), documents=True).supported
    assert not check("How many offices does Vintor Pharma have?", "11151.", _obs(text), documents=True).supported
    text2 = "Kacor Textiles: # Kacor Textiles Kacor Textiles employs 16,242 people."
    assert check("How many employees does Kacor Textiles have?", "16,242", _obs(text2), documents=True).supported


def test_what_is_not_asked_stays_as_today() -> None:
    # no proper name in the question
    assert check("How much does a croissant cost?", "3 dollars.", _obs(BAKERY), documents=True).supported
    # a computed answer: the Calculator's inputs are checked as numbers, not sentences
    obs = [*_obs(BAKERY), Observation(1, "Calculator", "3 * 5", "15")]
    assert check(
        "What do five croissants cost at Orbit Coffee?", "They cost 15 dollars.", obs, documents=True
    ).supported
    # yes/no, and a not-found answer
    assert check("Does Orbit Coffee sell croissants for 3 dollars?", "Yes, 3 dollars.", _obs(BAKERY), True).supported
    assert check(
        "How much is a croissant at Orbit Coffee?", "I could not find the answer.", _obs(BAKERY), True
    ).not_found
    # a country record is read field by field, not by this step
    rec = "Japan: capital Tokyo; population 126,960,000; area 377,975 km2."
    assert check("What is the population of Japan?", "126,960,000", _obs(rec), documents=True).supported
    zim = "Zimbabwe: capital Harare; population 15,178,979; area 390,757 km2; region Africa; subregion Eastern Africa."
    assert check("On which continent is Zimbabwe?", "Zimbabwe is in Africa.", _obs(zim), documents=True).supported
    q = "How many square kilometres does Zimbabwe cover?"
    assert check(q, "The area of Zimbabwe is 390,757 square kilometres.", _obs(zim), documents=True).supported


def test_a_title_does_not_end_the_sentence() -> None:
    text = "Pinecrest School: # Pinecrest School Pinecrest has 28 teachers. The head teacher is Mr. Daniel Reyes."
    q = "Who is the head teacher of Pinecrest School?"
    assert check(q, "The head teacher is Daniel Reyes.", _obs(text), documents=True).supported
    assert not check("Who founded Pinecrest School?", "Daniel Reyes.", _obs(text), documents=True).supported


def test_documents_split_at_the_search_tool_marks() -> None:
    docs = documents_of(BAKERY)
    assert len(docs) == 2 and docs[1].startswith("Harbor Street Bakery: # ")
    assert documents_of("plain text. more.") == ["plain text. more."]


def _generated(n: int, seed: int) -> list[dict]:
    from finetune.generators import documents

    rng, rows = random.Random(seed), []
    while len(rows) < n:
        try:
            rows.append(documents.one(rng, "train"))
        except Exception:  # a rejected draw (the generator's own filter)
            continue
    return rows


@pytest.mark.parametrize("seed", [3, 11])
def test_generated_document_rows(seed: int) -> None:
    """Train-side rows of ``finetune.generators.documents``: every gold answer stays supported; a
    missing-entity row answered with any number of its observations is flagged."""
    flagged = wrong = 0
    for row in _generated(25, seed):
        obs = [Observation(i, s["tool"], s["tool_input"], s["observation"]) for i, s in enumerate(row["steps"])]
        if row.get("answerable", True) is not False:
            g = check(row["question"], row["final_answer"], obs)
            assert check(row["question"], row["final_answer"], obs, documents=True).supported == g.supported, row
        elif row["kind"] == "doc_missing_entity":
            for s in row["steps"]:
                for tok in s["observation"].split():
                    if tok.rstrip(".").isdigit():
                        answer = f"The answer is {tok.rstrip('.')}."
                        if check(row["question"], answer, obs).supported:
                            wrong += 1
                            flagged += not check(row["question"], answer, obs, documents=True).supported
    assert flagged == wrong


LAKE = (
    "Alder Lake: # Alder Lake Alder Lake is a mountain lake 1,450 metres above sea level. It is 3.2 kilometres long "
    "and 68 metres deep at its deepest point. Stellar S9 phone: # Stellar S9 phone The Stellar S9 is a phone made "
    "by Nova Mobile. The phone was released in 2023 and costs 799 dollars."
)


def test_a_lowercase_question_takes_its_entity_from_the_documents() -> None:
    obs = _obs(LAKE)
    assert run_entities("how wide is alder lake", obs) == ["alder lake"]  # a document title
    assert run_entities("stellar s9 price?", obs) == ["stellar s9"]  # two words of the title "Stellar S9 phone"
    assert run_entities("when was nova mobile founded", obs) == ["nova mobile"]  # a name in a document's text
    assert run_entities("how wide is the lake", obs) == []  # no phrase of the question is a name there
    assert run_entities("How wide is Alder Lake?", []) == ["alder lake"]  # a written name: as before
    g = check("how wide is alder lake", "Alder lake is 3.2 kilometres wide.", obs, documents=True)
    assert not g.supported and "does not state the asked wide" in g.unsupported[0]
    assert check("how long is alder lake", "Alder Lake is 3.2 kilometres long.", obs, documents=True).supported
    g = check("when was nova mobile founded", "nova mobile was founded in 2023.", obs, documents=True)
    assert not g.supported  # "nova ..." is no "no": the document step reads it (2023 is a release year)
    assert check("when was the stellar s9 released", "It came out in 2023.", obs, documents=True).supported


def test_every_word_reading_asks_each_asked_word_of_one_sentence() -> None:
    """``every_word`` (the second look's reading): one asked word in the sentence is not enough."""
    single = _obs("Northwind Rail: # Northwind Rail A single ticket costs 12 dollars, and the line has 11 stations.")
    q = "How much does a return ticket on Northwind Rail cost?"
    assert check(q, "It costs 12 dollars.", single, documents=True, attributes=True).supported  # "ticket", "cost"
    g = check(q, "It costs 12 dollars.", single, documents=True, attributes=True, every_word=True)
    reason = "12 (no sentence holding it states every asked word: return / ticket / cost)"
    assert not g.supported and g.unsupported == [reason]
    # every asked word stated (by form or synonym) in the sentence that holds the value: supported
    for question, answer in [
        ("How long is the Northwind Rail line?", "The line is 184 kilometres long."),
        ("How much does a one-way ticket on Northwind Rail cost?", "27 dollars."),
        ("How many loaves of bread does Harbor Street Bakery bake?", "About 350 loaves."),
    ]:
        assert check(question, answer, _obs(BAKERY), documents=True, every_word=True).supported, question
    # without the document step it asks nothing
    assert check(q, "It costs 12 dollars.", single, every_word=True).supported


def test_every_word_reading_spares_type_and_degree_words_and_reads_titles_and_units() -> None:
    """What the every-word reading does not ask of the sentence (rule G13b): the word naming the answer's type
    ("Which company"), degree words ("largest"); what it accepts: the document's title words ("lamp" of "Lumen X3
    lamp"), a shared stem (owns ~ owned), unit abbreviations (kilograms ~ kg)."""
    lamp = _obs(
        "Lumen X3 lamp: # Lumen X3 lamp The Lumen X3 is a desk lamp made by Brightfield Design. It weighs 1.4 kg."
    )
    ferry = _obs("Tidewater Ferry: # Tidewater Ferry The ship can carry 320 passengers and 40 cars.")
    farm = _obs("Juniper Orchard: # Juniper Orchard The orchard is owned by the Pereira family.")
    pool = _obs("Oakridge Pool: # Oakridge Pool The main pool at Oakridge Pool is 25 metres long and 12.5 metres wide.")
    for question, answer, obs in [
        ("Which company makes the Lumen X3 lamp?", "Brightfield Design.", lamp),
        ("Tell me the weight of the Lumen X3 lamp in kilograms.", "1.4 kilograms.", lamp),
        ("What is the largest number of cars the Tidewater Ferry can carry?", "40 cars.", ferry),
        ("Which family owns Juniper Orchard?", "The Pereira family.", farm),
    ]:
        assert check(question, answer, obs, documents=True, attributes=True, every_word=True).supported, question
    # forms of an irregular verb (grow ~ grew, fly ~ flew), a speed stated by its unit
    person = _obs("Mira Haas: # Mira Haas Mira Haas grew up in Linz and flew gliders for ten years.")
    assert check("Where did Mira Haas grow up?", "In Linz.", person, documents=True, every_word=True).supported
    tram = _obs("Alpen Tram: # Alpen Tram The Alpen Tram cars travel at 9 metres per second.")
    assert check(
        "How fast are the Alpen Tram cars?", "9 metres per second.", tram, documents=True, every_word=True
    ).supported
    q = "How deep is the main pool at Oakridge Pool?"
    assert check(q, "It is 25 metres.", pool, documents=True, attributes=True).supported  # "main pool" is stated
    g = check(q, "It is 25 metres.", pool, documents=True, attributes=True, every_word=True)
    assert not g.supported and "every asked word" in g.unsupported[0]


def test_every_word_reading_asks_the_asked_year_of_the_sentence() -> None:
    """A year the question asks about must be in the sentence that holds the value (rule G13d)."""
    robots = _obs("Vexa Robotics: # Vexa Robotics Last year Vexa Robotics sold 1,240 robots.")
    q = "How many robots did Vexa Robotics sell in 2015?"
    a = "Vexa Robotics sold 1,240 robots in 2015."
    assert check(q, a, robots, documents=True, attributes=True).supported  # one asked word is enough without it
    g = check(q, a, robots, documents=True, attributes=True, every_word=True)
    assert not g.supported and g.unsupported == ["1,240 (no sentence holding it states the asked year 2015)"]
    band = _obs("Zeta Band: # Zeta Band In 2022 the band toured Norway and gave 9 concerts.")
    q2 = "How many concerts did the Zeta Band give in 2022?"
    assert check(q2, "9 concerts.", band, documents=True, attributes=True, every_word=True).supported


def test_every_asked_word_is_stated_by_a_word_of_its_own() -> None:
    """One sentence word states one asked word (rule G13e): "people" is no answer to both *people* and *live*."""
    tower = _obs("Kelso Tower: # Kelso Tower About 3,200 people work in Kelso Tower.")
    q = "How many people live in Kelso Tower?"
    g = check(q, "3,200 people.", tower, documents=True, attributes=True, every_word=True)
    assert not g.supported and "every asked word" in g.unsupported[0]
    flats = _obs("Kelso Tower: # Kelso Tower About 480 people live in Kelso Tower.")
    assert check(q, "480 people.", flats, documents=True, attributes=True, every_word=True).supported
    staff = _obs("Kelso Hotel: # Kelso Hotel The Kelso Hotel employs 95 staff.")
    q2 = "How many people work at the Kelso Hotel?"
    assert check(q2, "95 people.", staff, documents=True, attributes=True, every_word=True).supported


def test_a_how_many_answer_counts_the_asked_thing_and_a_quantity_answer_gives_one() -> None:
    """Rule G15: "How many lifts ...?" is not answered by "39 floors" (the document's number counts floors), and a
    quantity question is not answered by the question's own year."""
    tower = _obs("Orla Tower: # Orla Tower Orla Tower is 148 metres tall and has 39 floors, and its lifts are fast.")
    g = check("How many lifts does Orla Tower have?", "Orla Tower has 39 floors.", tower, documents=True,
              attributes=True, every_word=True)  # fmt: skip
    assert not g.supported and g.unsupported == ["39 floors (asked how many lifts)"]
    ok = check("How many floors does Orla Tower have?", "It has 39 floors.", tower, documents=True, every_word=True)
    assert ok.supported
    wine = _obs("Kestrel Valley Winery: # Kestrel Valley Winery In 2021 it produced 96,000 bottles of wine.")
    q = "How many bottles of wine did Kestrel Valley Winery produce in 2023?"
    g = check(q, "It produced 2023 bottles of wine.", wine, documents=True, attributes=True, every_word=True)
    assert not g.supported and "asked for a quantity" in g.unsupported[0]
    # a verb after the number names no counted thing ("41 finished")
    rally = _obs("Vale Rally: # Vale Rally This year 64 cars started and 41 finished.")
    q2 = "How many cars finished the Vale Rally this year?"
    assert check(q2, "41 finished.", rally, documents=True, attributes=True, every_word=True).supported


def test_an_answer_that_lists_several_counts_is_read_by_the_one_that_counts_the_asked_thing() -> None:
    """Rule G15b: "How many avocets ...?" answered "2,150 curlews and 380 avocets" is supported (one of its numbers
    counts avocets); an answer whose every count names another thing is still not."""
    reserve = _obs("Saltmarsh Reserve: # Saltmarsh Reserve Wardens counted 2,150 curlews and 380 avocets there last "
                   "winter. The reserve has 5 bird hides.")  # fmt: skip
    q = "How many avocets did wardens count at the Saltmarsh Reserve last winter?"
    both = "Wardens counted 2,150 curlews and 380 avocets last winter."
    assert check(q, both, reserve, documents=True, attributes=True, every_word=True).supported
    q2 = "How many oystercatchers did wardens count at the Saltmarsh Reserve last winter?"
    g = check(q2, "Wardens counted 2,150 curlews last winter.", reserve, documents=True, attributes=True,
              every_word=True)  # fmt: skip
    assert not g.supported


def test_a_what_time_question_needs_a_time_of_day_rule_g16c() -> None:
    doc = _obs("Rookery Cafe: # Rookery Cafe Rookery Cafe opened in 1998. It opens at 8 am and closes at 17:30.")
    q = "What time does Rookery Cafe open?"
    for answer in ("Rookery Cafe opens at 8 am.", "It opens at 8am."):
        assert check(q, answer, doc, documents=True, every_word=True).supported, answer
    g = check(q, "Rookery Cafe opens from 1998.", doc, documents=True, every_word=True)
    assert not g.supported
    assert g.unsupported == ["Rookery Cafe opens from 1998. (asked what time; it gives no time of day)"]
    assert check("What time does Rookery Cafe close?", "At 17:30.", doc, documents=True, every_word=True).supported
    # the owns ~ owned reading of the plain attribute step (rule G16b)
    owned = _obs("Rookery Cafe: # Rookery Cafe The cafe is owned by Marla Jonsson.")
    assert check("Who owns Rookery Cafe?", "Marla Jonsson owns it.", owned, documents=True).supported


# --- rules G19a and G19b (session 16) ------------------------------------------------------------

HUT = (
    "Grauhorn Hut: # Grauhorn Hut The Grauhorn Hut sleeps 46 guests in 5 dormitories and 3 private rooms. "
    "A night in a dormitory costs 38 euros for adults and 22 euros for children."
)


def _calc(expression: str, result: str) -> Observation:
    return Observation(1, "Calculator", expression, result)


def _shipped(question: str, answer: str, observations: list[Observation]) -> bool:
    return check(question, answer, observations, documents=True, attributes=True, every_word=True).supported


def test_g19b_a_product_of_two_prices_is_no_stated_price() -> None:
    """A copy question (no computation asked) is read by the Calculator's inputs: their sentence must state
    every asked word, as a copied number's must."""
    obs = [*_obs(HUT, "Grauhorn Hut nightly rate"), _calc("38 * 22", "836")]
    q = "What does a night in a private room at the Grauhorn Hut cost?"
    assert not _shipped(q, "A night in a private room at the Grauhorn Hut costs 836.", obs)
    # a question that asks a computation keeps the Calculator's result
    q2 = "What would two adults pay altogether for a night in a dormitory at the Grauhorn Hut?"
    obs2 = [*_obs(HUT, "Grauhorn Hut dormitory"), _calc("2 * 38", "76")]
    assert _shipped(q2, "Two adults would pay 76 euros.", obs2)
    # and a copy question's Calculator inputs pass when their sentence states every asked word
    q3 = "What does a night in a dormitory at the Grauhorn Hut cost for adults?"
    assert _shipped(q3, "38 euros.", [*_obs(HUT, "Grauhorn Hut dormitory"), _calc("38 * 1", "38")])


def test_g19b_computation_words() -> None:
    from agent.grounding.operations import asks_computation

    for q in (
        "How much would two adults and a child pay?",
        "what does the filter cost per month of use",
        "How many years passed between the opening and the restoration?",
        "How many people can the boat carry in all, crew and scientists?",
        "how long is the session, in hours",
        "How much money did the club make from the raffle?",
    ):
        assert asks_computation(q), q
    for q in ("What does a weekend ticket cost?", "How many goldcrests were ringed in autumn?", "Who runs the shop?"):
        assert not asks_computation(q), q


def test_g19a_a_price_or_time_asked_needs_a_value_the_question_does_not_hold() -> None:
    text = (
        "Ardlevin Distillery: # Ardlevin Distillery The shop sells the 12-year-old single malt for £52 a bottle. "
        "Visitors must be 18 or over to taste."
    )
    q = "tell me the price of a bottle of ardlevin 18 year old"
    assert not _shipped(q, "The answer is 18.", _obs(text, "Ardlevin 18 year old"))
    clinic = "Castlebridge Dental Surgery: # Castlebridge Dental Surgery The surgery opens at 8 am on Mondays."
    q2 = "What time does Castlebridge Dental Surgery open on Mondays?"
    assert not _shipped(q2, "Castlebridge Dental Surgery opens on Mondays.", _obs(clinic))
    assert _shipped(q2, "It opens at 8 am.", _obs(clinic))
    # a choice between the question's options is no value asked
    shop = "Vardale Creamery: # Vardale Creamery A wedge of Blue costs £6.80 and a whole Reserve sells for £95."
    assert _shipped("Which costs more at Vardale Creamery, a whole Reserve or a wedge of Blue?", "A whole Reserve.",
                    _obs(shop))  # fmt: skip


def test_g19d_a_title_with_a_colon_and_a_later_part_of_a_document() -> None:
    """Users' titles hold colons; a result that continues a document starts "Title: " without the heading."""
    policy = "Corrander Systems: Annual Leave and Absence Policy"
    text = (
        f"{policy}: # {policy} Staff get 27 days of paid annual leave a year. "
        "Harbor Street Bakery: # Harbor Street Bakery A croissant costs 3 dollars. "
        f"{policy}: Paternity leave is 4 weeks at full pay."
    )
    docs = documents_of(text)
    assert [d.split(": ")[0] for d in docs] == ["Corrander Systems", "Harbor Street Bakery", "Corrander Systems"]
    assert docs[2].startswith(f"{policy}: Paternity")
    q = "Corrander Systems paternity leave, how many weeks at full pay"
    assert _shipped(q, "4 weeks.", _obs(text))
    assert not _shipped("What does a croissant cost at Corrander Systems?", "3 dollars.", _obs(text))


def test_g19d_pay_states_a_cost_and_light_words_ask_nothing() -> None:
    text = "Tollan Street Tool Library: # Tollan Street Tool Library Members pay £20 a year and borrow for a week."
    assert _shipped("tollan street tool library membership cost per year", "£20 a year.", _obs(text))
    spec = "Nimbrel AQ-40: # Nimbrel AQ-40 The purifier weighs 4.6 kg. - Colours: Chalk White and Slate Grey"
    assert _shipped("what colours does the nimbrel aq-40 come in", "Chalk White and Slate Grey.", _obs(spec))
