"""Homophone post-correction of Whisper's transcripts: fixes sound-alikes, leaves right text alone."""

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.speech.correct import correct

NOT_HAN = re.compile(r"[^\u4e00-\u9fff]")


def not_han(text):
    """Every character that is not Han, with its offset."""
    return [(i, c) for i, c in enumerate(text) if NOT_HAN.match(c)]


@pytest.mark.parametrize(("heard", "meant"), [
    ("我要头诉物业", "我要投诉物业"),
    ("我想问一下社宝怎么转移", "我想问一下社保怎么转移"),
    ("请问公基金怎么提取", "请问公积金怎么提取"),
    ("公司拖欠供资三个月了", "公司拖欠工资三个月了"),
    ("小区的停车费又长价了", "小区的停车费又涨价了"),  # 长 read zhang3, its other reading
    ("下雨天小区积睡特别严重", "下雨天小区积水特别严重"),
    ("楼上邻居装修造音太大了", "楼上邻居装修噪音太大了"),
    ("医院的挂号费能报消吗", "医院的挂号费能报销吗"),
    ("我要举报有人私达乱建", "我要举报有人私搭乱建"),
])
def test_same_sound_words_are_fixed(heard, meant):
    assert correct(heard) == meant


@pytest.mark.parametrize(("heard", "meant"), [
    ("我想森请低保需要什么材料", "我想申请低保需要什么材料"),  # s for sh
    ("小区的路灯坏了，晚上黑登瞎火的", "小区的路灯坏了，晚上黑灯瞎火的"),  # en for eng
])
def test_near_sounds_are_fixed(heard, meant):
    assert correct(heard) == meant


@pytest.mark.parametrize("text", [
    "我要投诉物业，小区门口的垃圾三天没人清运了",
    "你好，我姓韦，住在朝阳区望京西园三区，电话13812345678",
    "我家楼上装修天天砸墙，早上七点就开始，吵得孩子没法睡觉",
    "海淀区中关村街道有个井盖丢了，晚上特别危险",
    "我是陈静，上次反映的问题到现在还没人联系我",
    "这个App老是闪退，客服也不回复，能帮忙反映一下吗",
    "孩子幼升小需要准备哪些材料？我们是非京籍",
    "我们村的路灯坏了半个月了，晚上黑灯瞎火的，延庆区康庄镇",
    "出租车司机绕路，多收了我三十块钱，车牌号京B12345",
    "邻居家的狗天天半夜叫，跟他说了好几次也不管",
    "他把车停在消防通道上，打电话也不接",
])
def test_right_text_is_left_alone(text):
    assert correct(text) == text


@pytest.mark.parametrize("text", [
    "幺三八幺二三四五六七八，这是我的电话",  # spoken digits are never rewritten
    "电梯停在九楼不动了",  # not 酒楼
    "明天是五号吗",  # no numeral is made up (十五号), and 号吗 is not 号码
])
def test_numerals_and_final_particles_stay(text):
    assert correct(text) == text


@pytest.mark.parametrize("text", ["", "hello world 123", "？！。，", "ビザの延長について聞きたいです"])
def test_text_without_chinese_words_is_unchanged(text):
    assert correct(text) == text


def test_punctuation_digits_and_latin_keep_their_places():
    heard = "喂，你好！我要头诉物业？电话：138-1234-5678（Tom）"
    fixed = correct(heard)
    assert fixed == "喂，你好！我要投诉物业？电话：138-1234-5678（Tom）"
    assert not_han(fixed) == not_han(heard)


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet="我要头诉物业社宝公基金供资积睡的了吗一二三，。？ 12abc", max_size=40))
def test_only_han_characters_change_and_length_is_kept(text):
    fixed = correct(text)
    assert len(fixed) == len(text)
    assert not_han(fixed) == not_han(text)

