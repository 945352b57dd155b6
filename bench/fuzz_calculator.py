"""Fuzz the Calculator tool: generated expressions, mutations, random text and known exploits.

    .venv/bin/python bench/fuzz_calculator.py                       # 120k inputs, ~1 min on 2 cores
    .venv/bin/python bench/fuzz_calculator.py --count 20000 --seed 1
    .venv/bin/python bench/fuzz_calculator.py --atheris-runs 50000  # then coverage-guided (atheris)

Every input goes through ``agent.tools.calculator.calculate`` (the tool's observation function)
under a ``sys.addaudithook`` watch that records any import, exec, file, process, socket or
ctypes event while the calculator runs: a calculator that never executes code records none.
Printed (one JSON line per phase, then a summary): inputs, code executions (audit events),
unhandled exceptions, evaluations over 100 ms (CPU time of the thread, and wall time), max ms,
results vs errors. Exit status 1 when any of code executions, unhandled exceptions or
evaluations over 100 ms CPU is not 0.
"""

from __future__ import annotations

import argparse
import gc
import inspect
import json
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agent.tools import arithmetic_forms, calculator, safe_eval  # noqa: E402
from agent.tools.calculator import calculate  # noqa: E402

LIMIT_MS = 100.0  # an evaluation over this is a failure (issue 7), milliseconds
FORBIDDEN = (
    "exec", "import", "open", "os.", "subprocess.", "socket.", "ctypes.", "shutil.", "pickle.",
    "marshal.", "code.__new__", "function.__new__", "sys._getframe", "builtins.input", "urllib.",
)  # fmt: skip
CALCULATOR_MODULES = (calculator, arithmetic_forms, safe_eval)  # what atheris instruments

# known payloads (LangChain's llm-math CVEs, numexpr, sandbox escapes) are data, shared with the tests;
# the generated ones below exhaust resources (size, nesting, exponent)
EXPLOITS_FILE = Path(__file__).resolve().parents[1] / "tests" / "data" / "calculator_exploits.json"
EXPLOITS = [
    *json.loads(EXPLOITS_FILE.read_text(encoding="utf-8")),
    "max(" * 200 + "1" + ")" * 200,
    "(" * 1000 + "1" + ")" * 1000,
    "-" * 100_000 + "1",
    "1" + "*1" * 100_000,
    "9" * 100_000,
    "0x" + "f" * 490,
    "\x00" * 100,
]


@dataclass
class Config:
    count: int = 120_000  # generated inputs (grammar + mutations + random text)
    seed: int = 0
    atheris_runs: int = 0  # > 0: a coverage-guided atheris phase after the others (if installed)


@dataclass
class Tally:
    name: str
    inputs: int = 0
    results: int = 0
    errors: int = 0
    code_executions: int = 0
    unhandled: int = 0
    over_limit_cpu: int = 0
    over_limit_wall: int = 0
    max_cpu_ms: float = 0.0
    max_wall_ms: float = 0.0
    worst: str = ""
    failures: list[str] = field(default_factory=list)

    def report(self) -> dict[str, object]:
        out = {k: v for k, v in self.__dict__.items() if k != "failures"}
        out["max_cpu_ms"] = round(self.max_cpu_ms, 3)
        out["max_wall_ms"] = round(self.max_wall_ms, 3)
        out["worst"] = self.worst[:80]
        out["failures"] = self.failures[:5]
        return out


_WATCH = {"on": False}
_EVENTS: list[str] = []


def _audit(event: str, _args: tuple[object, ...]) -> None:
    if _WATCH["on"] and event.startswith(FORBIDDEN):
        _EVENTS.append(event)


def check(expr: str, tally: Tally) -> None:
    """One input through the tool, watched and timed."""
    tally.inputs += 1
    _EVENTS.clear()
    if tally.inputs % 1000 == 0:
        gc.collect()  # collections happen here, untimed, instead of inside one evaluation
    gc.disable()
    _WATCH["on"] = True
    wall, cpu = time.perf_counter(), time.thread_time()
    try:
        out = calculate(expr)
    except BaseException as exc:  # noqa: BLE001 - the point is to count these
        tally.unhandled += 1
        tally.failures.append(f"{type(exc).__name__} on {expr[:60]!r}")
        return
    finally:
        _WATCH["on"] = False
        cpu_ms = (time.thread_time() - cpu) * 1000
        wall_ms = (time.perf_counter() - wall) * 1000
        gc.enable()
    if _EVENTS:
        tally.code_executions += 1
        tally.failures.append(f"{_EVENTS[:3]} on {expr[:60]!r}")
    if cpu_ms > tally.max_cpu_ms:
        tally.max_cpu_ms, tally.worst = cpu_ms, expr
    tally.max_wall_ms = max(tally.max_wall_ms, wall_ms)
    tally.over_limit_cpu += cpu_ms > LIMIT_MS
    tally.over_limit_wall += wall_ms > LIMIT_MS
    if not isinstance(out, str) or not out:
        tally.unhandled += 1
        tally.failures.append(f"non-text observation {out!r} on {expr[:60]!r}")
    elif out.startswith("Error: "):
        tally.errors += 1
    else:
        tally.results += 1
        float(out)  # a result is always a plain number; ValueError here would be a bug


