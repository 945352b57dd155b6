"""The "Search" tool: DuckDuckGo (ddgs), a local SQLite FTS5 knowledge base, or both.

Modes: ``local`` (BM25 over an FTS5 index: the country pack or a user's folder),
``duckduckgo`` (ddgs web search with a timeout and a backoff on rate limits) and ``auto``
(DuckDuckGo; on any failure the local index answers and the observation says so).
``run_with_source(query)`` returns ``(text, source)`` with source "duckduckgo" or "local".
"""

from __future__ import annotations

import logging
import math
import re
import sqlite3
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ddgs import DDGS
from ddgs.exceptions import DDGSException, RatelimitException, TimeoutException
from langchain_core.tools import BaseTool
from pydantic import ConfigDict, PrivateAttr

from agent.grounding.text import same_stem
from agent.knowledge import ensure_default_index
from agent.prompt import SEARCH_DESCRIPTION, SEARCH_NAME

logger = logging.getLogger(__name__)

SearchMode = Literal["auto", "duckduckgo", "local"]
LOCAL_PREFIX = "[local knowledge base] "  # marks an auto-mode answer that came from the fallback
NO_RESULTS = "No good search result found."
MAX_QUERY_CHARS = 300  # longer queries are cut: FTS/web queries gain nothing past this
MAX_QUERY_TERMS = 24  # FTS5 terms per query (each is a quoted token OR-ed with the others)
RESULT_CHARS = 400  # one local result in an observation, characters
WEB_RESULT_CHARS = 300  # one web snippet, characters
CANDIDATES = 50  # BM25 candidates fetched before named documents are moved first
BM25_WEIGHTS = (10.0, 5.0, 1.0)  # title, aliases, body: a name in the title outranks a mention
RATE_LIMIT_BACKOFF_S = (1.0, 2.0)  # waits before the 2nd and 3rd web attempt after a rate limit

# words that carry no search meaning; dropped so BM25 ranks on the content words
STOPWORDS = frozenset(
    """a an and are as at be by can could did do does for from had has have how i in into is it its
    me much many my of on or our please show tell than that the their them then there these they this
    to us was we were what when where which who whom whose why will with would you your""".split()
)
_TOKEN = re.compile(r"\w+", re.UNICODE)


def fts_query(text: str) -> str:
    """An FTS5 MATCH expression for arbitrary text: content words, each quoted, OR-ed.

    Quoting every token means no user or model text can inject FTS5 syntax (NEAR, column
    filters, ``*``, ``^``, unbalanced quotes) or raise a syntax error.
    """
    tokens = [t for t in _TOKEN.findall(text[:MAX_QUERY_CHARS].lower()) if t not in STOPWORDS]
    if not tokens:  # a query made only of stopwords still searches for them
        tokens = _TOKEN.findall(text[:MAX_QUERY_CHARS].lower())
    unique = list(dict.fromkeys(t.replace('"', "") for t in tokens))[:MAX_QUERY_TERMS]
    return " OR ".join(f'"{t}"' for t in unique if t)


@dataclass(frozen=True)
class Hit:
    title: str
    body: str
    source: str
    score: float


