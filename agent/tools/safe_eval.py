"""The calculator's evaluator: operator syntax parsed with ``ast`` and walked over an allow-list.

Never ``eval``/``exec``/``compile``/numexpr on model text (CVE-2023-29374, CVE-2023-39631):
only number literals, + - * / // % **, unary -/+, parentheses, a fixed table of functions and
the constants pi and e are accepted. Sizes are bounded (nesting, node count, exponents, result
magnitude, factorial argument, CPU time), so hostile input is rejected in milliseconds.
"""

from __future__ import annotations

import ast
import math
import threading
import time
import warnings
from collections.abc import Callable

Number = int | float

MAX_DEPTH = 60  # AST nesting depth; Python's parser itself stops at ~200 parentheses
MAX_ABS = 1e100  # largest result magnitude; bounds big-int growth so every op stays O(µs)
MAX_EXPONENT = 10_000  # |exponent| of ** / pow before the size estimate is even tried
MAX_FACTORIAL = 1000  # factorial(1000) takes ~50 µs; larger arguments are refused outright
MAX_ROUND_DIGITS = 100  # ndigits of round()
MAX_BRACKETS = 30  # nested brackets; real arithmetic rarely goes past 4
MAX_NODES = 400  # AST nodes per expression
# CPU-time bound of one evaluation, seconds (typical: < 0.1 ms); CPU time of this thread, so a
# busy machine that descheduled the thread does not turn an ordinary expression into an error
TIME_LIMIT_S = 0.05


# catch_warnings changes process-wide state: one parse at a time (a parse takes microseconds)
_PARSE_LOCK = threading.Lock()


class CalculatorError(ValueError):
    """The expression is not accepted or cannot be evaluated; the message is user-facing."""


def _check(x: Number) -> Number:
    if isinstance(x, float):
        if math.isnan(x):
            raise CalculatorError("result is not a number")
        if math.isinf(x) or abs(x) >= MAX_ABS:
            raise CalculatorError("result too large")
    elif abs(x) >= MAX_ABS:  # int: compare without converting a huge int to float
        raise CalculatorError("result too large")
    return x


def _as_int(x: Number, what: str) -> int:
    if isinstance(x, int):
        return x
    if x.is_integer():
        return int(x)
    raise CalculatorError(f"{what} must be a whole number")


def _pow(base: Number, exp: Number) -> Number:
    if abs(exp) > MAX_EXPONENT:
        raise CalculatorError("exponent too large")
    if base == 0 and exp < 0:
        raise CalculatorError("division by zero")
    if base not in (0, 1, -1) and abs(exp) >= 1:
        # digits of the result, estimated before computing it
        if abs(exp) * math.log10(abs(base)) >= 100:
            raise CalculatorError("result too large")
    if isinstance(base, int) and isinstance(exp, int):
        return _check(base**exp if exp >= 0 else float(base) ** exp)
    try:
        return _check(math.pow(base, exp))
    except ValueError as exc:  # negative base with a fractional exponent
        raise CalculatorError("math domain error (negative number to a fractional power)") from exc
    except OverflowError as exc:
        raise CalculatorError("result too large") from exc


def _factorial(n: Number) -> Number:
    k = _as_int(n, "factorial argument")
    if k < 0:
        raise CalculatorError("factorial of a negative number")
    if k > MAX_FACTORIAL:
        raise CalculatorError(f"factorial argument too large (max {MAX_FACTORIAL})")
    return math.factorial(k)


def _round(x: Number, ndigits: Number | None = None) -> Number:
    if ndigits is None:
        return round(x)
    nd = _as_int(ndigits, "round digits")
    if abs(nd) > MAX_ROUND_DIGITS:
        raise CalculatorError("round digits out of range")
    return round(x, nd)


def _log(x: Number, base: Number | None = None) -> float:
    if base is None:
        return math.log(x)
    return math.log(x, base)


def _minmax(fn: Callable[..., Number]) -> Callable[..., Number]:
    def call(*args: Number) -> Number:
        if not args:
            raise CalculatorError(f"{fn.__name__}() needs at least one number")
        return fn(args)

    call.__name__ = fn.__name__
    return call


# name -> (function, min args, max args)
FUNCTIONS: dict[str, tuple[Callable[..., Number], int, int]] = {
    "sqrt": (math.sqrt, 1, 1),
    "abs": (abs, 1, 1),
    "round": (_round, 1, 2),
    "floor": (math.floor, 1, 1),
    "ceil": (math.ceil, 1, 1),
    "log": (_log, 1, 2),
    "ln": (math.log, 1, 1),
    "log10": (math.log10, 1, 1),
    "log2": (math.log2, 1, 1),
    "exp": (math.exp, 1, 1),
    "sin": (math.sin, 1, 1),
    "cos": (math.cos, 1, 1),
    "tan": (math.tan, 1, 1),
    "factorial": (_factorial, 1, 1),
    "min": (_minmax(min), 1, 50),
    "max": (_minmax(max), 1, 50),
    "pow": (_pow, 2, 2),
}
CONSTANTS: dict[str, float] = {"pi": math.pi, "e": math.e}

