"""What a typed message means: a topic asked about, a command in plain words, or the answer to a step.

One module that the dispatcher (questions in any state) and the steps (typed answers to a step's buttons) share.
Its vocabulary is data in content/understanding.toml and content/regions.toml, so a missed phrase that an
officer reports becomes a content change, checked with `bpu-bot understand "teks"`.

Reading a message: its words first (bot/conversation/words.py: normalised, spelled out, stemmed, near misses
mapped). Then:
1. at a step, its own options come first (a number, a button label, yes/no words, a description or a place
   that names an option), unless the message plainly asks something else (a cancel, STOP in two words or
   more, a question about a topic);
2. otherwise each label scores the weight of its phrases found in the message (a word shared by many labels
   weighs less, so "iuran jht" is about JHT, not about the cost in general) plus twice the probability that
   a character n-gram classifier (bot/conversation/classifier.py), trained at start-up from the vocabulary's
   phrases and content/examples.tsv, gives it; the classifier alone decides for a message no phrase matches.
When unsure, the caller asks back with the two likeliest labels. A typed name is read by
bot/conversation/names.py.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from dataclasses import dataclass

from rapidfuzz import fuzz, process

from bot.content import Content
from bot.conversation.classifier import likeliest, train
from bot.conversation.names import Names
from bot.conversation.phrases import Phrases
from bot.conversation.words import QUESTION_WORDS, Words, normalise

# How sure a reading must be. A phrase of the vocabulary counts as sure; the classifier alone must reach
# SURE, and between UNSURE and SURE the caller asks back with the two likeliest labels.
SURE = 0.55
UNSURE = 0.25
CLASSIFIER_WEIGHT = 2.0  # how much the classifier's probability counts against the phrases' weight
PHRASE_SURE = 0.4  # the weight of the phrases found: one word no other label uses weighs 1
COMMANDS = frozenset({"stop", "erase", "show_my_data"})


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


class Understanding:
    def __init__(self, content: Content):
        vocabulary = content.vocabulary
        self._reader = Words(vocabulary.words)
        self._ignored = frozenset(vocabulary.ignored)
        self._order = {label: i for i, label in enumerate(vocabulary.labels)}
        # Near misses are mapped onto vocabulary words once the vocabulary itself has been read (below).
        self._phrases = Phrases(vocabulary, self._reader)
        self._yes = {self.words(p) for p in vocabulary.yes}
        self._no = {self.words(p) for p in vocabulary.no}
        self._corrections = {w for p in vocabulary.corrections for w in self.words(p)}
        self._names = Names(vocabulary, self._reader)
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
        # Places and jobs people misspell are vocabulary words too ("bengkulu selatn", "nelayn").
        self._reader.know(self._phrases.words.union(*(w for ws in self._synonyms.values() for w in ws)))
        # What the classifier learns from, kept for the test that checks its cache against a fresh training.
        self.training = tuple((label, " ".join(self._topic_words(text))) for label, text in training)
        self._classifier = train(self.training)

    def words(self, text: str) -> tuple[str, ...]:
        """The message as the vocabulary's words: spelled out, stemmed, near misses mapped."""
        return self._reader.words(text)

    def _topic_words(self, text: str) -> tuple[str, ...]:
        words = self.words(text)
        return tuple(w for w in words if w not in self._ignored) or words

    def name_from(self, text: str) -> str:
        """A typed name without its lead-in and honorifics (bot/conversation/names.py)."""
        return self._names.name_from(text)

    # -- reading a message -----------------------------------------------------------------------------------

    def read(self, text: str, options: Sequence[Option] = ()) -> Reading:
        """The best reading of `text`; with `options`, a typed answer to those buttons comes first, unless the
        message is plainly a question or a command ("bisa bayar lewat dana gak?" at a yes/no step)."""
        words = self.words(text)
        said = tuple(w for w in words if w not in self._ignored)
        # Asked, not just containing "apa" ("jangan kirim apa apa lagi"): a question mark, or a question word
        # opening or closing the message, as Indonesian questions do.
        question = "?" in text or bool(words) and (words[0] in QUESTION_WORDS or words[-1] in QUESTION_WORDS)
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
        verbs = self._phrases.single_words(guess.label)
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

    def _ranked(self, text: str, words: tuple[str, ...]) -> list[Guess]:
        """Labels by the weight of their phrases in the message plus the classifier's probability; `words`
        without the ignored ones, as the phrases were read."""
        phrases = {
            label: Guess(label, weight, "phrase", evidence)
            for label, (weight, evidence) in self._phrases.scores(words).items()
        }
        if not phrases and not any(self._reader.is_word(w) for w in words):
            return []  # "zzz qqq", "xyzzy": nothing a worker means, whatever letters it shares with examples
        probabilities = self._classifier.probabilities(" ".join(words) or normalise(text))
        if not phrases:
            return [Guess(label, p, "classifier") for label, p in likeliest(probabilities, 2)]

        def total(g: Guess) -> tuple[float, int]:
            return (-(g.score + CLASSIFIER_WEIGHT * probabilities.get(g.label, 0.0)), self._order.get(g.label, 0))

        top = likeliest(probabilities, 2)
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
        present = set(words) | set(typed_words) | {self._reader.ours.get(t, t) for t in typed_words}
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
