"""The v2 training mix: every generator family, counted per family, split by template and generator.

    python -m finetune.generators.mixer --out data/v2 --seed 0 --evalsets finetune/evalsets

Writes ``out/train.jsonl`` (the mix, shuffled), ``out/dev.jsonl`` (a small mixed set for the eval
loss), ``out/heldout.jsonl`` (trajectories of held-out forms, operators and names) and
``out/summary.json`` (counts per family, kind and answerable; supervised-token estimate). With
``--evalsets`` the held-out questions also go to ``evalsets/heldout.jsonl`` (the harness format).

Splits: countries follow ``finetune.gold.split_countries`` (train countries only in train); every
family holds out its last surface forms (``split="heldout"``); the documents family holds out a
whole document type; arithmetic holds out two operator combinations. The README showcase question
(``gold.ACCEPTANCE_QUESTION``) is in no row of the mix: it measures the shipped demo, not recall.
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import random
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.knowledge import country_records
from finetune.generators import (
    arithmetic,
    countries_broad,
    country_ops,
    document_dense,
    document_long,
    documents,
    korean,
    negatives,
    negatives_more,
    operator_words,
)
from finetune.generators.base import Rejected, ToolRunner, default_tools, eval_line, rng_for, write_jsonl
from finetune.generators.countries import load_countries
from finetune.generators.gold_set import ACCEPTANCE_QUESTION, GoldConfig, GoldGenerator

logger = logging.getLogger(__name__)

# trajectories per family in the training mix (~2,000: about 80 min of CPU LoRA at ~45 supervised tok/s)
TRAIN_COUNTS: dict[str, int] = {
    "gold": 500,  # replayed templated rows of finetune.gold (every kind it has)
    "countries_broad": 350,
    "arithmetic": 250,
    "documents": 550,
    "negatives": 220,
    "korean": 150,
}
DEV_COUNTS: dict[str, int] = {"countries_broad": 12, "arithmetic": 8, "documents": 16, "negatives": 8, "korean": 6}
HELDOUT_COUNTS: dict[str, int] = {"countries_broad": 40, "arithmetic": 40, "negatives": 24, "korean": 16}
# The v2b corrective mix (continues the v2 candidate; docs/v2-candidate.md, attempt 2): the candidate's
# failures were multi-step gold kinds answered after one search or with the wrong operator (density, sums,
# ratios), document computations without the Calculator, and answers read from a record or document that
# lacks the asked field. So: gold rows per kind weighted to the multi-step kinds, documents weighted to
# computations and missing fields, Korean weighted to density/sum and absent fields.
V2B_TRAIN_COUNTS: dict[str, int] = {
    "gold": 420,
    "countries_broad": 110,
    "arithmetic": 90,
    "documents": 330,
    "negatives": 170,
    "korean": 150,
}
V2B_GOLD_COUNTS: dict[str, int] = {  # per gold kind (area_sum stays held out of train)
    "density": 120,
    "population_sum": 60,
    "population_ratio": 55,
    "population_difference": 35,
    "area_difference": 35,
    "arithmetic": 40,
    "capital": 15,
    "population": 15,
    "area": 12,
    "currency": 12,
    "region": 10,
    "borders": 11,
}
V2B_DOCUMENT_WEIGHTS = (14, 22, 18, 12, 6, 20, 8)  # copy, single, pair, two, compare, missing_field, missing_entity
V2B_KOREAN_WEIGHTS = (10, 10, 6, 6, 16, 16, 10, 26, 0)  # capital .. compare, absent, region
# The v3 corrective mix (continues v2b; docs/v2-candidate.md, attempt 3). v2b's failures: borders answered
# "has no land borders" (11 borders rows), ratios written as differences (55 ratio rows against 120
# density), density still after one search, Korean names of countries outside the train split mapped to
# another country (호주 -> United States: the split hid 33 of the 87 Korean names from train), document
# computations without the Calculator and false not-found on copy questions. So: gold weighted to
# borders/ratio/density with the kinds v2b gets right kept, documents weighted to copies and computations,
# and ``korean_names`` rows (region questions, a kind no eval set asks in Korean) over every Korean name.
V3_TRAIN_COUNTS: dict[str, int] = {
    "gold": 422,
    "countries_broad": 110,
    "arithmetic": 100,
    "documents": 330,
    "negatives": 150,
    "korean": 150,
    "korean_names": 50,
}
V3_GOLD_COUNTS: dict[str, int] = {  # per gold kind (area_sum stays held out of train)
    "density": 110,
    "population_ratio": 85,
    "borders": 45,
    "population_sum": 40,
    "area_difference": 30,
    "population_difference": 25,
    "arithmetic": 35,
    "capital": 12,
    "population": 12,
    "area": 10,
    "currency": 10,
    "region": 8,
}
V3_DOCUMENT_WEIGHTS = (22, 26, 20, 10, 8, 16, 6)  # copy, single, pair, two, compare, missing_field, missing_entity
V3_KOREAN_WEIGHTS = (10, 10, 6, 6, 16, 14, 14, 24, 0)  # capital .. compare, absent, region
# The v4 corrective mix (continues v3; docs/v2-candidate.md, attempt 4). v3's failures: ratio and difference
# rows out of balance (85 vs 25: "population gap" divided, population_difference 16/16 -> 5/16), document
# abstention lost (59 of 330 document rows not-found; 9 of 10 unanswerable document questions answered with a
# neighbouring fact: the founder as the CEO), 50 Korean name rows too few for 87 names and their region
# answer form bled into a language answer. So: ratio and difference rows in equal numbers, v3's density /
# borders / copy weights kept, the document not-found share back to ~27 % with most of it the hard kind
# (``missing_near``: the document states a neighbouring fact), and ``korean_name_rows``: every Korean name
# 3 times (``korean.name_forms``) in a form that names the field and the English name. Fewer rows (one
# ~60-minute CPU run from v3): v3 already fits most rows (its eval loss 0.037).
V4_TRAIN_COUNTS: dict[str, int] = {
    "gold": 280,
    "countries_broad": 25,
    "arithmetic": 25,
    "documents": 200,
    "negatives": 40,
    "korean": 50,
    "korean_name_rows": 3 * 87,  # korean.NAME_ROWS per Korean name (the count is what name_forms yields)
}
V4_GOLD_COUNTS: dict[str, int] = {  # per gold kind (area_sum stays held out of train)
    "population_ratio": 62,
    "population_difference": 62,
    "density": 40,
    "borders": 24,
    "population_sum": 22,
    "area_difference": 20,
    "arithmetic": 20,
    "capital": 6,
    "population": 6,
    "area": 6,
    "currency": 6,
    "region": 6,
}
# copy .. missing_near (documents.QUESTION_TYPES): not-found 28 of 114 (25 %; 53 of 200 drawn, 27 %)
V4_DOCUMENT_WEIGHTS = (22, 26, 20, 10, 8, 6, 4, 18)
# The v5 repair mix (continues v4; docs/v2-candidate.md, attempt 5). v4 was better than v2b everywhere but
# abstained on 0 of 10 unanswerable document questions: its mix's not-found share had fallen to 12 % and the
# generated neighbours were easier than the corpus's. So: a stratified replay of the v4 mix (its gains), the
# document family weighted to not-found with the hard neighbours (``document_near_hard``: buried in a clause,
# close-worded, same-unit numbers; same-type distractors stating the field in the results) and ``copy_near``
# copies over the same kind of documents (so a stated field is still read: no false abstention), and
# country-pack negatives. A short run (~50 steps of 8).
V5_REPLAY = ("v4", 190)  # rows of that mix's train rows, stratified over its families
V5_TRAIN_COUNTS: dict[str, int] = {"documents": 175, "negatives": 45}
# copy .. copy_near (documents.QUESTION_TYPES): not-found 58 of 106 weight
V5_DOCUMENT_WEIGHTS = (20, 8, 4, 0, 0, 12, 6, 14, 26, 16)
# The v7 mix (continues v6 = 0.5 v4 + 0.5 v5; docs/v7-candidate/, attempt 7). v6's misses: a wrong number
# read from a document that states several (stations for bicycles, the first price of a menu), document
# computations with the wrong operands or none (a child's half fare, totals of several items, per-person
# counts, dollars from "million dollars", years between two dates), area sums written as differences and
# "by what factor" ratios as differences, "surface area" answered not-found, and too few document
# abstentions (v4 never abstains, v5 too often). So: a stratified replay of the v4 mix (v6's country,
# arithmetic and Korean skills), ``document_dense`` (dense documents: copy the right number, compute with the
# Calculator, and each near-miss not-found paired with a copy over the same corpus), the documents family
# with a moderate not-found share, ``country_ops`` (sum / difference / ratio / area copy by their wording)
# and a few country-pack negatives. Not-found ~16 % of the rows (v4 12 %, v5 39 %).
V7_REPLAY = ("v4", 300)
V7_TRAIN_COUNTS: dict[str, int] = {"document_dense": 250, "documents": 150, "country_ops": 80, "negatives": 30}
# copy .. copy_near (documents.QUESTION_TYPES): not-found 12 of 100 weight (missing_near_hard 8, missing_field 4)
V7_DOCUMENT_WEIGHTS = (22, 20, 14, 8, 6, 4, 0, 0, 8, 18)
# The v8 mix (continues v2b, the shipped adapter: the v3-v7 weights are lost; docs/v8-candidate/, attempt 8).
# v7 was the best answering attempt and the worst at near-miss abstention: its dense documents had 54
# not-founds against 196 answered rows, mostly far from the stated fields, and it answered "surface area"
# questions with a not-found. So: a stratified replay of the v4 mix (v2b never saw v3/v4: v4's country,
# ratio/difference, Korean-name and arithmetic rows; v4 beat v2b on every country set), ``document_dense`` in
# its v8 form (``document_dense.rows_v8``: a not-found, mostly a near-miss worded like a stated field, paired
# with each answered row over the same corpus; three more scenes), the documents family as in v7,
# ``country_ops`` (v7's operators), ``country_synonyms`` (a field by its other names: "surface area", "land
# area", "residents", ...) and country-pack negatives. Not-found ~25 % of the rows (v4 12 %, v7 18 %, v5 39 %).
V8_REPLAY = ("v4", 300)
V8_TRAIN_COUNTS: dict[str, int] = {
    "document_dense_v8": 320,
    "documents": 110,
    "country_ops": 50,
    "country_synonyms": 60,
    "negatives": 30,
}
# The v9 mix (continues v8, the shipped adapter; docs/v9-candidate/, attempt 9). v8's misses: the operator
# (37 rows: two-country totals and gaps divided, "take away" / equal shares / a percent amount answered by
# copying the question, a 10 % saving subtracted), border lists cut short, document computations answered
# without the Calculator (21). So: a stratified replay of the v8 mix (its not-found share and documents),
# ``operator_words`` (the plain and two-country operators by their everyday words, the operation planned in
# the first thought; sums and differences over ratios), finetune.gold rows of the kinds v8 missed (trained
# phrasings only), the documents family weighted to computations, v8's dense documents and country-pack
# negatives (not-found ~19 % of the rows: v8's 26 % diluted by the operator rows, kept well above v4's 12 %).
V9_REPLAY = ("v8", 240)
V9_TRAIN_COUNTS: dict[str, int] = {
    "gold": 120,
    "words_country": 120,
    "words_arithmetic": 70,
    "document_dense_v8": 60,  # v8's paired answered / near-miss not-found rows: the abstention share (~19 %)
    "documents": 50,
    "negatives": 40,
}
V9_GOLD_COUNTS: dict[str, int] = {  # per gold kind (area_sum stays held out of train)
    "arithmetic": 35,
    "borders": 30,
    "population_difference": 15,
    "area_difference": 15,
    "population_sum": 15,
    "capital": 10,
}
# copy .. copy_near (documents.QUESTION_TYPES): computations first; not-found 10 of 100 weight
V9_DOCUMENT_WEIGHTS = (10, 30, 26, 8, 6, 4, 0, 0, 6, 10)
# The v10 mix (continues v9s = 0.5 v8 + 0.5 v9; docs/v10-candidate/, attempt 10). v9s was the best system so far
# but answered 5 of 80 unanswerable questions (a live rate, yesterday's match, a US state named like a country,
# fictional places, a Korean absent field / province), and v9 lost the ratios (12/12 -> 3/12 on test: its
# operator rows asked for ratios least). So: a stratified replay of the v9 mix (v8's replay, the operator words,
# its documents and negatives), ``words_country_even`` (the five two-country operators in equal measure),
# finetune.gold rows weighted to ratios, ``negatives_more`` (live figures, namesakes, well-known fictional
# places, Korean places: none of the eval sets' names) with the country-pack negatives, and v8's dense
# document pairs at about v8's share of document rows. Not-found ~29 % of the rows (v8 26 %, v9 18 %).
V10_REPLAY = ("v9", 200)
V10_TRAIN_COUNTS: dict[str, int] = {
    "gold": 80,
    "words_country_even": 70,
    "negatives_more": 70,
    "negatives": 10,
    "document_dense_v8": 70,
    "documents": 30,
}
V10_GOLD_COUNTS: dict[str, int] = {
    "population_ratio": 30,
    "population_sum": 10,
    "population_difference": 10,
    "area_difference": 10,
    "arithmetic": 10,
    "capital": 10,
}
# The v11 mix (continues v10s50 = 0.5 v9s + 0.5 v10, the default since 2026-12-03; docs/v11-candidate/, attempt
# 11). v10s50's misses, grouped by cause (docs/v10-candidate/eval/failures-by-cause-v10s50.md): documents — an
# unanswerable question answered with a neighbouring fact (32 rows), a document computation without the Calculator
# (17), false not-found over a document that holds the fact (15); operators (24: a percent-of subtracted, a clause
# dropped); border lists cut short (borders 8/12). So: v8's dense document pairs (each not-found beside an answered
# row of the same corpus) and the documents family weighted to computations through the Calculator, gold borders
# and arithmetic rows (trained phrasings only), the arithmetic operator words, and a stratified replay of the v10
# mix (its operators and negatives). Not-found ~25 % of the rows.
V11_REPLAY = ("v10", 150)
V11_TRAIN_COUNTS: dict[str, int] = {
    "document_dense_v8": 110,
    "documents": 80,
    "gold": 40,
    "words_arithmetic": 30,
    "negatives": 10,
}
V11_GOLD_COUNTS: dict[str, int] = {
    "borders": 25,
    "arithmetic": 15,
}
# copy .. copy_near (documents.QUESTION_TYPES): computations (single, pair) first; not-found 18 of 100 weight
V11_DOCUMENT_WEIGHTS = (12, 26, 22, 8, 6, 6, 0, 6, 6, 8)
# The v12 mix (continues v10s50, the default; attempt 12, issue 13: "the default agent reads what it finds, computes
# what it is asked, and says when it cannot"). Since rule P1b the local Search shows a result of more than 400
# characters as its passage about the query ("# Title", the sentences and list items that state a query word, the
# first sentences, "..." where text was left out; a later chunk of a document as "Title: text"): observations no
# earlier mix had. So: ``document_long`` (600-1,500 character documents with subheadings, lists and colon titles,
# several prices / people / counts of one kind, each observation the shipped tool's passage over a real index, 2
# results as the eval harness runs it; copies, Calculator computations, near misses paired with an answered row, and
# entities no document names), a stratified replay of the v10 and v11 mixes (country operators and copies,
# arithmetic, negatives, short documents) and a few fresh Korean rows (the replays hold almost none). Not-found ~30 %
# of the rows; one epoch at max_length 1024 in ~50 minutes of 2-core CPU.
V12_REPLAY = (("v10", 130), ("v11", 60))
V12_TRAIN_COUNTS: dict[str, int] = {"document_long": 300, "korean": 15}
V12_DEV_COUNTS: dict[str, int] = {
    "document_long": 24,
    "documents": 6,
    "countries_broad": 6,
    "negatives": 5,
    "korean": 5,
    "arithmetic": 4,
}
MIXES = ("v2", "v2b", "v3", "v4", "v5", "v7", "v8", "v9", "v10", "v11", "v12")
TWO_RESULTS_SHARE = 0.2  # country-pack trajectories searched with 2 results per observation (the rest: 1)


@dataclass
class MixConfig:
    seed: int = 0
    train_counts: dict[str, int] = field(default_factory=lambda: dict(TRAIN_COUNTS))
    dev_counts: dict[str, int] = field(default_factory=lambda: dict(DEV_COUNTS))
    heldout_counts: dict[str, int] = field(default_factory=lambda: dict(HELDOUT_COUNTS))
    cache_dir: Path | None = None
    exclude: frozenset[str] = frozenset()  # questions no train row may ask (the shipped eval sets')
    stream: str = ""  # salts the train draws only: new rows, same country split, same dev/held-out rows
    gold_counts: dict[str, int] | None = None  # per gold kind; None: stratified like finetune.gold's counts
    gold_scale: float = 1.0  # the gold pool drawn from (GoldConfig.train_scale): > 1 when a kind needs more rows
    document_weights: tuple[float, ...] = documents.QUESTION_WEIGHTS
    korean_weights: tuple[float, ...] = korean.KIND_WEIGHTS
    replay: tuple[str, int] | None = None  # (mix, rows): a stratified sample of that mix's train rows first
    replays: tuple[tuple[str, int], ...] = ()  # more (mix, rows) samples after ``replay`` (questions deduplicated)

    @classmethod
    def preset(cls, mix: str, seed: int = 0) -> MixConfig:
        """``v2``: the candidate's mix; ``v2b`` .. ``v12``: the corrective ones (``V2B_*`` .. ``V12_*``; v6: a soup)."""
        # built at each call, so it reads the module's counts now (tests shrink them)
        presets: dict[str, dict[str, Any]] = {
            "v2": {},
            "v2b": dict(
                train_counts=V2B_TRAIN_COUNTS,
                gold_counts=V2B_GOLD_COUNTS,
                document_weights=V2B_DOCUMENT_WEIGHTS,
                korean_weights=V2B_KOREAN_WEIGHTS,
                stream="v2b",
            ),
            "v3": dict(
                train_counts=V3_TRAIN_COUNTS,
                gold_counts=V3_GOLD_COUNTS,
                document_weights=V3_DOCUMENT_WEIGHTS,
                korean_weights=V3_KOREAN_WEIGHTS,
                stream="v3",
                gold_scale=2.0,  # finetune.gold's train pool has 60 ratio rows; v3 samples 85 of a pool of 120
            ),
            "v4": dict(
                train_counts=V4_TRAIN_COUNTS,
                gold_counts=V4_GOLD_COUNTS,
                document_weights=V4_DOCUMENT_WEIGHTS,
                korean_weights=V3_KOREAN_WEIGHTS,
                stream="v4",
                gold_scale=2.0,
            ),
            "v5": dict(
                train_counts=V5_TRAIN_COUNTS,
                gold_counts={},
                document_weights=V5_DOCUMENT_WEIGHTS,
                korean_weights=V3_KOREAN_WEIGHTS,
                stream="v5",
                gold_scale=2.0,
                replay=V5_REPLAY,
            ),
            "v7": dict(
                train_counts=V7_TRAIN_COUNTS,
                gold_counts={},
                document_weights=V7_DOCUMENT_WEIGHTS,
                korean_weights=V3_KOREAN_WEIGHTS,
                stream="v7",
                gold_scale=2.0,
                replay=V7_REPLAY,
            ),
            "v8": dict(
                train_counts=V8_TRAIN_COUNTS,
                gold_counts={},
                document_weights=V7_DOCUMENT_WEIGHTS,
                korean_weights=V3_KOREAN_WEIGHTS,
                stream="v8",
                gold_scale=2.0,
                replay=V8_REPLAY,
            ),
            "v9": dict(
                train_counts=V9_TRAIN_COUNTS,
                gold_counts=V9_GOLD_COUNTS,
                document_weights=V9_DOCUMENT_WEIGHTS,
                korean_weights=V3_KOREAN_WEIGHTS,
                stream="v9",
                gold_scale=2.0,
                replay=V9_REPLAY,
            ),
            "v10": dict(
                train_counts=V10_TRAIN_COUNTS,
                gold_counts=V10_GOLD_COUNTS,
                document_weights=V9_DOCUMENT_WEIGHTS,
                korean_weights=V3_KOREAN_WEIGHTS,
                stream="v10",
                gold_scale=2.0,
                replay=V10_REPLAY,
            ),
            "v11": dict(
                train_counts=V11_TRAIN_COUNTS,
                gold_counts=V11_GOLD_COUNTS,
                document_weights=V11_DOCUMENT_WEIGHTS,
                korean_weights=V3_KOREAN_WEIGHTS,
                stream="v11",
                gold_scale=2.0,
                replay=V11_REPLAY,
            ),
            "v12": dict(
                train_counts=V12_TRAIN_COUNTS,
                dev_counts=V12_DEV_COUNTS,
                gold_counts={},
                document_weights=V11_DOCUMENT_WEIGHTS,
                korean_weights=V3_KOREAN_WEIGHTS,
                stream="v12",
                gold_scale=2.0,
                replays=V12_REPLAY,
            ),
        }
        if mix not in presets:
            raise ValueError(f"unknown mix {mix!r} (one of {', '.join(MIXES)})")
        fields: dict[str, Any] = {k: dict(v) if k.endswith("_counts") else v for k, v in presets[mix].items()}
        return cls(seed=seed, **fields)


