"""The hand-written document eval sets (documents.jsonl, documents_extra.jsonl, documents_probe.jsonl over ``corpus``;
documents_probe2.jsonl over its own ``corpus_probe2``) are well-formed over their corpus."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from agent.numbers import as_number, normalize, parse_numbers
from finetune.scoring import is_correct

EVALSETS = Path(__file__).resolve().parents[2] / "finetune" / "evalsets"
SETS = {
    "documents.jsonl": "docs-",
    "documents_extra.jsonl": "docsx-",
    "documents_probe.jsonl": "docsp-",
    "documents_probe2.jsonl": "docsp2-",
    "documents_probe3.jsonl": "docsp3-",
    "documents_probe4.jsonl": "docsp4-",
    "documents_probe5.jsonl": "docsp5-",
    "documents_probe6.jsonl": "docsp6-",
    "documents_probe7.jsonl": "docsp7-",
    "documents_probe8.jsonl": "docsp8-",
    "documents_probe9.jsonl": "docsp9-",
    "documents_probe10.jsonl": "docsp10-",
    "documents_probe11.jsonl": "docsp11-",
    "documents_probe12.jsonl": "docsp12-",
    "documents_probe13.jsonl": "docsp13-",
    "documents_probe14.jsonl": "docsp14-",
    "documents_probe15.jsonl": "docsp15-",
    "documents_probe16.jsonl": "docsp16-",
    "documents_probe17.jsonl": "docsp17-",
    "documents_probe18.jsonl": "docsp18-",
    "documents_probe19.jsonl": "docsp19-",
    "documents_probe20.jsonl": "docsp20-",
    "documents_probe21.jsonl": "docsp21-",
    "documents_probe22.jsonl": "docsp22-",
    "documents_probe23.jsonl": "docsp23-",
    "documents_probe24.jsonl": "docsp24-",
    "documents_probe25.jsonl": "docsp25-",
}
CORPUS = {f"documents_probe{i}.jsonl": f"corpus_probe{i}" for i in range(2, 26)}  # the others read "corpus"
KINDS = {"doc_copy", "doc_compute", "doc_compare", "doc_unanswerable"}


def _rows(name: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (EVALSETS / name).read_text(encoding="utf-8").splitlines()]


def _corpus_text(corpus: str = "corpus") -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in sorted((EVALSETS / corpus).iterdir()))


@pytest.mark.parametrize("name", sorted(SETS))
def test_rows_are_well_formed(name: str) -> None:
    rows = _rows(name)
    assert len({r["id"] for r in rows}) == len(rows)
    for r in rows:
        assert r["id"].startswith(SETS[name]), r
        assert r["kind"] in KINDS, r
        assert r["corpus"] == CORPUS.get(name, "corpus") and (EVALSETS / r["corpus"]).is_dir(), r
        assert r["question"].strip(), r
        if r.get("answerable", True) is False:
            assert r["answer"] is None and r["kind"] == "doc_unanswerable", r
        else:
            assert r["answer"] not in (None, "", []) and r["kind"] != "doc_unanswerable", r
            # numbers are written as numbers, so the scorer compares them with its tolerance
            assert not (isinstance(r["answer"], str) and as_number(r["answer"]) is not None), r


def test_copied_answers_are_in_the_corpus() -> None:
    """A doc_copy gold (number or name) is written in some document of its corpus, as the question promises."""
    for name in SETS:
        text = _corpus_text(CORPUS.get(name, "corpus"))
        numbers = parse_numbers(text)
        words = f" {normalize(text)} "
        for r in _rows(name):
            if r["kind"] != "doc_copy":
                continue
            golds = r["answer"] if isinstance(r["answer"], list) else [r["answer"]]
            for gold in golds:
                if isinstance(gold, int | float):
                    assert float(gold) in numbers, r
                else:
                    assert f" {normalize(gold)} " in words, r


def test_the_sets_do_not_repeat_a_question() -> None:
    questions = [normalize(r["question"]) for name in SETS for r in _rows(name)]
    assert len(set(questions)) == len(questions)


def test_extra_set_holds_what_the_readme_says() -> None:
    """documents_extra.jsonl: 36 unanswerable rows (29 near-misses first, then 7 absent entities) and 21 answerable."""
    rows = _rows("documents_extra.jsonl")
    unanswerable = [r for r in rows if r.get("answerable", True) is False]
    answerable = [r for r in rows if r.get("answerable", True) is not False]
    assert len(unanswerable) == 36 and len(answerable) == 21
    assert [r["id"] for r in unanswerable] == [f"docsx-{i:02d}" for i in range(1, 37)]
    assert {r["kind"] for r in answerable} == {"doc_copy", "doc_compute", "doc_compare"}


def test_a_compared_gold_is_one_of_the_two_things_the_question_names() -> None:
    for name in SETS:
        for r in _rows(name):
            if r["kind"] == "doc_compare":
                assert normalize(r["answer"]) in normalize(r["question"]), r


# documents_probe.jsonl (hand-written 2026-12-02, the untouched probe of session 6)
PROBE_NEAR_MISS = {  # the entity the question names, which a corpus document does describe (not the asked fact)
    "docsp-01": "Alder Lake",
    "docsp-02": "Brookfield Zoo",
    "docsp-03": "Westbrook City Marathon",
    "docsp-04": "Copperleaf Tea Company",
    "docsp-05": "Amina Sato",
    "docsp-06": "Ida Lindqvist",
    "docsp-07": "Greenhill Farm",
    "docsp-08": "Halden Bridge",
    "docsp-09": "Harbor Street Bakery",
    "docsp-10": "Kestrel K2",
    "docsp-11": "Lumen X3",
    "docsp-12": "Maple Grove Library",
    "docsp-13": "Mount Kessel",
    "docsp-14": "Northwind Rail",
    "docsp-15": "Orbit Coffee",
    "docsp-16": "Daniel Reyes",
    "docsp-17": "Quillfeather Book Festival",
    "docsp-18": "Ravensholm",
    "docsp-19": "Freya",
    "docsp-20": "Stellar S9",
    "docsp-21": "Tandem Software",
    "docsp-22": "Merrow",
    "docsp-23": "Velo",
    "docsp-24": "Eastgate Winter Market",
}
PROBE_ABSENT = {  # names that no corpus document holds
    "docsp-25": "Marrowby",
    "docsp-26": "Fenwick",
    "docsp-27": "Saltmarsh",
    "docsp-28": "Hollowmere",
    "docsp-29": "Aster",
    "docsp-30": "Elmstead",
}
PROBE_OTHER_TYPE = {  # (entity asked about, the other entity of another type whose document states that attribute)
    "docsp-31": ("river Oster", "Halden Bridge"),  # the bridge's length, not the river's
    "docsp-32": ("Nova Mobile", "Stellar S9"),  # the phone's release year, not the company's founding
    "docsp-33": ("Amberley", "Quillfeather Book Festival"),  # the festival's visitors, not the town's
    "docsp-34": ("Coral Institute", "Amina Sato"),  # the year she joined, not the institute's founding
}
# each compute gold worked out from the stated facts, and the facts (numbers) the corpus must state
PROBE_COMPUTE = {
    "docsp-45": ((12 + 5) - 10, (10, 5)),  # open 10 am to 5 pm
    "docsp-46": ((12 + 6 - 8) * 60 / 15, (8, 6, 15)),  # weekdays 8 am to 6 pm, 15-minute appointments
    "docsp-47": (2016 - 1979, (2016, 1979)),
    "docsp-48": (1900 / 210, (1900, 210)),
    "docsp-49": (89 / 649 * 100, (89, 649)),
    "docsp-50": (570 / 1000, (570,)),  # the factor is given in the question
    "docsp-51": (9 / 100, (9, 100)),
    "docsp-52": (1150 * 12, (1150,)),
    "docsp-53": (799 - 649, (799, 649)),
    "docsp-54": (2019 - 1984, (2019, 1984)),
    "docsp-55": (4 * 50, (4, 50)),  # "four times a day", "50 minutes"
    "docsp-56": (9 / 6, (9, 6)),
    "docsp-57": (11 + 27, (11, 27)),
}


def test_probe_set_holds_what_the_readme_says() -> None:
    """34 unanswerable (24 near-misses, 6 absent entities, 4 other-type), then 10 copy, 13 compute, 4 compare."""
    rows = _rows("documents_probe.jsonl")
    assert [r["id"] for r in rows] == [f"docsp-{i:02d}" for i in range(1, 62)]
    unanswerable = [r["id"] for r in rows if r.get("answerable", True) is False]
    assert unanswerable == sorted(PROBE_NEAR_MISS) + sorted(PROBE_ABSENT) + sorted(PROBE_OTHER_TYPE)
    assert len(PROBE_NEAR_MISS) == 24 and len(PROBE_ABSENT) == 6 and len(PROBE_OTHER_TYPE) == 4
    kinds = [r["kind"] for r in rows if r.get("answerable", True) is not False]
    assert kinds == ["doc_copy"] * 10 + ["doc_compute"] * 13 + ["doc_compare"] * 4


def test_probe_unanswerable_rows_name_what_they_promise() -> None:
    """Near-misses and other-type rows name a corpus entity; absent-entity rows name nothing the corpus holds."""
    rows = {r["id"]: r for r in _rows("documents_probe.jsonl")}
    words = f" {normalize(_corpus_text())} "
    for rid, entity in PROBE_NEAR_MISS.items():
        assert normalize(entity) in normalize(rows[rid]["question"]), rid
        assert f" {normalize(entity)} " in words, rid
    for rid, name in PROBE_ABSENT.items():
        assert normalize(name) in normalize(rows[rid]["question"]), rid
        assert normalize(name) not in words, rid
    for rid, (asked, holder) in PROBE_OTHER_TYPE.items():
        assert normalize(asked) in normalize(rows[rid]["question"]), rid
        assert normalize(holder) not in normalize(rows[rid]["question"]), rid
        assert f" {normalize(asked)} " in words and f" {normalize(holder)} " in words, rid


def test_probe_computed_golds_follow_from_stated_facts() -> None:
    rows = {r["id"]: r for r in _rows("documents_probe.jsonl") if r["kind"] == "doc_compute"}
    assert set(rows) == set(PROBE_COMPUTE)
    numbers = parse_numbers(_corpus_text())
    for rid, (value, facts) in PROBE_COMPUTE.items():
        assert is_correct(f"{value:.6g}", rows[rid]["answer"], rows[rid].get("rel_tol")), rid
        for fact in facts:
            assert float(fact) in numbers, (rid, fact)


# documents_probe2.jsonl (hand-written 2026-12-03, session 13, over 12 new documents of its own corpus)
PROBE2_COMPUTE = {  # each compute gold worked out from the stated facts, and the facts the corpus must state
    "docsp2-02": (2 * 11 + 3 * 7, (11, 7)),
    "docsp2-03": (1989 - 1936, (1989, 1936)),
    "docsp2-08": (3 * 260, (260,)),
    "docsp2-14": (1994 - 1871, (1994, 1871)),
    "docsp2-18": (25 * 12.5, (25, 12.5)),
    "docsp2-19": (12 + 9 - 6, (6, 9)),  # 6 am to 9 pm
    "docsp2-20": (10 * 4.5, (4.50,)),
    "docsp2-24": (310 - 120, (310, 120)),
    "docsp2-25": (93_000_000 / 1240, (93_000_000, 1240)),  # "93 million euros"
    "docsp2-29": (18 / 6, (18, 6)),
    "docsp2-33": (60 / 12, (12,)),
    "docsp2-34": (3 * 2.2, (2.20,)),
    "docsp2-37": (4800 * 3 / 4, (4800,)),  # "three quarters"
    "docsp2-38": (4800 / 36, (4800, 36)),
    "docsp2-43": (549 + 129, (549, 129)),
    "docsp2-47": (18500 / 4, (18500,)),  # "over four days"
    "docsp2-48": (212 - 30, (212, 30)),
    "docsp2-52": (2009 - 1968, (2009, 1968)),
    "docsp2-57": (2008 - 1958, (1958,)),
}


def test_probe2_holds_what_the_readme_says() -> None:
    """59 rows over 12 documents: 37 answerable (18 copy, 19 compute), 22 unanswerable, two of them namesakes of a
    corpus entity that no document holds (Rosewood Cinema, Corvus S2)."""
    rows = _rows("documents_probe2.jsonl")
    assert [r["id"] for r in rows] == [f"docsp2-{i:02d}" for i in range(1, 60)]
    kinds = [r["kind"] for r in rows]
    assert (kinds.count("doc_copy"), kinds.count("doc_compute"), kinds.count("doc_unanswerable")) == (18, 19, 22)
    assert len(list((EVALSETS / "corpus_probe2").iterdir())) == 12
    words = f" {normalize(_corpus_text('corpus_probe2'))} "
    for name in ("rosewood", "corvus s2"):
        assert any(name in normalize(r["question"]) for r in rows) and f" {name} " not in words
    # its documents are new: no title of the first corpus
    first, second = ({p.name for p in (EVALSETS / c).iterdir()} for c in ("corpus", "corpus_probe2"))
    assert not first & second


def test_probe2_computed_golds_follow_from_stated_facts() -> None:
    rows = {r["id"]: r for r in _rows("documents_probe2.jsonl") if r["kind"] == "doc_compute"}
    assert set(rows) == set(PROBE2_COMPUTE)
    numbers = parse_numbers(_corpus_text("corpus_probe2"))
    for rid, (value, facts) in PROBE2_COMPUTE.items():
        assert is_correct(f"{value:.6g}", rows[rid]["answer"], rows[rid].get("rel_tol")), rid
        for fact in facts:
            assert float(fact) in numbers, (rid, fact)


# documents_probe3.jsonl (hand-written 2026-12-03 12:45, session 13, the unseen probe of rule G13b)
PROBE3_COMPUTE = {
    "docsp3-04": (4 * 8, (8,)),
    "docsp3-09": (45 + 12, (45, 12)),
    "docsp3-15": (9000 / 23, (9000, 23)),
    "docsp3-17": (12 + 5 - 9, (9, 5)),  # 9 am to 5 pm
    "docsp3-23": (2200 / 1000, (2200,)),
    "docsp3-26": (420 / 31, (420, 31)),
    "docsp3-27": (2021 - 1968, (2021, 1968)),
    "docsp3-31": (36 * 8, (36, 8)),
    "docsp3-32": (2 * 14 + 2 * 9, (14, 9)),
    "docsp3-36": (2019 - 1994, (2019, 1994)),
    "docsp3-39": (26000 / 12, (26000,)),
}


def test_probe3_holds_what_the_readme_says() -> None:
    """45 rows over 10 new documents: 30 answerable (19 copy, 11 compute), 15 unanswerable."""
    rows = _rows("documents_probe3.jsonl")
    assert [r["id"] for r in rows] == [f"docsp3-{i:02d}" for i in range(1, 46)]
    kinds = [r["kind"] for r in rows]
    assert (kinds.count("doc_copy"), kinds.count("doc_compute"), kinds.count("doc_unanswerable")) == (19, 11, 15)
    names = [{p.name for p in (EVALSETS / c).iterdir()} for c in ("corpus", "corpus_probe2", "corpus_probe3")]
    assert len(names[2]) == 10 and not names[2] & (names[0] | names[1])
    rows_by_id = {r["id"]: r for r in rows if r["kind"] == "doc_compute"}
    assert set(rows_by_id) == set(PROBE3_COMPUTE)
    numbers = parse_numbers(_corpus_text("corpus_probe3"))
    for rid, (value, facts) in PROBE3_COMPUTE.items():
        assert is_correct(f"{value:.6g}", rows_by_id[rid]["answer"], rows_by_id[rid].get("rel_tol")), rid
        for fact in facts:
            assert float(fact) in numbers, (rid, fact)


@pytest.mark.parametrize(
    ("name", "rows", "docs", "counts", "computed"),
    [
        ("documents_probe4", 44, 8, (21, 7, 16), {"docsp4-04": 70 - 40, "docsp4-15": 30 + 20, "docsp4-21": 64 - 41,
         "docsp4-26": 29 * 0.8, "docsp4-27": 14500 / 9, "docsp4-37": 199 + 25, "docsp4-42": 1340 + 210}),
        ("documents_probe5", 40, 8, (20, 7, 13), {"docsp5-04": 3 * 21, "docsp5-09": 4 * 70, "docsp5-18": 1982 - 1977,
         "docsp5-25": 2016 - 1983, "docsp5-28": 2350 - 1180, "docsp5-34": 2 * 5 + 4 * 3, "docsp5-37": 22 + 30}),
        ("documents_probe6", 37, 8, (21, 4, 12), {"docsp6-08": 2 * 19 + 14, "docsp6-22": 2016 - 1990,
         "docsp6-26": 3 * (28 + 9), "docsp6-35": 22 - 6}),
        ("documents_probe7", 32, 6, (21, 1, 10), {"docsp7-32": 480 / 210}),
        ("documents_probe8", 32, 6, (18, 0, 14), {}),
        ("documents_probe9", 33, 6, (21, 1, 11), {"docsp9-29": 160 * 7}),
        ("documents_probe10", 40, 8, (22, 5, 13), {"docsp10-03": 14000 + 2600, "docsp10-08": 9.6 / 4,
         "docsp10-12": 2011 - 1968, "docsp10-18": 8400 - 5900, "docsp10-23": 2 * 210 + 150}),
        ("documents_probe11", 40, 8, (22, 5, 13), {"docsp11-05": 412 + 96 + 14, "docsp11-15": 2024 - 1894,
         "docsp11-24": 600 / 10, "docsp11-32": 11 + 4, "docsp11-36": 24 * 8}),
        ("documents_probe12", 40, 8, (22, 5, 13), {"docsp12-05": 2009 - 1974, "docsp12-12": 22 / 4,
         "docsp12-21": 2300 * 6, "docsp12-26": 2 * 14 + 2 * 9, "docsp12-37": 16 - 10}),
        ("documents_probe13", 40, 8, (22, 5, 13), {"docsp13-04": 58 - 19, "docsp13-10": 1902 - 1884,
         "docsp13-23": 6400 - 2150 - 870, "docsp13-29": 2.40 / 1.5, "docsp13-37": 14 + 4}),
        ("documents_probe14", 40, 8, (22, 5, 13), {"docsp14-05": 112 - 97, "docsp14-12": 2 * 16.50 + 2 * 9,
         "docsp14-19": 1_200_000 - 950_000, "docsp14-27": 2 * 400, "docsp14-30": 75 - 30}),
        ("documents_probe15", 40, 8, (24, 4, 12), {"docsp15-05": 2011 - 1896, "docsp15-10": 230 - 85 - 40,
         "docsp15-16": 412 - 398, "docsp15-28": 2 * 14.50 + 7}),
        ("documents_probe16", 40, 8, (24, 5, 11), {"docsp16-11": 9.50 / 10, "docsp16-15": 2017 - 2014,
         "docsp16-27": 2 * 15 + 2 * 8.50 - 42, "docsp16-34": 60 + 40, "docsp16-37": 310_000 + 62_000}),
        ("documents_probe17", 40, 8, (24, 5, 11), {"docsp17-09": 3 * 34 + 15,
         "docsp17-13": (12 + 4 + 15 / 60) - (8 + 45 / 60), "docsp17-22": 27 + 8, "docsp17-29": 39.99 / 12,
         "docsp17-35": (12 + 7 + 30 / 60) - (12 + 5)}),
        ("documents_probe18", 40, 8, (23, 5, 12), {"docsp18-10": 2011 - 2002, "docsp18-27": 30 * 9.40,
         "docsp18-32": 160 / 8, "docsp18-33": 4 * 26, "docsp18-37": 560 / 20}),
        ("documents_probe19", 40, 8, (23, 5, 12), {"docsp19-06": 42 + (100 - 60) * 0.22, "docsp19-11": 130 - 45,
         "docsp19-20": 4 * (65 + 22), "docsp19-26": 85 + 32, "docsp19-36": 10 * 5.20 - 46}),
        ("documents_probe20", 40, 8, (23, 5, 12), {"docsp20-06": 90 + 75, "docsp20-11": 64 + 38 + 9,
         "docsp20-25": 143 - 118, "docsp20-30": 2 * 9.50 + 4, "docsp20-35": 0.30 * 1980}),
        ("documents_probe21", 40, 8, (23, 5, 12), {"docsp21-06": 2 * 38 + 3.60, "docsp21-12": 1987 - 1908,
         "docsp21-22": 2 * 12 + 2 * 7 - 32, "docsp21-28": 11_800 - 4350, "docsp21-38": 2 * 19 + 9.50}),
        ("documents_probe22", 40, 8, (23, 5, 12), {"docsp22-03": 75 + 40, "docsp22-11": 12 * 16.50,
         "docsp22-15": 8 + 24, "docsp22-26": 2 * 25 + 30, "docsp22-38": 4860 - 3975}),
        ("documents_probe23", 40, 8, (23, 5, 12), {"docsp23-03": 2 * 68 + 22, "docsp23-15": 64 - 9,
         "docsp23-27": 10 * 14 - 120, "docsp23-32": 1931 - 1868, "docsp23-39": 2 * 10 + 2 * 5}),
        ("documents_probe24", 40, 8, (25, 5, 10), {"docsp24-26": 2 * 39 + 4.50, "docsp24-27": 140 + 2 * 10,
         "docsp24-28": 185 + 25, "docsp24-29": 139 - 89, "docsp24-30": 39 - 28}),
        ("documents_probe25", 40, 8, (24, 6, 10), {"docsp25-14": 1968 - 1851, "docsp25-19": 96 + 18,
         "docsp25-24": 2 * 19 + 12, "docsp25-29": 212 - 174, "docsp25-33": 1994 - 1889, "docsp25-37": 6 + 8}),
    ],
)  # fmt: skip
def test_probes_4_to_9_hold_what_the_readme_says(name, rows, docs, counts, computed) -> None:
    """Probes 4-25 (sessions 13-16, the unseen judges of rules G14, G13c, G13d, G13e, G15, G15b, G16,
    G16b/G17, G16c/G17b, G16d, G16e, G18, P1, P1b, G20, V12, G21): own documents, new to every other corpus; each
    compute gold re-derived from the stated facts."""
    got = _rows(f"{name}.jsonl")
    prefix = SETS[f"{name}.jsonl"]
    assert [r["id"] for r in got] == [f"{prefix}{i:02d}" for i in range(1, rows + 1)]
    kinds = [r["kind"] for r in got]
    assert (kinds.count("doc_copy"), kinds.count("doc_compute"), kinds.count("doc_unanswerable")) == counts
    mine = {p.name for p in (EVALSETS / CORPUS[f"{name}.jsonl"]).iterdir()}
    others = {p.name for c in ("corpus", *(v for k, v in CORPUS.items() if k != f"{name}.jsonl"))
              for p in (EVALSETS / c).iterdir()}  # fmt: skip
    assert len(mine) == docs and not mine & others
    by_id = {r["id"]: r for r in got}
    assert {r["id"] for r in got if r["kind"] == "doc_compute"} == set(computed)
    for rid, value in computed.items():
        assert is_correct(f"{value:.6g}", by_id[rid]["answer"], by_id[rid].get("rel_tol")), rid
