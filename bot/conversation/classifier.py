"""The character n-gram classifier that scores a message's labels beside the vocabulary's phrases.

Trained at start-up (scikit-learn), or read back from its cache, from the vocabulary's phrases and
content/examples.tsv, read as the phrases are; bot/conversation/understanding.py adds twice its probability to
each label's phrase weight, and lets it decide alone for a message no phrase matches.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import tempfile
from collections import Counter
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

import numpy as np


class Classifier:
    """Character n-grams (2 to 5 letters, inside word boundaries) and a linear model over them.

    A modified-Huber SGD trains in a fifth of a second where a logistic regression took ten, and generalised
    as well or better on the held-out messages (docs/understanding.md). scikit-learn
    trains it; one message is then scored here from the learnt weights, because scikit-learn's checks on a
    one-row input cost a millisecond, ten times the arithmetic.

    What it learnt is kept in a cache file (see `train`): importing scikit-learn (with SciPy) costs a process
    about 1.5 s of CPU, more than the training itself, and a process that finds the cache never imports it.
    """

    def __init__(self, grams: Sequence[str], idf: np.ndarray, weights: np.ndarray, intercept: np.ndarray, labels):
        self._columns: dict[str, int] = {gram: column for column, gram in enumerate(grams)}
        self._idf = idf
        self._weights = np.ascontiguousarray(weights)  # one row of per-label weights per n-gram
        self._intercept = intercept
        self._labels = list(labels)

    @classmethod
    def trained(cls, examples: tuple[tuple[str, str], ...]) -> Classifier:
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
    def load(cls, path: Path) -> Classifier:
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
def train(examples: tuple[tuple[str, str], ...]) -> Classifier:
    """Trained once per vocabulary and process (tests build many dispatchers over the same content), and read
    back from the cache in the next process: a file named by what determines the training (the examples as
    read, scikit-learn's and NumPy's versions). A cache that cannot be read or written is only not used."""
    versions = [metadata.version(package) for package in ("scikit-learn", "numpy")]
    digest = hashlib.sha256(repr((examples, versions, NGRAMS)).encode()).hexdigest()[:24]
    path = CACHE / f"classifier-{digest}.npz"
    with contextlib.suppress(OSError, ValueError, KeyError):
        return Classifier.load(path)
    classifier = Classifier.trained(examples)
    with contextlib.suppress(OSError):
        CACHE.mkdir(exist_ok=True)
        classifier.save(path)
        for stale in sorted(CACHE.glob("classifier-*.npz"), key=lambda p: p.stat().st_mtime)[:-_CACHED]:
            stale.unlink(missing_ok=True)
    return classifier


def likeliest(probabilities: dict[str, float], n: int) -> list[tuple[str, float]]:
    """The `n` likeliest labels, likeliest first."""
    return sorted(probabilities.items(), key=lambda item: -item[1])[:n]
