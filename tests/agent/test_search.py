"""The Search tool: local BM25 ranking, safe FTS queries, and DuckDuckGo fallback (ddgs mocked)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ddgs.ddgs import DDGS  # the real class (ddgs.DDGS is a lazy proxy)
from ddgs.exceptions import DDGSException, RatelimitException, TimeoutException
from hypothesis import given, settings
from hypothesis import strategies as st

import agent.tools.search as search_mod
from agent.knowledge import ensure_default_index
from agent.loop import ReActAgent
from agent.tools import build_tools
from agent.tools.search import LOCAL_PREFIX, NO_RESULTS, LocalIndex, SearchTool, fts_query


@pytest.fixture(scope="module")
def index_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return ensure_default_index(tmp_path_factory.mktemp("cache"))


@pytest.fixture(scope="module")
def local(index_path: Path) -> SearchTool:
    tool = build_tools(search="local", index_path=index_path, max_results=3)[0]
    assert isinstance(tool, SearchTool)
    return tool


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Every ddgs text search is recorded; tests set what it does through ``calls``."""
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(search_mod, "_sleep", lambda s: calls.append({"slept": s}))
    return calls


def fake_text(monkeypatch: pytest.MonkeyPatch, behaviour: Any, calls: list[dict[str, Any]]) -> None:
    def text(self: DDGS, query: str, **kwargs: Any) -> list[dict[str, Any]]:
        calls.append({"query": query, **kwargs})
        result = behaviour(len([c for c in calls if "query" in c]))
        if isinstance(result, BaseException):
            raise result
        return result

    monkeypatch.setattr(DDGS, "text", text)


# --- local ranking ----------------------------------------------------------------------------


def test_tool_is_the_prompt_search(local: SearchTool) -> None:
    assert local.name == "Search" and local.description == "Useful for web search."


@pytest.mark.parametrize(
    ("query", "first"),
    [
        ("capital of Australia", "Australia: capital Canberra;"),
        ("What is the capital of Australia?", "Australia: capital Canberra;"),
        ("Australia capital city", "Australia: capital Canberra;"),
        ("population of Japan", "Japan: capital Tokyo; population 127,080,000; area 377,930 km2"),
        ("Canberra", "Australia:"),
        ("Equatorial Guinea capital", "Equatorial Guinea:"),
        ("capital of Guinea", "Guinea: capital Conakry"),
        ("Niger population", "Niger: capital Niamey"),
        ("Nigeria population", "Nigeria: capital Abuja"),
        ("South Sudan", "South Sudan:"),
        ("currency of the USA", "United States:"),
        ("UK capital", "United Kingdom:"),
        ("Russian Federation area", "Russia:"),
        ("capital of the Netherlands", "Netherlands:"),
        ("which country has the demonym Japanese", "Japan:"),
    ],
)
def test_named_country_comes_first(local: SearchTool, query: str, first: str) -> None:
    text, source = local.run_with_source(query)
    assert source == "local"
    assert text.startswith(first), text[:120]


def test_several_named_countries_in_query_order(local: SearchTool) -> None:
    text = local.invoke("population of France and Germany")
    assert text.startswith("France:") and " Germany: capital Berlin" in text
    assert local.invoke("population of France").count("capital") == 1  # only the named document


def test_unnamed_query_returns_bm25_top_k(local: SearchTool, index_path: Path) -> None:
    hits = LocalIndex(index_path).search("Kuna currency HRK", 3)
    assert hits and hits[0].title == "Croatia"
    assert 1 <= len(LocalIndex(index_path).search("region Europe subregion", 3)) <= 3
    assert local.invoke("zzzzqqq") == NO_RESULTS


def test_observation_is_compact(local: SearchTool) -> None:
    text = local.invoke("Kenya")
    assert "\n" not in text and len(text) < 400


@pytest.mark.parametrize(
    "query",
    [
        'AND OR NOT NEAR("x" *',
        '"unbalanced',
        "capital: ^ *",
        "title:Australia",
        "docs MATCH 'x'; DROP TABLE docs; --",
        "NEAR(a b, 3)",
        "a* OR b*",
        "{title body}: x",
        "'\"\\",
        "(((",
        "-",
        "\x00",
        "x" * 10_000,
        "🙂 émoji 国",
    ],
)
def test_fts_syntax_in_queries_never_errors(local: SearchTool, query: str) -> None:
    text, source = local.run_with_source(query)
    assert source == "local" and isinstance(text, str) and text
    assert "Error" not in text


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_random_queries_never_raise(query: str) -> None:
    tool = _SHARED_LOCAL["tool"]
    if tool is None:  # hypothesis runs outside fixtures; build once
        tool = _SHARED_LOCAL["tool"] = build_tools(search="local", index_path=_default_test_index())[0]
    text, source = tool.run_with_source(query)  # type: ignore[attr-defined]
    assert source == "local" and isinstance(text, str)
    assert fts_query(query).count('"') % 2 == 0


