"""A person's name as typed at the name step, without its lead-in ("nama saya") and honorifics ("pak")."""

from __future__ import annotations

import re

from bot.content import Vocabulary
from bot.conversation.words import Words


class Names:
    """Names read with one vocabulary's lead-ins and honorifics (content/understanding.toml)."""

    def __init__(self, vocabulary: Vocabulary, words: Words):
        self._words = words
        self._lead_ins = [tuple(words.spelled_out(w) for w in p.casefold().split()) for p in vocabulary.name_lead_ins]
        self._honorifics = frozenset(vocabulary.honorifics)
        self._not_names = (
            self._honorifics
            | frozenset(vocabulary.ignored)
            | {w for lead_in in self._lead_ins for w in lead_in}
            | {w for p in (*vocabulary.yes, *vocabulary.no) for w in p.casefold().split()}
        )

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
        plain = [self._words.spelled_word(t) for t in tokens]
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
