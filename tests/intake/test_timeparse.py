from datetime import datetime, timedelta, timezone

import pytest

from bot.intake.timeparse import parse_time

# Saturday 21 November 2026, 10:00 Beijing time
RECEIVED = datetime(2026, 11, 21, 10, 0, tzinfo=timezone(timedelta(hours=8)))


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("昨天晚上十点开始吵", "2026-11-20T22:00:00+08:00"),
        ("昨晚就停电了", "2026-11-20T20:00:00+08:00"),
        ("前天下午来的人", "2026-11-19T15:00:00+08:00"),
        ("上周三就坏了", "2026-11-11"),
        ("这周一报的修", "2026-11-16"),
        ("暖气三天了还不热", "2026-11-18"),
        ("一个多星期了没人管", "2026-11-14"),
        ("半个月了", "2026-11-06"),
        ("11月3号交的钱", "2026-11-03"),
        ("十二月五号办的卡", "2025-12-05"),
        ("2025年3月5日签的合同", "2025-03-05"),
        ("刚才闻到煤气味", "2026-11-21T10:00:00+08:00"),
        ("晚上十一点还在施工", "2026-11-20T23:00:00+08:00"),
        ("两个小时了还没来电", "2026-11-21T08:00:00+08:00"),
    ],
)
def test_times(text, value):
    found = parse_time(text, RECEIVED)
    assert found is not None
    assert found.value == value
    assert found.start < found.end <= len(text)


@pytest.mark.parametrize("text", ["路灯不亮", "我家三口人", "13812345678", "3号楼2单元"])
def test_no_time(text):
    assert parse_time(text, RECEIVED) is None


def test_first_mention_wins():
    found = parse_time("上周三报修，昨天又坏了", RECEIVED)
    assert found is not None and found.value == "2026-11-11"


@pytest.mark.parametrize(("text", "span"), [
    ("老板已经欠了我两个多月的工资了", "两个多月"),
    ("我家自来水这半个月水压特别小", "半个月"),
    ("燃气公司的人约了三天还没来", "三天"),
    ("电梯坏了三天了还没修好", "三天了"),
])
def test_durations_without_a_closing_le(text, span):
    found = parse_time(text, datetime(2026, 11, 21, 12))
    assert found is not None and text[found.start : found.end] == span


@pytest.mark.parametrize("text", ["三天后再说", "这三个人", "两个人打起来了"])
def test_counts_that_are_not_durations(text):
    assert parse_time(text, datetime(2026, 11, 21, 12)) is None
