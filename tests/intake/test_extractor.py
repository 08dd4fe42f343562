"""Records from the trained model: every field, the contract, and bad input."""

import dataclasses
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import jsonschema
import pytest

from bot import DATA_DIR
from bot.intake.errors import IntakeError
from bot.intake.extractor import Message, said_type
from bot.taxonomy import load_taxonomy

SCHEMA = json.loads((DATA_DIR / "record.schema.json").read_text(encoding="utf-8"))
SHARED_SCHEMA = Path(__file__).resolve().parents[3] / "shared" / "record.schema.json"
RECEIVED = datetime(2026, 11, 21, 10, 0, tzinfo=timezone(timedelta(hours=8)))


def extract(extractor, text, **kw):
    return extractor.extract(Message(text, received_at=RECEIVED, **kw))


def test_project_schema_keeps_every_shared_field():
    if not SHARED_SCHEMA.exists():
        pytest.skip("no ../shared beside the clone")
    shared = json.loads(SHARED_SCHEMA.read_text(encoding="utf-8"))
    assert set(shared["required"]) <= set(SCHEMA["required"])
    assert set(shared["properties"]) <= set(SCHEMA["properties"])


def test_full_demand_record(extractor):
    text = "喂你好，我是朝阳区望京街道望京西园三区的，家里暖气一点都不热，三天了，我姓王，电话13812345678"
    rec = extract(extractor, text, channel="wechat", message_id="m-1")
    d = rec.to_dict()
    jsonschema.validate(d, SCHEMA)
    assert (rec.type, rec.kind, rec.category, rec.subcategory) == ("help", "demand", "utilities", "utilities.heating")
    assert rec.urgency in (1, 2)
    assert datetime.fromisoformat(rec.deadline) - RECEIVED == timedelta(
        hours=load_taxonomy().urgency_hours[rec.urgency])
    assert (rec.location.district, rec.location.street) == ("朝阳区", "望京街道")
    assert rec.location.address and "望京" in rec.location.address
    assert (rec.contact.name, rec.contact.phone, rec.contact.confidential) == ("王", "13812345678", False)
    assert rec.occurred_at == "2026-11-18"
    assert rec.redirect is None and rec.language == "zh" and rec.channel == "wechat"
    assert rec.text == text
    assert "13812345678" not in rec.summary and "供暖" in rec.summary
    assert rec.dispatch.action == "dispatch" and not rec.needs_review
    assert [u.level for u in rec.dispatch.units] == ["enterprise", "street"]
    for field in ("type", "category", "urgency", "location"):
        assert 0 <= rec.confidence[field] <= 1
    for field, spans in rec.evidence.items():
        for s in spans:
            assert text[s.start : s.end] == s.text, field
    assert {"phone", "name", "location", "occurred_at"} <= set(rec.evidence)


@pytest.mark.parametrize(
    ("text", "sub"),
    [
        ("路灯不亮了好几天了", "municipal_facilities.street_light"),
        ("楼上半夜装修，电钻声吵得睡不着", "environment.noise"),
        ("公司拖欠我三个月工资了", "labor.wage_arrears"),
        ("健身房突然关门了，卡里还有五千块钱退不了", "consumer.prepaid_refund"),
        ("小区门口的井盖丢了，特别危险", "municipal_facilities.road_damage"),
        ("家里停水了", "utilities.water_supply"),
    ],
)
def test_common_problems(extractor, text, sub):
    rec = extract(extractor, text)
    assert rec.subcategory == sub
    assert rec.category == sub.split(".")[0]
    assert rec.kind == "demand"


def test_consultation_is_level_4_and_goes_to_an_agent_without_answer(extractor):
    rec = extract(extractor, "请问今年什么时候开始供暖")
    assert (rec.type, rec.kind, rec.urgency) == ("consultation", "consultation", 4)
    assert rec.dispatch.action == "handoff"


def test_report_is_confidential_and_reviewed(extractor):
    rec = extract(extractor, "我要举报，我们楼顶有人私搭乱建盖了两间房")
    assert rec.type == "report"
    assert rec.contact.confidential is True
    assert rec.dispatch.action == "handoff"


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("喂你好，我要投诉小区门口那家饭馆，天天把桌子摆到人行道上", "complaint"),
        ("投诉一下103路司机，到站不停车", "complaint"),
        ("那个，举报一下，隔壁院有人在家里开小作坊喷漆", "report"),
        ("我有个建议，地铁站出口多放几个共享单车的停车点", "suggestion"),
        ("不是投诉啊，我就是想问问暖气费怎么交", None),
        ("我投诉了三回了，到现在还是没人来修", None),
        ("我去年就举报了那个违建，到现在也没拆", None),  # the classifier's: a complaint about the last report
        ("举报好几次了，城管就是不作为", None),
        ("我举报啊，小区消防通道天天停满车，物业也不管", "report"),  # who else does nothing is no earlier report
        ("投诉电话是多少", None),
        ("我要投诉，也要举报，他们无证经营还打人", None),  # names two: the classifier decides
    ],
)
def test_said_type(text, said):
    assert said_type(text) == said


