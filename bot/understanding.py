"""What a typed message means: a topic asked about, a command in plain words, or the answer to a step.

One module that the dispatcher (questions in any state) and the steps (typed answers to a step's buttons) share.
Its vocabulary is data in content/understanding.toml and content/regions.toml, so a missed phrase that an
officer reports becomes a content change, checked with `bpu-bot understand "teks"`.

Reading a message (see the header of content/understanding.toml): normalise, spell out everyday and regional
forms (our words, then indoNLP's slang list), stem (PySastrawi), and map near misses of vocabulary words onto
them (rapidfuzz). Then:
1. at a step, its own options come first (a number, a button label, yes/no words, a description or a place
   that names an option), unless the message plainly asks something else (a cancel, STOP in two words or
   more, a question about a topic);
2. otherwise each label scores the weight of its phrases found in the message (a word shared by many labels
   weighs less, so "iuran jht" is about JHT, not about the cost in general) plus twice the probability that
   a character n-gram classifier (scikit-learn), trained at start-up from the vocabulary's phrases and
   content/examples.tsv, gives it; the classifier alone decides for a message no phrase matches.
When unsure, the caller asks back with the two likeliest labels.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import math
import re
import tempfile
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import numpy as np
from indoNLP.preprocessing.slang_data import SLANG_DATA
from rapidfuzz import fuzz, process
from rapidfuzz.distance import Levenshtein
from Sastrawi.Dictionary.ArrayDictionary import ArrayDictionary
from Sastrawi.Stemmer.Stemmer import Stemmer
from Sastrawi.Stemmer.StemmerFactory import StemmerFactory

from bot.content import Content

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
_QUESTION_WORDS = frozenset(
    {"apa", "berapa", "bagaimana", "kapan", "dimana", "mana", "siapa", "kenapa", "mengapa", "apakah", "bisa", "boleh"}
)

# How sure a reading must be. A phrase of the vocabulary counts as sure; the classifier alone must reach
# SURE, and between UNSURE and SURE the caller asks back with the two likeliest labels.
SURE = 0.55
UNSURE = 0.25
CLASSIFIER_WEIGHT = 2.0  # how much the classifier's probability counts against the phrases' weight
PHRASE_SURE = 0.4  # the weight of the phrases found: one word no other label uses weighs 1
COMMANDS = frozenset({"stop", "erase", "show_my_data"})


def normalise(text: str) -> str:
    """Lower-case, emoji and punctuation gone, letters repeated three times squeezed, digits apart."""
    for emoji, word in _EMOJI_WORDS.items():
        text = text.replace(emoji, word)
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    ascii_only = _ONE_LETTER_REPEATED.sub(" ", decomposed.encode("ascii", "ignore").decode("ascii"))
    return " ".join(_WORD.findall(_REPEATS.sub(r"\1", ascii_only)))


@dataclass(frozen=True)
class Guess:
    label: str
    score: float
    # "label" (typed as on the button), "label_in" (inside a short message), "number", "option" (yes/no words,
    # a description naming an option), "phrase", "classifier"
    how: str
    evidence: str = ""  # the phrase or option word that matched

    def __str__(self) -> str:
        """As `bpu-bot understand` prints it: "topic:cost (phrase, score 1.45, matched 'berapa bulan')"."""
        matched = f", matched {self.evidence!r}" if self.evidence else ""
        return f"{self.label} ({self.how}, score {self.score:.2f}{matched})"


@dataclass(frozen=True)
class Reading:
    """What the bot made of one message: the best guess, the runner-up, and other topics in a long message."""

    text: str
    words: tuple[str, ...]
    best: Guess | None
    runner_up: Guess | None = None
    also: tuple[str, ...] = ()
    is_question: bool = False
    said: tuple[str, ...] = ()  # the words that say something: without "bpjs", "pak", "tolong" (see [ignored])

    @property
    def label(self) -> str | None:
        return self.best.label if self.best else None

    @property
    def sure(self) -> bool:
        if self.best is None:
            return False
        if self.best.how == "phrase":
            return self.best.score >= PHRASE_SURE
        return self.best.how != "classifier" or self.best.score >= SURE

    def without_best(self) -> Reading:
        """The reading once its best guess is set aside (a STOP that was negated, or only asked about)."""
        runner_up = self.runner_up if self.runner_up is not None and self.runner_up.how == "phrase" else None
        return dataclasses.replace(self, best=runner_up, runner_up=None, also=())

    @property
    def unsure(self) -> bool:
        """Worth asking back about: the classifier's best two, neither sure."""
        return self.best is not None and not self.sure and self.best.score >= UNSURE and self.runner_up is not None


