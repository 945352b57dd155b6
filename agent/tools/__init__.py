"""The agent's two tools, Search and Calculator, as langchain-core ``BaseTool``s."""

from __future__ import annotations

from pathlib import Path

from langchain_core.tools import BaseTool

from agent.tools.calculator import CalculatorTool, evaluate, format_number
from agent.tools.safe_eval import CalculatorError
from agent.tools.search import SearchMode, SearchTool

__all__ = [
    "CalculatorError",
    "CalculatorTool",
    "SearchTool",
    "build_tools",
    "evaluate",
    "format_number",
]


def build_tools(
    search: SearchMode = "auto",
    index_path: Path | str | None = None,
    search_timeout_s: float = 10.0,
    max_results: int = 3,
    cache_dir: Path | str | None = None,
) -> list[BaseTool]:
    """[Search, Calculator] in the prompt's order.

    ``index_path``: an FTS5 index from ``qreact index`` (default: the built-in country pack,
    built into ``{cache_dir}/knowledge/countries.db`` on first local search).
    """
    if search not in ("auto", "duckduckgo", "local"):
        raise ValueError(f"search must be 'auto', 'duckduckgo' or 'local', not {search!r}")
    tool = SearchTool(
        mode=search,
        index_path=Path(index_path).expanduser() if index_path else None,
        cache_dir=Path(cache_dir).expanduser() if cache_dir else None,
        timeout_s=search_timeout_s,
        max_results=max_results,
    )
    return [tool, CalculatorTool()]