class LocalIndex:
    """Read-only BM25 search over an FTS5 index built by ``agent.knowledge``.

    Documents whose title (or a listed alias) the query names come first, in the order the
    query names them: "capital of Australia" puts the Australia document first.
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"search index not found: {self.path}")
        self._local = threading.local()
        self._names: list[tuple[re.Pattern[str], tuple[int, ...], int]] | None = None
        self._lock = threading.Lock()

    def _con(self) -> sqlite3.Connection:
        con = getattr(self._local, "con", None)
        if con is None:
            con = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, check_same_thread=False)
            self._local.con = con
        return con

    def _name_patterns(self) -> list[tuple[re.Pattern[str], tuple[int, ...], int]]:
        """(pattern, rowids, length) per distinct title/alias; chunks of one file share a title."""
        with self._lock:
            if self._names is None:
                rowids: dict[str, list[int]] = {}
                for rowid, title, aliases in self._con().execute("SELECT rowid, title, aliases FROM docs"):
                    for name in {
                        title.strip(),
                        *[a.strip() for a in (aliases or "").split("; ") if a.strip()],
                    }:
                        if len(name) >= 3 or name.isupper():
                            rowids.setdefault(name, []).append(rowid)
                names = []
                for name, ids in rowids.items():
                    short = len(name) <= 3  # US, UK, UAE: case-sensitive, or "us" would match
                    pat = re.compile(rf"(?<!\w){re.escape(name)}(?!\w)", 0 if short else re.IGNORECASE)
                    names.append((pat, tuple(ids), len(name)))
                self._names = names
            return self._names

    def named(self, query: str) -> dict[int, int]:
        """{rowid: position in the query} of documents whose name the query contains; the
        longest name wins an overlap ("Equatorial Guinea" is not also "Guinea")."""
        found: list[tuple[int, int, int, tuple[int, ...]]] = []  # (length, start, end, rowids)
        for pat, ids, length in self._name_patterns():
            for m in pat.finditer(query):
                found.append((length, m.start(), m.end(), ids))
        taken: list[tuple[int, int]] = []
        positions: dict[int, int] = {}
        for _length, start, end, ids in sorted(found, key=lambda f: (-f[0], f[1])):
            if any(start < e and s < end for s, e in taken):
                continue
            taken.append((start, end))
            for rowid in ids:
                positions.setdefault(rowid, start)
        return positions

    def _bm25(self, match: str, limit: int, rowids: Sequence[int] = ()) -> list[tuple[Any, ...]]:
        w = BM25_WEIGHTS
        score = f"bm25(docs, {w[0]}, {w[1]}, {w[2]})"
        sql = f"SELECT rowid, title, body, source, {score} AS score FROM docs WHERE docs MATCH ?"
        params: list[Any] = [match]
        if rowids:
            sql += f" AND rowid IN ({','.join('?' * len(rowids))})"
            params += list(rowids)
        try:
            return self._con().execute(sql + " ORDER BY score LIMIT ?", [*params, limit]).fetchall()
        except sqlite3.OperationalError as exc:  # defensive: fts_query quotes every term
            logger.warning("FTS query failed for %r: %s", match, exc)
            return []

    def search(self, query: str, k: int = 3) -> list[Hit]:
        """The best ``k`` documents: the named ones when the query names any (in the order named,
        BM25 among chunks of one title), else BM25's top ``k``."""
        query = query[:MAX_QUERY_CHARS]
        match = fts_query(query)
        named = self.named(query)
        if not named:
            rows = self._bm25(match, min(k, CANDIDATES)) if match else []
            return [Hit(title, body, source, score) for _, title, body, source, score in rows]
        ids = list(named)
        scores = {r[0]: r[4] for r in self._bm25(match, len(ids), ids)} if match else {}
        best = sorted(ids, key=lambda r: (named[r], scores.get(r, math.inf), r))[:k]
        sql = f"SELECT rowid, title, body, source FROM docs WHERE rowid IN ({','.join('?' * len(best))})"
        by_id = {r[0]: r for r in self._con().execute(sql, best)}
        return [Hit(by_id[i][1], by_id[i][2], by_id[i][3], scores.get(i, 0.0)) for i in best if i in by_id]


# where a local result's text is split into passage units: a sentence end (not after a title such as "Mr."),
# a list item (" - ", " * "), a heading ("## ")
_UNIT_END = re.compile(
    r"(?<!\bMr\.)(?<!\bMrs\.)(?<!\bMs\.)(?<!\bDr\.)(?<!\bSt\.)(?<=[.!?:;])\s+(?=[A-Z0-9\"'(£$€])"
    r"|\s+(?=[-*]\s)|\s+(?=#{1,6}\s)"
)
GAP = "..."  # marks text of a result left out of its passage