@dataclass(frozen=True)
class Option:
    """A choice a step offers, by what it means ("answer:yes", "occupation:petani", "region:Seluma")."""

    means: str
    label: str  # the button's text as shown
    # Whether the option's number picks it: only where every button is an answer to the step (an income
    # step's example buttons are not, "2" there is no choice).
    numbered: bool = True


@dataclass
class _Phrases:
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


class Understanding:
    def __init__(self, content: Content):
        vocabulary = content.vocabulary
        self._words_map = vocabulary.words
        self._stemmer = _stemmer()
        self._roots = self._stemmer.dictionary
        self._weak = vocabulary.weak
        self._ignored = frozenset(vocabulary.ignored)
        self._order = {label: i for i, label in enumerate(vocabulary.labels)}
        # Near misses are mapped onto vocabulary words once the vocabulary itself has been read (below).
        self._known: list[str] = []
        self._known_set: set[str] = set()
        self._topics = _Phrases()
        for label, phrases in vocabulary.keywords.items():
            for phrase in phrases:
                self._topics.add(tuple(w for w in self.words(phrase) if w not in self._ignored), label)
        phrase_words = {w for group in self._topics.by_word.values() for ws, _ in group for w in ws}
        # A word shared by the phrases of many labels ("bayar", "bpjs") says little about which one is meant:
        # each word weighs 1 / the square root of the number of labels whose phrases use it.
        labels_of: dict[str, set[str]] = {}
        for group in self._topics.by_word.values():
            for ws, label in group:
                for w in ws:
                    labels_of.setdefault(w, set()).add(label)
        self._weight = {w: 1.0 / math.sqrt(len(labels)) for w, labels in labels_of.items()}
        singles: dict[str, set[str]] = {}
        for group in self._topics.by_word.values():
            for ws, label in group:
                if len(ws) == 1:
                    singles.setdefault(label, set()).add(ws[0])
        self._single_words = {label: frozenset(ws) for label, ws in singles.items()}
        self._known_set = phrase_words
        self._yes = {self.words(p) for p in vocabulary.yes}
        self._no = {self.words(p) for p in vocabulary.no}
        self._corrections = {w for p in vocabulary.corrections for w in self.words(p)}
        self._lead_ins = [
            tuple(self._words_map.get(w, SLANG_DATA.get(w, w)) for w in p.casefold().split())
            for p in vocabulary.name_lead_ins
        ]
        self._honorifics = frozenset(vocabulary.honorifics)
        self._not_names = (
            self._honorifics
            | self._ignored
            | {w for lead_in in self._lead_ins for w in lead_in}
            | {w for p in (*vocabulary.yes, *vocabulary.no) for w in p.casefold().split()}
        )
        self._synonyms: dict[str, list[tuple[str, ...]]] = {}
        tables = [("occupation", vocabulary.occupations), ("calltime", vocabulary.call_times)]
        tables.append(("region", {region: (region, *content.places.get(region, ())) for region in content.regions}))
        for kind, table in tables:
            for name, phrases in table.items():
                # Places as typed: spelled out, a short form can become a common word ("bs", Bengkulu Selatan,
                # is "bisa" in indoNLP's list, "manna" is "mana"). Jobs and times also spelled out.
                typed = [tuple(normalise(p).split()) for p in phrases]
                self._synonyms[f"{kind}:{name}"] = (
                    typed if kind == "region" else typed + [self.words(p) for p in phrases]
                )
        # The classifier learns from the examples and the phrases themselves, read as the phrases are.
        training = [(label, ex) for label, examples in vocabulary.examples.items() for ex in examples]
        training += [(label, phrase) for label, phrases in vocabulary.keywords.items() for phrase in phrases]
        self._glued_words = [
            (raw, spelled) for raw, spelled in self._words_map.items() if len(raw) >= 3 and spelled in phrase_words
        ]
        # Places and jobs people misspell are vocabulary words too ("bengkulu selatn", "nelayn").
        self._known_set = phrase_words.union(*(w for ws in self._synonyms.values() for w in ws))
        self._known = sorted(self._known_set)
        self._training = tuple((label, " ".join(self._topic_words(text))) for label, text in training)
        self._classifier = _train(self._training)

    # -- reading words ---------------------------------------------------------------------------------------

    def words(self, text: str) -> tuple[str, ...]:
        """The message as the vocabulary's words: spelled out, stemmed, near misses mapped."""
        return tuple(w for token in normalise(text).split() for w in self._spelled(token))

    def _topic_words(self, text: str) -> tuple[str, ...]:
        words = self.words(text)
        return tuple(w for w in words if w not in self._ignored) or words

    @functools.lru_cache(maxsize=20000)  # noqa: B019 - one instance per process, words repeat across messages
    def _spelled(self, token: str) -> tuple[str, ...]:
        # Ours, then indoNLP's, then ours again: "tq" -> "makasih" -> "terima kasih"; "gk" -> "enggak" -> "tidak".
        spelled = self._words_map.get(token, token).split()
        spelled = [w for part in spelled for w in SLANG_DATA.get(part, part).split()]
        spelled = [w for part in spelled for w in self._words_map.get(part, part).split()]
        return tuple(self._known_form(self._stem(part)) for part in spelled)

    @functools.lru_cache(maxsize=20000)  # noqa: B019
    def _stem(self, word: str) -> str:
        if word.isdigit() or len(word) <= 3:
            return word
        return self._stemmer.stem(word) or word

    def _is_word(self, word: str) -> bool:
        """A word of our vocabulary or of Indonesian, or long enough to be several run together."""
        return word in self._known_set or self._roots.contains(word) or len(word) >= 10 or word.isdigit()

    def _known_form(self, word: str) -> str:
        """A near miss of a vocabulary word ("kecelkaan") as that word, unless it is a real word itself."""
        if word in self._known_set or len(word) < 5 or word.isdigit():
            return word
        if self._roots.contains(word):
            return word
        limit = 1 if len(word) < 8 else 2
        found = process.extractOne(word, self._known, scorer=Levenshtein.distance, score_cutoff=limit)
        return self._words_map.get(found[0], found[0]) if found else word

    # -- reading a message -----------------------------------------------------------------------------------

    def read(self, text: str, options: Sequence[Option] = ()) -> Reading:
        """The best reading of `text`; with `options`, a typed answer to those buttons comes first, unless the
        message is plainly a question or a command ("bisa bayar lewat dana gak?" at a yes/no step)."""
        words = self.words(text)
        said = tuple(w for w in words if w not in self._ignored)
        # Asked, not just containing "apa" ("jangan kirim apa apa lagi"): a question mark, or a question word
        # opening or closing the message, as Indonesian questions do.
        question = "?" in text or bool(words) and (words[0] in _QUESTION_WORDS or words[-1] in _QUESTION_WORDS)
        ranked = self._ranked(text, said or words)
        best = ranked[0] if ranked else None
        if options:
            answer = self._answer(text, words, options)
            if (restated := self._restated_yes(best, words, options)) is not None:
                answer = restated
            if answer is not None and not self._overrides(best, answer, words, question):
                return Reading(text, words, answer, is_question=question, said=said)
        runner_up = ranked[1] if len(ranked) > 1 else None
        also = (
            tuple(
                g.label
                for g in ranked[1:3]
                if g.how == "phrase"
                and g.score >= 1
                and g.label.startswith(("topic:", "faq:"))
                and g.label != best.label
            )
            if best
            else ()
        )
        return Reading(text, words, best, runner_up, also, question, said)

    def _negated(self, guess: Guess, words: tuple[str, ...]) -> bool:
        """A negation right before the matched phrase, or before one of the label's own one-word phrases
        ("jangan berhenti kirim" is no STOP, though "jangan kirim" is one)."""
        first = guess.evidence.split()[0] if guess.evidence else ""
        verbs = self._single_words.get(guess.label, frozenset())
        return any(i > 0 and words[i - 1] in _NEGATIONS and (w == first or w in verbs) for i, w in enumerate(words))

    def _restated_yes(self, best: Guess | None, words: tuple[str, ...], options: Sequence[Option]) -> Guess | None:
        """STOP or HAPUS in plain words where the step's yes button says the same ("Ya, berhenti", "Ya, hapus
        semua"): the yes, not the command asked again."""
        yes = next((o for o in options if o.means == "answer:yes"), None)
        if yes is None or best is None or best.how != "phrase" or best.label not in COMMANDS:
            return None
        if self._negated(best, words) or not set(best.evidence.split()) & set(self.words(yes.label)):
            return None
        return Guess("answer:yes", 1.0, "label", yes.label)  # as if the button's words were typed

    def _overrides(self, best: Guess | None, answer: Guess, words: tuple[str, ...], question: bool) -> bool:
        """Whether what the message asks beats the step's answer found in it."""
        if best is None or best.how != "phrase" or answer.how in ("number", "label") or self._negated(best, words):
            return False
        if best.label == "cancel" or (best.label in COMMANDS and len(best.evidence.split()) >= 2):
            return True  # "nanti saja", "jangan kirim lagi", "hapus nomor saya" at a yes/no step
        topic = best.label.startswith(("topic:", "faq:")) and best.score >= PHRASE_SURE
        return topic and (question or len(words) > 4)

    def _phrase_scores(self, words: tuple[str, ...]) -> dict[str, Guess]:
        positions: dict[str, list[int]] = {}
        for i, w in enumerate(words):
            positions.setdefault(w, []).append(i)
        joined = "".join(words)
        if len(words) <= 2 and len(joined) >= 12:
            # Words run together ("kalauikutjht..."): look for the vocabulary's words inside, in their order.
            for w in self._known:
                if len(w) >= 3 and w not in _QUESTION_WORDS and (at := joined.find(w)) >= 0:
                    positions.setdefault(w, []).append(at // 8)
            for raw, spelled in self._glued_words:  # "blt" inside "bltbulanini" is "bansos"
                if (at := joined.find(raw)) >= 0:
                    positions.setdefault(spelled, []).append(at // 8)
        covered: dict[str, set[str]] = {}
        evidence: dict[str, tuple[str, ...]] = {}
        for phrase, label in self._topics.matches(positions):
            covered.setdefault(label, set()).update(phrase)
            if len(phrase) > len(evidence.get(label, ())):
                evidence[label] = phrase
        scores = {
            label: Guess(label, sum(self._weight[w] for w in ws), "phrase", " ".join(evidence[label]))
            for label, ws in covered.items()
        }
        if any(label not in self._weak for label in scores):
            scores = {label: guess for label, guess in scores.items() if label not in self._weak}
        return scores

    def _ranked(self, text: str, words: tuple[str, ...]) -> list[Guess]:
        """Labels by the weight of their phrases in the message plus the classifier's probability; `words`
        without the ignored ones, as the phrases were read."""
        phrases = self._phrase_scores(words)
        if not phrases and not any(self._is_word(w) for w in words):
            return []  # "zzz qqq", "xyzzy": nothing a worker means, whatever letters it shares with examples
        probabilities = self._classifier.probabilities(" ".join(words) or normalise(text))
        if not phrases:
            return [Guess(label, p, "classifier") for label, p in _top(probabilities, 2)]

        def total(g: Guess) -> tuple[float, int]:
            return (-(g.score + CLASSIFIER_WEIGHT * probabilities.get(g.label, 0.0)), self._order.get(g.label, 0))

        top = _top(probabilities, 2)
        ranked = sorted(phrases.values(), key=total)
        if (
            top
            and top[0][0] not in phrases
            and CLASSIFIER_WEIGHT * top[0][1]
            > ranked[0].score + CLASSIFIER_WEIGHT * probabilities.get(ranked[0].label, 0.0)
        ):
            # The classifier is surer of a label no phrase named than the phrases are of theirs.
            return [Guess(top[0][0], top[0][1], "classifier"), *ranked]
        tail = [Guess(label, p, "classifier") for label, p in top if label not in phrases]
        return [*ranked, *tail]

    def _answer(self, text: str, words: tuple[str, ...], options: Sequence[Option]) -> Guess | None:
        """A typed answer to one of the step's options, or None when the text answers none of them."""
        if not words:
            return None
        meanings = [o.means for o in options]
        # The option's number, as the terminal shows them: "2", "no 2", "nomor 2", "pilih 2".
        numbered = all(o.numbered for o in options)
        if numbered and (number := _option_number(normalise(text))) is not None and 1 <= number <= len(options):
            return Guess(meanings[number - 1], 1.0, "number", str(number))
        if "bukan" in words:
            return None  # "bukan nelayan", "saya bukan petani": what they are not
        typed = " ".join(words)
        containing: list[tuple[int, Option]] = []
        inside: list[Option] = []
        for option in options:
            label_words = self.words(option.label)
            if not label_words:
                continue
            joined = " ".join(label_words)
            if typed == joined:
                return Guess(option.means, 1.0, "label", option.label)
            if len(words) <= 3 and joined in typed:  # the label inside a short message ("nelayan pak")
                containing.append((len(joined), option))
            elif len(words) <= 3 and set(words) <= set(label_words):
                inside.append(option)
        if containing:  # the longest label: "rejang lebong" is Rejang Lebong, not Lebong
            option = max(containing, key=lambda c: c[0])[1]
            return Guess(option.means, 1.0, "label_in", option.label)
        if len(inside) == 1:  # a short message inside one label only ("hapus" for "Ya, hapus semua")
            return Guess(inside[0].means, 1.0, "label_in", inside[0].label)
        yes_no = self._yes_no(words) if {"answer:yes", "answer:no"} & set(meanings) else None
        if yes_no is not None:
            return Guess(yes_no, 1.0, "option", typed)
        found: list[tuple[int, str, str]] = []
        typed_words = normalise(text).split()
        # Places as typed, and through our own words only ("bkl" is Bengkulu), never stemmed or fuzzed.
        present = set(words) | set(typed_words) | {self._words_map.get(t, t) for t in typed_words}
        for means in meanings:
            for synonym in self._synonyms.get(means, ()):
                if synonym and all(w in present for w in synonym):
                    found.append((len(synonym), means, " ".join(synonym)))
        if not found and len(typed_tokens := normalise(text).split()) == 1:
            # Run together with a filler ("siangaja"): a synonym the message starts with.
            glued = typed_tokens[0]
            for means in meanings:
                for synonym in self._synonyms.get(means, ()):
                    if len(synonym) == 1 and len(synonym[0]) >= 4 and glued.startswith(synonym[0]):
                        found.append((1, means, synonym[0]))
        if not found:
            found = self._near_option(words, meanings)
        if found:
            found.sort(key=lambda f: -f[0])
            if len(found) == 1 or found[0][0] > found[1][0] or found[0][1] == found[1][1]:
                return Guess(found[0][1], 1.0, "option", found[0][2])
        return None

    def _near_option(self, words: tuple[str, ...], meanings: list[str]) -> list[tuple[int, str, str]]:
        """A misspelt place or job ("bengkulu selatn", "nelayn"): the closest synonym, when close enough."""
        typed = " ".join(words)
        candidates = {
            " ".join(synonym): means
            for means in meanings
            for synonym in self._synonyms.get(means, ())
            if synonym and len(" ".join(synonym)) >= 4
        }
        if not candidates or len(typed) > 40:
            return []
        found = process.extractOne(typed, list(candidates), scorer=fuzz.ratio, score_cutoff=88)
        return [(1, candidates[found[0]], found[0])] if found else []

    def _yes_no(self, words: tuple[str, ...]) -> str | None:
        """Yes or no in everyday forms; a no-word anywhere wins, since "tidak mau" contains "mau"."""
        if len(words) > 8:
            return None
        present = set(words)
        if present & self._corrections:
            return None  # "ya tapi nomornya salah": not a yes to what was shown
        if any(all(w in present for w in phrase) for phrase in self._no):
            return "answer:no"
        if any(all(w in present for w in phrase) for phrase in self._yes):
            return "answer:yes"
        return None

    def name_from(self, text: str) -> str:
        """A typed name without its lead-in and honorifics ("nama sy pak Darmawan" -> "Darmawan"), otherwise
        exactly as typed; in the capitals people use for names when it was typed all in one case."""
        tokens = text.split()
        while len(tokens) > 1 and not any(c.isalnum() for c in tokens[-1]):
            tokens = tokens[:-1]  # "hendra saputra 🙏": the emoji is politeness, not part of the name
        if len(tokens) == 1:  # "namasayarahmat": a lead-in run into the name
            glued = tokens[0].casefold()
            for run_in in sorted(("".join(li) for li in self._lead_ins), key=len, reverse=True):
                if glued.startswith(run_in) and len(glued) - len(run_in) >= 3 and glued.isalpha():
                    tokens = [tokens[0][len(run_in) :]]
                    break
        # Compared as spelled out, so "sy", "nma sy" and "aku" are lead-ins like "saya" and "nama saya".
        plain = [self._spelled_word(t) for t in tokens]
        for lead_in in sorted(self._lead_ins, key=len, reverse=True):
            if tuple(plain[: len(lead_in)]) == lead_in and len(plain) > len(lead_in):
                tokens, plain = tokens[len(lead_in) :], plain[len(lead_in) :]
                break
        while len(tokens) > 1 and plain[0] in self._honorifics:
            tokens, plain = tokens[1:], plain[1:]
        while len(tokens) > 1 and plain[-1] in self._honorifics:
            tokens, plain = tokens[:-1], plain[:-1]
        if all(word in self._not_names for word in plain):
            return ""  # "Pak", "nama saya", "iya", "bpjs": no name in it
        name = " ".join(tokens)
        if (name.isupper() or name.islower()) and re.fullmatch(r"[^\W\d_]+(?:[\s'.-][^\W\d_]+)*", name):
            name = " ".join(w if w.casefold() in ("bin", "binti") else w.capitalize() for w in name.split())
        return name

    def _spelled_word(self, token: str) -> str:
        word = token.casefold().strip(".,:;!-")
        return self._words_map.get(word, SLANG_DATA.get(word, word))

    def is_command(self, reading: Reading) -> bool:
        """STOP, HAPUS or DATA SAYA in plain words: a phrase of two words or more ("stop kirim", "hapus nomor
        saya"), or one word that is the whole message, since a name or a sentence may hold one ("Wati
        Berhenti")."""
        best = reading.best
        if best is None or not reading.sure or best.label not in COMMANDS or best.how != "phrase":
            return False
        whole = len(best.evidence.split()) >= len(reading.said)
        if self._negated(best, reading.words):
            return False  # "jangan berhenti kirim"
        if best.label == "show_my_data":
            return True  # only shows: "data saya apa aja?" asks for it
        if reading.is_question and not whole:
            return False  # "kalau saya berhenti kirim iuran gimana?"
        return len(best.evidence.split()) >= 2 or whole


_NEGATIONS = frozenset({"tidak", "jangan", "bukan", "belum"})


_NUMBER = re.compile(r"^(?:(?:no|nomor|nmr|pilih|pilihan|angka|yang|yg)\s+)?([0-9]{1,2})$")


def _option_number(typed: str) -> int | None:
    """ "2", "no 2", "pilih 2": the option's number as the terminal and WhatsApp lists show it."""
    match = _NUMBER.match(typed)
    return int(match.group(1)) if match else None


_BUILT: dict[int, Understanding] = {}


def understanding_for(content: Content) -> Understanding:
    """One Understanding per vocabulary and region list in a process: building one stems and fuzzes the
    whole vocabulary and trains the classifier (about a second), and every app built (a test's, a CLI
    command's) loads the same content again."""
    key = hash((repr(content.vocabulary), content.regions, tuple(content.places.items())))
    if key not in _BUILT:
        if len(_BUILT) >= 4:  # a process that reloads changed content keeps only the latest few
            _BUILT.pop(next(iter(_BUILT)))
        _BUILT[key] = Understanding(content)
    return _BUILT[key]


def _top(probabilities: dict[str, float], n: int) -> list[tuple[str, float]]:
    return sorted(probabilities.items(), key=lambda item: -item[1])[:n]


@functools.lru_cache(maxsize=1)
def _stemmer():  # noqa: ANN202 - Sastrawi has no types
    """Building the stemmer reads its root-word dictionary (about 30,000 words): once per process.

    The stemmer itself, without the cache the factory wraps it in: that cache keeps every word ever stemmed,
    without a bound (every name typed, for as long as the process runs); `_stem`'s LRU cache bounds ours."""
    return Stemmer(ArrayDictionary(StemmerFactory().get_words()))


class _Classifier:
    """Character n-grams (2 to 5 letters, inside word boundaries) and a linear model over them.

    A modified-Huber SGD trains in a fifth of a second where a logistic regression took ten, and generalised
    as well or better on the held-out messages (docs/understanding.md). scikit-learn
    trains it; one message is then scored here from the learnt weights, because scikit-learn's checks on a
    one-row input cost a millisecond, ten times the arithmetic.

    What it learnt is kept in a cache file (see `_train`): importing scikit-learn (with SciPy) costs a process
    about 1.5 s of CPU, more than the training itself, and a process that finds the cache never imports it.
    """

    def __init__(self, grams: Sequence[str], idf: np.ndarray, weights: np.ndarray, intercept: np.ndarray, labels):
        self._columns: dict[str, int] = {gram: column for column, gram in enumerate(grams)}
        self._idf = idf
        self._weights = np.ascontiguousarray(weights)  # one row of per-label weights per n-gram
        self._intercept = intercept
        self._labels = list(labels)

    @classmethod
    def trained(cls, examples: tuple[tuple[str, str], ...]) -> _Classifier:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import SGDClassifier

        texts = [text for _, text in examples]
        labels = [label for label, _ in examples]
        vectoriser = TfidfVectorizer(analyzer="char_wb", ngram_range=NGRAMS, sublinear_tf=True)
        model = SGDClassifier(loss="modified_huber", alpha=1e-4, max_iter=50, random_state=0)
        model.fit(vectoriser.fit_transform(texts), labels)
        grams = sorted(vectoriser.vocabulary_, key=vectoriser.vocabulary_.__getitem__)
        return cls(grams, vectoriser.idf_, model.coef_.T, model.intercept_, model.classes_)

    @classmethod
    def load(cls, path: Path) -> _Classifier:
        with np.load(path, allow_pickle=False) as saved:
            return cls(saved["grams"].tolist(), saved["idf"], saved["weights"], saved["intercept"], saved["labels"])

    def save(self, path: Path) -> None:
        """Written whole or not at all: a process reading it meanwhile sees the old file or none."""
        grams = np.array(sorted(self._columns, key=self._columns.__getitem__))
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.stem}-", suffix=".npz", delete=False) as f:
            written = Path(f.name)
            try:
                np.savez(
                    f,
                    grams=grams,
                    idf=self._idf,
                    weights=self._weights,
                    intercept=self._intercept,
                    labels=np.array(self._labels),
                )
            except BaseException:
                written.unlink()
                raise
        written.chmod(0o644)  # readable by whoever runs the bot, as bytecode is
        written.replace(path)

    def probabilities(self, text: str) -> dict[str, float]:
        """As scikit-learn's predict_proba for a modified Huber loss: each label's decision clipped to
        [-1, 1], moved to [0, 1] and normalised; {} when the text shares no n-gram with the examples."""
        counts = Counter(c for gram in char_ngrams(text) if (c := self._columns.get(gram)) is not None)
        if not counts:
            return {}
        columns = np.fromiter(counts, dtype=np.intp, count=len(counts))
        tf = 1.0 + np.log(np.fromiter(counts.values(), dtype=np.float64, count=len(counts)))
        weights = tf * self._idf[columns]
        weights /= np.linalg.norm(weights)
        decision = weights @ self._weights[columns] + self._intercept
        probability = (np.clip(decision, -1.0, 1.0) + 1.0) / 2.0
        total = probability.sum()
        if total == 0:
            return {}
        return dict(zip(self._labels, (probability / total).tolist(), strict=True))


NGRAMS = (2, 5)


def char_ngrams(text: str) -> list[str]:
    """scikit-learn's `char_wb` analyzer (lower case, each word padded with a space, NGRAMS long), written out
    so that scoring needs no scikit-learn; tests/test_understanding.py checks the two agree."""
    grams: list[str] = []
    for word in text.lower().split():
        padded = f" {word} "
        for n in range(NGRAMS[0], NGRAMS[1] + 1):
            grams.extend(padded[start : start + n] for start in range(max(1, len(padded) - n + 1)))
            if len(padded) <= n:  # a short word counts once, whole
                break
    return grams


CACHE = Path(__file__).resolve().parent / "__pycache__"  # beside the bytecode, which is as derived as it is
_CACHED = 4  # classifiers kept: a changed vocabulary's, a test's own


@functools.lru_cache(maxsize=4)
def _train(examples: tuple[tuple[str, str], ...]) -> _Classifier:
    """Trained once per vocabulary and process (tests build many dispatchers over the same content), and read
    back from the cache in the next process: a file named by what determines the training (the examples as
    read, scikit-learn's and NumPy's versions). A cache that cannot be read or written is only not used."""
    versions = [metadata.version(package) for package in ("scikit-learn", "numpy")]
    digest = hashlib.sha256(repr((examples, versions, NGRAMS)).encode()).hexdigest()[:24]
    path = CACHE / f"classifier-{digest}.npz"
    with contextlib.suppress(OSError, ValueError, KeyError):
        return _Classifier.load(path)
    classifier = _Classifier.trained(examples)
    with contextlib.suppress(OSError):
        CACHE.mkdir(exist_ok=True)
        classifier.save(path)
        for stale in sorted(CACHE.glob("classifier-*.npz"), key=lambda p: p.stat().st_mtime)[:-_CACHED]:
            stale.unlink(missing_ok=True)
    return classifier
