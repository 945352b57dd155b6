"""The KV prefix cache (agent/backends/prefix_cache.py): longest-prefix lookup per adapter tag, prefixes
replaced by their extensions, LRU eviction."""

from __future__ import annotations

from typing import Any

import torch
from transformers import DynamicCache

from agent.backends.prefix_cache import PrefixCache


def test_prefix_cache_lru() -> None:
    def cache_of(n: int) -> Any:
        return DynamicCache([(torch.zeros(1, 1, n, 2), torch.zeros(1, 1, n, 2))])

    lru = PrefixCache(max_entries=2)
    lru.store("t", [1, 2, 3], cache_of(3))
    lru.store("t", [1, 2, 3, 4, 5], cache_of(5))  # replaces its prefix
    assert len(lru) == 1
    n, copy = lru.lookup("t", [1, 2, 3, 4, 5])
    assert n == 4 and copy.get_seq_length() == 4  # one token left to feed for the logits
    assert lru.lookup("other-adapter", [1, 2, 3])[1] is None
    lru.store("t", [7, 8], cache_of(2))
    lru.store("t", [9, 9], cache_of(2))
    assert len(lru) == 2 and lru.lookup("t", [1, 2, 3])[1] is None  # oldest evicted
