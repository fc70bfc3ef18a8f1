"""What a person typed, made safe to keep: cleaned once, where it enters the dispatcher, before any step sees it.

Removed: control characters (a line break stays: broadcasts and notes have lines), NUL, lone surrogates
(PostgreSQL refuses both, and a save that always fails loses the lead), bidirectional overrides and isolates
(they make a name or an export read backwards), zero-width and other invisible format characters, except the
zero-width joiners between two letters or symbols of a script that needs them (Arabic, Indic scripts, emoji
sequences). Then NFC, so a name typed on two phones is stored the same, and at most a few combining marks on one
letter (Vietnamese needs two; a "zalgo" name brings dozens).
"""

from __future__ import annotations

import unicodedata

MAX_MARKS = 3  # combining marks kept on one base character
_JOINERS = frozenset("\u200c\u200d")  # ZWNJ, ZWJ
_KEPT_CONTROLS = frozenset("\n")
_SPACES = {"\t": " ", "\r": "\n", "\u2028": "\n", "\u2029": "\n", "\x85": "\n"}


def clean_text(text: str) -> str:
    if text.isascii() and text.replace("\n", "").isprintable():
        return text  # most messages: nothing to remove, and ASCII is NFC already
    text = text.replace("\r\n", "\n")
    kept: list[str] = []
    marks = 0
    for index, char in enumerate(text):
        char = _SPACES.get(char, char)
        category = unicodedata.category(char)
        if category in ("Cc", "Cs") and char not in _KEPT_CONTROLS:
            continue
        if category == "Cf" and not (char in _JOINERS and _joins(text, index)):
            continue
        if category in ("Mn", "Me"):
            marks += 1
            if marks > MAX_MARKS:
                continue
        else:
            marks = 0
        kept.append(char)
    return unicodedata.normalize("NFC", "".join(kept))


def _joins(text: str, index: int) -> bool:
    """A joiner between two characters of a script that uses it (neither ASCII, neither a space)."""
    before = text[index - 1] if index > 0 else " "
    after = text[index + 1] if index + 1 < len(text) else " "
    return all(not c.isascii() and not c.isspace() and c not in _JOINERS for c in (before, after))