class Families:
    """Draws one row of a family for a split, with the tools and country lists it needs."""

    def __init__(self, cfg: MixConfig) -> None:
        self.cfg = cfg
        self.records = country_records()
        countries = load_countries(self.records)
        gold_cfg = GoldConfig(seed=cfg.seed, train_scale=cfg.gold_scale)
        self.gold = GoldGenerator(countries, default_tools(cfg.cache_dir, 1), gold_cfg)
        by_name = {r["name"]: r for r in self.records}
        self.split_records = {s: [by_name[c.name] for c in cs] for s, cs in self.gold.splits.items()}
        self.split_records["heldout"] = self.split_records["test"]  # held-out forms over test countries
        self.names = {r["name"] for r in self.records} | {a for r in self.records for a in r["aliases"]}
        self.run1 = ToolRunner(default_tools(cfg.cache_dir, 1))
        self.run2 = ToolRunner(default_tools(cfg.cache_dir, 2))

    def runner(self, rng: random.Random) -> ToolRunner:
        return self.run2 if rng.random() < TWO_RESULTS_SHARE else self.run1

    def maker(self, family: str, split: str) -> Callable[[random.Random], dict[str, Any]]:
        recs = self.split_records[split]
        makers: dict[str, Callable[[random.Random], dict[str, Any]]] = {
            "arithmetic": lambda rng: arithmetic.one(self.run1, rng, split),
            "documents": lambda rng: documents.one(rng, split, self.cfg.document_weights),
            "countries_broad": lambda rng: countries_broad.one(recs, self.runner(rng), rng, split),
            "negatives": lambda rng: negatives.one(recs, self.runner(rng), rng, split, self.names),
            "korean": lambda rng: korean.one(recs, self.run1, rng, split, self.cfg.korean_weights),
            # every split's countries: the Korean names are vocabulary (region questions only; see V3_TRAIN_COUNTS)
            "korean_names": lambda rng: korean.one(self.records, self.run1, rng, split, korean.NAMES_WEIGHTS),
            "country_ops": lambda rng: country_ops.one(recs, self.run1, rng, split),
            "country_synonyms": lambda rng: country_ops.synonym_one(recs, self.run1, rng, split),
            "words_country": lambda rng: operator_words.country_one(recs, self.run1, rng, split),
            "words_arithmetic": lambda rng: operator_words.arithmetic_one(self.run1, rng, split),
            "words_country_even": lambda rng: operator_words.country_one(
                recs, self.run1, rng, split, operator_words.EVEN_WEIGHTS
            ),
            "negatives_more": lambda rng: negatives_more.one(recs, self.runner(rng), rng, split),
        }
        if family in ("document_dense", "document_dense_v8", "document_long"):  # a corpus gives 1-2 rows: queued
            pending: list[dict[str, Any]] = []
            corpus_rows = {
                "document_dense": document_dense.rows,
                "document_dense_v8": document_dense.rows_v8,
                "document_long": document_long.rows,
            }[family]

            def next_dense(rng: random.Random) -> dict[str, Any]:
                if not pending:
                    pending.extend(corpus_rows(rng, split))
                return pending.pop(0)

            return next_dense
        if family == "korean_name_rows":  # every Korean name NAME_ROWS times: a fixed list, not random draws
            by_name = {r["name"]: r for r in self.records}
            queue = korean.name_forms(split, rng_for("korean_name_rows" + self.cfg.stream, split, self.cfg.seed))

            def next_name(rng: random.Random) -> dict[str, Any]:
                if not queue:
                    raise Rejected("every Korean name drawn")
                name, form = queue.pop()
                return korean.name_row(by_name[name], self.run1, rng, split, form)

            return next_name
        return makers[family]