_BINOPS: dict[type[ast.operator], str] = {
    ast.Add: "+",
    ast.Sub: "-",
    ast.Mult: "*",
    ast.Div: "/",
    ast.FloorDiv: "//",
    ast.Mod: "%",
    ast.Pow: "**",
}


class _Evaluator:
    def __init__(self) -> None:
        self.deadline = time.thread_time() + TIME_LIMIT_S

    def visit(self, node: ast.AST, depth: int = 0) -> Number:
        if depth > MAX_DEPTH:
            raise CalculatorError("expression nested too deeply")
        if time.thread_time() > self.deadline:
            raise CalculatorError("expression takes too long")
        if isinstance(node, ast.Expression):
            return self.visit(node.body, depth + 1)
        if isinstance(node, ast.Constant):
            value = node.value
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise CalculatorError("only numbers are allowed")
            return _check(value)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
            operand = self.visit(node.operand, depth + 1)
            return -operand if isinstance(node.op, ast.USub) else operand
        if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
            left = self.visit(node.left, depth + 1)
            right = self.visit(node.right, depth + 1)
            return self._binop(_BINOPS[type(node.op)], left, right)
        if isinstance(node, ast.Name):
            if node.id in CONSTANTS:
                return CONSTANTS[node.id]
            if node.id in FUNCTIONS:
                raise CalculatorError(f"{node.id} is a function: write {node.id}(...)")
            raise CalculatorError(f"unknown name '{node.id[:30]}'")
        if isinstance(node, ast.Call):
            return self._call(node, depth)
        raise CalculatorError(f"{_describe(node)} is not allowed")

    def _binop(self, op: str, a: Number, b: Number) -> Number:
        try:
            if op == "+":
                return _check(a + b)
            if op == "-":
                return _check(a - b)
            if op == "*":
                return _check(a * b)
            if op == "/":
                return _check(a / b)
            if op == "//":
                return _check(a // b)
            if op == "%":
                return _check(a % b)
            return _pow(a, b)
        except ZeroDivisionError as exc:
            raise CalculatorError("division by zero") from exc
        except OverflowError as exc:
            raise CalculatorError("result too large") from exc

    def _call(self, node: ast.Call, depth: int) -> Number:
        if not isinstance(node.func, ast.Name):
            raise CalculatorError(f"{_describe(node.func)} is not allowed")
        name = node.func.id
        if name not in FUNCTIONS:
            raise CalculatorError(f"unknown function '{name[:30]}'")
        if node.keywords:
            raise CalculatorError("keyword arguments are not allowed")
        fn, lo, hi = FUNCTIONS[name]
        if any(isinstance(a, ast.Starred) for a in node.args):
            raise CalculatorError("* arguments are not allowed")
        if not lo <= len(node.args) <= hi:
            want = str(lo) if lo == hi else f"{lo} to {hi}"
            raise CalculatorError(f"{name}() takes {want} argument(s), got {len(node.args)}")
        args = [self.visit(a, depth + 1) for a in node.args]
        try:
            return _check(fn(*args))
        except CalculatorError:
            raise
        except ZeroDivisionError as exc:
            raise CalculatorError("division by zero") from exc
        except OverflowError as exc:
            raise CalculatorError("result too large") from exc
        except (ValueError, TypeError) as exc:
            raise CalculatorError(f"math domain error in {name}()") from exc


_NODE_NAMES: dict[type[ast.AST], str] = {
    ast.Attribute: "attribute access",
    ast.Lambda: "lambda",
    ast.ListComp: "a comprehension",
    ast.SetComp: "a comprehension",
    ast.DictComp: "a comprehension",
    ast.GeneratorExp: "a comprehension",
    ast.Subscript: "indexing",
    ast.Compare: "comparison",
    ast.BoolOp: "a boolean operator",
    ast.Tuple: "a list of numbers (use one expression)",
    ast.List: "a list",
    ast.Dict: "a dict",
    ast.Set: "a set",
    ast.IfExp: "if/else",
    ast.NamedExpr: "assignment",
    ast.JoinedStr: "a string",
    ast.Await: "await",
}


def _describe(node: ast.AST) -> str:
    if isinstance(node, ast.BinOp):
        return "this operator"
    if isinstance(node, ast.UnaryOp):
        return "this unary operator"
    return _NODE_NAMES.get(type(node), type(node).__name__)


def evaluate_syntax(text: str) -> Number:
    """Evaluate operator syntax (``normalize``'s output); raises ``CalculatorError`` with a readable message."""
    depth = deepest = 0
    for ch in text:
        depth += (ch in "([{") - (ch in ")]}")
        deepest = max(deepest, depth)
    if deepest > MAX_BRACKETS:
        raise CalculatorError("expression nested too deeply")
    try:
        with _PARSE_LOCK, warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "invalid decimal literal" etc. for text like "1if"
            tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        raise CalculatorError(f"cannot parse '{text[:80]}'") from exc
    except (RecursionError, MemoryError, ValueError) as exc:
        raise CalculatorError("expression nested too deeply") from exc
    if sum(1 for _ in ast.walk(tree)) > MAX_NODES:
        raise CalculatorError("expression too long")
    try:
        return _Evaluator().visit(tree)
    except RecursionError as exc:  # pragma: no cover - MAX_DEPTH stops well before this
        raise CalculatorError("expression nested too deeply") from exc
