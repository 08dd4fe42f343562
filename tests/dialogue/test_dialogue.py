"""bot/dialogue: how each answer of the citizen changes the draft."""

import pytest

from bot import dialogue
from bot.dialogue import DECLINED, Draft


def _draft(**kw):
    base = dict(text="暖气不热", type="help", subcategory="utilities.heating", urgency=2)
    return Draft(**{**base, **kw})


@pytest.mark.parametrize(("text", "parts"), [
    ("楼道灯坏了好几天了，另外小区门口的垃圾也没人清", 2),
    ("楼上天天半夜装修，还有就是我们楼下饭馆油烟太大，再一个路灯也不亮", 3),
    ("我家暖气不热，屋里才十五度", 1),
    ("暖气不热，还有", 1),
])
def test_split_problems(text, parts):
    assert len(dialogue.split_problems(text)) == parts


def test_start_files_two_different_problems_one_by_one(extractor):
    draft = dialogue.start(extractor, "我们楼道的灯坏了一个多礼拜了，另外小区门口垃圾堆了好几天没人清")
    assert "灯" in draft.text and len(draft.pending) == 1 and "垃圾" in draft.pending[0]


def test_start_keeps_one_problem_told_in_two_sentences(extractor):
    draft = dialogue.start(extractor, "我家暖气一点都不热，还有就是暖气片摸着冰凉")
    assert draft.pending == []


def test_start_takes_place_and_phone_from_the_description(extractor):
    draft = dialogue.start(extractor, "望京西园三区暖气不热，电话13911112222")
    assert draft.district == "朝阳区" and draft.street == "望京街道"
    assert draft.place == "朝阳区望京街道" and draft.phone == "13911112222"
    assert draft.subcategory == "utilities.heating"


def test_place_answer_with_district_only_keeps_asking_for_the_street(extractor):
    draft = _draft()
    assert dialogue.apply_place(extractor.gazetteer, draft, "海淀区")
    assert draft.district == "海淀区" and draft.street is None and draft.place is None
    dialogue.apply_place(extractor.gazetteer, draft, "学院路街道")
    assert draft.place == "海淀区学院路街道"


def test_sound_alike_place_answer(extractor):
    draft = _draft()
    dialogue.apply_place(extractor.gazetteer, draft, "望经济到")
    assert draft.place == "朝阳区望京街道"


@pytest.mark.parametrize(("text", "ok"), [
    ("龙泽苑东区3号楼2单元", True), ("就在小区门口", True), ("回龙观地铁站旁边", True),
    ("嗯", False), ("不知道", False), ("那边", False),
])
def test_usable_address(text, ok):
    assert (dialogue.usable_address(text) is not None) is ok


@pytest.mark.parametrize(("text", "outcome", "phone"), [
    ("一三九一二三四五六七八", "ok", "13912345678"),
    ("我电话是010-62345678", "ok", "01062345678"),
    ("不方便留", "declined", None),
    ("138", "invalid", None),
])
def test_phone_answers(text, outcome, phone):
    draft = _draft()
    assert dialogue.apply_phone(draft, text) == outcome
    assert draft.phone == phone


def test_correction_of_the_district(extractor):
    draft = _draft(district="朝阳区", street="望京街道", address="望京西园三区")
    assert dialogue.apply_correction(extractor.gazetteer, draft, "不是朝阳，是海淀") == ["place"]
    assert draft.district == "海淀区" and draft.street is None


def test_correction_of_phone_and_type(extractor):
    draft = _draft(district="朝阳区", street="望京街道", phone="13911112222")
    changed = dialogue.apply_correction(extractor.gazetteer, draft, "电话说错了，是13811113333，另外这个不是求助是投诉")
    assert set(changed) == {"phone", "type"}
    assert draft.phone == "13811113333" and draft.type == "complaint"


def test_affirmation_changes_nothing(extractor):
    draft = _draft(district="朝阳区", street="望京街道")
    assert dialogue.apply_correction(extractor.gazetteer, draft, "对的，没问题") == []
    assert dialogue.apply_correction(extractor.gazetteer, draft, "👍") == []  # no words: nothing to correct


def test_readback_and_restate_name_what_was_understood():
    draft = _draft(district="朝阳区", street="望京街道", address="望京西园三区", phone=DECLINED)
    assert "供暖" in dialogue.restate(draft) and "紧急" in dialogue.restate(draft)
    text = dialogue.readback(draft)
    assert "朝阳区望京街道 望京西园三区" in text and "不留" in text


def test_build_record_uses_the_confirmed_fields(extractor):
    draft = dialogue.start(extractor, "我家暖气一点都不热，屋里才十五度")
    draft.district, draft.street = "海淀区", "学院路街道"
    draft.address, draft.phone = "学院路20号院3号楼", "13911112222"
    draft.source = "m1"
    record = dialogue.build_record(extractor, draft, "conv", "web")
    assert record.location.district == "海淀区" and record.location.street == "学院路街道"
    assert record.contact.phone == "13911112222"
    assert "海淀区学院路街道" in record.summary
    assert record.dispatch.units and record.dispatch.action in ("dispatch", "handoff")
    again = dialogue.build_record(extractor, draft, "conv", "web")
    assert again.id == record.id
    handed = dialogue.build_record(extractor, draft, "conv", "web", reason="市民要求转人工")
    assert handed.dispatch.action == "handoff" and handed.needs_review


@pytest.mark.parametrize(("text", "address"), [
    ("地址错了，是5号楼不是6号楼", "5号楼"),
    ("不是6号楼，是5号楼", "5号楼"),
    ("楼号改成3号楼", "3号楼"),
])
def test_correction_of_the_address_takes_the_asserted_value(extractor, text, address):
    draft = _draft(district="朝阳区", street="望京街道", address="望京西园三区6号楼")
    assert dialogue.apply_correction(extractor.gazetteer, draft, text) == ["address"]
    assert draft.address == address


def test_questions_use_what_is_known():
    assert "哪个区" in dialogue.question("place", None)
    assert "朝阳区哪个街道" in dialogue.question("place", _draft(district="朝阳区"))
    assert "在望京街道具体的地址" in dialogue.question("address", _draft(street="望京街道"))
    assert "保密" in dialogue.question("phone", _draft(type="report"))
    assert "核对" in dialogue.question("confirmed", _draft())
    with pytest.raises(ValueError):
        dialogue.question("weather", _draft())
