"""The web console end to end, in real headless Chromium against the real app on loopback.

The app runs in uvicorn (a thread, a free 127.0.0.1 port) with the real tools (local search over
the country pack), the real run store (SQLite), and a scripted chat model that takes 1.2 s per
step, so streaming is observable. Chromium is Debian's (``apt-get install -y chromium``), driven
by Playwright's Python package; Playwright never downloads a browser here. Screenshots go to
``test-artifacts/`` (gitignored).

    .venv/bin/python -m pytest tests/e2e -m e2e -q
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.app.conftest import make_settings
from tests.model import ScriptedChatModel, action, final

pytestmark = pytest.mark.e2e

CHROMIUM = Path(os.environ.get("QREACT_TEST_CHROMIUM", "/usr/bin/chromium"))
if not CHROMIUM.exists():
    reason = f"Chromium is not installed at {CHROMIUM} (Debian: apt-get install -y chromium)"
    pytest.skip(reason, allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
# Flags for a closed network and a root user: no sandbox, no GPU, no background traffic to Google.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
STEP_DELAY_S = 1.2  # scripted model time per step: long enough to see each step arrive alone
QUESTION = "What is the capital of Australia?"
SCRIPT = [
    action("Search", "capital of Australia", "I need to find the capital of Australia."),
    final("Canberra"),
]
TIMEOUT_MS = 20_000  # any single browser wait, milliseconds
READY_TIMEOUT_S = 600.0  # the real model's first start converts it (~2 min on 2 idle cores)

# Records, in page time, when each step element and the answer appear (a MutationObserver).
OBSERVE_JS = """
window.__events = [];
const start = () => {
  const steps = document.getElementById("steps");
  const card = document.getElementById("answer-card");
  new MutationObserver((records) => {
    for (const r of records) for (const n of r.addedNodes)
      if (n.nodeName === "LI") window.__events.push(["step", performance.now(), card.hidden]);
  }).observe(steps, { childList: true });
  new MutationObserver(() => {
    if (!card.hidden) window.__events.push(["answer", performance.now(), false]);
  }).observe(card, { attributes: true, attributeFilter: ["hidden"] });
};
document.readyState === "loading" ? document.addEventListener("DOMContentLoaded", start) : start();
"""


@contextmanager
def serving(
    cache: Path, real_model: bool = False, script: list[Any] | None = None, **overrides: Any
) -> Iterator[str]:
    """The real app (uvicorn, a thread) on a free loopback port; yields its base URL.

    The chat model is the scripted one (``script``, default SCRIPT) unless ``real_model``: then the
    configured local model.
    """
    import uvicorn

    from app.main import create_app

    settings = make_settings(cache, **({"max_steps": 4} | overrides))
    model = None if real_model else ScriptedChatModel(script=script or SCRIPT, delay_s=STEP_DELAY_S)
    app = create_app(settings, chat_model=model)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))  # the kernel picks a free port; no race with other tests
    port = sock.getsockname()[1]
    uv = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=uv.run, kwargs={"sockets": [sock]}, name="e2e-uvicorn", daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base)
        yield base
    finally:
        uv.should_exit = True
        thread.join(timeout=10)
        sock.close()


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cache dir with the country index built once (run stores get their own files)."""
    from agent.knowledge import ensure_default_index

    folder = tmp_path_factory.mktemp("e2e-cache")
    ensure_default_index(folder)
    return folder


@pytest.fixture(scope="module")
def server(cache: Path) -> Iterator[str]:
    with serving(cache, store_url=f"sqlite:///{cache / 'runs-open.db'}") as base:
        yield base


def wait_ready(base: str, timeout_s: float = READY_TIMEOUT_S) -> None:
    import httpx

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            response = httpx.get(f"{base}/readyz", timeout=2)
        except httpx.HTTPError:
            response = None
        if response is not None and response.status_code == 200:
            return
        if response is not None and response.json().get("status") == "failed":
            raise AssertionError(f"the app failed to load: {response.json().get('reason')}")
        time.sleep(0.1)
    raise AssertionError(f"the app at {base} did not become ready in {timeout_s:g} s")


@pytest.fixture(scope="module")
def browser_context(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Debian's Chromium with a fresh profile folder."""
    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_api.sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1100, "height": 900},
        )
        context.set_default_timeout(TIMEOUT_MS)
        sync_api.expect.set_options(timeout=TIMEOUT_MS)  # expect() has its own 5 s default, too short under load
        try:
            yield context
        finally:
            context.close()