def draw(
    make: Callable[[random.Random], dict[str, Any]], rng: random.Random, count: int, seen: set[str]
) -> list[dict[str, Any]]:
    """``count`` rows with questions not in ``seen`` (redrawing rejected draws)."""
    rows: list[dict[str, Any]] = []
    attempts = 0
    while len(rows) < count and attempts < count * 20:
        attempts += 1
        try:
            row = make(rng)
        except Rejected as exc:
            logger.debug("rejected: %s", exc)
            continue
        if row["question"] in seen or row["question"] == ACCEPTANCE_QUESTION:
            continue
        seen.add(row["question"])
        rows.append(row)
    if len(rows) < count:
        logger.warning("made %d of %d", len(rows), count)
    return rows


def gold_rows(
    fam: Families, count: int, seed: int, per_kind: dict[str, int] | None = None, stream: str = ""
) -> list[dict[str, Any]]:
    """A sample of the templated gold train rows, never the README showcase question: stratified like
    ``finetune.gold``'s counts, or ``per_kind`` rows of each kind named there."""
    rows = [r for r in fam.gold.generate()["train"] if r["question"] != ACCEPTANCE_QUESTION]
    rows = [r for r in rows if r["question"] not in fam.cfg.exclude]
    rng = random.Random(f"gold-sample-{seed}{stream}")
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_kind.setdefault(r["kind"], []).append(r)
    share = count / max(1, len(rows))
    chosen: list[dict[str, Any]] = []
    for kind, kind_rows in by_kind.items():  # per kind, rounded: the total can miss ``count`` by a few
        rng.shuffle(kind_rows)
        n = per_kind.get(kind, 0) if per_kind is not None else max(1, round(len(kind_rows) * share))
        if n > len(kind_rows):
            logger.warning("gold/%s: %d of %d rows", kind, len(kind_rows), n)
        chosen += kind_rows[:n]
    for r in chosen:
        r["answerable"] = True
        r["meta"]["generator"] = "gold"
    return chosen[:count]


