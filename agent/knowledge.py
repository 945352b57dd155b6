"""The built-in knowledge pack and the SQLite FTS5 index behind local search.

One short, one-paragraph document per country from the ``countryinfo`` package (MIT, pinned
1.0.1), so a 270M model reads the fact it needs in a short observation::

    Australia: capital Canberra; population 23,696,900; area 7,692,024 km2; region Oceania; ...

The index lives in ``{cache_dir}/knowledge/countries.db`` and is (re)built on first use in
about a second, or when the source version changes. ``index_folder`` indexes a user's folder
of .md/.txt/.jsonl files into the same kind of index (``qreact index PATH``).
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import re
import sqlite3
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

from countryinfo._cache import load_countries

from agent.config import default_cache_dir

logger = logging.getLogger(__name__)

INDEX_FORMAT = "1"  # bump when the document text or the schema changes: cached indexes rebuild
COUNTRYINFO_VERSION = "1.0.1"
CHUNK_CHARS = 800  # user documents are split into paragraphs of at most this many characters
DOC_EXTENSIONS = (".md", ".markdown", ".txt", ".jsonl")

# ISO 639-1 codes used by countryinfo 1.0.1 -> English names (plus its one ISO 639-3 code, cnr)
LANGUAGE_NAMES: dict[str, str] = {
    "af": "Afrikaans", "am": "Amharic", "ar": "Arabic", "ay": "Aymara", "az": "Azerbaijani",
    "be": "Belarusian", "bg": "Bulgarian", "bi": "Bislama", "bn": "Bengali", "bs": "Bosnian",
    "ca": "Catalan", "ch": "Chamorro", "cnr": "Montenegrin", "cs": "Czech", "da": "Danish",
    "de": "German", "dv": "Dhivehi", "dz": "Dzongkha", "el": "Greek", "en": "English",
    "es": "Spanish", "et": "Estonian", "fa": "Persian", "ff": "Fula", "fi": "Finnish",
    "fj": "Fijian", "fo": "Faroese", "fr": "French", "ga": "Irish", "gn": "Guarani",
    "gv": "Manx", "he": "Hebrew", "hi": "Hindi", "hr": "Croatian", "ht": "Haitian Creole",
    "hu": "Hungarian", "hy": "Armenian", "id": "Indonesian", "is": "Icelandic", "it": "Italian",
    "ja": "Japanese", "ka": "Georgian", "kg": "Kongo", "kk": "Kazakh", "kl": "Greenlandic",
    "km": "Khmer", "ko": "Korean", "ku": "Kurdish", "ky": "Kyrgyz", "la": "Latin",
    "lb": "Luxembourgish", "ln": "Lingala", "lo": "Lao", "lt": "Lithuanian", "lu": "Luba-Katanga",
    "lv": "Latvian", "mg": "Malagasy", "mh": "Marshallese", "mi": "Maori", "mk": "Macedonian",
    "mn": "Mongolian", "ms": "Malay", "mt": "Maltese", "my": "Burmese", "na": "Nauruan",
    "nb": "Norwegian Bokmal", "nd": "Northern Ndebele", "ne": "Nepali", "nl": "Dutch",
    "nn": "Norwegian Nynorsk", "no": "Norwegian", "nr": "Southern Ndebele", "ny": "Chichewa",
    "oc": "Occitan", "pa": "Punjabi", "pl": "Polish", "ps": "Pashto", "pt": "Portuguese",
    "qu": "Quechua", "rn": "Kirundi", "ro": "Romanian", "rs": "Serbian", "ru": "Russian",
    "rw": "Kinyarwanda", "sg": "Sango", "si": "Sinhala", "sk": "Slovak", "sl": "Slovene",
    "sm": "Samoan", "sn": "Shona", "so": "Somali", "sq": "Albanian", "sr": "Serbian",
    "ss": "Swati", "st": "Southern Sotho", "sv": "Swedish", "sw": "Swahili", "ta": "Tamil",
    "tg": "Tajik", "th": "Thai", "ti": "Tigrinya", "tk": "Turkmen", "tn": "Tswana",
    "to": "Tongan", "tr": "Turkish", "ts": "Tsonga", "uk": "Ukrainian", "ur": "Urdu",
    "uz": "Uzbek", "ve": "Venda", "vi": "Vietnamese", "xh": "Xhosa", "zh": "Chinese",
    "zu": "Zulu",
}  # fmt: skip
# border codes countryinfo uses without a country file of their own
EXTRA_BORDER_NAMES = {"KOS": "Kosovo", "XKX": "Kosovo"}
# short alternative names that are safe to match (case-sensitive) in a query
SHORT_ALIASES = {"US", "USA", "UK", "UAE", "DRC", "PRC"}


# --- country records ------------------------------------------------------------------------


# dissolved states that countryinfo still ships (Netherlands Antilles 2010, Serbia and Montenegro 2006)
HISTORICAL = {"Antilles néerlandaises", "Serbia and Montenegro"}
_RICH_FIELDS = (
    "capital",
    "population",
    "area",
    "currencies",
    "languages",
    "demonym",
    "callingCodes",
    "borders",
)


def _countryinfo_entries() -> list[dict[str, Any]]:
    """countryinfo's entries, one per ISO code: where two files share a code (Palestine,
    Vatican, Burma/Myanmar) the one with the most fields filled wins, ties to the code's owner."""
    cache = load_countries()
    countries: dict[str, dict[str, Any]] = cache["countries"]
    iso_index: dict[str, str] = cache["iso_index"]
    best: dict[str, tuple[tuple[int, int], dict[str, Any]]] = {}
    for key, data in countries.items():
        iso = data.get("ISO") or {}
        code = str(iso.get("alpha3") or iso.get("alpha2") or "").upper()
        if not code or data["name"] in HISTORICAL:
            continue
        rank = (sum(1 for f in _RICH_FIELDS if data.get(f)), int(iso_index.get(code) == key))
        if code not in best or rank > best[code][0]:
            best[code] = (rank, data)
    return sorted((d for _, d in best.values()), key=lambda d: d["name"])