def test_ask_streams_steps_then_answer_and_takes_feedback(server: str, browser_context: Any) -> None:
    page = browser_context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    page.add_init_script(OBSERVE_JS)
    page.goto(server + "/")
    expect = sync_api.expect

    # the header shows what answers: backend, model, adapter
    expect(page.locator("#server-text")).to_contain_text("scripted")
    expect(page.locator("#server .dot")).to_have_attribute("data-state", "ready")

    # keyboard only: type the question and press Enter
    page.get_by_label("Question").fill(QUESTION)
    page.get_by_label("Question").press("Enter")

    first = page.locator("#steps li").nth(0)
    expect(first).to_be_visible()
    # that the first step arrived alone is checked below from the page's own arrival times
    # (window.__events), which a loaded CI machine cannot make racy the way a count() here could
    expect(first).to_contain_text("Search")
    expect(first).to_contain_text("capital of Australia")
    expect(first.locator(".observation")).to_contain_text("Canberra")  # the knowledge pack answered
    expect(first).to_contain_text("(local)")

    expect(page.locator("#answer")).to_have_text("Canberra")
    expect(page.locator("#steps li")).to_have_count(2)
    expect(page.locator("#steps li").nth(1)).to_contain_text("Final Answer")
    expect(page.locator("#run-status")).to_contain_text("answered")
    # the grounding badge: "Canberra" is in the step-1 observation, which is marked as the evidence
    expect(page.locator("#grounding-badge")).to_have_text("supported")
    expect(page.locator("#grounding-text")).to_contain_text("Evidence: step 1.")
    expect(page.locator("#steps li.evidence")).to_have_count(1)
    expect(first).to_have_class("step step-tool evidence")
    expect(page.locator("#answer mark")).to_have_count(0)
    expect(page.locator("#run-meta")).to_contain_text("adapter none")
    expect(first.locator(".timing")).to_contain_text("model")  # per-step timings

    events = page.evaluate("window.__events")
    kinds = [e[0] for e in events]
    assert kinds == ["step", "step", "answer"], events
    (_, t_step1, hidden1), (_, t_step2, hidden2), (_, t_answer, _) = events
    assert hidden1 and hidden2, "the answer was shown before the steps"
    assert t_step2 - t_step1 >= STEP_DELAY_S * 1000 * 0.6, f"steps arrived together: {events}"
    assert t_answer >= t_step2

    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "console.png"), full_page=True)
    if os.environ.get("QREACT_UPDATE_DOCS") == "scripted":  # the README's screenshot from this run
        shutil.copyfile(ARTIFACTS / "console.png", ROOT / "docs" / "console.png")

    # mark it wrong with a correction; the run store records it and the runs table shows it
    page.get_by_role("button", name="Wrong").click()
    page.get_by_label("Correct answer (optional)").fill("Canberra (ACT)")
    page.get_by_role("button", name="Send").click()
    expect(page.locator("#feedback-status")).to_contain_text("marked wrong")
    row = page.locator("#runs tbody tr").filter(has_text=QUESTION).first
    expect(row).to_contain_text("wrong")
    expect(row).to_contain_text("Canberra")

    # reopening a stored run from the table shows its trace again
    page.locator("#steps").evaluate("n => n.replaceChildren()")
    row.get_by_role("button").click()
    expect(page.locator("#steps li")).to_have_count(2)
    expect(page.locator("#feedback-status")).to_contain_text("Canberra (ACT)")
    assert not errors, errors
    page.close()


UNGROUNDED_SCRIPT = [
    action("Search", "president of Australia", "I need to find the president of Australia."),
    final("The president of Australia is John Smith."),
]
NOT_FOUND_SCRIPT = [
    action("Search", "president of Wakanda", "I need to find the president of Wakanda."),
    action("Search", "Wakanda", "I need to search for Wakanda."),
    final("The president of Wakanda is T'Challa."),
]


def ask_and_wait(page: Any, base: str, question: str, status: str) -> None:
    """Open the console at ``base``, ask ``question`` with Enter and wait for the run's ``status``."""
    expect = sync_api.expect
    page.goto(base + "/")
    expect(page.locator("#server .dot")).to_have_attribute("data-state", "ready")
    page.get_by_label("Question").fill(question)
    page.get_by_label("Question").press("Enter")
    expect(page.locator("#run-status")).to_contain_text(status)


