"""The human forms of arithmetic a model writes, rewritten to operator syntax (not evaluated).

``15% of 240``, ``3 x 4``, ``2^10``, ``1,234,567``, ``÷``, a trailing ``=``, units after a number.
"""

from __future__ import annotations

import keyword
import re

from agent.tools.safe_eval import CONSTANTS, FUNCTIONS

_WORD_OPS = [
    (re.compile(r"\bto the power of\b", re.I), "**"),
    (re.compile(r"\b(?:raised to|power)\b", re.I), "**"),
    (re.compile(r"\bmultiplied by\b", re.I), "*"),
    (re.compile(r"\bdivided by\b", re.I), "/"),
    (re.compile(r"\btimes\b", re.I), "*"),
    (re.compile(r"\bplus\b", re.I), "+"),
    (re.compile(r"\bminus\b", re.I), "-"),
    (re.compile(r"\bmod(?:ulo)?\b", re.I), "%"),
    (re.compile(r"\bper ?cent\b", re.I), "%"),
    (re.compile(r"\bsquared\b", re.I), "**2"),
    (re.compile(r"\bcubed\b", re.I), "**3"),
    (re.compile(r"\b(?:square root|sqrt) of\b", re.I), "sqrt"),
]
_CHAR_MAP = str.maketrans(
    {"×": "*", "·": "*", "∙": "*", "÷": "/", "−": "-", "–": "-", "—": "-", "^": "**", "²": "**2", "³": "**3"}
)
_NUM = r"\d+(?:\.\d+)?|\.\d+"
_PERCENT_OF = re.compile(rf"({_NUM})\s*%\s*of\b", re.I)
# a percent sign that cannot be modulo: followed by the end, a closing bracket or an operator
_PERCENT_END = re.compile(rf"({_NUM})\s*%(?=\s*(?:$|[)+\-*/,]))")
_TIMES_X = re.compile(r"(?<=[\d)])\s*[xX]\s*(?=[\d(.])")
_SQRT_SIGN = re.compile(rf"√\s*({_NUM})")
# "sqrt 81", "log10 1000": a one-argument function written without brackets
_BARE_CALL = re.compile(rf"\b(sqrt|abs|ln|log|log10|log2|exp|factorial|sin|cos|tan|floor|ceil)\s+({_NUM})\b")
_THOUSANDS = re.compile(r"(?<![\d.])\d{1,3}(?:,\d{3})+(?![\d])")
_UNIT_POWER = re.compile(r"\b([A-Za-z]+)[²³]")
_WORD = re.compile(r"(?<![\d.])[A-Za-z][A-Za-z0-9]*")  # not the e of 1e5
_HEX = re.compile(r"(?<![\w.])0[xX][0-9a-fA-F]+\b")
# text whose words may be dropped as units: letters, digits, arithmetic and brackets only
_SIMPLE = re.compile(r"[A-Za-z0-9\s.,+\-*/%()]*")


def _call_content(text: str, open_at: int) -> str:
    """The text between the bracket at ``open_at`` and its match (or the end)."""
    depth = 0
    for j in range(open_at, len(text)):
        depth += (text[j] == "(") - (text[j] == ")")
        if depth == 0:
            return text[open_at + 1 : j]
    return text[open_at + 1 :]


def _strip_thousands(text: str) -> str:
    """Drop thousands separators (``1,234,567``), but not argument commas.

    Inside a function call whose arguments are written without spaces (``max(1,2)``,
    ``min(100,200,300)``) every comma separates arguments; in a call written with ", "
    (``max(1,000, 2,500)``) a comma directly followed by three digits is a thousands separator.
    """
    out: list[str] = []
    call_stack: list[bool] = []  # for each open bracket: do its commas separate arguments only?
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "(":
            before = text[:i].rstrip()
            is_call = bool(before) and (before[-1].isalnum() or before[-1] == "_")
            call_stack.append(is_call and not re.search(r",\s", _call_content(text, i)))
        elif ch == ")" and call_stack:
            call_stack.pop()
        elif ch.isdigit() and not any(call_stack) and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] in "._")):
            m = _THOUSANDS.match(text, i)
            if m:
                out.append(m.group(0).replace(",", ""))
                i = m.end()
                continue
        out.append(ch)
        i += 1
    return "".join(out)


def _drop_units(text: str) -> str:
    """Remove unit words written right after a number (``7692024 km``, ``24 people per km``).

    Other words stay, so ``foo(3)``, ``print(1)`` or ``1 if 1 else 2`` are errors, not numbers.
    """
    out: list[str] = []
    pos = 0
    for m in _WORD.finditer(text):
        word = m.group(0)
        out.append(text[pos : m.start()])
        pos = m.end()
        before = "".join(out).rstrip()
        after_number = bool(before) and (before[-1].isdigit() or before[-1] in ").%")
        followed_by_call = text[m.end() :].lstrip().startswith("(")
        keep = word in FUNCTIONS or word in CONSTANTS or keyword.iskeyword(word) or followed_by_call or not after_number
        out.append(word if keep else "")
    out.append(text[pos:])
    return "".join(out)


def normalize(expr: str) -> str:
    """Rewrite the human forms of arithmetic into Python-operator syntax (not evaluated)."""
    text = expr.strip().strip("`'\"").strip()
    text = re.sub(r"^\s*(?:what is|what's|calculate|compute|evaluate)\b:?", "", text, flags=re.I)
    text = re.sub(r"(?:[=≈]\s*\??|\?)\s*$", "", text).strip()
    text = _UNIT_POWER.sub(r"\1", text)  # km² -> km (a unit, not a power)
    text = _SQRT_SIGN.sub(r"sqrt(\1)", text)
    text = text.replace("√", "sqrt")
    text = text.translate(_CHAR_MAP)
    text = re.sub(r"[$€£¥]", "", text)
    for pattern, repl in _WORD_OPS:
        text = pattern.sub(repl, text)
    text = _strip_thousands(text)
    text = _BARE_CALL.sub(r"\1(\2)", text)
    text = _PERCENT_OF.sub(r"(\1/100)*", text)
    text = _PERCENT_END.sub(r"(\1/100)", text)
    text = _HEX.sub(lambda m: str(int(m.group(0), 16)), text)  # 0x10 is 16, not 0 x 10
    text = _TIMES_X.sub("*", text)
    if _SIMPLE.fullmatch(text):
        text = _drop_units(text)
    return " ".join(text.split())