# the train rows of each mix replayed, kept while one top-level ``replay_rows`` runs (v12 replays v10 and v11, and
# v11 replays v10 again: built once); not across calls, so tests that shrink a mix's counts always rebuild it
_TRAIN_ROWS: dict[tuple[Any, ...], list[dict[str, Any]]] | None = None


def _train_rows(mix: str, cfg: MixConfig) -> list[dict[str, Any]]:
    """That mix's train rows (same seed, ``exclude`` and cache), a fresh copy each call (rows are relabelled)."""
    key = (mix, cfg.seed, cfg.exclude, cfg.cache_dir)
    cache = _TRAIN_ROWS if _TRAIN_ROWS is not None else {}
    if key not in cache:
        base = MixConfig.preset(mix, cfg.seed)
        base.exclude, base.cache_dir = cfg.exclude, cfg.cache_dir
        base.dev_counts, base.heldout_counts = {}, {}  # drawn after train: its train rows are the same without them
        cache[key] = generate(base)["train"]
    return copy.deepcopy(cache[key])


def replay_rows(cfg: MixConfig) -> list[dict[str, Any]]:
    """``cfg.replay``'s rows of that mix's train split (same seed and ``exclude``), sampled stratified over its
    families (``meta.generator``), each family's share as in that mix (rounded; the total can miss by a few);
    then each of ``cfg.replays`` the same way, skipping questions already replayed."""
    global _TRAIN_ROWS
    outer = _TRAIN_ROWS is None
    if outer:
        _TRAIN_ROWS = {}
    try:
        out: list[dict[str, Any]] = []
        for replay in ([cfg.replay] if cfg.replay else []) + list(cfg.replays):
            asked = {r["question"] for r in out}
            out += [r for r in _replay_one(cfg, replay) if r["question"] not in asked]
        return out
    finally:
        if outer:
            _TRAIN_ROWS = None


