"""The README documents every setting, and the two commands it promises exist in the Makefile."""

from __future__ import annotations

import re
from pathlib import Path

from app.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


def test_readme_lists_every_setting_with_its_default() -> None:
    readme = (ROOT / "README.md").read_text()
    for name, field in Settings.model_fields.items():
        var = f"QREACT_{name.upper()}"
        row = re.search(rf"^\| `{var}` \| `([^`]*)` \|", readme, re.M)
        assert row, f"{var} is missing from the README settings table"
        default = field.default if field.default_factory is None else None
        if isinstance(default, bool | int | float | str):
            assert row.group(1) == str(default), f"{var}: README says {row.group(1)!r}, code {default!r}"


def test_the_two_commands_are_make_targets() -> None:
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^run: ", makefile, re.M) and re.search(r"^test: ", makefile, re.M)
    assert "make test" in (ROOT / ".ci" / "run").read_text()
