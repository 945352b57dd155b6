"""The calculator: correct results, human forms, and hostile input refused in milliseconds."""

from __future__ import annotations

import gc
import json
import math
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent.tools import build_tools
from agent.tools.arithmetic_forms import normalize
from agent.tools.calculator import (
    MAX_CHARS,
    CalculatorTool,
    calculate,
    evaluate,
    format_number,
)
from agent.tools.safe_eval import CalculatorError

# --- an audit hook that records anything a calculator must never do --------------------------

_WATCH = {"active": False}
_EVENTS: list[str] = []
_FORBIDDEN_PREFIXES = (
    "exec", "import", "open", "os.", "subprocess.", "socket.", "ctypes.", "shutil.", "pickle.",
)  # fmt: skip


def _audit(event: str, _args: tuple[object, ...]) -> None:
    if _WATCH["active"] and event.startswith(_FORBIDDEN_PREFIXES):
        _EVENTS.append(event)


sys.addaudithook(_audit)  # hooks cannot be removed; it only records while _WATCH is on


@contextmanager
def watched() -> Iterator[list[str]]:
    _EVENTS.clear()
    _WATCH["active"] = True
    try:
        yield _EVENTS
    finally:
        _WATCH["active"] = False


def test_the_audit_watch_sees_file_access() -> None:
    """A positive control: the watch used below does record a forbidden event."""
    with watched() as events, open(__file__):
        pass
    assert "open" in events


def timed(expr: str) -> tuple[str, float]:
    """(observation, CPU milliseconds of this thread): immune to other jobs on a shared machine.

    The garbage collector is paused while timing: a full collection of hypothesis' objects
    (~100 ms, seen once in thousands of runs) is not the expression's cost.
    """
    gc.disable()
    try:
        start = time.thread_time()
        out = calculate(expr)
        return out, (time.thread_time() - start) * 1000
    finally:
        gc.enable()


# --- correctness ------------------------------------------------------------------------------

CASES = [
    ("37 * 12 + 5", "449"),
    ("2 + 3 * 4", "14"),
    ("(2 + 3) * 4", "20"),
    ("-3 + 5", "2"),
    ("+7", "7"),
    ("10 / 4", "2.5"),
    ("10 / 2", "5"),
    ("7 // 2", "3"),
    ("7 % 3", "1"),
    ("10 % 3", "1"),
    ("2 ** 10", "1024"),
    ("2^10", "1024"),
    ("2 ** -1", "0.5"),
    ("15% of 240", "36"),
    ("15 % of 240", "36"),
    ("15 percent of 240", "36"),
    ("240 * 15%", "36"),
    ("50%", "0.5"),
    ("3 x 4", "12"),
    ("3x4", "12"),
    ("3 × 4", "12"),
    ("3 · 4", "12"),
    ("9 ÷ 3", "3"),
    ("5 − 2", "3"),
    ("1,234,567 + 1", "1234568"),
    ("23,696,900 / 7,692,024", "3.080711"),
    ("max(1,2)", "2"),
    ("min(4, 2, 8)", "2"),
    ("max(1,234,567)", "567"),
    ("min(100,200,300)", "100"),
    ("max(1,000, 2,500)", "2500"),
    ("max(127,080,000, 125,000,000) - 1", "127079999"),
    ("100 / 3 =", "33.333333"),
    ("2 + 2 = ?", "4"),
    ("what is 2 times 3?", "6"),
    ("6 divided by 4", "1.5"),
    ("2 plus 3 minus 1", "4"),
    ("3 squared", "9"),
    ("sqrt(16)", "4"),
    ("√16", "4"),
    ("square root of 81", "9"),
    ("sqrt(2)", "1.414214"),
    ("abs(-3)", "3"),
    ("round(3.14159, 2)", "3.14"),
    ("round(2.5)", "2"),
    ("floor(2.7)", "2"),
    ("ceil(2.1)", "3"),
    ("log(100, 10)", "2"),
    ("log10(1000)", "3"),
    ("log2(8)", "3"),
    ("exp(0)", "1"),
    ("sin(0)", "0"),
    ("cos(0)", "1"),
    ("factorial(5)", "120"),
    ("pow(2, 8)", "256"),
    ("pi", "3.141593"),
    ("2 * pi", "6.283185"),
    ("e", "2.718282"),
    ("1e3 + 1", "1001"),
    ("0x10", "16"),
    ("`12 * 3`", "36"),
    ('"12 * 3"', "36"),
    ("23696900 people / 7692024 km²", "3.080711"),
    ("$1,200 * 3", "3600"),
    ("10**99 // 10**98", "10"),
    ("0.1 + 0.2", "0.3"),
    ("1 / 3000000", "3.33333e-07"),
]