def _text(value: Any) -> str | None:
    """countryinfo sometimes stores a one-item list where a string belongs (Vatican's capital)."""
    if isinstance(value, list):
        value = value[0] if value else None
    return str(value).strip() or None if value else None


def country_records() -> list[dict[str, Any]]:
    """One dict per country: name, capital, population, area_km2, region, subregion,
    currencies, languages (English names), borders (country names), calling_code, demonym,
    plus iso2/iso3 and aliases. Missing values are None (lists: empty)."""
    entries = _countryinfo_entries()
    by_code: dict[str, str] = dict(EXTRA_BORDER_NAMES)
    for d in entries:
        iso = d.get("ISO") or {}
        for f in ("alpha3", "alpha2"):
            if iso.get(f):
                by_code[str(iso[f]).upper()] = d["name"]
    records = []
    for d in entries:
        iso = d.get("ISO") or {}
        area = d.get("area")
        langs = [LANGUAGE_NAMES.get(str(code).lower(), str(code)) for code in d.get("languages") or []]
        codes = [str(c).strip().lstrip("+") for c in d.get("callingCodes") or [] if str(c).strip()]
        records.append(
            {
                "name": d["name"],
                "capital": _text(d.get("capital")),
                "population": int(d["population"]) if d.get("population") else None,
                "area_km2": (int(area) if float(area).is_integer() else float(area)) if area else None,
                "region": _text(d.get("region")),
                "subregion": _text(d.get("subregion")),
                "currencies": [str(c) for c in d.get("currencies") or []],
                "languages": list(dict.fromkeys(langs)),
                "borders": sorted({by_code.get(str(b).upper(), str(b)) for b in d.get("borders") or []}),
                "calling_code": f"+{codes[0]}" if codes else None,
                "demonym": _text(d.get("demonym")),
                "iso2": iso.get("alpha2") or None,
                "iso3": iso.get("alpha3") or None,
                "aliases": _aliases(d),
            }
        )
    return records


