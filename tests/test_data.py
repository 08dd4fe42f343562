"""nlu_data/: valid labels, enough of every class, and a held-out file apart from training."""

import json
import re
from collections import Counter

import pytest
import yaml

from bot.evaluate import read_jsonl
from bot.intake.dataset import HELDOUT_FILE, read_examples, train_files
from bot.intake.extractor import said_type
from bot.intake.gazetteer import load_gazetteer
from bot.intake.phone import find_phones
from bot.taxonomy import load_taxonomy


@pytest.fixture(scope="module")
def train():
    return read_examples(train_files())


FRESH_FILE = HELDOUT_FILE.parent / "fresh.jsonl"


@pytest.fixture(scope="module")
def heldout():
    if not HELDOUT_FILE.exists():
        pytest.skip("no held-out file")
    return read_examples([HELDOUT_FILE])


@pytest.fixture(scope="module")
def fresh():
    names = ("fresh.jsonl", "fresh2.jsonl", "fresh3.jsonl")
    return [row for name in names for row in read_jsonl(FRESH_FILE.with_name(name))]


def test_every_example_is_read():
    for path in train_files() + ([HELDOUT_FILE] if HELDOUT_FILE.exists() else []):
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        listed = sum(1 for b in doc["nlu"] if isinstance(b.get("examples"), list) for e in b["examples"]
                     if "subcategory" in (e.get("metadata") or {}))
        assert len(read_examples([path])) == listed, path


def test_emergency_examples_keep_their_type_and_number():
    """Rasa's `emergency` intent holds exactly the examples with a redirect; their type is in metadata."""
    for path in train_files() + ([HELDOUT_FILE] if HELDOUT_FILE.exists() else []):
        for block in yaml.safe_load(path.read_text(encoding="utf-8"))["nlu"]:
            for e in block.get("examples") or []:
                meta = e.get("metadata") or {}
                assert ("redirect" in meta) == (block["intent"] == "emergency"), e["text"]
                if block["intent"] == "emergency":
                    assert meta["type"] in load_taxonomy().types, e["text"]


def test_labels_are_taxonomy_codes(train, heldout):
    tax = load_taxonomy()
    for ex in train + heldout:
        assert ex.type in tax.types, ex.text
        assert ex.subcategory in tax.subcategories, ex.text
        assert ex.urgency in tax.urgency_hours, ex.text
        assert ex.redirect in (None, *tax.redirects), ex.text
        if ex.redirect:
            assert ex.urgency == 1, ex.text
        for start, end, _ in ex.entities:
            assert 0 <= start < end <= len(ex.text)
        assert "[" not in ex.text or "](" not in ex.text, ex.text


def test_every_annotated_phone_is_one_number_the_reader_finds(train):
    for ex in train:
        for start, end, slot in ex.entities:
            if slot == "phone":
                assert [(p.start, p.end) for p in find_phones(ex.text[start:end])] == [(0, end - start)], ex.text


def test_a_type_the_citizen_names_is_the_training_label(train):
    """The premise of extractor.said_type: a message that names its demand type carries it, but for
    questions, which the extractor leaves to the classifier."""
    named = [(said_type(e.text), e.type) for e in train if said_type(e.text)]
    assert len(named) >= 200
    assert [gold for said, gold in named if said != gold and gold != "consultation"] == []


def test_training_covers_every_class(train):
    tax = load_taxonomy()
    subs = Counter(e.subcategory for e in train)
    assert min(subs[c] for c in tax.subcategory_codes) >= 30
    assert set(Counter(e.type for e in train)) == set(tax.types)
    assert set(Counter(e.urgency for e in train)) == {1, 2, 3, 4}
    assert set(Counter(e.redirect for e in train if e.redirect)) == set(tax.redirects)
    assert len(train) >= 2500


def test_fresh_files_are_labelled_with_taxonomy_codes(fresh):
    tax = load_taxonomy()
    assert len(fresh) == 297 + 240 + 240
    for ex in fresh:
        assert ex.type in tax.types and ex.subcategory in tax.subcategory_codes, ex.text
        assert ex.urgency in (1, 2, 3, 4) and ex.redirect in (None, *tax.redirects), ex.text


def test_heldout_gold_places_are_in_the_gazetteer(heldout, fresh):
    gaz = load_gazetteer()
    for ex in heldout + fresh:
        if "district" in ex.gold:
            assert ex.gold["district"] in gaz.districts, ex.text
        if "street" in ex.gold:
            assert ex.gold["street"] in gaz.districts[ex.gold["district"]], ex.text
        if "phone" in ex.gold:
            assert ex.gold["phone"].isdigit(), ex.text


def _grams(text):
    t = re.sub(r"[\W_]+", "", text)
    return {t[i : i + 3] for i in range(len(t) - 2)} or {t}


def test_test_files_are_not_copied_from_training(train, heldout, fresh):
    """No sentence of the held-out file or of nlu_data/test/*.jsonl shares 80%
    of its character trigrams with a training sentence."""
    texts = [e.text for e in heldout + fresh]
    for name in ("redirects.jsonl", "emergencies.jsonl", "emergencies2.jsonl", "emergencies3.jsonl"):
        texts += [json.loads(line)["text"] for line in (HELDOUT_FILE.parent / name).read_text("utf-8").splitlines()]
    index: dict[str, list[int]] = {}
    train_grams = [_grams(e.text) for e in train]
    for i, grams in enumerate(train_grams):
        for g in grams:
            index.setdefault(g, []).append(i)
    copies = []
    for text in texts:
        grams = _grams(text)
        shared = Counter(i for g in grams for i in index.get(g, []))
        for i, n in shared.items():
            if n / len(grams | train_grams[i]) >= 0.8:
                copies.append((text, train[i].text))
    assert copies == []