# --- generators -------------------------------------------------------------------------------

_FUNCS = ["sqrt", "abs", "round", "floor", "ceil", "log", "ln", "log10", "log2", "exp", "sin", "cos", "tan"]
_FUNCS2 = ["min", "max", "pow", "log", "round"]
_OPS = ["+", "-", "*", "/", "//", "%", "**", "^", " x ", "×", "÷", " plus ", " times ", " divided by "]
_HOSTILE_TOKENS = [
    "__import__", "('os')", ".", ".__class__", "lambda", ":", "[", "]", "{", "}", "'", '"', "for", "in",
    "if", "else", ";", "\n", "os", "system", "eval", "exec", "open", "(", ")", "**9**9", "factorial(",
    "10**", "*", ",", "%", "=", "?", "√", "²", "\x00", "\u202e", "𝟗", "٣", "_", "@", "\\", "#", "$", "`",
    "1e308", "inf", "nan", "True", "None", "...", "0x", "0b1", "0o7", "1j",
]  # fmt: skip


def build_number(rng: random.Random) -> str:
    kind = rng.randrange(10)
    if kind < 4:
        return str(rng.randint(0, 1000))
    if kind == 4:
        return f"{rng.uniform(-1e6, 1e6):.{rng.randint(0, 6)}f}"
    if kind == 5:
        return f"{rng.randint(1, 999):,}" + f",{rng.randint(0, 999):03d}" * rng.randint(0, 3)
    if kind == 6:
        return f"{rng.randint(1, 99)}%"
    if kind == 7:
        return rng.choice(["pi", "e", "1e300", "10**99", "9**99", "0", "0.0", "-1"])
    if kind == 8:
        return str(rng.randint(0, 10 ** rng.randint(1, 120)))
    return f"{rng.randint(1, 9)}e{rng.randint(-400, 400)}"


def build_expression(rng: random.Random, depth: int = 0) -> str:
    if depth > 6 or rng.random() < 0.3:
        return build_number(rng)
    kind = rng.randrange(8)
    if kind < 3:
        return f"{build_expression(rng, depth + 1)}{rng.choice(_OPS)}{build_expression(rng, depth + 1)}"
    if kind == 3:
        return f"({build_expression(rng, depth + 1)})"
    if kind == 4:
        return f"{rng.choice(_FUNCS)}({build_expression(rng, depth + 1)})"
    if kind == 5:
        a, b = build_expression(rng, depth + 1), build_expression(rng, depth + 1)
        return f"{rng.choice(_FUNCS2)}({a}, {b})"
    if kind == 6:
        return (
            f"factorial({rng.randint(-5, 1200) if rng.random() < 0.7 else build_expression(rng, depth + 1)})"
        )
    return f"{rng.randint(1, 99)}% of {build_expression(rng, depth + 1)}"


def mutate(expr: str, rng: random.Random) -> str:
    chars = list(expr)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(3)
        pos = rng.randint(0, len(chars))
        if op == 0:
            chars[pos:pos] = list(rng.choice(_HOSTILE_TOKENS))
        elif op == 1 and chars:
            del chars[min(pos, len(chars) - 1)]
        else:
            chars[pos:pos] = list(rng.choice(_HOSTILE_TOKENS) * rng.randint(1, 50))
    return "".join(chars)


def random_text(rng: random.Random) -> str:
    alphabet = "0123456789+-*/%^().,x_ abcdefghijklmnopqrstuvwxyz'\"[]{}:;=<>!@#$&|~`\\\n\t√²÷×−"
    n = rng.choice([1, 5, 20, 80, 400, 600])
    if rng.random() < 0.1:
        points = (rng.randint(0, 0x10FFFF) for _ in range(n))
        return "".join(chr(p) for p in points if not 0xD800 <= p < 0xE000)  # no lone surrogates
    return "".join(rng.choice(alphabet) for _ in range(n))


def build_inputs(cfg: Config) -> Iterator[tuple[str, str]]:
    """(phase, input): the exploits, then grammar / mutation / random-text thirds of ``count``."""
    for payload in EXPLOITS:
        yield "exploits", payload
    rng = random.Random(cfg.seed)
    third = cfg.count // 3
    for _ in range(third):
        yield "grammar", build_expression(rng)
    for _ in range(third):
        yield "mutations", mutate(build_expression(rng), rng)
    for _ in range(cfg.count - 2 * third):
        yield "random_text", random_text(rng)