def _aliases(d: dict[str, Any]) -> list[str]:
    names = [str(s) for s in d.get("altSpellings") or []]
    if d.get("nativeName"):
        names.append(str(d["nativeName"]))
    keep = [n for n in names if (len(n) > 3 and n != d["name"]) or n in SHORT_ALIASES]
    return list(dict.fromkeys(keep))


def _fmt_int(x: int | float) -> str:
    return f"{x:,}" if isinstance(x, int) else f"{x:,.2f}".rstrip("0").rstrip(".")


def country_document(rec: dict[str, Any]) -> str:
    """The one-paragraph text of a country (fields that countryinfo lacks are left out)."""
    parts: list[str] = []
    if rec["capital"]:
        parts.append(f"capital {rec['capital']}")
    if rec["population"]:
        parts.append(f"population {_fmt_int(rec['population'])}")
    if rec["area_km2"]:
        parts.append(f"area {_fmt_int(rec['area_km2'])} km2")
    if rec["region"]:
        parts.append(f"region {rec['region']}")
    if rec["subregion"]:
        parts.append(f"subregion {rec['subregion']}")
    if rec["currencies"]:
        parts.append(f"currency {', '.join(rec['currencies'])}")
    if rec["languages"]:
        parts.append(f"languages {', '.join(rec['languages'])}")
    parts.append(f"borders {', '.join(rec['borders']) if rec['borders'] else 'none'}")
    if rec["calling_code"]:
        parts.append(f"calling code {rec['calling_code']}")
    if rec["demonym"]:
        parts.append(f"demonym {rec['demonym']}")
    return f"{rec['name']}: {'; '.join(parts)}."


# --- the index --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Document:
    title: str
    body: str
    aliases: str = ""  # space/semicolon separated alternative names (searched, weighted high)
    source: str = ""  # file the text came from, or "countryinfo"


_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE VIRTUAL TABLE docs USING fts5(
    title, aliases, body, source UNINDEXED, tokenize = 'unicode61 remove_diacritics 2'
);
"""


def write_index(docs: Iterable[Document], index_path: Path | str, meta: dict[str, str]) -> int:
    """Write a fresh index atomically (temp file + rename): readers never see half an index."""
    index_path = Path(index_path)
    index_path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=index_path.name + ".", suffix=".tmp", dir=index_path.parent)
    os.close(fd)
    count = 0
    try:
        con = sqlite3.connect(tmp)
        try:
            con.executescript(_SCHEMA)
            with con:
                for doc in docs:
                    con.execute(
                        "INSERT INTO docs (title, aliases, body, source) VALUES (?, ?, ?, ?)",
                        (doc.title, doc.aliases, doc.body, doc.source),
                    )
                    count += 1
                con.executemany(
                    "INSERT INTO meta (key, value) VALUES (?, ?)",
                    sorted({**meta, "count": str(count)}.items()),
                )
                con.execute("INSERT INTO docs(docs) VALUES ('optimize')")
        finally:
            con.close()
        os.replace(tmp, index_path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return count


def read_meta(index_path: Path | str) -> dict[str, str]:
    """The index's meta table ({} when the file is missing or not an index)."""
    path = Path(index_path)
    if not path.is_file():
        return {}
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            return dict(con.execute("SELECT key, value FROM meta").fetchall())
        finally:
            con.close()
    except sqlite3.Error:
        return {}


def _country_meta() -> dict[str, str]:
    try:
        source_version = version("countryinfo")
    except Exception:  # noqa: BLE001 - metadata missing in odd installs; the pinned version stands in
        source_version = COUNTRYINFO_VERSION
    return {"source": "countryinfo", "source_version": source_version, "format": INDEX_FORMAT}


def country_documents() -> Iterator[Document]:
    for rec in country_records():
        yield Document(
            title=rec["name"],
            body=country_document(rec),
            aliases="; ".join(rec["aliases"]),
            source="countryinfo",
        )


def default_index_path(cache_dir: Path | str | None = None) -> Path:
    """``{cache_dir}/knowledge/countries.db`` (cache_dir defaults to ``~/.cache/qreact``)."""
    if cache_dir is None:
        cache_dir = default_cache_dir()
    return Path(cache_dir).expanduser() / "knowledge" / "countries.db"


