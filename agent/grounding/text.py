"""Text normalising shared by the number, name and record readers of the check."""

from __future__ import annotations

import re
import unicodedata

# agent.tools.search writes these; repeated here (not imported) so the check stays import-light
NO_RESULTS = "No good search result found."
LOCAL_PREFIX = "[local knowledge base] "


def strip_prefix(text: str) -> str:
    return text[len(LOCAL_PREFIX) :] if text.startswith(LOCAL_PREFIX) else text


def normalize(text: str) -> str:
    """Lower case, accents and punctuation removed, possessive 's dropped, whitespace collapsed."""
    decomposed = unicodedata.normalize("NFKD", text.replace("’", "'"))
    # accents go; Hangul syllables (decomposed into jamo by NFKD) are composed back
    plain = unicodedata.normalize("NFC", "".join(c for c in decomposed if not unicodedata.combining(c))).lower()
    plain = re.sub(r"'s\b", "", plain)
    return " ".join(re.sub(r"[^\w\s]|_", " ", plain).split())


def contains(haystack: str, needle: str) -> bool:
    """Whole-word containment of normalised texts."""
    return bool(needle) and f" {needle} " in f" {haystack} "


def word_forms(word: str) -> set[str]:
    """A word and its singular/plural neighbours (Australians ~ Australian)."""
    forms = {word}
    if word.endswith("es") and len(word) > 4:
        forms.add(word[:-2])
    if word.endswith("s") and len(word) > 3:
        forms.add(word[:-1])
    forms.add(word + "s")
    return forms


def same_stem(a: str, b: str) -> bool:
    """One word in two forms: a singular/plural neighbour (``word_forms``) or a shared stem of five letters
    (employees ~ employs, manager ~ managed). The search tool's passages and the check's document step read words
    the same way."""
    if b in word_forms(a) or a in word_forms(b):
        return True
    return len(a) >= 5 and len(b) >= 5 and a[:5] == b[:5]