_SHARED_LOCAL: dict[str, Any] = {"tool": None}
_INDEX_DIR: dict[str, Path] = {}


def _default_test_index() -> Path:
    import tempfile

    if "p" not in _INDEX_DIR:
        _INDEX_DIR["p"] = ensure_default_index(Path(tempfile.mkdtemp(prefix="qreact-search-")))
    return _INDEX_DIR["p"]


def test_fts_query_quotes_every_term() -> None:
    assert fts_query("What is the capital of Australia?") == '"capital" OR "australia"'
    assert fts_query('x" OR title:y') == '"x" OR "title" OR "y"'
    assert fts_query("the of") == '"the" OR "of"'  # only stopwords: still a query
    assert fts_query("?!") == ""


def test_default_index_is_built_in_cache_dir(tmp_path: Path) -> None:
    tool = build_tools(search="local", cache_dir=tmp_path)[0]
    assert tool.invoke("capital of Australia").startswith("Australia: capital Canberra")
    assert (tmp_path / "knowledge" / "countries.db").is_file()


def test_build_tools_validates_mode() -> None:
    with pytest.raises(ValueError, match="search must be"):
        build_tools(search="google")  # type: ignore[arg-type]
    names = [t.name for t in build_tools()]
    assert names == ["Search", "Calculator"]


def test_empty_query(local: SearchTool) -> None:
    assert local.run_with_source("  ") == ("Error: empty search query.", "local")


# --- DuckDuckGo (ddgs mocked at its boundary) -------------------------------------------------


def _web_tool(mode: str, index_path: Path, timeout_s: float = 5.0) -> SearchTool:
    tool = build_tools(search=mode, index_path=index_path, search_timeout_s=timeout_s, max_results=2)[0]  # type: ignore[arg-type]
    assert isinstance(tool, SearchTool)
    return tool


RESULTS = [
    {
        "title": "Canberra - Wikipedia",
        "href": "https://en.wikipedia.org/wiki/Canberra",
        "body": "Canberra is " + "x" * 1000,
    },
    {"title": "Australia", "href": "https://example.org", "body": "The capital is Canberra."},
    {"title": "Third", "href": "https://example.com", "body": "never shown with max_results=2"},
]


def test_duckduckgo_results_are_truncated_and_joined(
    monkeypatch: pytest.MonkeyPatch, no_network: list[dict[str, Any]], index_path: Path
) -> None:
    fake_text(monkeypatch, lambda n: RESULTS, no_network)
    text, source = _web_tool("duckduckgo", index_path).run_with_source("capital of Australia")
    assert source == "duckduckgo"
    assert text.startswith("Canberra - Wikipedia: Canberra is xxx")
    assert "...Australia: The capital is Canberra." in text.replace(" Australia:", "Australia:")
    assert "Third" not in text and len(text) < 700
    call = no_network[0]
    assert call["query"] == "capital of Australia" and call["timelimit"] is None and call["max_results"] == 2


@pytest.mark.parametrize(
    "error",
    [
        TimeoutException("timed out"),
        DDGSException("No results found."),
        ConnectionError("unreachable"),
        OSError("dns"),
    ],
)
def test_auto_falls_back_to_local_on_failure(
    monkeypatch: pytest.MonkeyPatch, no_network: list[dict[str, Any]], index_path: Path, error: Exception
) -> None:
    fake_text(monkeypatch, lambda n: error, no_network)
    text, source = _web_tool("auto", index_path).run_with_source("capital of Australia")
    assert source == "local"
    assert text.startswith(LOCAL_PREFIX + "Australia: capital Canberra")


def test_auto_uses_duckduckgo_when_it_answers(
    monkeypatch: pytest.MonkeyPatch, no_network: list[dict[str, Any]], index_path: Path
) -> None:
    fake_text(monkeypatch, lambda n: RESULTS[1:2], no_network)
    assert _web_tool("auto", index_path).run_with_source("capital of Australia") == (
        "Australia: The capital is Canberra.",
        "duckduckgo",
    )


def test_rate_limit_backs_off_then_succeeds(
    monkeypatch: pytest.MonkeyPatch, no_network: list[dict[str, Any]], index_path: Path
) -> None:
    fake_text(
        monkeypatch, lambda n: RatelimitException("202 Ratelimit") if n < 3 else RESULTS[1:2], no_network
    )
    text, source = _web_tool("auto", index_path).run_with_source("capital of Australia")
    assert (text, source) == ("Australia: The capital is Canberra.", "duckduckgo")
    assert [c["slept"] for c in no_network if "slept" in c] == [1.0, 2.0]


