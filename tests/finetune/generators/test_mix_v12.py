"""The v12 mix: long documents read as the shipped tool's passages, replays of v10 and v11, eval questions kept out."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import pytest

from agent.prompt import NOT_FOUND_ANSWER
from agent.tools.search import NO_RESULTS
from finetune.config import load_yaml, make_config
from finetune.generators import document_long, mixer
from finetune.generators.base import Rejected, find_number

ROOT = Path(__file__).resolve().parents[3]


def _long_rows(n_corpora: int, seed: str) -> list[dict]:
    rng, rows = random.Random(seed), []
    for _ in range(n_corpora):
        try:
            rows += document_long.rows(rng, "train")
        except Rejected:
            continue
    return rows


def test_long_documents_are_shown_as_passages_and_answers_state_the_value() -> None:
    rows = _long_rows(40, "long-test")
    assert len(rows) >= 30
    for r in rows:
        assert document_long.MIN_CHARS <= r["meta"]["doc_chars"] <= document_long.MAX_CHARS
        searches = [s["observation"] for s in r["steps"] if s["tool"] == "Search"]
        assert searches and all("..." in o for o in searches if o != NO_RESULTS)  # every result is over 400 chars
        if r["answerable"]:
            gold = r["answer"]
            assert (
                (find_number(r["final_answer"], gold) is not None)
                if isinstance(gold, float)
                else gold in r["final_answer"]
            )
            assert r["final_answer"] != r["question"]
        else:
            assert r["final_answer"] == NOT_FOUND_ANSWER
    kinds = Counter(r["kind"] for r in rows)
    assert {"long_copy", "long_compute", "long_missing"} <= set(kinds)
    assert all(s["tool"] == "Calculator" for r in rows if r["kind"] == "long_compute" for s in r["steps"][-1:])


def test_v12_preset_sizes_and_config() -> None:
    cfg = mixer.MixConfig.preset("v12")
    assert cfg.replays == mixer.V12_REPLAY and cfg.replay is None and cfg.stream == "v12"
    total = sum(cfg.train_counts.values()) + sum(n for _, n in cfg.replays)
    assert total in range(450, 551) and cfg.train_counts["document_long"] == 300
    assert sum(cfg.dev_counts.values()) == 50
    assert mixer.MixConfig.preset("v11").train_counts == mixer.V11_TRAIN_COUNTS  # v11's preset untouched
    values = load_yaml(ROOT / "finetune/configs/cpu-v12.yaml")
    assert (values["init_adapter"], values["output_dir"]) == ("adapters/v10s-soup", "adapters/v12-candidate")
    values["train_files"], values["eval_files"] = [str(ROOT / "pyproject.toml")], []  # data/ is generated
    del values["init_adapter"]  # built by make (adapters/v10s-soup), not in the repo
    c = make_config(values, source="cpu-v12")
    assert (c.max_length, c.seed, c.lora_r, c.lora_alpha, c.target_modules) == (1024, 12, 16, 32, ["all-linear"])
    assert (c.per_device_train_batch_size, c.gradient_accumulation_steps, c.learning_rate) == (2, 4, 1e-4)
    assert (c.precision, c.threads, c.num_train_epochs, c.lr_scheduler_type) == ("fp32", 2, 1, "cosine")


def test_a_small_v12_mix_builds_keeps_eval_questions_out_and_a_not_found_share(
    gen_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in {
        "V4_TRAIN_COUNTS": {"gold": 2},
        "V4_GOLD_COUNTS": {"population_ratio": 2},
        "V8_TRAIN_COUNTS": {"negatives": 2},
        "V9_TRAIN_COUNTS": {"words_country": 2},
        "V9_REPLAY": ("v8", 2),
        "V10_TRAIN_COUNTS": {"negatives_more": 3, "documents": 2},
        "V10_REPLAY": ("v9", 2),
        "V11_TRAIN_COUNTS": {"documents": 3, "words_arithmetic": 2},
        "V11_GOLD_COUNTS": {},
        "V11_REPLAY": ("v10", 3),
    }.items():
        monkeypatch.setattr(mixer, name, value)
    cfg = mixer.MixConfig.preset("v12")
    cfg.cache_dir, cfg.replays = gen_cache, (("v10", 4), ("v11", 4))
    cfg.train_counts = {"document_long": 40, "korean": 2}
    cfg.dev_counts, cfg.heldout_counts = {"document_long": 3}, {}
    cfg.exclude = mixer.eval_questions(ROOT / "finetune/evalsets")
    data = mixer.generate(cfg)
    rows = data["train"]
    fresh = [r for r in rows if "replay" not in r["meta"]]
    assert Counter(r["meta"]["generator"] for r in fresh) == {"document_long": 40, "korean": 2}
    assert {r["meta"]["replay"] for r in rows if "replay" in r["meta"]} == {"v10", "v11"}
    assert len({r["question"] for r in rows}) == len(rows)
    assert not {r["question"] for r in rows} & cfg.exclude
    long = [r for r in rows if r["meta"]["generator"] == "document_long"]
    for r in long:  # the long documents are read as passages ("..." where text was left out)
        assert all(
            "..." in s["observation"] for s in r["steps"] if s["tool"] == "Search" and s["observation"] != NO_RESULTS
        )
    share = sum(r["answerable"] is False for r in long) / len(long)
    assert 0.2 <= share <= 0.4, share
    assert len(data["dev"]) == 3
