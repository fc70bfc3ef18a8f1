"""Typed everyday Indonesian to an action: "brp iurannya" reaches the calculator, "beasiswa anak" the scholarship.

Deliberately simple and inspectable: the vocabulary is data in content/intents.toml and content/faq.toml, so
a field officer's report of a missed phrase becomes a one-line content change, not a model to retrain.
"""

from __future__ import annotations

import re
import unicodedata

from bot.content import Content

_WORD = re.compile(r"[a-z0-9]+")


def normalise(text: str) -> str:
    """Lower-case, accents and emoji gone, punctuation to spaces, single spaces."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    ascii_only = decomposed.encode("ascii", "ignore").decode("ascii")
    return " ".join(_WORD.findall(ascii_only))


class Understanding:
    def __init__(self, content: Content):
        self._slang = content.slang
        self._suffixes = content.suffixes
        patterns: list[tuple[tuple[str, ...], str]] = []
        for action, phrases in content.intents.items():
            patterns += [(self._words(phrase), action) for phrase in phrases]
        for entry in content.faq:
            patterns += [(self._words(phrase), f"faq:{entry.id}") for phrase in entry.keywords]
        # Longest pattern first, so "bpjs kesehatan" (an FAQ) beats "bpjs ketenagakerjaan" words alone.
        self._patterns = sorted(
            ((words, action) for words, action in patterns if words), key=lambda p: -sum(map(len, p[0]))
        )

    def _words(self, text: str) -> tuple[str, ...]:
        words: list[str] = []
        for word in normalise(text).split():
            for part in self._slang.get(word, word).split():
                words.append(self._stem(part))
        return tuple(words)

    def _stem(self, word: str) -> str:
        for suffix in self._suffixes:
            if word.endswith(suffix) and len(word) - len(suffix) >= 3:
                return word[: -len(suffix)]
        return word

    @staticmethod
    def _has(word: str, words: tuple[str, ...]) -> bool:
        if len(word) >= 4:
            return any(word in candidate for candidate in words)
        return word in words

    def match(self, text: str) -> str | None:
        """The action the text asks for, or None when it is not understood."""
        words = self._words(text)
        if not words:
            return None
        for pattern, action in self._patterns:
            if all(self._has(word, words) for word in pattern):
                return action
        return None