def _replay_one(cfg: MixConfig, replay: tuple[str, int]) -> list[dict[str, Any]]:
    mix, count = replay
    rows = _train_rows(mix, cfg)
    by_family: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_family.setdefault(r["meta"].get("generator", "gold"), []).append(r)
    rng = random.Random(f"replay-{mix}-{cfg.seed}{cfg.stream}")
    chosen: list[dict[str, Any]] = []
    for family in sorted(by_family):
        family_rows = by_family[family]
        rng.shuffle(family_rows)
        chosen += family_rows[: round(count * len(family_rows) / len(rows))]
    for r in chosen:
        r["meta"]["replay"] = mix
    return chosen


def generate(cfg: MixConfig) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {"train": replay_rows(cfg), "dev": [], "heldout": []}
    fam = Families(cfg)
    seen: set[str] = set(cfg.exclude) | {r["question"] for r in out["train"]}
    out["train"] += gold_rows(fam, cfg.train_counts.get("gold", 0), cfg.seed, cfg.gold_counts, cfg.stream)
    seen |= {r["question"] for r in out["train"]}
    for split, counts in (("train", cfg.train_counts), ("dev", cfg.dev_counts), ("heldout", cfg.heldout_counts)):
        if split != "train":
            seen -= cfg.exclude  # only train is kept apart from the eval sets (dev / held-out rows as before)
        for family, count in counts.items():
            if family == "gold" or count <= 0:
                continue
            rng = rng_for(family + (cfg.stream if split == "train" else ""), split, cfg.seed)
            rows = draw(fam.maker(family, split), rng, count, seen)
            logger.info("%s/%s: %d rows", split, family, len(rows))
            out[split] += rows
    for split, rows in out.items():
        random.Random(f"order-{split}-{cfg.seed}").shuffle(rows)
        for i, row in enumerate(rows):
            row["id"] = f"v2-{split}-{cfg.seed}-{i:05d}"
    return out


