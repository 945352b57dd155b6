"""The KV prefix cache of the local model: recent sequences' keys/values, keyed by token ids, so a
prompt that extends one (the next ReAct step, the shared prompt header) only prefills what is new."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

# transformers and fast_decode (which imports torch) load inside copy_cache: see agent/backends/local.py


class PrefixCache:
    """A small LRU of past key/values keyed by (adapter tag, token ids).

    ``lookup`` returns a private copy of the longest cached prefix (at most ``len(ids) - 1`` tokens,
    since the last prompt token must be fed to get the next-token logits); ``store`` keeps a
    sequence's cache after generation. Entries that are a prefix of a stored one are dropped.
    """

    def __init__(self, max_entries: int = 4) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[tuple[str, tuple[int, ...]], Any] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        self._entries.clear()

    def lookup(self, tag: str, ids: Sequence[int]) -> tuple[int, Any]:
        best_len, best_key = 0, None
        limit = len(ids) - 1
        for key in self._entries:
            if key[0] != tag:
                continue
            n = common_prefix(key[1], ids, limit)
            if n > best_len:
                best_len, best_key = n, key
        if best_key is None or best_len == 0:
            return 0, None
        self._entries.move_to_end(best_key)
        return best_len, copy_cache(self._entries[best_key], best_len)

    def store(self, tag: str, ids: Sequence[int], cache: Any) -> None:
        if self.max_entries <= 0 or not ids:
            return
        key = (tag, tuple(ids))
        for old in list(self._entries):
            if old[0] == tag and len(old[1]) <= len(key[1]) and key[1][: len(old[1])] == old[1]:
                del self._entries[old]
        self._entries[key] = cache
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)


def common_prefix(a: Sequence[int], b: Sequence[int], limit: int) -> int:
    n = min(len(a), len(b), limit)
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


def copy_cache(cache: Any, length: int) -> Any:
    """A private copy of the first ``length`` positions of ``cache`` (KVBuffers or a full-attention DynamicCache)."""
    from transformers import DynamicCache

    from agent.backends.fast_decode import KVBuffers

    if isinstance(cache, KVBuffers):
        return cache.prefix_copy(length)

    data = [(layer.keys[:, :, :length].clone(), layer.values[:, :, :length].clone()) for layer in cache.layers]
    return DynamicCache(data)
