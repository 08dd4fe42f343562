"""Chinese conventions and hallucination guards on Whisper's segments."""

import pytest

from bot.intake.text import simplified
from bot.speech.cer import cer, normalise
from bot.speech.text import (
    chinese_punctuation,
    clean_segment,
    collapse_repeats,
    is_caption,
    is_hallucination,
    join,
)


def test_traditional_to_simplified():
    assert simplified("我家裡暖氣一點都不熱，請幫忙處理") == "我家里暖气一点都不热，请帮忙处理"
    assert simplified("朝陽區望京街道") == "朝阳区望京街道"


def test_punctuation_is_chinese_and_spaces_between_han_go():
    assert chinese_punctuation("你好, 我家 暖气不热?三天了.") == "你好，我家暖气不热？三天了。"
    # Decimal points, times and English keep their ASCII marks.
    assert chinese_punctuation("电费涨了1.5元") == "电费涨了1.5元"
    assert chinese_punctuation("I called, nobody came.") == "I called, nobody came."


def test_digits_stay_as_spoken():
    assert clean_segment("電話13812345678,幺三八", "zh") == "电话13812345678，幺三八"


def test_decoding_loops_collapse_but_numbers_do_not():
    assert collapse_repeats("好的好的好的好的好的好的") == "好的好的好的"
    assert collapse_repeats("外墙保温排上号了吗外墙保温排上号了吗外墙保温排上号了吗外墙保温排上号了吗") == (
        "外墙保温排上号了吗" * 3)
    assert collapse_repeats("电话13866668888") == "电话13866668888"
    assert collapse_repeats("一三八六六六六八八八八") == "一三八六六六六八八八八"


CAPTIONS = ["字幕由Amara.org社区提供", "请不吝点赞 订阅 转发 打赏支持明镜与点点栏目", "谢谢观看", "感谢收看",
            "Thank you for watching.", "优优独播剧场——YoYo Television Series Exclusive"]


@pytest.mark.parametrize("text", CAPTIONS)
def test_known_captions(text):
    assert is_caption(text)
    assert is_hallucination(text, 0.1, -0.2, 1.2)


@pytest.mark.parametrize("text", ["谢谢你们，暖气修好了", "我想订阅一下停水通知", "字要写清楚"])
def test_citizens_words_are_not_captions(text):
    assert not is_caption(text)


def test_hallucination_thresholds():
    assert not is_hallucination("我家暖气不热", 0.05, -0.3, 1.4)
    assert is_hallucination("我家暖气不热", 0.05, -0.3, 2.6)  # a loop compresses too well
    assert is_hallucination("嗯", 0.8, -1.3, 1.0)  # probably no speech, and unsure
    assert not is_hallucination("嗯", 0.8, -0.4, 1.0)  # sure of what it heard
    assert is_hallucination("   ", 0.0, 0.0, 1.0)
    # Three characters in a tenth of a second: nobody speaks that fast (seen on AMR comfort noise).
    assert is_hallucination("真实的", 0.5, -1.4, 1.9, seconds=0.1)
    assert not is_hallucination("我家暖气不热三天了", 0.05, -0.3, 1.2, seconds=2.0)


def test_join_ends_segments_and_tracks_offsets():
    text, spans = join(["你好", "我家暖气不热？", "三天了"], "zh")
    assert text == "你好，我家暖气不热？三天了。"
    assert [text[a:b] for a, b in spans] == ["你好，", "我家暖气不热？", "三天了。"]
    text, spans = join(["Hello,", "my visa"], "en")
    assert text == "Hello, my visa" and [text[a:b] for a, b in spans] == ["Hello,", "my visa"]


def test_cer_normalises_both_sides_alike():
    assert normalise("您好，我住3号楼。") == normalise("您好 我住三号楼")
    assert cer(["我家暖气不热"], ["我家暖气不热。"]) == 0.0
    assert cer(["我家暖气不热"], ["我家暖器不热"]) == pytest.approx(1 / 6)
    assert cer(["暖气"], [""]) == 1.0
