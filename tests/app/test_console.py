"""The web console: the page and its files are served, safe, public, and wired to real routes.

The console's behaviour in a browser is tested in tests/e2e/test_console_chromium.py.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

from fastapi.testclient import TestClient
from pydantic import SecretStr

from app.routes.console import STATIC_DIR
from app.settings import Settings
from tests.app.conftest import running_app
from tests.model import CALC_SCRIPT, ScriptedChatModel

JS = (STATIC_DIR / "console.js").read_text()


class PageParser(HTMLParser):
    """Collects ids, label targets, scripts, links and landmark tags of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.label_for: set[str] = set()
        self.controls: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[dict[str, str | None]] = []
        self.urls: list[str] = []
        self.tags: set[str] = set()
        self.live: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.tags.add(tag)
        if a.get("id"):
            self.ids.add(str(a["id"]))
        if tag == "label" and a.get("for"):
            self.label_for.add(str(a["for"]))
        if tag in {"input", "textarea", "select"}:
            self.controls.append((tag, a))
        if tag == "script":
            self.scripts.append(a)
        for key in ("src", "href"):
            if a.get(key):
                self.urls.append(str(a[key]))
        if a.get("aria-live"):
            self.live.append(a)


def parse(html: str) -> PageParser:
    parser = PageParser()
    parser.feed(html)
    return parser


def test_page_is_served_with_a_strict_policy(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    page = parse(response.text)
    assert all(script.get("src") for script in page.scripts), "inline scripts would break the CSP"
    # model and web text only ever enters the page as textContent
    unsafe = r"\.(inner|outer)HTML\b|insertAdjacentHTML|document\.write|\beval\(|new Function"
    assert not re.search(unsafe, JS)


def test_page_only_loads_its_own_files(client: TestClient) -> None:
    page = parse(client.get("/").text)
    local = [u for u in page.urls if u.startswith("/static/")]
    assert {"/static/console.js", "/static/console.css"} <= set(local)
    for url in local:
        response = client.get(url)
        assert response.status_code == 200, url
        assert response.headers["x-content-type-options"] == "nosniff"
    assert client.get("/static/console.js").headers["content-type"].startswith("text/javascript")
    assert client.get("/static/console.css").headers["content-type"].startswith("text/css")
    assert not [u for u in page.urls if re.match(r"^(https?:)?//", u)], "no third-party resources"


def test_static_serves_nothing_outside_its_folder(client: TestClient) -> None:
    for path in (
        "/static/missing.js",
        "/static/../routes/console.py",
        "/static/..%2Froutes%2Fconsole.py",
        "/static/%2e%2e/settings.py",
        "/static/",
    ):
        assert client.get(path).status_code == 404, path


def test_page_is_accessible_by_construction(client: TestClient) -> None:
    page = parse(client.get("/").text)
    assert {"header", "main", "footer"} <= page.tags
    assert 'lang="en"' in client.get("/").text and 'name="viewport"' in client.get("/").text
    for tag, attrs in page.controls:  # every control has a visible label
        assert attrs.get("id") in page.label_for, f"{tag}#{attrs.get('id')} has no <label for>"
    steps = [a for a in page.live if a.get("id") == "steps"]
    assert steps and steps[0]["aria-live"] == "polite", "streamed steps are announced"


def test_script_uses_only_elements_and_routes_that_exist(client: TestClient) -> None:
    page = parse(client.get("/").text)
    used_ids = set(re.findall(r'\$\("([\w-]+)"\)', JS))
    assert used_ids and not used_ids - page.ids, sorted(used_ids - page.ids)
    paths = set(client.get("/openapi.json").json()["paths"])
    assert {"/ask/stream", "/runs", "/runs/{run_id}", "/runs/{run_id}/feedback", "/readyz"} <= paths
    for route in ("/ask/stream", "/readyz", "/runs?limit=", "/runs/${encodeURIComponent", "/feedback`"):
        assert route in JS


def test_console_stays_public_when_api_keys_are_set(settings: Settings, tmp_path: Path) -> None:
    locked = settings.model_copy(update={"api_keys": [SecretStr("k1")]})
    with running_app(locked, ScriptedChatModel(script=CALC_SCRIPT)) as client:
        assert client.get("/").status_code == 200
        assert client.get("/static/console.js").status_code == 200
        assert client.get("/runs").status_code == 401  # the data behind it is not
        assert client.get("/runs", headers={"Authorization": "Bearer k1"}).status_code == 200
