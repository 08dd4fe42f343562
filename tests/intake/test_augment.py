from bot.intake.augment import Augmenter
from bot.intake.dataset import Example, parse_markup
from bot.intake.gazetteer import load_gazetteer


def example(marked: str) -> Example:
    text, spans = parse_markup(marked)
    return Example(text=text, type="report", subcategory="other.other", urgency=1, redirect="110", entities=spans)


def augmenter(seed: int = 13) -> Augmenter:
    return Augmenter(load_gazetteer(), "有几个拉客的把游客围住了不给钱不让走还推搡人家电话", seed=seed)


def test_copies_keep_labels_and_entity_spans_on_their_words():
    ex = example("[南锣鼓巷](address)有几个拉客的把游客围住了，电话[13911112222](phone)")
    copies = augmenter().expand([ex], 40)
    assert copies[0] == ex
    for copy in copies[1:]:
        assert (copy.type, copy.subcategory, copy.urgency, copy.redirect) == ("report", "other.other", 1, "110")
        assert sorted(s for *_, s in copy.entities).count("address") == 1
        for start, end, slot in copy.entities:
            word = copy.text[start:end]
            assert word and (slot != "phone" or any(c.isdigit() or "\u4e00" <= c <= "\u9fff" for c in word))


def test_a_named_place_is_often_swapped_for_another_so_the_labels_do_not_learn_it():
    ex = example("[南锣鼓巷](address)有几个拉客的把游客围住了，不给钱不让走，还推搡人家。")
    places = [copy.text[s:e] for copy in augmenter().expand([ex], 100)[1:] for s, e, slot in copy.entities
              if slot == "address"]
    kept = sum("南锣鼓巷" in p for p in places)
    assert 20 <= kept <= 80 and len(set(places)) > 30


def test_the_same_seed_gives_the_same_copies():
    ex = example("[望京](address)暖气不热")
    assert augmenter(7).expand([ex], 5) == augmenter(7).expand([ex], 5)
