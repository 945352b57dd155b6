"""agent.grounding.records against the real knowledge pack: the pack still writes records in the shape
the check reads, and every Korean country name is a record title."""

from __future__ import annotations

from agent.country_names import KO_ALTERNATIVES, KO_NAMES
from agent.grounding import (
    check,
)
from agent.knowledge import country_document, country_records
from tests.agent.grounding.texts import AUSTRALIA, S, observations


def test_the_knowledge_pack_writes_the_records_the_check_reads() -> None:
    """The pack's real records are read per field (a change in its format must fail here)."""

    recs = {r["name"]: r for r in country_records()}
    doc = country_document(recs["Japan"])
    q = "What is the population of Japan?"
    pop = f"{recs['Japan']['population']:,}"
    good = check(q, f"The population of Japan is {pop}.", observations([S("population of Japan", doc)]))
    assert good.supported and good.evidence == [0]
    city = check("What is the population of Tokyo?", f"Tokyo has {pop} people.",
                 observations([S("Tokyo", doc)]))  # fmt: skip
    assert not city.supported and city.unsupported == [pop]
    assert country_document(recs["Australia"]) == AUSTRALIA


def test_the_korean_country_names_are_record_titles() -> None:
    """Every country of agent.country_names is a record of the pack, so a Korean question can name it."""

    titles = {r["name"] for r in country_records()}
    assert set(KO_NAMES) <= titles, set(KO_NAMES) - titles
    assert set(KO_ALTERNATIVES) <= set(KO_NAMES), set(KO_ALTERNATIVES) - set(KO_NAMES)