def passage(title: str, text: str, query: str, max_chars: int = RESULT_CHARS) -> str:
    """``text`` cut to ``max_chars`` around what the query asks.

    Its sentences (list items, headings) that state a content word of the query other than the title's
    are kept first (more such words first, then earlier), the rest of the budget goes to the text's first
    sentences, and all are shown in the text's order, after its "# Title" heading, with "..." where text
    was left out. With no such word (or a text that fits) it is the text's beginning, as before:
    "Vardale Creamery manager" over a long document shows the sentence that names who manages the shop
    even when it stands past the first ``max_chars`` characters.
    """
    if len(text) <= max_chars:
        return text
    cut = text[: max_chars - len(GAP)].rstrip() + GAP
    title_words = set(_TOKEN.findall(title.lower()))
    asked = [
        t
        for t in dict.fromkeys(_TOKEN.findall(query.lower()))
        if t not in STOPWORDS and not any(same_stem(t, w) for w in title_words)
    ]
    head = f"# {title}"
    if text.lower().startswith(head.lower()):
        head, body = text[: len(head)], text[len(head) :].strip()
    else:
        head, body = "", text
    units = [u.strip() for u in _UNIT_END.split(body) if u.strip()]
    scores = [sum(any(same_stem(t, w) for w in set(_TOKEN.findall(u.lower()))) for t in asked) for u in units]
    if len(units) < 2 or not any(scores):
        return cut
    budget = max_chars - len(head) - len(GAP)  # room for the heading and a final gap mark
    chosen: set[int] = set()
    used = 0
    ranked = sorted((i for i in range(len(units)) if scores[i]), key=lambda i: (-scores[i], i))
    for i in [*ranked, *range(len(units))]:  # the asked sentences, then the text's beginning
        cost = len(units[i]) + len(GAP) + 2
        if i not in chosen and used + cost <= budget:
            chosen.add(i)
            used += cost
    if not any(scores[i] for i in chosen):  # the asked sentence alone is over the budget
        return cut
    parts = [head] if head else []
    for i in sorted(chosen):
        if (i - 1 not in chosen) and i > 0:
            parts.append(GAP)
        parts.append(units[i])
    if max(chosen) < len(units) - 1:
        parts.append(GAP)
    return " ".join(parts)


def format_hits(hits: list[Hit], max_chars: int = RESULT_CHARS, query: str = "") -> str:
    """Results joined compactly, best first; a title is added when the text does not start with it. A text
    longer than ``max_chars`` is cut to its passage about the query (``passage``)."""
    parts = []
    for hit in hits:
        text = " ".join(hit.body.split())
        prefix = ""
        if not text.lower().startswith(hit.title.lower()):
            prefix = f"{hit.title}: "
        parts.append(prefix + passage(hit.title, text, query, max_chars - len(prefix)))
    return " ".join(parts) if parts else NO_RESULTS


class WebSearchError(RuntimeError):
    """DuckDuckGo could not answer (rate limit, timeout, network, no results).

    ``outage`` is False when the search worked but found nothing: no reason to stop trying.
    """

    def __init__(self, message: str, outage: bool = True) -> None:
        super().__init__(message)
        self.outage = outage


_sleep = time.sleep  # the backoff wait (tests replace it)

# web calls run here so a hung request is abandoned at our timeout (ddgs' own timeout ends it later)
_WEB_POOL = ThreadPoolExecutor(max_workers=4, thread_name_prefix="qreact-ddgs")


def _ddgs_text(query: str, max_results: int, timeout_s: float, backend: str) -> list[dict[str, Any]]:
    """One ddgs text search (the boundary tests monkeypatch)."""
    return list(
        DDGS(timeout=max(1, round(timeout_s))).text(
            query,
            region="wt-wt",
            safesearch="moderate",
            timelimit=None,
            max_results=max_results,
            backend=backend,
        )
        or []
    )


