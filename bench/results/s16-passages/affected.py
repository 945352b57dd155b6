"""Which recorded runs rule P1 (query-focused passages) can change: every Search step's query is run
through the local index with the search tool before P1 (``OLD``, a copy of its file at the commit before)
and with P1; a run whose every observation is the same is unchanged (the model sees the same prompt, greedy
decoding), so only runs with a changed observation need a live recording.

    PYTHONPATH=. .venv/bin/python bench/results/s16-passages/affected.py OLD_SEARCH_PY RECORDING.jsonl...
"""

import importlib.util
import json
import sys
from collections import Counter
from pathlib import Path

from agent.knowledge import ensure_default_index, index_folder
from agent.tools import search as new

spec = importlib.util.spec_from_file_location("search_old", sys.argv[1])
old = importlib.util.module_from_spec(spec)
sys.modules["search_old"] = old
spec.loader.exec_module(old)

EVALSETS = Path("finetune/evalsets")
_index: dict[str, Path] = {}


def index_for(corpus: str | None) -> Path:
    if corpus is None:
        return ensure_default_index()
    if corpus not in _index:
        path = Path(f"/tmp/p1-{corpus}.db")
        index_folder(EVALSETS / corpus, path)
        _index[corpus] = path
    return _index[corpus]


corpora = {}
for f in EVALSETS.glob("*.jsonl"):
    for line in f.open():
        row = json.loads(line)
        corpora[row["id"]] = row.get("corpus")

total = Counter()
for rec in sys.argv[2:]:
    changed = Counter()
    for line in open(rec):
        row = json.loads(line)
        corpus = corpora.get(row["id"])
        if corpus is None and row["id"].startswith("docs"):
            corpus = "corpus"
        path = index_for(corpus)
        o, n = old.LocalIndex(path), new.LocalIndex(path)
        diff = False
        for step in row.get("trace") or []:
            if step.get("tool") != "Search":
                continue
            q = " ".join(str(step["tool_input"]).split()).strip().strip("\"'`")[: new.MAX_QUERY_CHARS]
            if not q:
                continue
            if old.format_hits(o.search(q, 3)) != new.format_hits(n.search(q, 3), query=q):
                diff = True
        changed[diff] += 1
    total.update(changed)
    print(f"{rec}: {changed[True]} of {changed[True] + changed[False]} runs see another observation")
print(f"all: {total[True]} of {total[True] + total[False]}")
