"""Pick the knowledge base's answer threshold by 5-fold cross-validation on its own phrasings
(never on nlu_data/test): the lowest probability at which answered questions are ≥98% right.

    .venv/bin/python benchmarks/calibrate_knowledge.py
"""

import numpy as np

from bot.knowledge import KnowledgeBase


def main():
    kb = KnowledgeBase.from_file()
    texts = [(i, t) for i, e in enumerate(kb.entries) for t in [e.question, *e.examples]]
    rng = np.random.default_rng(0)
    fold = rng.integers(0, 5, len(texts))
    scored = []
    for k in range(5):
        train = [(i, t) for (i, t), f in zip(texts, fold) if f != k]
        entries = [kb.entries[i] for i in sorted({i for i, _ in train})]
        part = KnowledgeBase([e.__class__(e.id, e.subcategory, e.question, [t for i, t in train if kb.entries[i] is e
                                                                             and t != e.question], e.answer)
                              for e in entries])
        for (i, t), f in zip(texts, fold):
            if f == k and t != kb.entries[i].question:
                found = part.nearest(t)
                scored.append((found.score, found.entry.id == kb.entries[i].id))
    scored.sort(reverse=True)
    for threshold in np.arange(0.05, 0.6, 0.05):
        answered = [ok for s, ok in scored if s >= threshold]
        precision = sum(answered) / max(1, len(answered))
        print(f"threshold {threshold:.2f}: answers {len(answered)}/{len(scored)}, right {precision:.3f}")


if __name__ == "__main__":
    main()