def web_search(query: str, max_results: int = 3, timeout_s: float = 10.0, backend: str = "duckduckgo") -> str:
    """DuckDuckGo results as one compact text; raises ``WebSearchError`` on any failure.

    Rate limits are retried after a short backoff while the time budget lasts; the whole call
    (retries included) is bounded by ``timeout_s``.
    """
    deadline = time.monotonic() + timeout_s
    attempt = 0
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise WebSearchError("timed out")
        future = _WEB_POOL.submit(_ddgs_text, query, max_results, left, backend)
        try:
            results = future.result(timeout=left)
            break
        except FutureTimeout as exc:
            raise WebSearchError(f"timed out after {timeout_s:g} s") from exc
        except RatelimitException as exc:
            if (
                attempt >= len(RATE_LIMIT_BACKOFF_S)
                or deadline - time.monotonic() <= RATE_LIMIT_BACKOFF_S[attempt]
            ):
                raise WebSearchError("rate limited") from exc
            _sleep(RATE_LIMIT_BACKOFF_S[attempt])
            attempt += 1
        except TimeoutException as exc:
            raise WebSearchError("timed out") from exc
        except DDGSException as exc:
            text = str(exc)[:200] or "search failed"
            raise WebSearchError(text, outage="no results" not in text.lower()) from exc
        except Exception as exc:  # noqa: BLE001 - network errors of every kind become a fallback
            raise WebSearchError(f"{type(exc).__name__}: {str(exc)[:200]}") from exc
    parts = []
    for r in results[:max_results]:
        title = " ".join(str(r.get("title") or "").split())
        body = " ".join(str(r.get("body") or r.get("snippet") or "").split())
        text = f"{title}: {body}" if title and body else title or body
        if len(text) > WEB_RESULT_CHARS:
            text = text[: WEB_RESULT_CHARS - 3].rstrip() + "..."
        if text:
            parts.append(text)
    if not parts:
        raise WebSearchError("no results", outage=False)
    return " ".join(parts)


class SearchTool(BaseTool):
    """The "Search" tool of the zero-shot ReAct prompt."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    name: str = SEARCH_NAME
    description: str = SEARCH_DESCRIPTION
    mode: SearchMode = "auto"
    index_path: Path | None = None  # None: the country pack in cache_dir
    cache_dir: Path | None = None  # None: ~/.cache/qreact (agent.config.default_cache_dir)
    timeout_s: float = 10.0
    max_results: int = 3
    ddgs_backend: str = "duckduckgo"
    # auto mode: after an outage (unreachable, timeout, rate limit) go straight to the local index
    # for this long, seconds, so an offline machine does not wait out the timeout at every step
    outage_cooldown_s: float = 60.0
    _index: LocalIndex | None = PrivateAttr(default=None)
    _web_down_until: float = PrivateAttr(default=0.0)
    _index_lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    def local_index(self) -> LocalIndex:
        """The local index, opened on first use (the country pack is built if missing)."""
        with self._index_lock:
            if self._index is None:
                path = self.index_path
                if path is None:
                    path = ensure_default_index(self.cache_dir)
                self._index = LocalIndex(path)
            return self._index

    def search_local(self, query: str) -> str:
        """Local results, or an ``Error: ...`` observation when the index cannot be opened."""
        try:
            return format_hits(self.local_index().search(query, self.max_results), query=query)
        except (OSError, sqlite3.Error) as exc:
            logger.warning("local search failed: %s", exc)
            return f"Error: local search unavailable ({type(exc).__name__}: {str(exc)[:200]})."

    def run_with_source(self, query: str) -> tuple[str, str]:
        """(observation text, "duckduckgo" | "local"); never raises for a bad query."""
        query = " ".join(str(query).split()).strip().strip("\"'`")[:MAX_QUERY_CHARS]
        if not query:
            return "Error: empty search query.", "local" if self.mode == "local" else "duckduckgo"
        if self.mode == "local":
            return self.search_local(query), "local"
        if self.mode == "auto" and time.monotonic() < self._web_down_until:
            return LOCAL_PREFIX + self.search_local(query), "local"
        try:
            return web_search(query, self.max_results, self.timeout_s, self.ddgs_backend), "duckduckgo"
        except WebSearchError as exc:
            if self.mode == "duckduckgo":
                return f"Error: web search failed ({exc}).", "duckduckgo"
            if exc.outage:
                self._web_down_until = time.monotonic() + self.outage_cooldown_s
            logger.info("web search failed (%s); answering from the local index", exc)
        return LOCAL_PREFIX + self.search_local(query), "local"

    def _run(self, tool_input: str, **kwargs: object) -> str:
        return self.run_with_source(str(tool_input))[0]
