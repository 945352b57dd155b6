"""The v2 mix: families and counts, the not-found share, no showcase question, held-out forms out of train."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from finetune.generators import mixer
from finetune.generators.gold_set import ACCEPTANCE_QUESTION


def test_a_small_mix_has_every_family_and_its_eval_files(tmp_path: Path, gen_cache: Path) -> None:
    counts = {"gold": 20, "countries_broad": 12, "arithmetic": 10, "documents": 14, "negatives": 10, "korean": 6}
    cfg = mixer.MixConfig(
        seed=0,
        train_counts=counts,
        dev_counts={"documents": 3, "negatives": 2},
        heldout_counts={"arithmetic": 4, "negatives": 3, "countries_broad": 4, "korean": 2},
        cache_dir=gen_cache,
    )
    summary = mixer.write(tmp_path / "v2", mixer.generate(cfg), tmp_path / "evalsets")
    families = summary["train"]["families"]
    assert abs(families.pop("gold") - counts.pop("gold")) <= 2  # sampled per gold kind, rounded
    assert families == counts
    assert summary["train"]["not_found"] >= 0.1 * summary["train"]["rows"]
    train = [json.loads(line) for line in (tmp_path / "v2" / "train.jsonl").read_text().splitlines()]
    held = [json.loads(line) for line in (tmp_path / "evalsets" / "heldout.jsonl").read_text().splitlines()]
    assert len({r["id"] for r in train}) == len(train)
    assert ACCEPTANCE_QUESTION not in {r["question"] for r in train}
    assert not {r["question"] for r in train} & {q["question"] for q in held}
    assert {q["answerable"] for q in held} == {True, False}
    unanswerable = [q for q in held if not q["answerable"]]
    assert all(q["answer"] is None for q in unanswerable)


def test_train_rows_never_ask_an_excluded_question_and_v2b_counts_gold_per_kind(gen_cache: Path) -> None:
    cfg = mixer.MixConfig.preset("v2b")
    cfg.cache_dir = gen_cache
    cfg.train_counts = {"gold": 12, "negatives": 8, "korean": 6}
    cfg.gold_counts = {"density": 8, "population_sum": 4}
    cfg.dev_counts, cfg.heldout_counts = {}, {}
    first = mixer.generate(cfg)["train"]
    kinds = [r["kind"] for r in first if r["meta"]["generator"] == "gold"]
    assert sorted(kinds) == ["density"] * 8 + ["population_sum"] * 4
    cfg.exclude = frozenset(r["question"] for r in first)
    again = mixer.generate(cfg)["train"]  # same seed and streams: only the exclusion keeps them apart
    assert len(again) == len(first)
    assert not {r["question"] for r in again} & cfg.exclude


def test_eval_questions_reads_every_set(tmp_path: Path) -> None:
    (tmp_path / "a.jsonl").write_text('{"question": "Q1"}\n\n{"question": "Q2"}\n')
    (tmp_path / "b.jsonl").write_text('{"question": "Q3"}\n')
    assert mixer.eval_questions(tmp_path) == {"Q1", "Q2", "Q3"}


def test_v3_draws_korean_names_over_every_split_and_more_gold_ratios_than_the_plain_pool(gen_cache: Path) -> None:
    cfg = mixer.MixConfig.preset("v3")
    cfg.cache_dir = gen_cache
    cfg.train_counts = {"gold": 70, "korean_names": 24}
    cfg.gold_counts = {"population_ratio": 70}  # the scale-1 gold pool has 60 ratio rows
    cfg.dev_counts, cfg.heldout_counts = {}, {}
    fam = mixer.Families(cfg)
    rows = mixer.generate(cfg)["train"]
    gold = [r for r in rows if r["meta"]["generator"] == "gold"]
    assert [r["kind"] for r in gold] == ["population_ratio"] * 70
    names = [r for r in rows if r["meta"]["generator"] == "korean"]
    assert len(names) == 24 and {r["kind"] for r in names} == {"ko_region"}
    train_countries = {r["name"] for r in fam.split_records["train"]}
    searched = {r["steps"][0]["tool_input"].removeprefix("region of ") for r in names}
    assert searched - train_countries  # names outside the train split are drawn too


def test_v4_balances_ratio_and_difference_and_draws_each_korean_name_three_times(gen_cache: Path) -> None:
    cfg = mixer.MixConfig.preset("v4")
    assert cfg.gold_counts is not None
    assert cfg.gold_counts["population_ratio"] == cfg.gold_counts["population_difference"] >= 60
    docs = dict(zip(mixer.documents.QUESTION_TYPES, cfg.document_weights, strict=False))  # 8: no v5 types
    share = sum(docs.get(t, 0) for t in mixer.documents.NOT_FOUND_TYPES) / sum(docs.values())
    assert 0.22 <= share <= 0.3 and docs["missing_near"] > docs["missing_field"]
    cfg.cache_dir = gen_cache
    cfg.train_counts = {"korean_name_rows": 3 * len(mixer.korean.KO_NAMES) + 5}  # more than the list holds
    cfg.dev_counts, cfg.heldout_counts = {}, {}
    rows = mixer.generate(cfg)["train"]
    searched = [r["steps"][0]["tool_input"].removeprefix("region of ") for r in rows]
    assert len(rows) == 3 * len(mixer.korean.KO_NAMES)  # every name, NAME_ROWS times, then the list is spent
    assert all(searched.count(n) == 3 for n in set(searched))


def test_v5_replays_the_v4_mix_stratified_then_draws_hard_not_found_documents(
    gen_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = mixer.MixConfig.preset("v5")
    docs = dict(zip(mixer.documents.QUESTION_TYPES, cfg.document_weights, strict=True))
    share = sum(docs[t] for t in mixer.documents.NOT_FOUND_TYPES) / sum(docs.values())
    assert share >= 0.5 and docs["missing_near_hard"] > docs["missing_near"] and docs["copy_near"] > 0
    assert cfg.replay is not None and cfg.replay[0] == "v4"
    # a small v4 mix to replay from (the preset reads the module's counts when it is called)
    monkeypatch.setattr(mixer, "V4_TRAIN_COUNTS", {"gold": 8, "documents": 8, "negatives": 4, "arithmetic": 4})
    monkeypatch.setattr(mixer, "V4_GOLD_COUNTS", {"population_ratio": 4, "population_difference": 4})
    v4 = mixer.MixConfig.preset("v4")
    v4.cache_dir, v4.dev_counts, v4.heldout_counts = gen_cache, {}, {}
    v4_train = mixer.generate(v4)["train"]
    cfg.cache_dir, cfg.replay = gen_cache, ("v4", 12)
    cfg.train_counts = {"documents": 10, "negatives": 3}
    cfg.dev_counts, cfg.heldout_counts = {}, {}
    rows = mixer.generate(cfg)["train"]
    replayed = [r for r in rows if r["meta"].get("replay") == "v4"]
    assert {r["question"] for r in replayed} <= {r["question"] for r in v4_train}
    families = Counter(r["meta"]["generator"] for r in replayed)  # 24 rows: gold 8, documents 8, 4, 4 -> half
    assert families == {"gold": 4, "documents": 4, "negatives": 2, "arithmetic": 2}
    fresh = [r for r in rows if "replay" not in r["meta"]]
    assert Counter(r["meta"]["generator"] for r in fresh) == {"documents": 10, "negatives": 3}
    assert len({r["question"] for r in rows}) == len(rows) == 25


def test_v7_replays_v4_then_draws_dense_documents_in_pairs_and_country_operators(
    gen_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = mixer.MixConfig.preset("v7")
    docs = dict(zip(mixer.documents.QUESTION_TYPES, cfg.document_weights, strict=True))
    share = sum(docs[t] for t in mixer.documents.NOT_FOUND_TYPES) / sum(docs.values())
    assert 0.08 <= share <= 0.2  # moderate: v4 25 %, v5 55 % of the documents family's weight
    assert cfg.replay is not None and cfg.replay[0] == "v4"
    monkeypatch.setattr(mixer, "V4_TRAIN_COUNTS", {"gold": 6, "documents": 6})
    monkeypatch.setattr(mixer, "V4_GOLD_COUNTS", {"population_ratio": 3, "population_difference": 3})
    cfg.cache_dir, cfg.replay = gen_cache, ("v4", 6)
    cfg.train_counts = {"document_dense": 16, "country_ops": 6, "negatives": 2}
    cfg.dev_counts, cfg.heldout_counts = {}, {}
    rows = mixer.generate(cfg)["train"]
    fresh = Counter(r["meta"]["generator"] for r in rows if "replay" not in r["meta"])
    assert fresh == {"document_dense": 16, "country_ops": 6, "negatives": 2}
    assert Counter(r["meta"]["generator"] for r in rows if "replay" in r["meta"]) == {"gold": 3, "documents": 3}
    dense = [r for r in rows if r["meta"]["generator"] == "document_dense"]
    # every not-found dense row has its copy over the same corpus in the mix (drawn as a pair)
    for r in dense:
        if r["kind"] == "dense_missing":
            title = r["steps"][0]["observation"].split(":")[0]
            assert any(c["kind"] == "dense_copy" and c["steps"][0]["observation"].startswith(title) for c in dense)
    assert len({r["question"] for r in rows}) == len(rows)


def test_v8_preset_counts_and_not_found_share() -> None:
    cfg = mixer.MixConfig.preset("v8")
    assert cfg.replay == ("v4", 300) and cfg.stream == "v8"
    assert sum(cfg.train_counts.values()) + cfg.replay[1] in range(800, 901)  # ~100-110 steps of 8
    dense = dict(zip(mixer.document_dense.QUESTION_TYPES_V8, mixer.document_dense.WEIGHTS_V8, strict=True))
    rows = dense["copy"] + dense["compute"] + 2 * (dense["pair"] + dense["pair_compute"])
    assert (dense["pair"] + dense["pair_compute"]) / rows >= 0.4  # dense: ~one not-found per answered row
    assert mixer.MixConfig.preset("v7").train_counts == mixer.V7_TRAIN_COUNTS  # v7's preset untouched


def test_v8_mix_draws_its_families_pairs_near_misses_and_never_an_eval_question(
    tmp_path: Path, gen_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = mixer.MixConfig.preset("v8")
    monkeypatch.setattr(mixer, "V4_TRAIN_COUNTS", {"gold": 6, "documents": 6})
    monkeypatch.setattr(mixer, "V4_GOLD_COUNTS", {"population_ratio": 3, "population_difference": 3})
    cfg.cache_dir, cfg.replay = gen_cache, ("v4", 6)
    cfg.train_counts = {"document_dense_v8": 24, "country_synonyms": 8, "country_ops": 4, "negatives": 2}
    cfg.dev_counts, cfg.heldout_counts = {}, {}
    first = mixer.generate(cfg)["train"]
    fresh = Counter(r["meta"]["generator"] for r in first if "replay" not in r["meta"])
    assert fresh == {"document_dense": 24, "country_synonyms": 8, "country_ops": 4, "negatives": 2}
    dense = [r for r in first if r["meta"]["generator"] == "document_dense"]
    missing = [r for r in dense if r["kind"] == "dense_missing"]
    assert len(missing) >= 0.35 * len(dense) and any(r["meta"]["near_miss"] for r in missing)
    unpaired = [  # its partner over the same corpus is in the mix (but the last row drawn: its pair is cut)
        r
        for r in missing
        if not any(
            c["kind"] != "dense_missing" and c["steps"][0]["observation"].startswith(r["steps"][0]["observation"][:40])
            for c in dense
        )
    ]
    assert len(unpaired) <= 1
    # the exclusion reads every eval file of the folder: documents_probe.jsonl and any new one
    evalsets = tmp_path / "evalsets"
    evalsets.mkdir()
    for f in Path("finetune/evalsets").glob("*.jsonl"):
        (evalsets / f.name).write_text(f.read_text())
    probe = [r["question"] for r in first if "replay" not in r["meta"]][:6]
    (evalsets / "new_set.jsonl").write_text("".join(json.dumps({"question": q}) + "\n" for q in probe))
    cfg.exclude = mixer.eval_questions(evalsets)
    shipped = {
        json.loads(line)["question"]
        for f in Path("finetune/evalsets").glob("*.jsonl")
        for line in f.open()
        if line.strip()
    }
    assert shipped | set(probe) == cfg.exclude
    assert Path("finetune/evalsets/documents_probe.jsonl").is_file()  # the session-6 probe is read with the others
    again = mixer.generate(cfg)["train"]
    assert not {r["question"] for r in again} & cfg.exclude
    assert len({r["question"] for r in again}) == len(again)


def test_v9_preset_replays_v8_draws_operator_words_and_keeps_a_not_found_share(
    gen_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = mixer.MixConfig.preset("v9")
    assert cfg.replay == ("v8", 240) and cfg.stream == "v9"
    assert sum(cfg.train_counts.values()) + cfg.replay[1] in range(650, 751)  # ~85-95 steps of 8
    assert mixer.MixConfig.preset("v8").train_counts == mixer.V8_TRAIN_COUNTS  # v8's preset untouched
    monkeypatch.setattr(mixer, "V4_TRAIN_COUNTS", {"gold": 4, "documents": 4})
    monkeypatch.setattr(mixer, "V4_GOLD_COUNTS", {"population_ratio": 2, "population_difference": 2})
    monkeypatch.setattr(mixer, "V8_TRAIN_COUNTS", {"document_dense_v8": 6, "negatives": 4})
    cfg.cache_dir, cfg.replay = gen_cache, ("v8", 8)
    cfg.train_counts = {"gold": 3, "words_country": 10, "words_arithmetic": 8, "negatives": 3}
    cfg.gold_counts = {"borders": 3}
    cfg.dev_counts, cfg.heldout_counts = {}, {}
    rows = mixer.generate(cfg)["train"]
    fresh = Counter(r["meta"]["generator"] for r in rows if "replay" not in r["meta"])
    assert fresh == {"operator_words": 18, "negatives": 3, "gold": 3}
    assert {r["meta"]["replay"] for r in rows if "replay" in r["meta"]} == {"v8"}
    assert any(r.get("answerable") is False for r in rows)
    assert len({r["question"] for r in rows}) == len(rows)


def test_v10_preset_replays_v9_draws_even_operators_and_the_new_negatives(
    gen_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = mixer.MixConfig.preset("v10")
    assert cfg.replay == ("v9", 200) and cfg.stream == "v10"
    assert sum(cfg.train_counts.values()) + cfg.replay[1] in range(480, 581)  # ~60-72 steps of 8
    assert mixer.MixConfig.preset("v9").train_counts == mixer.V9_TRAIN_COUNTS  # v9's preset untouched
    assert mixer.operator_words.EVEN_WEIGHTS.count(mixer.operator_words.EVEN_WEIGHTS[0]) == 5  # ratios as often
    monkeypatch.setattr(mixer, "V4_TRAIN_COUNTS", {"gold": 2, "documents": 2})
    monkeypatch.setattr(mixer, "V4_GOLD_COUNTS", {"population_ratio": 2})
    monkeypatch.setattr(mixer, "V8_TRAIN_COUNTS", {"negatives": 4})
    monkeypatch.setattr(mixer, "V9_TRAIN_COUNTS", {"words_country": 4})
    monkeypatch.setattr(mixer, "V9_REPLAY", ("v8", 4))
    cfg.cache_dir, cfg.replay = gen_cache, ("v9", 6)
    cfg.train_counts = {"gold": 3, "words_country_even": 30, "negatives_more": 8}
    cfg.gold_counts = {"population_ratio": 3}
    cfg.dev_counts, cfg.heldout_counts = {}, {}
    rows = mixer.generate(cfg)["train"]
    fresh = [r for r in rows if "replay" not in r["meta"]]
    assert Counter(r["meta"]["generator"] for r in fresh) == {"operator_words": 30, "negatives_more": 8, "gold": 3}
    ops = Counter(r["meta"]["operator"] for r in fresh if r["meta"]["generator"] == "operator_words")
    assert ops["population_ratio"] >= 2  # v9's weights drew a ratio in 1 of 12.5 rows
    assert {r["meta"]["replay"] for r in rows if "replay" in r["meta"]} == {"v9"}
    assert len({r["question"] for r in rows}) == len(rows)


def test_v11_preset_replays_v10_and_weights_documents_to_computations(
    gen_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = mixer.MixConfig.preset("v11")
    assert cfg.replay == ("v10", 150) and cfg.stream == "v11"
    assert sum(cfg.train_counts.values()) + cfg.replay[1] in range(380, 461)  # ~48-58 steps of 8
    assert mixer.MixConfig.preset("v10").train_counts == mixer.V10_TRAIN_COUNTS  # v10's preset untouched
    weights = dict(zip(mixer.documents.QUESTION_TYPES, cfg.document_weights, strict=True))
    assert weights["single"] + weights["pair"] > weights["copy"] + weights["copy_near"]  # computations first
    monkeypatch.setattr(mixer, "V4_TRAIN_COUNTS", {"gold": 2})
    monkeypatch.setattr(mixer, "V4_GOLD_COUNTS", {"population_ratio": 2})
    monkeypatch.setattr(mixer, "V8_TRAIN_COUNTS", {"negatives": 2})
    monkeypatch.setattr(mixer, "V9_TRAIN_COUNTS", {"words_country": 2})
    monkeypatch.setattr(mixer, "V9_REPLAY", ("v8", 2))
    monkeypatch.setattr(mixer, "V10_TRAIN_COUNTS", {"negatives_more": 4})
    monkeypatch.setattr(mixer, "V10_REPLAY", ("v9", 2))
    cfg.cache_dir, cfg.replay = gen_cache, ("v10", 4)
    cfg.train_counts = {"gold": 2, "documents": 12, "words_arithmetic": 3}
    cfg.gold_counts = {"borders": 2}
    cfg.dev_counts, cfg.heldout_counts = {}, {}
    rows = mixer.generate(cfg)["train"]
    fresh = [r for r in rows if "replay" not in r["meta"]]
    assert Counter(r["meta"]["generator"] for r in fresh) == {"documents": 12, "operator_words": 3, "gold": 2}
    assert {r["kind"] for r in fresh if r["meta"]["generator"] == "gold"} == {"borders"}
    assert {r["meta"]["replay"] for r in rows if "replay" in r["meta"]} == {"v10"}
    assert len({r["question"] for r in rows}) == len(rows)
