"""Answers to common consultations from nlu_data/knowledge/faq.yml."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from bot import PROJECT_DIR

FAQ_FILE = PROJECT_DIR / "nlu_data" / "knowledge" / "faq.yml"
THRESHOLD = 0.3
"""probability below which a question counts as not covered; at 0.3, 92% of answers were right in
5-fold cross-validation on the phrasings (benchmarks/calibrate_knowledge.py), and every answer
is followed by "did this solve it?" so that a no reaches a person"""
_NOISE = re.compile(r"[喂嗯啊哎呃呀吧呢哈]|你好|您好|请问|想问一?下|问一?下|咨询一?下|那个|就是|我想|我要|麻烦|"
                    r"[\s，,。.！!？?、：:；;~…]")


@dataclass
class Entry:
    """One question the hotline answers the same way every time."""

    id: str
    """stable key, e.g. heating_season"""
    subcategory: str
    """taxonomy code of what it is about"""
    question: str
    """the canonical question"""
    examples: list[str]
    """other ways citizens ask it"""
    answer: str
    """what the assistant says"""


@dataclass
class Answer:
    """The best entry for a question and how close it is."""

    entry: Entry
    """the entry answered"""
    score: float
    """the classifier's probability of the entry, 0..1"""


def _normal(text: str) -> str:
    return _NOISE.sub("", text) or text


class KnowledgeBase:
    """A logistic regression over char 1–3-grams, one class per entry, trained on every phrasing."""

    def __init__(self, entries: list[Entry], threshold: float = THRESHOLD) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression

        if len(entries) < 2:
            raise ValueError("the knowledge base needs at least two entries")
        ids = [e.id for e in entries]
        if len(set(ids)) != len(ids):
            raise ValueError("knowledge base ids must be unique")
        self.entries = entries
        self.threshold = threshold
        owner = [i for i, e in enumerate(entries) for _ in [e.question, *e.examples]]
        phrasings = [_normal(t) for e in entries for t in [e.question, *e.examples]]
        self._vectorizer = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True)
        self._classifier = LogisticRegression(C=30, max_iter=2000)
        self._classifier.fit(self._vectorizer.fit_transform(phrasings), owner)

    @classmethod
    def from_file(cls, path: Path = FAQ_FILE) -> KnowledgeBase:
        doc: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
        return cls([Entry(id=str(e["id"]), subcategory=str(e["subcategory"]), question=str(e["question"]),
                          examples=[str(x) for x in e.get("examples") or []], answer=str(e["answer"]).strip())
                    for e in doc["faq"]])

    def nearest(self, question: str) -> Answer:
        """The closest entry, however far."""
        probs = self._classifier.predict_proba(self._vectorizer.transform([_normal(question)]))[0]
        best = int(probs.argmax())
        return Answer(self.entries[int(self._classifier.classes_[best])], float(probs[best]))

    def answer(self, question: str) -> Answer | None:
        """The entry that answers the question, or None when none is close enough."""
        found = self.nearest(question)
        return found if found.score >= self.threshold else None


@lru_cache(maxsize=1)
def load_knowledge() -> KnowledgeBase:
    return KnowledgeBase.from_file()