def build_country_index(index_path: Path | str) -> int:
    """Build the country knowledge pack into ``index_path``; returns the number of documents."""
    return write_index(country_documents(), index_path, _country_meta())


def ensure_default_index(cache_dir: Path | str | None = None) -> Path:
    """The country index path, built if missing or made from another source/format version."""
    path = default_index_path(cache_dir)
    meta = read_meta(path)
    want = _country_meta()
    if any(meta.get(k) != v for k, v in want.items()):
        n = build_country_index(path)
        logger.info("built knowledge index %s (%d countries)", path, n)
    return path


# --- a user's folder --------------------------------------------------------------------------


def _chunks(text: str, limit: int = CHUNK_CHARS) -> list[str]:
    """Paragraphs merged up to ``limit`` characters; a longer paragraph is cut at spaces."""
    paras = [" ".join(p.split()) for p in re.split(r"\n\s*\n", text)]
    out: list[str] = []
    cur = ""
    for p in filter(None, paras):
        while len(p) > limit:
            cut = p.rfind(" ", 0, limit)
            cut = cut if cut > limit // 2 else limit
            if cur:
                out.append(cur)
                cur = ""
            out.append(p[:cut].strip())
            p = p[cut:].strip()
        if cur and len(cur) + 1 + len(p) > limit:
            out.append(cur)
            cur = ""
        cur = f"{cur} {p}".strip() if cur else p
    if cur:
        out.append(cur)
    return out


def _text_documents(path: Path, root: Path) -> Iterator[Document]:
    text = path.read_text(encoding="utf-8", errors="replace")
    heading = re.search(r"^\s*#\s+(.+)$", text, flags=re.M)
    title = heading.group(1).strip() if heading else path.stem.replace("_", " ").replace("-", " ")
    rel = str(path.relative_to(root)) if path != root else path.name
    for chunk in _chunks(text):
        yield Document(title=title, body=chunk, source=rel)


def _jsonl_documents(path: Path, root: Path) -> Iterator[Document]:
    rel = str(path.relative_to(root)) if path != root else path.name
    with path.open(encoding="utf-8", errors="replace") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError:
                logger.warning("%s:%d: not JSON, skipped", rel, lineno)
                continue
            if not isinstance(obj, dict) or not isinstance(obj.get("text"), str) or not obj["text"].strip():
                logger.warning("%s:%d: no 'text' field, skipped", rel, lineno)
                continue
            title = str(obj.get("title") or path.stem)
            for chunk in _chunks(obj["text"]):
                yield Document(title=title, body=chunk, source=f"{rel}:{lineno}")


def folder_documents(src: Path | str) -> Iterator[Document]:
    """Documents from a file or a folder (recursive) of .md/.txt/.jsonl files, in path order."""
    root = Path(src).expanduser()
    if not root.exists():
        raise FileNotFoundError(f"no such file or folder: {root}")
    files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
    for path in files:
        hidden = any(part.startswith(".") for part in (path.relative_to(root).parts if path != root else ()))
        if path.suffix.lower() not in DOC_EXTENSIONS or hidden:  # skips .git/, .venv/, dotfiles
            continue
        if path.suffix.lower() == ".jsonl":
            yield from _jsonl_documents(path, root)
        else:
            yield from _text_documents(path, root)


def index_folder(src: Path | str, index_path: Path | str, include_countries: bool = False) -> int:
    """Index a folder of .md/.txt/.jsonl (jsonl: ``text``, optional ``title``) into a new FTS5
    index at ``index_path`` (replacing it); returns the number of documents (chunks).

    ``include_countries`` adds the built-in country pack, so one index answers both.
    """
    root = Path(src).expanduser().resolve()
    docs: Iterable[Document] = folder_documents(root)
    if include_countries:
        docs = itertools.chain(docs, country_documents())
    meta = {"source": f"folder:{root}", "format": INDEX_FORMAT, "countries": str(include_countries).lower()}
    return write_index(docs, index_path, meta)
