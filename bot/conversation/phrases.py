"""The vocabulary's phrases found in a message: each label scored by the weight of its phrases' words.

A word shared by many labels weighs less, so "iuran jht" is about JHT, not about the cost in general.
bot/conversation/understanding.py adds the classifier's probability to these scores.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

from bot.content import Vocabulary
from bot.conversation.words import QUESTION_WORDS, Words


class Phrases:
    """One vocabulary's phrases ([labels.*] keywords in content/understanding.toml), read as messages are."""

    def __init__(self, vocabulary: Vocabulary, reader: Words):
        self._reader = reader
        self._weak = vocabulary.weak
        ignored = frozenset(vocabulary.ignored)
        self._index = _Index()
        for label, phrases in vocabulary.keywords.items():
            for phrase in phrases:
                self._index.add(tuple(w for w in reader.words(phrase) if w not in ignored), label)
        self.words = {w for group in self._index.by_word.values() for ws, _ in group for w in ws}
        # A word shared by the phrases of many labels ("bayar", "bpjs") says little about which one is meant:
        # each word weighs 1 / the square root of the number of labels whose phrases use it.
        labels_of: dict[str, set[str]] = {}
        for group in self._index.by_word.values():
            for ws, label in group:
                for w in ws:
                    labels_of.setdefault(w, set()).add(label)
        self._weight = {w: 1.0 / math.sqrt(len(labels)) for w, labels in labels_of.items()}
        singles: dict[str, set[str]] = {}
        for group in self._index.by_word.values():
            for ws, label in group:
                if len(ws) == 1:
                    singles.setdefault(label, set()).add(ws[0])
        self._single_words = {label: frozenset(ws) for label, ws in singles.items()}
        self._glued_words = [
            (raw, spelled) for raw, spelled in reader.ours.items() if len(raw) >= 3 and spelled in self.words
        ]

    def single_words(self, label: str) -> frozenset[str]:
        """The label's one-word phrases ("berhenti" for STOP)."""
        return self._single_words.get(label, frozenset())

    def scores(self, words: tuple[str, ...]) -> dict[str, tuple[float, str]]:
        """Each label whose phrases occur in `words`: the weight of the words they cover, and the longest
        phrase found (the evidence); a weak label only when no other is found."""
        positions: dict[str, list[int]] = {}
        for i, w in enumerate(words):
            positions.setdefault(w, []).append(i)
        joined = "".join(words)
        if len(words) <= 2 and len(joined) >= 12:
            # Words run together ("kalauikutjht..."): look for the vocabulary's words inside, in their order.
            for w in self._reader.known:
                if len(w) >= 3 and w not in QUESTION_WORDS and (at := joined.find(w)) >= 0:
                    positions.setdefault(w, []).append(at // 8)
            for raw, spelled in self._glued_words:  # "blt" inside "bltbulanini" is "bansos"
                if (at := joined.find(raw)) >= 0:
                    positions.setdefault(spelled, []).append(at // 8)
        covered: dict[str, set[str]] = {}
        evidence: dict[str, tuple[str, ...]] = {}
        for phrase, label in self._index.matches(positions):
            covered.setdefault(label, set()).update(phrase)
            if len(phrase) > len(evidence.get(label, ())):
                evidence[label] = phrase
        scores = {label: (sum(self._weight[w] for w in ws), " ".join(evidence[label])) for label, ws in covered.items()}
        if any(label not in self._weak for label in scores):
            scores = {label: score for label, score in scores.items() if label not in self._weak}
        return scores


@dataclass
class _Index:
    """Phrases by each of their words, so a message only tests the phrases it shares a word with."""

    by_word: dict[str, list[tuple[tuple[str, ...], str]]] = field(default_factory=dict)

    def add(self, words: tuple[str, ...], label: str) -> None:
        if words:
            self.by_word.setdefault(words[0], []).append((words, label))

    def matches(self, positions: dict[str, list[int]]) -> Iterable[tuple[tuple[str, ...], str]]:
        """Phrases whose words all occur close together (in any order: "bayar berapa", "berapa bayar"), so
        that "tidak" at the start and "kerja" at the end of a long message do not make "tidak bisa kerja"."""
        for word in positions:
            for words, label in self.by_word.get(word, ()):
                if len(words) == 1 or (all(w in positions for w in words[1:]) and _close(words, positions)):
                    yield words, label


def _close(words: tuple[str, ...], positions: dict[str, list[int]]) -> bool:
    """Every word of the phrase within a few words of one occurrence of its first word."""
    window = len(words) + 2
    return any(all(any(abs(q - p) < window for q in positions[w]) for w in words[1:]) for p in positions[words[0]])
