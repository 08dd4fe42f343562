"""The char n-gram model's column-major coefficients predict exactly what sklearn's own layout does."""

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from bot.intake.dataset import read_examples, train_files
from bot.intake.ngram import fast_predict


def test_fast_predict_keeps_probabilities():
    examples = read_examples(train_files())[::10]
    texts, labels = [e.text for e in examples], [e.type for e in examples]
    x = TfidfVectorizer(analyzer="char", ngram_range=(1, 3)).fit_transform(texts)
    clf = LogisticRegression(C=10, max_iter=1000).fit(x, labels)
    assert not clf.coef_.flags.f_contiguous
    before = clf.predict_proba(x[::7])
    fast_predict(clf)
    assert clf.coef_.flags.f_contiguous
    np.testing.assert_allclose(clf.predict_proba(x[::7]), before, rtol=1e-12, atol=1e-15)
    assert len(set(clf.predict(x[::7]))) > 1  # a model that learned something, not one class everywhere
