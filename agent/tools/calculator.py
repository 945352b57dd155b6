"""The Calculator tool: the model's text -> a number -> the observation.

``evaluate`` rewrites the human forms first (``agent.tools.arithmetic_forms.normalize``), then
walks the operator syntax over an allow-list (``agent.tools.safe_eval``: never ``eval``/``exec``
on model text); ``format_number`` writes the result as an observation and ``calculate`` is the
tool's function (errors become ``Error: ...`` text, it never raises).
"""

from __future__ import annotations

import math

from langchain_core.tools import BaseTool

from agent.prompt import CALCULATOR_DESCRIPTION, CALCULATOR_NAME
from agent.tools.arithmetic_forms import normalize
from agent.tools.safe_eval import CalculatorError, Number, evaluate_syntax

MAX_CHARS = 500  # longest accepted expression, characters (model inputs are ~10-40)


def evaluate(expr: str) -> Number:
    """Evaluate an arithmetic expression; raises ``CalculatorError`` with a readable message."""
    if not isinstance(expr, str):
        raise CalculatorError("expression must be text")
    if len(expr) > MAX_CHARS:
        raise CalculatorError(f"expression too long (max {MAX_CHARS} characters)")
    text = normalize(expr)
    if not text:
        raise CalculatorError("empty expression")
    return evaluate_syntax(text)


def format_number(x: Number) -> str:
    """A number as an observation: integers without ``.0``, floats to at most 6 decimals."""
    if isinstance(x, bool):
        x = int(x)
    if isinstance(x, int):
        return str(x)
    if math.isnan(x) or math.isinf(x):
        return str(x)
    if x == 0:
        return "0"
    ax = abs(x)
    if ax >= 1e15:  # beyond exact float integers: scientific notation is the honest form
        return f"{x:.15g}"
    if x.is_integer():
        return str(int(x))
    if ax >= 1e-4:
        text = f"{x:.6f}".rstrip("0").rstrip(".")
        if text not in ("0", "-0"):
            return text
    return f"{x:.6g}"


def calculate(expr: str) -> str:
    """The tool's observation: the formatted result, or ``Error: ...`` (never raises)."""
    try:
        return format_number(evaluate(expr))
    except CalculatorError as exc:
        return f"Error: {exc}."
    except Exception as exc:  # noqa: BLE001 - a tool never raises into the loop
        return f"Error: cannot evaluate ({type(exc).__name__})."


class CalculatorTool(BaseTool):
    """The "Calculator" tool of the zero-shot ReAct prompt."""

    name: str = CALCULATOR_NAME
    description: str = CALCULATOR_DESCRIPTION

    def _run(self, tool_input: str, **kwargs: object) -> str:
        return calculate(str(tool_input))
