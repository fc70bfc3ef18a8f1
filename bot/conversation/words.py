"""From raw typed text to the words the understanding reads: normalised, spelled out, stemmed, near misses mapped.

Reading a message's words (see the header of content/understanding.toml): normalise, spell out everyday and
regional forms (our words, then indoNLP's slang list), stem (PySastrawi), and map near misses of vocabulary
words onto them (rapidfuzz). bot/conversation/understanding.py reads what the words mean.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable, Mapping

from indoNLP.preprocessing.slang_data import SLANG_DATA
from rapidfuzz import process
from rapidfuzz.distance import Levenshtein
from Sastrawi.Dictionary.ArrayDictionary import ArrayDictionary
from Sastrawi.Stemmer.Stemmer import Stemmer
from Sastrawi.Stemmer.StemmerFactory import StemmerFactory

_WORD = re.compile(r"[a-z]+|[0-9]+")
_REPEATS = re.compile(r"([a-z])\1{2,}")
_ONE_LETTER_REPEATED = re.compile(r"\b([a-z])\1{2,}\b")  # "zzz", "qqq": no word, not "z" or "q"
# Emoji that people send instead of a word: a thumbs-up at a yes/no step is a yes.
_EMOJI_WORDS = {
    "👍": " ya ",
    "👌": " oke ",
    "✅": " ya ",
    "🙆": " ya ",
    "❌": " tidak ",
    "🙅": " tidak ",
    "👎": " tidak ",
}

# Words that make a message a question where they open or close it, and too common to look for inside
# words run together.
QUESTION_WORDS = frozenset(
    {"apa", "berapa", "bagaimana", "kapan", "dimana", "mana", "siapa", "kenapa", "mengapa", "apakah", "bisa", "boleh"}
)


def normalise(text: str) -> str:
    """Lower-case, emoji and punctuation gone, letters repeated three times squeezed, digits apart."""
    for emoji, word in _EMOJI_WORDS.items():
        text = text.replace(emoji, word)
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    ascii_only = _ONE_LETTER_REPEATED.sub(" ", decomposed.encode("ascii", "ignore").decode("ascii"))
    return " ".join(_WORD.findall(_REPEATS.sub(r"\1", ascii_only)))


class Words:
    """Typed text as the vocabulary's words, for one vocabulary: `ours` are its spelled-out forms ([words] in
    content/understanding.toml), and the words it knows, once told (`know`), catch their near misses."""

    def __init__(self, ours: Mapping[str, str]):
        self.ours = ours
        self._stemmer = _stemmer()
        self._roots = self._stemmer.dictionary
        # No near misses until `know` is told the vocabulary's words: the vocabulary itself is read without.
        self.known: list[str] = []
        self._known_set: set[str] = set()

    def know(self, words: Iterable[str]) -> None:
        """The vocabulary's words, onto which near misses are mapped from now on."""
        self._known_set = set(words)
        self.known = sorted(self._known_set)

    def words(self, text: str) -> tuple[str, ...]:
        """The message as the vocabulary's words: spelled out, stemmed, near misses mapped."""
        return tuple(w for token in normalise(text).split() for w in self._spelled(token))

    @functools.lru_cache(maxsize=20000)  # noqa: B019 - one instance per process, words repeat across messages
    def _spelled(self, token: str) -> tuple[str, ...]:
        # Ours, then indoNLP's, then ours again: "tq" -> "makasih" -> "terima kasih"; "gk" -> "enggak" -> "tidak".
        spelled = self.ours.get(token, token).split()
        spelled = [w for part in spelled for w in SLANG_DATA.get(part, part).split()]
        spelled = [w for part in spelled for w in self.ours.get(part, part).split()]
        return tuple(self._known_form(self._stem(part)) for part in spelled)

    @functools.lru_cache(maxsize=20000)  # noqa: B019
    def _stem(self, word: str) -> str:
        if word.isdigit() or len(word) <= 3:
            return word
        return self._stemmer.stem(word) or word

    def is_word(self, word: str) -> bool:
        """A word of our vocabulary or of Indonesian, or long enough to be several run together."""
        return word in self._known_set or self._roots.contains(word) or len(word) >= 10 or word.isdigit()

    def _known_form(self, word: str) -> str:
        """A near miss of a vocabulary word ("kecelkaan") as that word, unless it is a real word itself."""
        if word in self._known_set or len(word) < 5 or word.isdigit():
            return word
        if self._roots.contains(word):
            return word
        limit = 1 if len(word) < 8 else 2
        found = process.extractOne(word, self.known, scorer=Levenshtein.distance, score_cutoff=limit)
        return self.ours.get(found[0], found[0]) if found else word

    def spelled_out(self, word: str) -> str:
        """One word through our words or else indoNLP's, neither stemmed nor fuzzed ("sy" -> "saya")."""
        return self.ours.get(word, SLANG_DATA.get(word, word))

    def spelled_word(self, token: str) -> str:
        """One token as typed (any case, trailing punctuation), spelled out."""
        return self.spelled_out(token.casefold().strip(".,:;!-"))


@functools.lru_cache(maxsize=1)
def _stemmer():  # noqa: ANN202 - Sastrawi has no types
    """Building the stemmer reads its root-word dictionary (about 30,000 words): once per process.

    The stemmer itself, without the cache the factory wraps it in: that cache keeps every word ever stemmed,
    without a bound (every name typed, for as long as the process runs); `_stem`'s LRU cache bounds ours."""
    return Stemmer(ArrayDictionary(StemmerFactory().get_words()))
