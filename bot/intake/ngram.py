"""Char n-gram logistic regression over the same labels as the transformer.

On a few thousand hand-written sentences a linear model over character 1–3-grams is as strong
as an encoder trained from scratch, and their errors differ: the classifier averages both
(measured in README: the average beats either alone)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bot.intake.dataset import Example

FILE = "ngram.joblib"


def fast_predict(clf: Any) -> None:
    """Store a fitted linear model's coefficients column-major. It predicts sparse rows @ coef_.T, and
    scipy copies a non-contiguous right operand on every call: 28 ms of a 30 ms prediction over
    100,000 n-grams. The values are the same."""
    import numpy as np

    clf.coef_ = np.asfortranarray(clf.coef_)


class NgramModel:
    """TF-IDF char 1–3-grams with one logistic regression per head."""

    def __init__(self, vectorizer: Any, heads: dict[str, Any]) -> None:
        self.vectorizer = vectorizer
        self.heads = heads
        for clf in heads.values():
            fast_predict(clf)

    @classmethod
    def fit(cls, examples: Sequence[Example], targets: dict[str, list[Any]]) -> NgramModel:
        """targets: head name -> one label per example."""
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression

        vectorizer = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True, min_df=2)
        x = vectorizer.fit_transform([e.text for e in examples])
        # Emergencies are rare in the data but must not be missed: the redirect head weighs classes evenly.
        # A head whose labels are all one class has nothing to learn: the transformer alone decides it.
        heads = {name: LogisticRegression(C=10, max_iter=3000, class_weight="balanced" if name == "redirect" else None)
                 .fit(x, labels) for name, labels in targets.items() if len(set(labels)) > 1}
        return cls(vectorizer, heads)

    def predict(self, texts: Sequence[str], labels: dict[str, Sequence[Any]]) -> dict[str, Any]:
        """head name -> (len(texts), len(labels[head])) probabilities in the given label order, for the
        heads this model has."""
        import numpy as np

        x = self.vectorizer.transform(list(texts))
        out = {}
        for name, clf in self.heads.items():
            proba = clf.predict_proba(x)
            full = np.zeros((len(texts), len(labels[name])))
            index = {c: i for i, c in enumerate(clf.classes_)}
            for j, label in enumerate(labels[name]):
                if label in index:
                    full[:, j] = proba[:, index[label]]
            out[name] = full
        return out

    def save(self, directory: Path) -> None:
        import joblib

        joblib.dump({"vectorizer": self.vectorizer, "heads": self.heads}, directory / FILE)

    @classmethod
    def load(cls, directory: Path) -> NgramModel:
        import joblib

        # Our own file, written by `hotline train` next to the transformer weights.
        state = joblib.load(directory / FILE)
        return cls(state["vectorizer"], state["heads"])