@pytest.mark.parametrize(("expr", "want"), CASES)
def test_results(expr: str, want: str) -> None:
    assert calculate(expr) == want


def test_tool_is_the_prompt_calculator() -> None:
    search, calc = build_tools(search="local")
    assert isinstance(calc, CalculatorTool)
    assert calc.name == "Calculator"
    assert calc.description == "Useful for when you need to answer questions about math."
    assert calc.invoke("37 * 12 + 5") == "449"
    assert calc.invoke("1/0") == "Error: division by zero."


def test_evaluate_returns_numbers_and_raises_calculator_error() -> None:
    assert evaluate("7 * 6") == 42 and isinstance(evaluate("7 * 6"), int)
    assert evaluate("1 / 4") == 0.25
    with pytest.raises(CalculatorError, match="division by zero"):
        evaluate("1 / 0")
    with pytest.raises(CalculatorError):
        evaluate("")


def test_normalize_keeps_call_commas_and_drops_thousands() -> None:
    assert normalize("max(1,2) + 1,000") == "max(1,2) + 1000"
    assert normalize("15% of 240") == "(15/100)* 240"
    assert normalize("10 % 3") == "10 % 3"


@pytest.mark.parametrize(
    ("x", "want"),
    [
        (449, "449"),
        (5.0, "5"),
        (-0.0, "0"),
        (2.5, "2.5"),
        (1 / 3, "0.333333"),
        (123456.7891234, "123456.789123"),
        (-2.25, "-2.25"),
        (1e20, "1e+20"),
        (0.00001234, "1.234e-05"),
        (10**30, "1" + "0" * 30),
    ],
)
def test_format_number(x: float, want: str) -> None:
    assert format_number(x) == want


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("1/0", "division by zero"),
        ("5 % 0", "division by zero"),
        ("sqrt(-1)", "math domain error"),
        ("log(0)", "math domain error"),
        ("(-8) ** (1/3)", "negative number to a fractional power"),
        ("factorial(-1)", "factorial of a negative number"),
        ("factorial(2.5)", "whole number"),
        ("foo(3)", "unknown function 'foo'"),
        ("y + 1", "unknown name 'y'"),
        ("2 apples (3)", "cannot parse"),
        ("sqrt", "sqrt is a function"),
        ("max()", "max() takes 1 to 50 argument(s), got 0"),
        ("pow(2)", "pow() takes 2 argument(s), got 1"),
        ("1, 2", "a list of numbers"),
        ("1 < 2", "comparison is not allowed"),
        ("1 if 1 else 2", "if/else is not allowed"),
        ("", "empty expression"),
        ("10 ** 100", "result too large"),
        ("1e308 * 10", "result too large"),
        ("exp(1000)", "result too large"),
        ("factorial(70)", "result too large"),
    ],
)
def test_errors_are_readable_observations(expr: str, message: str) -> None:
    out = calculate(expr)
    assert out.startswith("Error: ")
    assert message in out


# --- hostile input ----------------------------------------------------------------------------

# literal payloads are data, shared with bench/fuzz_calculator.py; generated ones exhaust resources
EXPLOITS_FILE = Path(__file__).resolve().parents[1] / "data" / "calculator_exploits.json"
HOSTILE = [
    *json.loads(EXPLOITS_FILE.read_text(encoding="utf-8")),
    "(" * 200 + "1" + ")" * 200,
    "(" * 240 + "1" + ")" * 240,
    "-" * 480 + "1",
    "+-" * 240 + "1",
    "1" + "+1" * 249,
    "2" + "**2" * 160,
    "1" * 499,
    "9" * 5000,
    "1 + " * 10_000 + "1",
    "max(" * 100 + "1" + ")" * 100,
    "sqrt(" * 100 + "2" + ")" * 100,
]


