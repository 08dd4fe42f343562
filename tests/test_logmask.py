"""Server log lines lose message texts, phone and ID numbers; the rest stays readable."""

import pytest

from bot.logmask import mask


@pytest.mark.parametrize(("line", "gone"), [
    ('ERROR rasa.core.channels.rest - {"text": "\\u4e00\\u4e09\\u4e5d", "event": "x"}', "\\u4e00"),
    ("{'text': '我家暖气不热，电话13911112222', 'intent': 'help'}", "暖气"),
    ("processor.message.parse parse_data_text=望京西园三区13911112222", "望京"),
    ("caller 139 1111 2222 called", "1111"),
    ("landline 010-62345678", "62345678"),
    ("id 11010519491231002X here", "1949"),
    ("说了一三九一一一一二二二二", "一三九一一"),
])
def test_personal_data_is_masked(line, gone):
    assert gone not in mask(line)


def test_ordinary_lines_keep_their_content():
    line = "2026-11-21 14:22:36 INFO rasa.core.test - Correct: 62 / 62 on port 5005"
    assert mask(line) == line


def test_the_filter_masks_what_a_command_logs(caplog):
    import logging

    from bot.logmask import MaskFilter

    logger = logging.getLogger("hotline.test")
    caplog.handler.addFilter(MaskFilter())
    with caplog.at_level(logging.INFO, logger="hotline.test"):
        logger.warning("recording.rejected file=%s reason=%s", "13912345678_0930.wav", "not audio")
    assert caplog.messages == ["recording.rejected file=<number>_0930.wav reason=not audio"]