class _TypeReads:
    """The trained model with its type head fixed, to test what overrides it."""

    def __init__(self, model, type_probs):
        self.model, self.type_probs = model, type_probs

    def predict(self, texts):
        return [dataclasses.replace(p, type=dict(self.type_probs)) for p in self.model.predict(texts)]


def test_citizen_naming_a_demand_type_overrides_the_classifier(extractor, monkeypatch):
    reads_help = {"help": 0.6, "complaint": 0.25, "report": 0.05, "suggestion": 0.05, "consultation": 0.05}
    monkeypatch.setattr(extractor, "model", _TypeReads(extractor.model, reads_help))
    rec = extract(extractor, "我要投诉自来水公司，抄表的瞎估数，我家俩人一个月用二十吨水")
    assert (rec.type, rec.kind) == ("complaint", "demand")
    assert rec.confidence["type"] >= 0.9
    assert "投诉" in rec.evidence["type"][0].text
    rec = extract(extractor, "建议热力公司今年早点供暖，十月底就降温了")
    assert (rec.type, rec.urgency) == ("suggestion", 4)


def test_naming_a_type_does_not_turn_a_question_into_a_demand(extractor, monkeypatch):
    reads_question = {"consultation": 0.7, "report": 0.2, "help": 0.05, "complaint": 0.03, "suggestion": 0.02}
    monkeypatch.setattr(extractor, "model", _TypeReads(extractor.model, reads_question))
    assert extract(extractor, "举报违建以后多久能有结果").type == "consultation"


def test_emergency_is_redirected_at_urgency_1(extractor):
    rec = extract(extractor, "楼道里着火了，好多烟，快来人")
    assert (rec.redirect, rec.urgency, rec.dispatch.action) == ("119", 1, "redirect")
    assert "119" in rec.dispatch.reason
    assert rec.evidence["redirect"][0].text in rec.text


def test_gas_smell_is_urgent_but_not_redirected(extractor):
    rec = extract(extractor, "楼道里一股很重的煤气味，大家都不敢开灯")
    assert rec.redirect is None
    assert rec.urgency == 1
    assert rec.subcategory == "utilities.gas_supply"


def test_missing_place_and_phone_need_review(extractor):
    rec = extract(extractor, "暖气不热")
    assert rec.needs_review is True
    assert rec.dispatch.action == "handoff"
    assert "地点" in rec.dispatch.reason and "联系电话" in rec.dispatch.reason


@pytest.mark.parametrize(("text", "lang"), [("My heating is not working, please help", "en"),
                                            ("Bonjour, mon visa expire demain, que faire ?", "fr")])
def test_foreign_language_goes_to_foreign_language_seat(extractor, text, lang):
    rec = extract(extractor, text)
    assert rec.language == lang
    assert rec.dispatch.action == "handoff" and lang in rec.dispatch.reason
    assert rec.needs_review is True
    jsonschema.validate(rec.to_dict(), SCHEMA)


def test_same_message_id_same_record_id(extractor):
    a = extract(extractor, "路灯坏了", channel="wechat", message_id="123")
    b = extract(extractor, "路灯坏了！", channel="wechat", message_id="123")
    c = extract(extractor, "路灯坏了", channel="wechat", message_id="124")
    assert a.id == b.id != c.id


@pytest.mark.parametrize("text", ["", "   ", "😡😡😡", "<p></p>", "\x00\x1f"])
def test_bad_input_is_a_clear_error(extractor, text):
    with pytest.raises(IntakeError):
        extract(extractor, text)


@pytest.mark.parametrize(
    "text",
    [
        "暖气不热" * 5000,  # 20,000 characters
        "<div>小区<b>路灯</b>不亮</div>",
        "路灯😡不亮😡😡",
        "暖气\x00不热\x07",
        "我的iPhone在JD买的，退货商家不给退",
        "𠮷野家旁边的路灯坏了",
    ],
)
def test_odd_input_gives_a_sensible_record(extractor, text):
    rec = extract(extractor, text)
    jsonschema.validate(rec.to_dict(), SCHEMA)
    assert rec.language == "zh"
    assert rec.text  # kept whole, cleaned
    assert len(rec.summary) < 80


def test_batch_keeps_order_and_errors_in_place(extractor):
    out = extractor.extract_many(["路灯不亮", "", "Hello there, my visa", "家里停电了"])
    assert [type(x).__name__ for x in out] == ["ComplaintRecord", "IntakeError", "ComplaintRecord", "ComplaintRecord"]
    assert out[3].subcategory == "utilities.power_supply"