@pytest.mark.parametrize("payload", HOSTILE)
def test_hostile_input_is_refused_fast_and_never_executes(payload: str) -> None:
    with watched() as events:
        out, ms = timed(payload)
    assert out.startswith("Error: "), out
    assert ms < 50, f"{ms:.1f} ms for {payload[:40]!r}"  # typical: < 1 ms
    assert events == []


def test_length_and_nesting_limits() -> None:
    assert calculate("1" + " " * MAX_CHARS).startswith("Error: expression too long")
    assert calculate("(" * 31 + "1" + ")" * 31) == "Error: expression nested too deeply."
    assert calculate("(" * 30 + "1" + ")" * 30) == "1"


def test_units_after_numbers_are_dropped_but_other_words_are_not() -> None:
    assert calculate("24 people per km + 1") == "25"
    assert calculate("print(1)") == "Error: unknown function 'print'."
    assert calculate("1 if 1 else 2") == "Error: if/else is not allowed."


def test_tool_never_raises_on_non_text() -> None:
    calc = CalculatorTool()
    assert calc.invoke("") == "Error: empty expression."
    assert calc.run("2+2") == "4"


# --- properties (hypothesis) ------------------------------------------------------------------

_NUMBERS = st.one_of(
    st.integers(min_value=-(10**12), max_value=10**12).map(str),
    st.floats(min_value=-1e6, max_value=1e6, allow_nan=False).map(lambda f: f"{f:.4f}"),
    st.sampled_from(["pi", "e", "0", "1", "-1", "1e300", "10**99", "1,000", "15%"]),
)
_FUNCS = ["sqrt", "abs", "round", "floor", "ceil", "log", "log10", "exp", "sin", "factorial", "min", "max"]
_OPS = ["+", "-", "*", "/", "//", "%", "**", "^", " x ", " of ", ",", "(", ")", "."]


def _expressions() -> st.SearchStrategy[str]:
    return st.recursive(
        _NUMBERS,
        lambda inner: st.one_of(
            st.tuples(inner, st.sampled_from(_OPS), inner).map("".join),
            st.tuples(st.sampled_from(["-", "+", "("]), inner).map("".join),
            st.tuples(st.sampled_from(_FUNCS), inner).map(lambda t: f"{t[0]}({t[1]})"),
            st.tuples(st.sampled_from(["min", "max", "pow", "log", "round"]), inner, inner).map(
                lambda t: f"{t[0]}({t[1]}, {t[2]})"
            ),
            inner.map(lambda s: f"({s})"),
        ),
        max_leaves=40,
    )


def _check_safe(expr: str) -> None:
    with watched() as events:
        out, ms = timed(expr)
    assert isinstance(out, str) and out
    assert ms < 100, f"{ms:.1f} ms for {expr[:60]!r}"
    assert events == []
    if not out.startswith("Error: "):
        float(out)  # a result is always a plain number


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_expressions())
def test_generated_expressions_never_raise_or_stall(expr: str) -> None:
    _check_safe(expr)


@settings(max_examples=1000, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=120))
def test_random_text_never_raises_or_stalls(text: str) -> None:
    _check_safe(text)


def _arith() -> st.SearchStrategy[tuple[str, int]]:
    """(text, value) pairs for integer + - * with parentheses; the value is computed here."""
    leaf = st.integers(min_value=0, max_value=10_000).map(lambda n: (str(n), n))

    def combine(inner: st.SearchStrategy[tuple[str, int]]) -> st.SearchStrategy[tuple[str, int]]:
        def build(t: tuple[tuple[str, int], str, tuple[str, int]]) -> tuple[str, int]:
            (a, x), op, (b, y) = t
            value = x + y if op == "+" else x - y if op == "-" else x * y
            return f"({a} {op} {b})", value

        return st.tuples(inner, st.sampled_from("+-*"), inner).map(build)

    return st.recursive(leaf, combine, max_leaves=12)


@settings(max_examples=500, deadline=None)
@given(_arith())
def test_integer_arithmetic_is_exact(pair: tuple[str, int]) -> None:
    text, value = pair
    if abs(value) < 1e100:
        assert evaluate(text) == value


@settings(max_examples=300, deadline=None)
@given(st.floats(min_value=-1e12, max_value=1e12, allow_nan=False))
def test_format_number_round_trips_to_six_decimals(x: float) -> None:
    out = format_number(x)
    assert "e" not in out or abs(x) < 1e-4
    assert math.isclose(float(out), x, rel_tol=1e-6, abs_tol=1e-6)
