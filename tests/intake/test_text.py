import pytest

from bot.intake.errors import IntakeError
from bot.intake.text import MAX_CHARS, clean, clearly_foreign, detect_language


@pytest.mark.parametrize("text", ["", "   ", "\n\t", "😡😡😡", "！！！？？", "<br/><p></p>", "\x00\x01"])
def test_nothing_to_understand(text):
    with pytest.raises(IntakeError):
        clean(text)


def test_too_long_is_an_error_with_the_numbers():
    with pytest.raises(IntakeError, match=str(MAX_CHARS + 1)):
        clean("暖" * (MAX_CHARS + 1))


def test_twenty_thousand_characters_are_kept_whole():
    text = "暖气不热" * 5000
    assert clean(text) == text


@pytest.mark.parametrize(
    ("raw", "cleaned"),
    [
        ("<p>暖气&nbsp;不热</p>", "暖气 不热"),
        ("暖气\x07不热\r\n", "暖气 不热"),
        ("電梯壞了沒人修", "电梯坏了没人修"),
        ("电话１３８", "电话138"),
        ("  路灯   不亮  ", "路灯 不亮"),
        ("暖气不热😡😡", "暖气不热😡😡"),
    ],
)
def test_clean(raw, cleaned):
    assert clean(raw) == cleaned


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("家里暖气不热", "zh"),
        ("我的iPhone在京东买的坏了", "zh"),
        ("The street light in front of my building is broken", "en"),
        ("Hello, my visa expires", "en"),
        ("Hola, mi visa vence mañana, qué hago", "es"),
        ("Ciao, il mio visto scade domani", "it"),
        ("Bonjour, je voudrais prolonger mon visa de travail", "fr"),
        ("Hallo, ich habe eine Frage zu meinem Visum und der Aufenthaltserlaubnis", "de"),
        ("ビザの延長について教えてください", "ja"),
        ("비자 연장은 어떻게 하나요", "ko"),
        ("Здравствуйте, у меня вопрос о визе", "ru"),
    ],
)
def test_language(text, lang):
    assert detect_language(text) == lang


@pytest.mark.parametrize(("text", "foreign"), [
    ("ok", False), ("OK的", False), ("hello", False), ("thank you", False),
    ("My wallet was stolen at 三里屯 this morning", True), ("すみません、パスポートをなくしました", True),
    ("Bonjour, je voudrais prolonger mon visa", True), ("我在SKP买的东西想退货", False),
])
def test_clearly_foreign_needs_enough_words_to_tell(text, foreign):
    assert clearly_foreign(text) is foreign