def instrument_calculator(instrument: Callable[[Any], Any]) -> int:
    """Coverage feedback for the calculator's modules only (instrumenting every loaded module,
    langchain included, takes minutes); returns the number of functions instrumented."""
    count = 0
    for module in CALCULATOR_MODULES:
        for obj in list(vars(module).values()):
            own_class = inspect.isclass(obj) and obj.__module__ == module.__name__
            for fn in vars(obj).values() if own_class else [obj]:
                if inspect.isfunction(fn) and fn.__module__ == module.__name__:
                    instrument(fn)
                    count += 1
    return count


def run_atheris(runs: int, summary: Callable[[Tally], int]) -> None:
    """Coverage-guided fuzzing of ``calculate`` for ``runs`` inputs; ends the process itself
    (libFuzzer treats any exit inside the target as a crash, so the summary uses ``os._exit``)."""
    import atheris

    instrument_calculator(atheris.instrument_func)
    tally = Tally("atheris")

    def one_input(data: bytes) -> None:
        check(atheris.FuzzedDataProvider(data).ConsumeUnicodeNoSurrogates(600), tally)
        if tally.inputs >= runs:
            code = summary(tally)
            sys.stdout.flush()
            os._exit(code)

    artifacts = tempfile.mkdtemp(prefix="qreact-atheris-")  # crash inputs land here, not in the repo
    atheris.Setup(
        [sys.argv[0], f"-runs={runs + 1}", "-max_len=2400", f"-artifact_prefix={artifacts}/"], one_input
    )
    atheris.Fuzz()


def self_test() -> None:
    """The watch must see what it is meant to catch: opening a file is recorded."""
    _EVENTS.clear()
    _WATCH["on"] = True
    try:
        with open(os.devnull):
            pass
    finally:
        _WATCH["on"] = False
    if "open" not in _EVENTS:
        raise SystemExit("audit hook self-test failed: an open() was not recorded")
    _EVENTS.clear()


def main(cfg: Config) -> int:
    sys.addaudithook(_audit)
    self_test()
    tallies: dict[str, Tally] = {}
    start = time.perf_counter()
    for phase, expr in build_inputs(cfg):
        check(expr, tallies.setdefault(phase, Tally(phase)))
    for tally in tallies.values():
        print(json.dumps(tally.report()))
    total = Tally("total")
    for t in tallies.values():
        for key in (
            "inputs",
            "results",
            "errors",
            "code_executions",
            "unhandled",
            "over_limit_cpu",
            "over_limit_wall",
        ):
            setattr(total, key, getattr(total, key) + getattr(t, key))
        if t.max_cpu_ms > total.max_cpu_ms:
            total.max_cpu_ms, total.worst = t.max_cpu_ms, t.worst
        total.max_wall_ms = max(total.max_wall_ms, t.max_wall_ms)
        total.failures += t.failures
    summary = total.report()
    summary["seconds"] = round(time.perf_counter() - start, 1)
    print(json.dumps(summary))
    ok = total.code_executions == 0 and total.unhandled == 0 and total.over_limit_cpu == 0
    print(
        f"{total.inputs} inputs: {total.code_executions} code executions, "
        f"{total.unhandled} unhandled exceptions, "
        f"{total.over_limit_cpu} evaluations over {LIMIT_MS:g} ms CPU ({total.over_limit_wall} wall), "
        f"max {total.max_cpu_ms:.2f} ms CPU / {total.max_wall_ms:.2f} ms wall -> {'PASS' if ok else 'FAIL'}"
    )
    if cfg.atheris_runs > 0:
        try:
            import atheris  # noqa: F401
        except ImportError:
            print("atheris is not installed: coverage-guided phase skipped (pip install atheris)")
        else:

            def atheris_summary(t: Tally) -> int:
                print(json.dumps(t.report()))
                good = t.code_executions == 0 and t.unhandled == 0 and t.over_limit_cpu == 0
                print(f"atheris: {t.inputs} inputs -> {'PASS' if good else 'FAIL'}")
                return 0 if ok and good else 1

            run_atheris(cfg.atheris_runs, atheris_summary)
    return 0 if ok else 1


def parse_args(argv: list[str] | None = None) -> Config:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--count", type=int, default=Config.count, help="generated inputs (exploits come on top)"
    )
    parser.add_argument("--seed", type=int, default=Config.seed, help="random seed of the generators")
    parser.add_argument("--atheris-runs", type=int, default=0, help="coverage-guided inputs after the others")
    args = parser.parse_args(argv)
    return Config(count=args.count, seed=args.seed, atheris_runs=args.atheris_runs)


if __name__ == "__main__":
    sys.exit(main(parse_args()))