def test_rate_limit_that_persists_falls_back(
    monkeypatch: pytest.MonkeyPatch, no_network: list[dict[str, Any]], index_path: Path
) -> None:
    fake_text(monkeypatch, lambda n: RatelimitException("202 Ratelimit"), no_network)
    text, source = _web_tool("auto", index_path).run_with_source("capital of Australia")
    assert source == "local" and text.startswith(LOCAL_PREFIX)
    assert len([c for c in no_network if "query" in c]) == 3  # first try + two backoffs


def test_duckduckgo_mode_reports_failure_as_observation(
    monkeypatch: pytest.MonkeyPatch, no_network: list[dict[str, Any]], index_path: Path
) -> None:
    fake_text(monkeypatch, lambda n: RatelimitException("202 Ratelimit"), no_network)
    assert _web_tool("duckduckgo", index_path).run_with_source("x") == (
        "Error: web search failed (rate limited).",
        "duckduckgo",
    )
    fake_text(monkeypatch, lambda n: [], no_network)
    assert _web_tool("duckduckgo", index_path).invoke("x") == "Error: web search failed (no results)."


@pytest.fixture
def release() -> Iterator[threading.Event]:
    event = threading.Event()
    yield event
    event.set()


def test_hung_search_is_abandoned_at_the_timeout(
    monkeypatch: pytest.MonkeyPatch,
    no_network: list[dict[str, Any]],
    index_path: Path,
    release: threading.Event,
) -> None:
    def hang(n: int) -> list[dict[str, Any]]:
        release.wait(10)
        return RESULTS

    fake_text(monkeypatch, hang, no_network)
    start = time.monotonic()
    text, source = _web_tool("auto", index_path, timeout_s=0.3).run_with_source("capital of Australia")
    assert time.monotonic() - start < 2.0
    assert source == "local" and text.startswith(LOCAL_PREFIX + "Australia:")


def test_agent_loop_records_the_source(
    monkeypatch: pytest.MonkeyPatch, no_network: list[dict[str, Any]], index_path: Path
) -> None:
    from langchain_core.language_models.fake_chat_models import FakeListChatModel

    fake_text(monkeypatch, lambda n: TimeoutException("timed out"), no_network)
    llm = FakeListChatModel(
        responses=[
            " I need the capital.\nAction: Search\nAction Input: capital of Australia",
            "I now know the final answer\nFinal Answer: Canberra",
        ]
    )
    result = ReActAgent(llm, build_tools(search="auto", index_path=index_path)).run(
        "What is the capital of Australia?"
    )
    assert result.answer == "Canberra"
    step = result.steps[0]
    assert step.observation.startswith(LOCAL_PREFIX + "Australia: capital Canberra")
    assert step.observation_source == "local"


def test_named_title_with_many_chunks_ranks_chunks_by_bm25(tmp_path: Path) -> None:
    from agent.knowledge import index_folder

    filler = "\n\n".join(" ".join(f"filler{i}x{j}" for j in range(120)) for i in range(5))
    (tmp_path / "llamas.md").write_text(f"# Llamas\n\n{filler}\n\nLlamas hum when they are anxious.\n")
    (tmp_path / "other.md").write_text("# Alpacas\n\nAlpacas also hum.")
    index_folder(tmp_path, tmp_path / "i.db")
    hits = LocalIndex(tmp_path / "i.db").search("why do llamas hum", 2)
    assert [h.title for h in hits] == ["Llamas", "Llamas"]
    assert "hum when they are anxious" in hits[0].body


def test_concurrent_searches_share_one_index(local: SearchTool) -> None:
    from concurrent.futures import ThreadPoolExecutor

    queries = ["capital of Australia", "population of Japan", "Kenya", "currency of the UK"] * 25
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(local.invoke, queries))
    assert [r.split(":", 1)[0] for r in results[:4]] == ["Australia", "Japan", "Kenya", "United Kingdom"]
    assert results == [local.invoke(q) for q in queries]


def test_auto_skips_the_web_for_a_while_after_an_outage(
    monkeypatch: pytest.MonkeyPatch, no_network: list[dict[str, Any]], index_path: Path
) -> None:
    fake_text(monkeypatch, lambda n: ConnectionError("unreachable") if n == 1 else RESULTS[1:2], no_network)
    tool = _web_tool("auto", index_path)
    assert tool.run_with_source("capital of Australia")[1] == "local"
    assert tool.run_with_source("capital of Japan")[0].startswith(LOCAL_PREFIX + "Japan:")  # no web call
    assert len([c for c in no_network if "query" in c]) == 1
    tool._web_down_until = 0.0  # the cooldown is over
    assert tool.run_with_source("capital of Australia") == (
        "Australia: The capital is Canberra.",
        "duckduckgo",
    )