def test_badge_shows_not_supported_with_the_span_and_not_found(cache: Path, browser_context: Any) -> None:
    """An answer naming what no observation holds is marked; searches that find nothing end as not found."""
    expect = sync_api.expect
    page = browser_context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    store_url = f"sqlite:///{cache / 'runs-ungrounded.db'}"
    with serving(cache, script=UNGROUNDED_SCRIPT, store_url=store_url, ungrounded="keep") as base:  # kept, unverified
        ask_and_wait(page, base, "Who is the president of Australia?", "ungrounded")
        badge = page.locator("#grounding-badge")
        expect(badge).to_have_text("not supported")
        expect(badge).to_have_attribute("data-verdict", "unsupported")
        expect(page.locator("#answer")).to_have_text("The president of Australia is John Smith.")  # kept
        expect(page.locator("#answer mark.unsupported")).to_have_text("John Smith")
        color = page.locator("#answer mark").evaluate("n => getComputedStyle(n).textDecorationLine")
        assert "underline" in color  # visibly highlighted, not only in the DOM
        row = page.locator("#runs tbody tr").filter(has_text="president of Australia").first
        expect(row.locator(".badge")).to_have_text("not supported")
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "console-ungrounded.png"), full_page=True)
    with serving(cache, script=NOT_FOUND_SCRIPT, store_url=f"sqlite:///{cache / 'runs-not-found.db'}") as base:
        ask_and_wait(page, base, "Who is the president of Wakanda?", "not_found")
        expect(page.locator("#grounding-badge")).to_have_text("not found")
        expect(page.locator("#answer")).to_have_text("I could not find the answer in the search results.")
        expect(page.locator("#steps li")).to_have_count(2)  # stopped after two empty searches
        page.screenshot(path=str(ARTIFACTS / "console-not-found.png"), full_page=True)
    # the shipped default on the local backend (QREACT_UNGROUNDED=auto): the unsupported answer is replaced, with why
    with serving(cache, script=UNGROUNDED_SCRIPT, store_url=f"sqlite:///{cache / 'runs-replaced.db'}") as base:
        ask_and_wait(page, base, "Who is the president of Australia?", "not_found")
        expect(page.locator("#grounding-badge")).to_have_text("not found")
        expect(page.locator("#answer")).to_have_text("I could not find the answer in the search results.")
        expect(page.locator("#grounding-text")).to_contain_text("was not supported (John Smith)")
        expect(page.locator("#steps li").last).to_contain_text("John Smith")  # the model's own text stays
    assert not errors, errors
    page.close()


def test_console_fits_a_phone(server: str, browser_context: Any) -> None:
    page = browser_context.new_page()
    page.set_viewport_size({"width": 390, "height": 844})  # a common phone, CSS pixels
    page.goto(server + "/")
    expect = sync_api.expect
    expect(page.locator("#server .dot")).to_have_attribute("data-state", "ready")
    page.get_by_label("Question").fill(QUESTION)
    page.get_by_role("button", name="Ask").click()
    expect(page.locator("#answer")).to_have_text("Canberra")
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the page scrolls sideways by {overflow} px on a phone"
    ask = page.get_by_role("button", name="Ask")
    box = ask.bounding_box()
    assert box is not None and box["height"] >= 44  # touch target, CSS pixels
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "console-phone.png"), full_page=True)
    page.close()


def test_event_stream_parser_survives_any_chunking(server: str, browser_context: Any) -> None:
    """console.js's SSE reader: CRLF and UTF-8 split across chunks, pings, multi-line data."""
    page = browser_context.new_page()
    page.goto(server + "/")
    text = 'event: step\r\ndata: {"o": "Canberra — 23,696,900"}\r\n\r\n: ping\r\n\r\n'
    text += 'event: final\r\ndata: {"a":\r\ndata: 2}\r\n\r\ndata: tail'
    script = """async ([text, size]) => {
        const bytes = new TextEncoder().encode(text);
        const body = new ReadableStream({ start(c) {
            for (let i = 0; i < bytes.length; i += size) c.enqueue(bytes.slice(i, i + size));
            c.close();
        } });
        const out = [];
        for await (const e of sseEvents(new Response(body))) out.push([e.event, e.data]);
        return out;
    }"""
    expected = [["step", '{"o": "Canberra — 23,696,900"}'], ["final", '{"a":\n2}'], ["message", "tail"]]
    for size in (1, 2, 3, 7, 1000):  # bytes per network chunk
        assert page.evaluate(script, [text, size]) == expected, size
    page.close()


