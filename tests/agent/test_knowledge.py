"""The country knowledge pack and the FTS5 index builders."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from agent.knowledge import (
    INDEX_FORMAT,
    country_document,
    country_records,
    default_index_path,
    ensure_default_index,
    index_folder,
    read_meta,
)
from agent.tools.search import LocalIndex


@pytest.fixture(scope="module")
def records() -> dict[str, dict]:
    return {r["name"]: r for r in country_records()}


def test_one_record_per_country(records: dict[str, dict]) -> None:
    assert 240 <= len(records) <= 260
    iso3 = [r["iso3"] for r in records.values() if r["iso3"]]
    assert len(iso3) == len(set(iso3))  # duplicates (Burma/Myanmar, Palestine twice) merged
    assert "Myanmar" in records and "Burma" not in records
    assert "Serbia and Montenegro" not in records  # dissolved in 2006
    keys = {
        "name", "capital", "population", "area_km2", "region", "subregion", "currencies",
        "languages", "borders", "calling_code", "demonym",
    }  # fmt: skip
    assert all(keys <= set(r) for r in records.values())


def test_australia_and_japan(records: dict[str, dict]) -> None:
    au = records["Australia"]
    assert au["capital"] == "Canberra"
    assert au["currencies"] == ["AUD"]
    assert au["languages"] == ["English"]
    assert au["borders"] == []
    assert au["calling_code"] == "+61"
    jp = records["Japan"]
    assert jp["population"] == 127_080_000
    assert jp["area_km2"] == 377_930
    assert jp["demonym"] == "Japanese"
    doc = country_document(jp)
    assert doc.startswith("Japan: capital Tokyo; population 127,080,000; area 377,930 km2; region Asia;")
    assert "\n" not in doc and len(doc) < 400


def test_borders_are_names(records: dict[str, dict]) -> None:
    assert records["France"]["borders"] == [
        "Andorra", "Belgium", "Germany", "Italy", "Luxembourg", "Monaco", "Spain", "Switzerland",
    ]  # fmt: skip
    assert "Kosovo" in records["Serbia"]["borders"]  # a code without a country file, named anyway
    assert "Italy" in records["Vatican City State"]["borders"]  # an alpha-2 border code
    for rec in records.values():
        for border in rec["borders"]:
            assert not (border.isupper() and len(border) <= 3), (rec["name"], border)


def test_document_text_leaves_out_missing_fields(records: dict[str, dict]) -> None:
    doc = country_document(records["Antarctica"])
    assert "population" not in doc and "None" not in doc
    assert country_document(records["Australia"]) == (
        "Australia: capital Canberra; population 23,696,900; area 7,692,024 km2; region Oceania; "
        "subregion Australia and New Zealand; currency AUD; languages English; borders none; "
        "calling code +61; demonym Australian."
    )


def test_default_index_is_built_once_and_rebuilt_on_version_change(tmp_path: Path) -> None:
    path = ensure_default_index(tmp_path)
    assert path == default_index_path(tmp_path) == tmp_path / "knowledge" / "countries.db"
    meta = read_meta(path)
    assert meta["source"] == "countryinfo" and meta["format"] == INDEX_FORMAT
    assert int(meta["count"]) == len(country_records())
    mtime = path.stat().st_mtime_ns
    assert ensure_default_index(tmp_path) == path and path.stat().st_mtime_ns == mtime  # reused
    con = sqlite3.connect(path)
    con.execute("UPDATE meta SET value = '0.9' WHERE key = 'source_version'")
    con.commit()
    con.close()
    ensure_default_index(tmp_path)
    assert read_meta(path)["source_version"] != "0.9"  # rebuilt
    assert not list(path.parent.glob("*.tmp"))


def test_a_corrupt_index_file_is_rebuilt(tmp_path: Path) -> None:
    path = default_index_path(tmp_path)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not a database")
    ensure_default_index(tmp_path)
    assert LocalIndex(path).search("capital of Australia", 1)[0].title == "Australia"


def test_index_folder(tmp_path: Path) -> None:
    src = tmp_path / "notes"
    (src / "sub").mkdir(parents=True)
    (src / "llamas.md").write_text("# Llama care\n\nLlamas eat hay and grass.\n\nThey hum when anxious.\n")
    (src / "sub" / "tides.txt").write_text("Tides are caused by the moon's gravity.")
    (src / "facts.jsonl").write_text(
        json.dumps({"title": "Mount Kosciuszko", "text": "The highest mountain in Australia is 2,228 m."})
        + "\nnot json\n"
        + json.dumps({"no_text": 1})
        + "\n"
        + json.dumps({"text": "Canberra was founded in 1913."})
        + "\n"
    )
    (src / "image.png").write_bytes(b"\x89PNG")
    (src / ".hidden.md").write_text("secret")
    (src / ".git").mkdir()
    (src / ".git" / "notes.txt").write_text("secret")
    index = tmp_path / "my.db"
    assert index_folder(src, index) == 4
    assert read_meta(index)["source"] == f"folder:{src.resolve()}"
    local = LocalIndex(index)
    hit = local.search("what do llamas eat?", 1)[0]
    assert hit.title == "Llama care" and "hay" in hit.body and hit.source == "llamas.md"
    assert local.search("moon gravity", 1)[0].source == str(Path("sub") / "tides.txt")
    assert local.search("highest mountain", 1)[0].title == "Mount Kosciuszko"
    assert local.search("founded 1913", 1)[0].title == "facts"  # no title: the file name
    assert local.search("secret", 3) == []
    assert index_folder(src / "llamas.md", index) == 1  # a single file works too; the index is replaced


def test_long_files_are_split_into_chunks(tmp_path: Path) -> None:
    para = " ".join(f"word{i}" for i in range(150))
    (tmp_path / "long.txt").write_text("\n\n".join([para] * 6) + "\n\nneedle at the end")
    n = index_folder(tmp_path / "long.txt", tmp_path / "i.db")
    assert n > 6
    hit = LocalIndex(tmp_path / "i.db").search("needle", 1)[0]
    assert "needle" in hit.body and len(hit.body) <= 800


def test_missing_folder_raises(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        index_folder(tmp_path / "nope", tmp_path / "i.db")
    assert not (tmp_path / "i.db").exists()
