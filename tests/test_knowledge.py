"""The consultation knowledge base: valid entries, and answers measured on held-out questions."""

import pytest
import yaml

from bot import PROJECT_DIR
from bot.knowledge import Entry, KnowledgeBase, load_knowledge
from bot.taxonomy import load_taxonomy

HELDOUT = PROJECT_DIR / "nlu_data" / "test" / "knowledge.yml"


@pytest.fixture(scope="module")
def heldout():
    return yaml.safe_load(HELDOUT.read_text(encoding="utf-8"))


def test_entries_are_many_valid_and_across_categories():
    kb = load_knowledge()
    tax = load_taxonomy()
    assert len(kb.entries) >= 60
    assert all(e.subcategory in tax.subcategories and e.answer and len(e.examples) >= 3 for e in kb.entries)
    assert len({e.subcategory.split(".")[0] for e in kb.entries}) >= 10


def test_heldout_questions_are_not_copied(heldout):
    phrasings = {t for e in load_knowledge().entries for t in [e.question, *e.examples]}
    assert not [k["text"] for k in heldout["known"] if k["text"] in phrasings]
    assert not [t for t in heldout["unknown"] if t in phrasings]


def test_heldout_accuracy(heldout):
    """Right entry first for ≥85%; what is answered is ≥95% right; ≤15% of uncovered questions answered."""
    kb = load_knowledge()
    known = [(k["id"], kb.nearest(k["text"])) for k in heldout["known"]]
    top1 = sum(a.entry.id == i for i, a in known) / len(known)
    answered = [a.entry.id == i for i, a in known if a.score >= kb.threshold]
    false_answers = sum(kb.answer(t) is not None for t in heldout["unknown"]) / len(heldout["unknown"])
    assert top1 >= 0.85
    assert len(answered) / len(known) >= 0.5
    assert sum(answered) / len(answered) >= 0.95
    assert false_answers <= 0.15


def test_bad_knowledge_bases_are_refused():
    entry = Entry("a", "other.other", "问题", ["说法"], "答案")
    with pytest.raises(ValueError, match="unique"):
        KnowledgeBase([entry, entry])
    with pytest.raises(ValueError, match="at least two"):
        KnowledgeBase([entry])