def test_api_key_is_asked_for_stored_and_sent(cache: Path, browser_context: Any) -> None:
    """With QREACT_API_KEYS set, the console asks for a key, keeps it, and sends it as Bearer."""
    from pydantic import SecretStr

    store = f"sqlite:///{cache / 'runs-locked.db'}"
    with serving(cache, store_url=store, api_keys=[SecretStr("e2e-key")]) as base:
        page = browser_context.new_page()
        page.goto(base + "/")
        expect = sync_api.expect
        expect(page.locator("#runs-status")).to_contain_text("Runs unavailable")  # 401 without a key
        expect(page.locator("#access")).to_have_attribute("open", "")
        page.get_by_label("Bearer key").fill("e2e-key")
        page.get_by_role("button", name="Save in this browser").click()
        expect(page.locator("#runs-status")).to_have_text("No runs yet.")
        page.get_by_label("Question").fill(QUESTION)
        page.get_by_label("Question").press("Enter")
        expect(page.locator("#answer")).to_have_text("Canberra")
        page.reload()  # the key survives a reload (localStorage)
        expect(page.locator("#runs tbody tr")).to_have_count(1)
        expect(page.locator("#access")).not_to_have_attribute("open", "")  # no 401 any more
        page.locator("#access summary").click()
        expect(page.get_by_label("Bearer key")).to_have_value("e2e-key")
        page.get_by_role("button", name="Forget").click()
        assert page.evaluate("localStorage.getItem('qreact.apiKey')") is None
        page.close()


@pytest.mark.slow
@pytest.mark.timeout(1800)  # seconds: model conversion on a first start, then a CPU run
def test_real_model_screenshot(browser_context: Any, tmp_path: Path) -> None:
    """The console on the real default model with the shipped adapter (minutes on a CPU).

    Not in `make test` (marker slow). Run it to refresh the README's screenshot with a real trace:
        QREACT_UPDATE_DOCS=1 .venv/bin/python -m pytest tests/e2e -m "e2e and slow" -q
    """
    from agent.backends import default_adapter_dir
    from agent.knowledge import ensure_default_index
    from app.settings import Settings

    if not (default_adapter_dir() / "adapter_config.json").is_file():
        pytest.skip("no shipped adapter in adapters/default/: the base model alone writes no valid steps")
    cache = Settings(_env_file=None).cache_dir  # type: ignore[call-arg]  # reuse the converted model
    ensure_default_index(cache)
    store = f"sqlite:///{tmp_path / 'runs.db'}"
    budget = {"max_steps": 6, "timeout_s": 600.0}  # seconds: a loaded 2-core CPU, not a speed test
    with serving(cache, real_model=True, adapter="default", store_url=store, **budget) as base:
        page = browser_context.new_page()
        wait = 600_000  # a whole run on a busy 2-core CPU (a step took 50 s under load), milliseconds
        page.set_default_timeout(wait)
        page.goto(base + "/")
        expect = sync_api.expect
        expect(page.locator("#server .dot")).to_have_attribute("data-state", "ready", timeout=wait)
        page.get_by_label("Question").fill(QUESTION)
        page.get_by_label("Question").press("Enter")
        expect(page.locator("#steps li").first).to_be_visible(timeout=wait)
        expect(page.locator("#answer-card")).to_be_visible(timeout=wait)
        assert page.locator("#steps li").count() >= 2  # at least one tool step, then the answer
        expect(page.locator("#run-meta")).to_contain_text("adapter default")
        expect(page.locator("#answer")).to_contain_text("Canberra")
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "console-real.png"), full_page=True)
        if os.environ.get("QREACT_UPDATE_DOCS") == "1":
            shutil.copyfile(ARTIFACTS / "console-real.png", ROOT / "docs" / "console.png")
        page.close()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_axe_finds_no_accessibility_violations(server: str, browser_context: Any, scheme: str) -> None:
    """axe-core (WCAG 2.1 A/AA rules, colour contrast included) on the console with everything open."""
    axe_module = pytest.importorskip("axe_playwright_python.sync_playwright", reason="axe-playwright-python")
    page = browser_context.new_page()
    page.emulate_media(color_scheme=scheme)
    page.goto(server + "/")
    expect = sync_api.expect
    expect(page.locator("#server .dot")).to_have_attribute("data-state", "ready")
    page.get_by_label("Question").fill(QUESTION)
    page.get_by_label("Question").press("Enter")
    expect(page.locator("#answer")).to_have_text("Canberra")
    page.get_by_role("button", name="Wrong").click()  # the correction fields
    page.locator("#access summary").click()  # the API key form
    page.locator("#steps details").first.locator("summary").click()  # a step's raw model text
    options = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}
    results = axe_module.Axe().run(page, options=options)
    violations = results.response["violations"]
    assert not violations, results.generate_report()
    page.close()
