"""Gold ReAct trajectories (the v1 templated country data): ``finetune.generators.gold_set``.

    python -m finetune.gold --out data/gold --seed 0 --evalsets finetune/evalsets

The generator families live in ``finetune/generators/`` (the v1 gold set: gold_set, countries,
gold_arithmetic; the v2 families: arithmetic, documents, negatives, countries_broad, korean, and the
mixer); this module keeps the names and the command the CLI (``qreact data gold``), the Makefile and
older scripts use.
"""

from __future__ import annotations

from agent.prompt import FINAL_THOUGHT
from finetune.generators.base import (
    GOLD_MAX_RESULTS,
    OBSERVATION_MAX_CHARS,
    Draft,
    SkipQuestion,
    ToolRunner,
    default_tools,
    file_sha256,
    find_number,
    plain,
    write_jsonl,
)
from finetune.generators.countries import (
    FORCED_TRAIN,
    PHRASINGS,
    SPLIT_FRACTIONS,
    SPLITS,
    Country,
    load_countries,
    phrasings_for,
    split_countries,
)
from finetune.generators.gold_arithmetic import ARITHMETIC, NAMES, ArithmeticTemplate
from finetune.generators.gold_set import (
    ACCEPTANCE_QUESTION,
    EVAL_COUNTS,
    HELDOUT_KINDS,
    TRAIN_COUNTS,
    GoldConfig,
    GoldGenerator,
    eval_question,
    generate_gold,
    main,
    training_text,
)

__all__ = [
    "ACCEPTANCE_QUESTION",
    "ARITHMETIC",
    "EVAL_COUNTS",
    "FINAL_THOUGHT",
    "FORCED_TRAIN",
    "GOLD_MAX_RESULTS",
    "HELDOUT_KINDS",
    "NAMES",
    "OBSERVATION_MAX_CHARS",
    "PHRASINGS",
    "SPLITS",
    "SPLIT_FRACTIONS",
    "TRAIN_COUNTS",
    "ArithmeticTemplate",
    "Country",
    "Draft",
    "GoldConfig",
    "GoldGenerator",
    "SkipQuestion",
    "ToolRunner",
    "default_tools",
    "eval_question",
    "file_sha256",
    "find_number",
    "generate_gold",
    "load_countries",
    "main",
    "phrasings_for",
    "plain",
    "split_countries",
    "training_text",
    "write_jsonl",
]

if __name__ == "__main__":
    main()
