"""Trajectory JSONL -> tokens and labels: only the agent's own text is supervised."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from agent.prompt import STOP, final_log, observation_suffix, render_prompt, step_log
from finetune.data import (
    IGNORE_INDEX,
    DataError,
    PadCollator,
    build_dataset,
    build_example,
    iter_file,
    scan_files,
    tokenize_batch,
)

QUESTION = "What is the population of Peru times 2?"
OBS_1 = "Peru: capital Lima; population 32,971,854."
OBS_2 = "65943708"


def trajectory(question: str = QUESTION, source: str = "gold") -> dict:
    logs = [
        step_log("I need the population of Peru.", "Search", "population of Peru", first=True),
        step_log("Now I multiply it by 2.", "Calculator", "32971854 * 2", first=False),
    ]
    return {
        "id": "t1",
        "question": question,
        "prompt": render_prompt(question),
        "steps": [
            {
                "thought": "I need the population of Peru.",
                "tool": "Search",
                "tool_input": "population of Peru",
                "observation": OBS_1,
                "log": logs[0],
            },
            {
                "thought": "Now I multiply it by 2.",
                "tool": "Calculator",
                "tool_input": "32971854 * 2",
                "observation": OBS_2,
                "log": logs[1],
            },
        ],  # fmt: skip
        "final_answer": "65,943,708",
        "final_log": final_log("I now know the final answer", "65,943,708", first=False),
        "source": source,
        "answer": 65943708,
        "kind": "population_product",
        "meta": {},
    }


@pytest.fixture(scope="module")
def tokenizer(tiny_model_dir: Path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model_dir)


def test_text_is_exactly_what_the_loop_builds() -> None:
    record = trajectory()
    text, spans = build_example(record)
    steps = record["steps"]
    expected = (
        render_prompt(QUESTION)
        + "".join(s["log"] + observation_suffix(s["observation"]) for s in steps)
        + record["final_log"]
    )
    assert text == expected
    prompt_len = len(record["prompt"])
    # step 1: from the log's leading space through the "\nObservation:" marker
    assert text[spans[0][0] : spans[0][1]] == steps[0]["log"] + STOP
    assert spans[0][0] == prompt_len
    # later logs also own the scratchpad's trailing space (token healing)
    assert text[spans[1][0] : spans[1][1]] == " " + steps[1]["log"] + STOP
    assert text[spans[2][0] :] == " " + record["final_log"]


def test_log_rebuilt_from_fields_when_missing() -> None:
    record = trajectory()
    for step in record["steps"]:
        del step["log"]
    del record["final_log"]
    text, _ = build_example(record)
    assert text == build_example(trajectory())[0]


def test_labels_mask_prompt_and_observations(tokenizer) -> None:
    text, spans = build_example(trajectory())
    out = tokenize_batch({"text": [text], "spans": [spans]}, tokenizer, max_length=2048)
    ids, labels = out["input_ids"][0], out["labels"][0]
    enc = tokenizer(text, return_offsets_mapping=True)
    offsets = enc["offset_mapping"]
    assert ids[:-1] == enc["input_ids"] and ids[-1] == tokenizer.eos_token_id
    assert labels[-1] == tokenizer.eos_token_id  # the model learns to stop after the final answer
    prompt_end = len(render_prompt(QUESTION))
    for (start, end), label in zip(offsets, labels[:-1], strict=True):
        piece = text[start:end]
        if end <= prompt_end:
            assert label == IGNORE_INDEX, f"prompt token {piece!r} is supervised"
    # every character of each observation is masked...
    for obs in (OBS_1, OBS_2):
        at = text.index(obs)
        for (start, end), label in zip(offsets, labels[:-1], strict=True):
            if start >= at and end <= at + len(obs):
                assert label == IGNORE_INDEX, f"observation token {text[start:end]!r} is supervised"
    # ...while the logs, the "\nObservation:" markers and the final answer are supervised
    supervised = "".join(
        text[s:e] for (s, e), lab in zip(offsets, labels[:-1], strict=True) if lab != IGNORE_INDEX
    )
    assert supervised.count("Observation:") == 2
    assert "Action Input: population of Peru" in supervised
    assert "Final Answer: 65,943,708" in supervised
    assert OBS_1 not in supervised and "Question:" not in supervised
    assert out["n_supervised"][0] == sum(1 for x in labels[1:] if x != IGNORE_INDEX)


def test_truncation_drops_eos_and_keeps_length(tokenizer) -> None:
    text, spans = build_example(trajectory())
    out = tokenize_batch({"text": [text], "spans": [spans]}, tokenizer, max_length=40)
    assert out["length"][0] == 40 and out["input_ids"][0][-1] != tokenizer.eos_token_id


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


def test_bad_lines_are_reported_with_line_numbers(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    good = json.dumps(trajectory())
    path = _write(
        tmp_path / "t.jsonl", [good, "{broken", good, json.dumps({"question": "q", "steps": []}), good]
    )
    with caplog.at_level(logging.WARNING, logger="finetune.data"):
        (summary,) = scan_files([path])
    assert summary.bad_lines == [2, 4]
    assert summary.used == 3 and summary.lines == 5 and summary.sources == {"gold": 3}
    assert "line 2" in caplog.text and "line 4: missing 'final_log'" in caplog.text
    with pytest.raises(DataError, match=r"t\.jsonl:2: "):
        list(iter_file(path, on_bad_line="fail"))


def test_counts_per_source(tmp_path: Path) -> None:
    lines = [json.dumps(trajectory(source=s)) for s in ("gold", "logged", "logged", "teacher")]
    (summary,) = scan_files([_write(tmp_path / "t.jsonl", lines)])
    assert summary.sources == {"gold": 1, "logged": 2, "teacher": 1}


def test_dataset_and_streaming_agree(tmp_path: Path, tokenizer) -> None:
    lines = [json.dumps(trajectory(question=f"What is the population of Peru times {k}?")) for k in range(3)]
    path = _write(tmp_path / "t.jsonl", lines + ["not json"])
    ds = build_dataset([str(path)], tokenizer, max_length=512)
    streamed = list(build_dataset([str(path)], tokenizer, max_length=512, streaming=True))
    assert len(ds) == 3 == len(streamed)
    assert set(ds.column_names) == {"input_ids", "labels", "length", "n_supervised"}
    assert [r["input_ids"] for r in ds] == [r["input_ids"] for r in streamed]


def test_collator_pads_each_batch_to_its_longest() -> None:
    collate = PadCollator(pad_token_id=0)
    batch = collate(
        [{"input_ids": [5, 6, 7], "labels": [-100, 6, 7]}, {"input_ids": [5, 6], "labels": [-100, 6]}]
    )
    assert batch["input_ids"].tolist() == [[5, 6, 7], [5, 6, 0]]
    assert batch["labels"].tolist() == [[-100, 6, 7], [-100, 6, -100]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [1, 1, 0]]