def summarize(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    return {
        "rows": len(rows),
        "families": dict(Counter(r["meta"].get("generator", "gold") for r in rows)),
        "kinds": dict(sorted(Counter(r["kind"] for r in rows).items())),
        "not_found": sum(1 for r in rows if r.get("answerable") is False),
        "steps": dict(sorted(Counter(len(r["steps"]) for r in rows).items())),
    }


def write(out: Path, data: dict[str, list[dict[str, Any]]], evalsets: Path | None) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    for split, rows in data.items():
        write_jsonl(out / f"{split}.jsonl", rows)
        summary[split] = summarize(rows)
    if evalsets is not None:
        write_jsonl(evalsets / "heldout.jsonl", (eval_line(r) for r in data["heldout"]))
    (out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    return summary


def eval_questions(folder: Path) -> frozenset[str]:
    """Every question of the eval sets in ``folder`` (``*.jsonl``): kept out of the training rows."""
    return frozenset(
        json.loads(line)["question"] for f in sorted(folder.glob("*.jsonl")) for line in f.open() if line.strip()
    )


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=Path("data/v2"), help="folder for train/dev/heldout.jsonl")
    p.add_argument("--seed", type=int, default=0, help="splits, sampling and numbers follow from it")
    p.add_argument("--evalsets", type=Path, default=None, help="also write heldout.jsonl questions here")
    p.add_argument(
        "--mix",
        choices=MIXES,
        default="v2",
        help="v2: the candidate's mix; v2b, v3, v4, v5, v7, v8, v9, v10, v11, v12: the corrective ones",
    )
    p.add_argument(
        "--exclude", type=Path, default=Path("finetune/evalsets"), help="no train row asks a question of these sets"
    )
    p.add_argument("--scale", type=float, default=1.0, help="multiply every training count")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    cfg = MixConfig.preset(args.mix, args.seed)
    if args.exclude.is_dir():
        cfg.exclude = eval_questions(args.exclude)
    cfg.train_counts = {k: max(0, round(v * args.scale)) for k, v in cfg.train_counts.items()}
    if cfg.gold_counts is not None:
        cfg.gold_counts = {k: max(0, round(v * args.scale)) for k, v in cfg.gold_counts.items()}
    summary = write(args.out, generate(cfg), args.evalsets)
    logger.info(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
