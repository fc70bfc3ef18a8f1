"""The character n-gram classifier that scores a message's labels beside the vocabulary's phrases.

Trained at start-up (scikit-learn) from the vocabulary's phrases and content/examples.tsv, read as the phrases
are; bot/conversation/understanding.py adds twice its probability to each label's phrase weight, and lets it
decide alone for a message no phrase matches.
"""

from __future__ import annotations

import functools
from collections import Counter

import numpy as np


class Classifier:
    """Character n-grams (2 to 5 letters, inside word boundaries) and a linear model over them.

    A modified-Huber SGD trains in a fifth of a second where a logistic regression took ten, and generalised
    as well or better on the held-out messages (docs/understanding.md). scikit-learn
    trains it; one message is then scored here from the learnt weights, because scikit-learn's checks on a
    one-row input cost a millisecond, ten times the arithmetic.
    """

    def __init__(self, examples: tuple[tuple[str, str], ...]):
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import SGDClassifier

        texts = [text for _, text in examples]
        labels = [label for label, _ in examples]
        vectoriser = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True)
        model = SGDClassifier(loss="modified_huber", alpha=1e-4, max_iter=50, random_state=0)
        model.fit(vectoriser.fit_transform(texts), labels)
        self._analyse = vectoriser.build_analyzer()
        self._columns: dict[str, int] = vectoriser.vocabulary_
        self._idf = vectoriser.idf_
        self._weights = np.ascontiguousarray(model.coef_.T)  # one row of per-label weights per n-gram
        self._intercept = model.intercept_
        self._labels = list(model.classes_)

    def probabilities(self, text: str) -> dict[str, float]:
        """As scikit-learn's predict_proba for a modified Huber loss: each label's decision clipped to
        [-1, 1], moved to [0, 1] and normalised; {} when the text shares no n-gram with the examples."""
        counts = Counter(c for gram in self._analyse(text) if (c := self._columns.get(gram)) is not None)
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


@functools.lru_cache(maxsize=4)
def train(examples: tuple[tuple[str, str], ...]) -> Classifier:
    """Trained once per vocabulary and process (tests build many dispatchers over the same content)."""
    return Classifier(examples)


def likeliest(probabilities: dict[str, float], n: int) -> list[tuple[str, float]]:
    """The `n` likeliest labels, likeliest first."""
    return sorted(probabilities.items(), key=lambda item: -item[1])[:n]