def test_no_results_is_not_an_outage(
    monkeypatch: pytest.MonkeyPatch, no_network: list[dict[str, Any]], index_path: Path
) -> None:
    fake_text(
        monkeypatch, lambda n: DDGSException("No results found.") if n == 1 else RESULTS[1:2], no_network
    )
    tool = _web_tool("auto", index_path)
    assert tool.run_with_source("zzqx")[1] == "local"
    assert tool.run_with_source("capital of Australia")[1] == "duckduckgo"  # tried the web again


@pytest.mark.network
def test_real_duckduckgo_search(index_path: Path) -> None:
    text, source = _web_tool("duckduckgo", index_path, timeout_s=15).run_with_source("capital of Australia")
    assert source == "duckduckgo" and "Canberra" in text, text


# --- query-focused passages (rule P1) -----------------------------------------------------------

_LONG_DOC = (
    "# Vardale Creamery\n\n"
    "Vardale Creamery has made cheese in the same stone barn since 1896, when Winifred Tolley began selling "
    "curds at the Saturday market. The dairy now buys milk from 14 farms and turns out about 180 tonnes of "
    "cheese a year. Its soft Vardale Blue is ripened for eleven weeks, while the hard Vardale Reserve is kept "
    "for 18 months. Head cheesemaker Corin Ashlake has run the vats since 2011, and the shop beside the barn "
    "is managed by his sister, Mirren Ashlake. A wedge of Blue costs £6.80, a whole Reserve sells for £95, "
    "and the tasting tour is £12 a person.\n"
)


@pytest.fixture
def creamery(tmp_path: Path) -> SearchTool:
    from agent.knowledge import index_folder

    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "vardale.md").write_text(_LONG_DOC, encoding="utf-8")
    index_folder(tmp_path / "docs", tmp_path / "i.db")
    return SearchTool(mode="local", index_path=tmp_path / "i.db")


def test_a_late_fact_is_shown_when_the_query_asks_for_it(creamery: SearchTool) -> None:
    text, _ = creamery.run_with_source("Vardale Creamery manager")
    assert len(" ".join(_LONG_DOC.split())) > search_mod.RESULT_CHARS  # the fact stands past the cut
    assert "managed by his sister, Mirren Ashlake." in text
    assert text.startswith("Vardale Creamery: # Vardale Creamery Vardale Creamery has made cheese")  # heading, start
    assert " ... Head cheesemaker" in text and text.endswith("...")  # gaps are marked
    assert len(text) <= search_mod.RESULT_CHARS


def test_every_asked_sentence_is_kept_in_document_order(creamery: SearchTool) -> None:
    text, _ = creamery.run_with_source("vardale reserve")
    kept = text.index("kept for 18 months"), text.index("a whole Reserve sells for £95")
    assert kept[0] < kept[1] and len(text) <= search_mod.RESULT_CHARS


def test_a_query_without_an_asked_word_shows_the_beginning(creamery: SearchTool) -> None:
    """The title's words ask nothing (every sentence is about the creamery); "founded" is in no sentence."""
    flat = "Vardale Creamery: " + " ".join(_LONG_DOC.split())
    for query in ("Vardale Creamery", "Vardale Creamery founded"):
        text, _ = creamery.run_with_source(query)
        assert text == flat[: search_mod.RESULT_CHARS - 3].rstrip() + "..."


def test_passage_leaves_a_text_that_fits_alone() -> None:
    text = "# Small Shop Small Shop sells 12 kinds of tea. It opens at 9 am."
    assert search_mod.passage("Small Shop", text, "Small Shop opening time") == text


def test_passage_of_a_list_keeps_the_asked_item() -> None:
    items = " ".join(f"- Room {n} seats {10 + n} people." for n in range(1, 30))
    text = f"# Hall Rooms The hall has 29 rooms. {items} - The kitchen closes at 10 pm."
    out = search_mod.passage("Hall Rooms", text, "hall kitchen closes", max_chars=200)
    assert out.startswith("# Hall Rooms The hall has 29 rooms.")
    assert "- The kitchen closes at 10 pm." in out and len(out) <= 200


def test_passage_marks_documents_for_the_grounding_check(creamery: SearchTool) -> None:
    from agent.grounding.documents import documents_of, sentences_of

    text, _ = creamery.run_with_source("Vardale Creamery manager")
    (doc,) = documents_of(text)
    assert any("managed by his sister, Mirren Ashlake" in s for s in sentences_of(doc))
